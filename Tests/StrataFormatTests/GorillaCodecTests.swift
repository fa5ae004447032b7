import StrataFormat
import Testing

struct GorillaVector: Sendable, CustomTestStringConvertible {
    var name: String
    var bits: [UInt64]
    var hex: String
    var testDescription: String { name }
    var values: [Double] { bits.map(Double.init(bitPattern:)) }
}

func decodeGorilla(_ data: [UInt8], from offset: Int = 0, count: Int) throws -> (value: [Double], consumed: Int) {
    try read(data, from: offset) { try FloatCodec.decode(.float64Gorilla, &$0, count: count) }
}

@Suite("GorillaCodec (f64-gorilla)")
struct GorillaCodecTests {
    // First value's 64 bits; then per value x = bits XOR previous:
    // 0 (repeat) | 10 + meaningful bits (reuse window) | 11 + leading<5b> + length<6b> + bits.
    static let golden: [GorillaVector] = [
        // 12.0 = 0x4028_0000_0000_0000, repeated → 0; 24.0 = 0x4038… → x = 0x0010_0000_0000_0000:
        // 11 leading zeros, 52 trailing, length 1 → 11 01011 000001 1.
        // After the first word: 0 11 01011 000001 1 = 01101011 0000011(0) → 6b 06.
        GorillaVector(name: "12, 12, 24", bits: [0x4028_0000_0000_0000, 0x4028_0000_0000_0000, 0x4038_0000_0000_0000],
                      hex: "40 28 00 00 00 00 00 00  6b 06"),
        // 12 → 24 opens the window (11 01011 000001 1), 24 → 12 has the same x and reuses
        // it: 10 + one meaningful bit 1. 11010110 00001110 1(0000000) → d6 0e 80.
        GorillaVector(name: "window reuse", bits: [0x4028_0000_0000_0000, 0x4038_0000_0000_0000, 0x4028_0000_0000_0000],
                      hex: "40 28 00 00 00 00 00 00  d6 0e 80"),
        // 0.0 then -0.0: x = 0x8000…0, leading 0, trailing 63, length 1:
        // 11 00000 000001 1 = 11000000 000011(00) → c0 0c.
        GorillaVector(name: "0.0 then -0.0", bits: [0, 0x8000_0000_0000_0000],
                      hex: "00 00 00 00 00 00 00 00  c0 0c"),
        // x = 0x8000_0000_0000_0001: leading 0, trailing 0, length 64 written as 0:
        // 11 00000 000000 then the 64 bits 1000…0001 (77 bits): 11000000 00000100,
        // seven zero bytes, 00001(000) → c0 04 00 × 7 08.
        GorillaVector(name: "full 64-bit window (length written as 0)", bits: [0, 0x8000_0000_0000_0001],
                      hex: "00 00 00 00 00 00 00 00  c0 04 00 00 00 00 00 00 00 08"),
        // x = 1: 63 leading zeros, capped at 31, so the length is 64 − 31 − 0 = 33:
        // 11 11111 100001 then 33 bits 0…01 (46 bits): 11111111 00001000 00000000 × 3
        // 000001(00) → ff 08 00 00 00 04.
        GorillaVector(name: "leading zeros capped at 31", bits: [0, 1],
                      hex: "00 00 00 00 00 00 00 00  ff 08 00 00 00 04"),
        // One value: its bits, big-endian (1.0 = 0x3ff0…).
        GorillaVector(name: "single 1.0", bits: [0x3FF0_0000_0000_0000], hex: "3f f0 00 00 00 00 00 00"),
        // No values: nothing at all.
        GorillaVector(name: "empty", bits: [], hex: ""),
    ]

    @Test(arguments: golden)
    func goldenBytes(_ v: GorillaVector) throws {
        var out: [UInt8] = []
        GorillaCodec.encode(v.values, into: &out)
        #expect(hex(out) == normalized(v.hex))
        let (decoded, consumed) = try decodeGorilla(bytes(hex: v.hex), count: v.bits.count)
        #expect(bitPatterns(decoded) == v.bits)
        #expect(consumed == out.count)
    }

    @Test(arguments: golden)
    func goldenAfterPrefix(_ v: GorillaVector) throws {
        var out = foobar
        GorillaCodec.encode(v.values, into: &out)
        #expect(Array(out.prefix(6)) == foobar)
        #expect(hex(out.dropFirst(6)) == normalized(v.hex))
        let (decoded, consumed) = try decodeGorilla(out, from: 6, count: v.bits.count)
        #expect(bitPatterns(decoded) == v.bits)
        #expect(consumed == out.count - 6)
    }

    @Test(arguments: FloatSamples.shapes, blockSizes)
    func randomRoundTrip(shape: String, count: Int) throws {
        var rng = SplitMix64(seed: 0x6081 &+ UInt64(count) &* 977 &+ UInt64(shape.utf8.count))
        let values = FloatSamples.generate(shape, count: count, rng: &rng)
        let split = Int.random(in: 0...count, using: &rng)
        let a = Array(values[..<split]), b = Array(values[split...])
        var out = foobar
        GorillaCodec.encode(a, into: &out)
        GorillaCodec.encode(b, into: &out)
        #expect(Array(out.prefix(6)) == foobar)
        let (decoded, consumed) = try read(out, from: 6) { r in
            (try FloatCodec.decode(.float64Gorilla, &r, count: a.count),
             try FloatCodec.decode(.float64Gorilla, &r, count: b.count))
        }
        #expect(bitPatterns(decoded.0) == bitPatterns(a))
        #expect(bitPatterns(decoded.1) == bitPatterns(b))
        #expect(consumed == out.count - 6)
    }

    @Test func truncatedStreamThrows() {
        let values = [12.0, 12.0, 24.0, 24.5, -0.0, .nan, 1e300]
        var out: [UInt8] = []
        GorillaCodec.encode(values, into: &out)
        for cut in 0..<out.count {
            let error = formatError { _ = try decodeGorilla(Array(out[..<cut]), count: values.count) }
            #expect(error?.code == .truncated, "cut at \(cut)")
        }
    }

    @Test func malformedWindowsAreRejected() {
        // A reuse code (10) before any window was defined.
        #expect(formatError { _ = try decodeGorilla(bytes(hex: "00 00 00 00 00 00 00 00  80"), count: 2) }?.code == .malformed)
        // A window of 31 leading zeros and length 40 (> 64 bits): 11 11111 101000 …
        #expect(formatError { _ = try decodeGorilla(bytes(hex: "00 00 00 00 00 00 00 00  ff 40 00 00 00 00 00 00"), count: 2) }?.code == .malformed)
    }
}
