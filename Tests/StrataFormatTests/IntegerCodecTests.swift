import StrataFormat
import Testing

struct IntegerVector: Sendable, CustomTestStringConvertible {
    var name: String
    var values: [Int64]
    var encoding: Encoding
    var hex: String
    /// What `encode(_:into:)` picks on its own, when the test pins it.
    var chosen: Encoding?
    var testDescription: String { name }
}

func decodeIntegers(_ data: [UInt8], from offset: Int = 0, _ encoding: Encoding, count: Int) throws -> (value: [Int64], consumed: Int) {
    try read(data, from: offset) { try IntegerCodec.decode(encoding, &$0, count: count) }
}

@Suite("IntegerCodec (int-for, int-delta-for)")
struct IntegerCodecTests {
    //  int-for: │ base <zigzag varint> │ divisor <varint> │ width <1b> │ patch count <varint> │
    //           │ packed residuals │ (index gap <varint>, high bits <varint>)* │
    //  int-delta-for: │ first <zigzag varint> │ int-for of the n−1 deltas │
    static let golden: [IntegerVector] = [
        // Constant run: base zigzag(7) = 14 = 0e, divisor 1 (no nonzero residual), width 0,
        // no patches, no packed bytes.
        IntegerVector(name: "int-for constant run", values: [7, 7, 7, 7], encoding: .int64FrameOfReference,
                      hex: "0e 01 00 00", chosen: .int64FrameOfReference),
        // Monotonic step as int-for: base 100 (zigzag 200 = c8 01), residuals 0,10,20,30,40,
        // divisor gcd 10 (0a), quotients 0…4 need width 3: 0|1<<3|2<<6|3<<9|4<<12 = 0x4688.
        IntegerVector(name: "int-for monotonic step", values: [100, 110, 120, 130, 140], encoding: .int64FrameOfReference,
                      hex: "c8 01 0a 03 00 88 46", chosen: .int64DeltaFrameOfReference),
        // The same as int-delta-for: first 100 (c8 01), then the deltas 10,10,10,10 as a
        // constant int-for: base zigzag(10) = 20 = 14, divisor 1, width 0, no patches.
        IntegerVector(name: "int-delta-for monotonic step", values: [100, 110, 120, 130, 140], encoding: .int64DeltaFrameOfReference,
                      hex: "c8 01 14 01 00 00", chosen: .int64DeltaFrameOfReference),
        // Negative constant step: first 10 (zigzag 20 = 14), deltas −3 ×3: base zigzag(−3) = 5.
        IntegerVector(name: "int-delta-for negative step", values: [10, 7, 4, 1], encoding: .int64DeltaFrameOfReference,
                      hex: "14 05 01 00 00", chosen: nil),
        // Small ints with one big one: base 1 (02), residuals 0,1,2,999 (widths 0,1,2,10),
        // divisor 1. The plan's cost of width w is n·w plus 8 + 8·⌈(10 − w)/7⌉ bits per
        // patch: w = 10 → 40, w = 3 → 12 + 16 = 28, w = 2 → 8 + 24 = 32, so width 3 with
        // one patch. Packed 0,1,2, 999 & 7 = 7 → 0|1<<3|2<<6|7<<9 = 0x0e88 → 88 0e;
        // patch: gap 3, high bits 999 >> 3 = 124 (7c).
        IntegerVector(name: "int-for patch", values: [1, 2, 3, 1000], encoding: .int64FrameOfReference,
                      hex: "02 01 03 01 88 0e 03 7c", chosen: .int64DeltaFrameOfReference),
        // Common divisor: base 1000 (zigzag 2000 = d0 0f), residuals 0,2000,1000,4000,
        // divisor 1000 (e8 07), quotients 0,2,1,4 at width 3 → 0|2<<3|1<<6|4<<9 = 0x0850.
        IntegerVector(name: "int-for gcd divisor", values: [1000, 3000, 2000, 5000], encoding: .int64FrameOfReference,
                      hex: "d0 0f e8 07 03 00 50 08", chosen: .int64FrameOfReference),
        // Negative values: base −3 (zigzag 5), residuals 2,1,0 at width 2 → 2|1<<2 = 06.
        IntegerVector(name: "int-for negative", values: [-1, -2, -3], encoding: .int64FrameOfReference,
                      hex: "05 01 02 00 06", chosen: .int64FrameOfReference),
        // Extremes: base Int64.min (zigzag 2^64−1 = ff×9 01), residuals 0 and 2^64−1, so
        // the divisor is 2^64−1 too and the quotients 0,1 fit in one bit → 02 (23 bytes).
        // On its own the encoder prefers int-delta-for: first value (10 bytes) and the one
        // wrapped delta −1 as a constant int-for (4 bytes).
        IntegerVector(name: "int-for Int64.min, Int64.max", values: [Int64.min, Int64.max], encoding: .int64FrameOfReference,
                      hex: "ff ff ff ff ff ff ff ff ff 01  ff ff ff ff ff ff ff ff ff 01  01 00 02", chosen: .int64DeltaFrameOfReference),
        IntegerVector(name: "int-delta-for Int64.min, Int64.max", values: [Int64.min, Int64.max], encoding: .int64DeltaFrameOfReference,
                      hex: "ff ff ff ff ff ff ff ff ff 01  01 01 00 00", chosen: .int64DeltaFrameOfReference),
        // No values: base 0, divisor 1, width 0, no patches.
        IntegerVector(name: "int-for empty", values: [], encoding: .int64FrameOfReference,
                      hex: "00 01 00 00", chosen: .int64FrameOfReference),
        // One value: int-delta-for is the first value and an empty int-for.
        IntegerVector(name: "int-delta-for single", values: [-5], encoding: .int64DeltaFrameOfReference,
                      hex: "09 00 01 00 00", chosen: nil),
    ]

