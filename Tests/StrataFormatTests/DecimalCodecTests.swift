import StrataFormat
import Testing

struct DecimalVector: Sendable, CustomTestStringConvertible {
    var name: String
    var bits: [UInt64]
    var hex: String
    var testDescription: String { name }
    var values: [Double] { bits.map(Double.init(bitPattern:)) }
}

func encodeDecimal(_ values: [Double], into out: inout [UInt8]) -> Bool {
    values.withUnsafeBufferPointer { DecimalCodec.encode($0, into: &out) }
}

func decodeDecimal(_ data: [UInt8], from offset: Int = 0, count: Int) throws -> (value: [Double], consumed: Int) {
    try read(data, from: offset) { try FloatCodec.decode(.float64Decimal, &$0, count: count) }
}

@Suite("DecimalCodec (f64-decimal)")
struct DecimalCodecTests {
    //  │ exponent e <1b> │ integer encoding id <1b> │ integer payload │
    //  │ exception count <varint> │ (index gap <varint>, bits <8b LE>)* │
    static let golden: [DecimalVector] = [
        // 4512.25, 4512.5, 4512.25: e = 0 and e = 1 miss (45122.5 → 45123), e = 2 gives
        // n = 451225, 451250, 451225. int-for (51 bits) beats int-delta-for (58):
        // base zigzag(451225) = 902450 = b2 8a 37, divisor 25 (19), quotients 0,1,0 at
        // width 1 → 02; no patches; no exceptions.
        DecimalVector(name: "4512.25, 4512.5, 4512.25",
                      bits: [4512.25, 4512.5, 4512.25].map(\.bitPattern),
                      hex: "02 20  b2 8a 37 19 01 00 02  00"),
        // A NaN with a payload is an exception: e = 1 (15, 15, —, 25). Its integer slot
        // repeats the previous one (15), so int-for sees 15,15,15,25: base zigzag(15) =
        // 30 (1e), divisor 10 (0a), width 1, quotients 0,0,0,1 → 08. One exception at
        // index 2 with bits 0x7ff8_0000_0000_0001 little-endian.
        DecimalVector(name: "NaN payload exception",
                      bits: [1.5, 1.5, Double(bitPattern: 0x7FF8_0000_0000_0001), 2.5].map(\.bitPattern),
                      hex: "01 20  1e 0a 01 00 08  01  02 01 00 00 00 00 00 f8 7f"),
        // -0.0 is an exception too (0 / 100 is +0.0): e = 2, integers 25,25,50,75 →
        // base zigzag(25) = 50 (32), divisor 25 (19), quotients 0,0,1,2 at width 2 →
        // 0|0<<2|1<<4|2<<6 = 90; one exception at index 1: 0x8000…0 little-endian.
        DecimalVector(name: "-0.0 exception",
                      bits: [0.25, -0.0, 0.5, 0.75].map(\.bitPattern),
                      hex: "02 20  32 19 02 00 90  01  01 00 00 00 00 00 00 00 80"),
        // Whole numbers: e = 0. 100…104 as int-delta-for (48 bits against int-for's 55):
        // first zigzag(100) = c8 01, deltas 1,1,1,1 constant (base zigzag(1) = 02,
        // divisor 1, width 0, no patches); no exceptions.
        DecimalVector(name: "integers, e = 0",
                      bits: [100.0, 101.0, 102.0, 103.0, 104.0].map(\.bitPattern),
                      hex: "00 21  c8 01 02 01 00 00  00"),
    ]

    @Test(arguments: golden)
    func goldenBytes(_ v: DecimalVector) throws {
        var out: [UInt8] = []
        #expect(encodeDecimal(v.values, into: &out))
        #expect(hex(out) == normalized(v.hex))
        let (decoded, consumed) = try decodeDecimal(bytes(hex: v.hex), count: v.bits.count)
        #expect(bitPatterns(decoded) == v.bits)
        #expect(consumed == out.count)
    }

    @Test(arguments: golden)
    func goldenAfterPrefix(_ v: DecimalVector) throws {
        var out = foobar
        #expect(encodeDecimal(v.values, into: &out))
        #expect(Array(out.prefix(6)) == foobar)
        #expect(hex(out.dropFirst(6)) == normalized(v.hex))
        let (decoded, consumed) = try decodeDecimal(out, from: 6, count: v.bits.count)
        #expect(bitPatterns(decoded) == v.bits)
        #expect(consumed == out.count - 6)
    }

