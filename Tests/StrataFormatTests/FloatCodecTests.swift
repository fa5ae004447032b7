import StrataFormat
import Testing

@Suite("FloatCodec (choice of f64 encoding, f64-plain)")
struct FloatCodecTests {
    func encode(_ values: [Double], into out: inout [UInt8]) -> Encoding {
        values.withUnsafeBufferPointer { FloatCodec.encode($0, into: &out) }
    }

    /// f64-plain is eight little-endian bytes a value.
    @Test func plainGolden() throws {
        var out = foobar
        [1.0, -0.0, FloatSamples.signallingNaN].withUnsafeBufferPointer { FloatCodec.encodePlain($0, into: &out) }
        #expect(Array(out.prefix(6)) == foobar)
        #expect(hex(out.dropFirst(6)) == normalized("00 00 00 00 00 00 f0 3f  00 00 00 00 00 00 00 80  01 00 00 00 00 00 f0 7f"))
        let (decoded, consumed) = try read(out, from: 6) { try FloatCodec.decode(.float64Plain, &$0, count: 3) }
        #expect(bitPatterns(decoded) == [0x3FF0_0000_0000_0000, 0x8000_0000_0000_0000, 0x7FF0_0000_0000_0001])
        #expect(consumed == 24)
    }

    @Test func choosesTheExpectedEncoding() {
        var rng = SplitMix64(seed: 0xF10A7)
        var out: [UInt8] = []
        #expect(encode(FloatSamples.tickWalk(count: 1000, seed: 1), into: &out) == .float64Decimal)
        out = []
        #expect(encode((0..<1000).map { _ in Double(bitPattern: rng.next()) }, into: &out) == .float64Plain)
        #expect(out.count == 8000)
        out = []
        // Large values (about 1e83, beyond 2^53 at every exponent) that mostly repeat: Gorilla's
        // one-bit repeat codes win, and decimal declines.
        let x = Double(bitPattern: 0x5123_4567_89AB_CDEF), y = Double(bitPattern: 0x5123_4567_89AB_CDEE)
        let repeats = (0..<1000).map { i in i % 10 == 9 ? y : x }
        #expect(encode(repeats, into: &out) == .float64Gorilla)
    }

    @Test(arguments: FloatSamples.shapes, blockSizes)
    func randomRoundTripOfTheChosenEncoding(shape: String, count: Int) throws {
        var rng = SplitMix64(seed: 0xF1 &+ UInt64(count) &* 104_729 &+ UInt64(shape.utf8.count))
        let values = FloatSamples.generate(shape, count: count, rng: &rng)
        var out = foobar
        let first = encode(values, into: &out)
        let middle = out.count
        let second = encode(values.reversed(), into: &out)
        #expect(Array(out.prefix(6)) == foobar)
        #expect(middle - 6 <= 8 * count, "never larger than plain")
        let (decoded, consumed) = try read(out, from: 6) { r in
            let a = try FloatCodec.decode(first, &r, count: count)
            #expect(r.readerIndex == middle - 6)
            return (a, try FloatCodec.decode(second, &r, count: count))
        }
        #expect(bitPatterns(decoded.0) == bitPatterns(values))
        #expect(bitPatterns(decoded.1) == bitPatterns(values.reversed()))
        #expect(consumed == out.count - 6)
    }

    @Test func specialsSurviveBitExactlyInEveryEncoding() throws {
        let values = FloatSamples.specials
        var plain: [UInt8] = [], gorilla: [UInt8] = [], decimal: [UInt8] = []
        values.withUnsafeBufferPointer { FloatCodec.encodePlain($0, into: &plain) }
        GorillaCodec.encode(values, into: &gorilla)
        let accepted = values.withUnsafeBufferPointer { DecimalCodec.encode($0, into: &decimal, maxExceptionFraction: 1) }
        #expect(accepted)
        for (encoding, data) in [(Encoding.float64Plain, plain), (.float64Gorilla, gorilla), (.float64Decimal, decimal)] {
            let decoded = try read(data) { try FloatCodec.decode(encoding, &$0, count: values.count) }.value
            #expect(bitPatterns(decoded) == bitPatterns(values), "\(encoding)")
        }
    }

    @Test func nonFloatEncodingIsUnsupported() {
        #expect(formatError { _ = try read([0]) { try FloatCodec.decode(.int64FrameOfReference, &$0, count: 1) } }?.code == .unsupported)
        #expect(formatError { _ = try read([0, 0, 0]) { try FloatCodec.decode(.float64Plain, &$0, count: 1) } }?.code == .truncated)
    }
}