    @Test(arguments: golden)
    func goldenBytes(_ v: IntegerVector) throws {
        var out: [UInt8] = []
        IntegerCodec.encode(v.values, as: v.encoding, into: &out)
        #expect(hex(out) == normalized(v.hex))
        let (decoded, consumed) = try decodeIntegers(bytes(hex: v.hex), v.encoding, count: v.values.count)
        #expect(decoded == v.values)
        #expect(consumed == out.count)
    }

    @Test(arguments: golden)
    func goldenAfterPrefixAndChoice(_ v: IntegerVector) throws {
        var out = foobar
        IntegerCodec.encode(v.values, as: v.encoding, into: &out)
        #expect(Array(out.prefix(6)) == foobar)
        #expect(hex(out.dropFirst(6)) == normalized(v.hex))
        #expect(try decodeIntegers(out, from: 6, v.encoding, count: v.values.count).value == v.values)
        if let chosen = v.chosen {
            var auto = foobar
            let encoding = IntegerCodec.encode(v.values, into: &auto)
            #expect(encoding == chosen)
            #expect(Array(auto.prefix(6)) == foobar)
            if encoding == v.encoding { #expect(auto == out) }
            #expect(try decodeIntegers(auto, from: 6, encoding, count: v.values.count).value == v.values)
        }
    }

    /// A constant block costs a handful of bytes whatever its length.
    @Test(arguments: [Int64(0), 100, -42, 1_000_000, Int64(Int32.max)])
    func constantBlockIsAtMostEightBytes(value: Int64) throws {
        let values = [Int64](repeating: value, count: 8192)
        var out: [UInt8] = []
        let encoding = IntegerCodec.encode(values, into: &out)
        #expect(out.count <= 8, "\(out.count) bytes")
        #expect(try decodeIntegers(out, encoding, count: values.count).value == values)
    }

    /// A rare large outlier becomes a patch, not a wider width for every value. (Only
    /// outliers above the rest can be patched: the base is the block's minimum, so a
    /// single very low value widens every residual.)
    @Test func rareOutliersArePatchedNotWidened() throws {
        var rng = SplitMix64(seed: 0x9A7C)
        var values = (0..<1000).map { _ in Int64.random(in: 0...7, using: &rng) }
        values[123] = 1 << 40
        values[777] = Int64.max
        var out: [UInt8] = []
        IntegerCodec.encode(values, as: .int64FrameOfReference, into: &out)
        // Width 3 takes 375 bytes for the packed values; width 63 would take 7875.
        #expect(out.count < 450, "\(out.count) bytes")
        #expect(try decodeIntegers(out, .int64FrameOfReference, count: values.count).value == values)
    }

    // MARK: Random round trips

    struct Shape: Sendable, CustomTestStringConvertible {
        var name: String
        var testDescription: String { name }
    }

    static let shapes = ["full range", "small range", "small negative", "sorted", "constant", "volumes ×100",
                         "step with outliers", "extremes", "alternating extremes", "bool"].map(Shape.init)

    static func generate(_ shape: String, count: Int, rng: inout SplitMix64) -> [Int64] {
        switch shape {
        case "full range":
            return (0..<count).map { _ in Int64(bitPattern: rng.next()) }
        case "small range":
            return (0..<count).map { _ in Int64.random(in: 0...100, using: &rng) }
        case "small negative":
            return (0..<count).map { _ in Int64.random(in: -1_000_000 ... -999_000, using: &rng) }
        case "sorted":
            return (0..<count).map { _ in Int64.random(in: -1 << 50 ... 1 << 50, using: &rng) }.sorted()
        case "constant":
            let c = Int64(bitPattern: rng.next())
            return [Int64](repeating: c, count: count)
        case "volumes ×100":
            return (0..<count).map { _ in 100 * Int64.random(in: 1...50, using: &rng) }
        case "step with outliers":
            return (0..<count).map { i in
                Int.random(in: 0..<50, using: &rng) == 0 ? Int64(bitPattern: rng.next()) : 1_000 + 5 * Int64(i)
            }
        case "extremes":
            return (0..<count).map { _ in [Int64.min, Int64.max, 0, -1, 1][Int.random(in: 0..<5, using: &rng)] }
        case "alternating extremes":
            return (0..<count).map { $0 % 2 == 0 ? Int64.min : Int64.max }
        default:  // bool as 0/1
            return (0..<count).map { _ in Bool.random(using: &rng) ? 1 : 0 }
        }
    }

    @Test(arguments: shapes, blockSizes)
    func randomRoundTrip(shape: Shape, count: Int) throws {
        var rng = SplitMix64(seed: 0x1E7 &+ UInt64(count) &* 131 &+ UInt64(shape.name.utf8.count))
        let values = Self.generate(shape.name, count: count, rng: &rng)
        // Both encodings pinned, then the encoder's own choice, appended one after another.
        var out = foobar
        IntegerCodec.encode(values, as: .int64FrameOfReference, into: &out)
        IntegerCodec.encode(values, as: .int64DeltaFrameOfReference, into: &out)
        let chosen = IntegerCodec.encode(values, into: &out)
        #expect(Array(out.prefix(6)) == foobar)
        let (decoded, consumed) = try read(out, from: 6) { r in
            [try IntegerCodec.decode(.int64FrameOfReference, &r, count: count),
             try IntegerCodec.decode(.int64DeltaFrameOfReference, &r, count: count),
             try IntegerCodec.decode(chosen, &r, count: count)]
        }
        #expect(decoded[0] == values)
        #expect(decoded[1] == values)
        #expect(decoded[2] == values)
        #expect(consumed == out.count - 6)
    }

    // MARK: Corruption

    @Test func truncatedPayloadThrows() {
        let values: [Int64] = [1, 2, 3, 1000, 5, 6, 7, -40000]
        for encoding in [Encoding.int64FrameOfReference, .int64DeltaFrameOfReference] {
            var out: [UInt8] = []
            IntegerCodec.encode(values, as: encoding, into: &out)
            for cut in 0..<out.count {
                let error = formatError { _ = try decodeIntegers(Array(out[..<cut]), encoding, count: values.count) }
                #expect(error != nil, "\(encoding) cut at \(cut)")
            }
        }
    }

    struct BadPayload: Sendable, CustomTestStringConvertible {
        var name: String
        var hex: String
        var count: Int
        var code: FormatError.Code
        var testDescription: String { name }
    }

    static let malformed: [BadPayload] = [
        BadPayload(name: "divisor 0", hex: "00 00 00 00", count: 1, code: .malformed),
        BadPayload(name: "width 65", hex: "00 01 41 00", count: 0, code: .malformed),
        BadPayload(name: "more patches than values", hex: "00 01 00 02", count: 1, code: .malformed),
        // Patch index 5 in a block of 2.
        BadPayload(name: "patch index out of range", hex: "00 01 00 01 05 01", count: 2, code: .malformed),
        // Two patches at the same index (second gap 0).
        BadPayload(name: "patch index repeats", hex: "00 01 00 02 00 01 00 01", count: 2, code: .malformed),
        BadPayload(name: "patch with width 64", hex: "00 01 40 01  00 00 00 00 00 00 00 00  00 01", count: 1, code: .malformed),
    ]

    @Test(arguments: malformed)
    func malformedPayloads(_ v: BadPayload) {
        let error = formatError { _ = try decodeIntegers(bytes(hex: v.hex), .int64FrameOfReference, count: v.count) }
        #expect(error?.code == v.code)
    }

    @Test func deltaWithZeroValuesAndForeignEncodingsAreRejected() {
        #expect(formatError { _ = try decodeIntegers([0x00, 0x00, 0x01, 0x00, 0x00], .int64DeltaFrameOfReference, count: 0) }?.code == .malformed)
        #expect(formatError { _ = try decodeIntegers([0x00], .float64Plain, count: 1) }?.code == .unsupported)
    }
}