    /// Data that is not decimal (random bit patterns, or more than a quarter NaN) is
    /// declined, and `out` is left exactly as it was.
    @Test func declinesNonDecimalDataWithoutTouchingOutput() {
        var rng = SplitMix64(seed: 0xDEC)
        let random = (0..<100).map { _ in Double(bitPattern: rng.next()) }
        var out = foobar
        #expect(!encodeDecimal(random, into: &out))
        #expect(!encodeDecimal([1.5, .nan, .nan, 2.5], into: &out))
        #expect(!encodeDecimal([], into: &out))
        #expect(out == foobar)
    }

    @Test(arguments: FloatSamples.shapes, blockSizes)
    func randomRoundTripWhenAccepted(shape: String, count: Int) throws {
        var rng = SplitMix64(seed: 0xDEC1 &+ UInt64(count) &* 7919 &+ UInt64(shape.utf8.count))
        let values = FloatSamples.generate(shape, count: count, rng: &rng)
        var out = foobar
        // Generous exception budget so that the exception path gets exercised too.
        let accepted = values.withUnsafeBufferPointer { DecimalCodec.encode($0, into: &out, maxExceptionFraction: 1.0) }
        #expect(Array(out.prefix(6)) == foobar)
        guard accepted else {
            #expect(out == foobar)
            return
        }
        let (decoded, consumed) = try decodeDecimal(out, from: 6, count: count)
        #expect(bitPatterns(decoded) == bitPatterns(values))
        #expect(consumed == out.count - 6)
    }

    @Test(arguments: blockSizes)
    func decimalShapesAreAccepted(count: Int) {
        for shape in ["0.25 grid walk", "2-digit decimals", "constant", "small integers"] {
            var rng = SplitMix64(seed: UInt64(count))
            let values = FloatSamples.generate(shape, count: count, rng: &rng)
            var out: [UInt8] = []
            #expect(encodeDecimal(values, into: &out), "\(shape)")
        }
    }

    /// Prices on a 0.25 grid: the integers have a common divisor of 25 and deltas of
    /// −25, 0, +25, so about 2 bits a value; Gorilla needs far more.
    @Test func tickGridPricesAreAThirdOfGorillaOrLess() throws {
        let values = FloatSamples.tickWalk(count: 8192, seed: 0x71C)
        var decimal: [UInt8] = [], gorilla: [UInt8] = []
        #expect(encodeDecimal(values, into: &decimal))
        GorillaCodec.encode(values, into: &gorilla)
        #expect(decimal.count * 3 <= gorilla.count, "decimal \(decimal.count) B, gorilla \(gorilla.count) B")
        #expect(Double(decimal.count * 8) / 8192 <= 3, "\(Double(decimal.count * 8) / 8192) bits a value")
        #expect(bitPatterns(try decodeDecimal(decimal, count: values.count).value) == bitPatterns(values))
    }

    @Test func truncatedPayloadThrows() {
        let values = [1.5, 1.5, FloatSamples.quietNaNWithPayload, 2.5, 2.75, 3.0, -0.0, 3.25]
        var out: [UInt8] = []
        #expect(encodeDecimal(values, into: &out))
        for cut in 0..<out.count {
            let error = formatError { _ = try decodeDecimal(Array(out[..<cut]), count: values.count) }
            #expect(error != nil, "cut at \(cut)")
        }
    }

    struct BadPayload: Sendable, CustomTestStringConvertible {
        var name: String
        var hex: String
        var code: FormatError.Code
        var testDescription: String { name }
    }

    static let malformed: [BadPayload] = [
        BadPayload(name: "exponent 19", hex: "13 20 00 01 00 00 00", code: .malformed),
        BadPayload(name: "integer encoding is ts-dod", hex: "00 01 00 01 00 00 00", code: .unsupported),
        BadPayload(name: "integer encoding unknown", hex: "00 7f 00 01 00 00 00", code: .unsupported),
        // One value, two exceptions.
        BadPayload(name: "more exceptions than values", hex: "00 20 00 01 00 00 02", code: .malformed),
        // Exception index 3 in a block of 1.
        BadPayload(name: "exception index out of range", hex: "00 20 00 01 00 00 01 03 00 00 00 00 00 00 00 00", code: .malformed),
    ]

    @Test(arguments: malformed)
    func malformedPayloads(_ v: BadPayload) {
        #expect(formatError { _ = try decodeDecimal(bytes(hex: v.hex), count: 1) }?.code == v.code)
    }
}
