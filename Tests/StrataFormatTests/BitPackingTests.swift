import StrataFormat
import Testing

struct PackVector: Sendable, CustomTestStringConvertible {
    var values: [UInt64]
    var width: Int
    var hex: String
    var testDescription: String { "\(values) at width \(width)" }
}

@Suite("BitPacking")
struct BitPackingTests {
    // Little-endian bit order: value i occupies stream bits [i·w, (i+1)·w), stream bit k
    // is bit k % 8 of byte k / 8.
    static let golden: [PackVector] = [
        // 1 | 2<<2 | 3<<4 = 0x39
        PackVector(values: [1, 2, 3], width: 2, hex: "39"),
        // 0 | 1<<3 | 2<<6 | 3<<9 | 4<<12 = 0x4688 → 88 46 (15 bits, 2 bytes)
        PackVector(values: [0, 1, 2, 3, 4], width: 3, hex: "88 46"),
        // ones at bits 0…6 and 14…20: 7f, bits 14-15 → c0, bits 16-20 → 1f
        PackVector(values: [0x7F, 0, 0x7F], width: 7, hex: "7f c0 1f"),
        // One full word: its little-endian bytes.
        PackVector(values: [0x0123_4567_89AB_CDEF], width: 64, hex: "ef cd ab 89 67 45 23 01"),
        // Width 0 writes nothing however many values.
        PackVector(values: [0, 0, 0], width: 0, hex: ""),
        // Bits above the width are dropped: 0xFF at width 4 is 0xF.
        PackVector(values: [0xFF, 0x10], width: 4, hex: "0f"),
    ]

    @Test(arguments: golden)
    func goldenBytes(_ v: PackVector) {
        var out = foobar
        v.values.withUnsafeBufferPointer { BitPacking.pack($0, width: v.width, into: &out) }
        #expect(Array(out.prefix(6)) == foobar)
        #expect(hex(out.dropFirst(6)) == normalized(v.hex))
        #expect(out.count - 6 == BitPacking.byteCount(count: v.values.count, width: v.width))
        let mask: UInt64 = v.width == 64 ? ~0 : (1 << UInt64(v.width)) - 1
        var got = [UInt64](repeating: 99, count: v.values.count)
        out.withUnsafeBytes { raw in
            BitPacking.unpack(UnsafeRawBufferPointer(rebasing: raw[6...]), count: v.values.count, width: v.width) { got[$0] = $1 }
        }
        #expect(got == v.values.map { $0 & mask })
    }

    /// Every width 0…64 at counts around the 8-byte fast-path boundary: values come back
    /// from exactly `byteCount` bytes (no reading past the end), including widths whose
    /// values spill into a ninth byte.
    @Test(arguments: Array(0...64))
    func everyWidthRoundTrips(width: Int) {
        var rng = SplitMix64(seed: 0xB1_7BAC + UInt64(width))
        let mask: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) - 1
        for count in [1, 2, 7, 8, 9, 63, 64, 65, 1000] {
            let values = (0..<count).map { _ in rng.next() & mask }
            var out: [UInt8] = []
            values.withUnsafeBufferPointer { BitPacking.pack($0, width: width, into: &out) }
            #expect(out.count == BitPacking.byteCount(count: count, width: width))
            // Decode from an exact-size copy so that any over-read would be out of bounds.
            var got = [UInt64](repeating: 0, count: count)
            let exact = Array(out)
            exact.withUnsafeBytes { raw in BitPacking.unpack(raw, count: count, width: width) { got[$0] = $1 } }
            #expect(got == values, "width \(width) count \(count)")
        }
    }
}
