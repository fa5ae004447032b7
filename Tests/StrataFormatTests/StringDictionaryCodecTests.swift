import StrataFormat
import Testing

struct StringVector: Sendable, CustomTestStringConvertible {
    var name: String
    var values: [String]
    var hex: String
    var testDescription: String { name }
}

func decodeStrings(_ data: [UInt8], from offset: Int = 0, count: Int) throws -> (value: [String], consumed: Int) {
    try read(data, from: offset) { try StringDictionaryCodec.decode(&$0, count: count) }
}

@Suite("StringDictionaryCodec (str-dict)")
struct StringDictionaryCodecTests {
    //  │ entry count <varint> │ (length <varint>, UTF-8)* │ width <1b> │ packed indexes (LE bit order) │
    static let golden: [StringVector] = [
        // Entries in order of first appearance: AAPL 0, MSFT 1, GOOG 2 → width 2; codes
        // 0,1,0,2,0 → 0|1<<2|0<<4|2<<6|0<<8 = 0x0084 → 84 00 (10 bits, 2 bytes).
        StringVector(name: "tickers", values: ["AAPL", "MSFT", "AAPL", "GOOG", "AAPL"],
                     hex: "03  04 41 41 50 4c  04 4d 53 46 54  04 47 4f 4f 47  02  84 00"),
        // One entry: width 0, no packed bytes.
        StringVector(name: "constant", values: ["x", "x", "x"], hex: "01 01 78 00"),
        // No rows: no entries, width 0.
        StringVector(name: "empty", values: [], hex: "00 00"),
        // Multi-byte UTF-8 and the empty string: € is e2 82 ac; codes 0,1 at width 1 → 02.
        StringVector(name: "utf-8 and empty string", values: ["€", ""], hex: "02  03 e2 82 ac  00  01  02"),
    ]

    @Test(arguments: golden)
    func goldenBytes(_ v: StringVector) throws {
        var out: [UInt8] = []
        StringDictionaryCodec.encode(v.values, into: &out)
        #expect(hex(out) == normalized(v.hex))
        let (decoded, consumed) = try decodeStrings(bytes(hex: v.hex), count: v.values.count)
        #expect(decoded == v.values)
        #expect(consumed == out.count)
    }

    @Test(arguments: golden)
    func goldenAfterPrefix(_ v: StringVector) throws {
        var out = foobar
        StringDictionaryCodec.encode(v.values, into: &out)
        #expect(Array(out.prefix(6)) == foobar)
        #expect(hex(out.dropFirst(6)) == normalized(v.hex))
        let (decoded, consumed) = try decodeStrings(out, from: 6, count: v.values.count)
        #expect(decoded == v.values)
        #expect(consumed == out.count - 6)
    }

    /// Dictionary sizes around the power-of-two width steps, at every block size.
    @Test(arguments: [1, 2, 3, 4, 5, 255, 256, 257, 5000], blockSizes)
    func randomRoundTrip(distinct: Int, count: Int) throws {
        var rng = SplitMix64(seed: UInt64(distinct) &* 65_537 &+ UInt64(count))
        let pool = (0..<distinct).map { i in i % 7 == 0 ? "é\(i)ü" : "S\(i)" }
        let values = (0..<count).map { _ in pool[Int.random(in: 0..<distinct, using: &rng)] }
        var out = foobar
        StringDictionaryCodec.encode(values, into: &out)
        StringDictionaryCodec.encode(values.reversed(), into: &out)
        let (decoded, consumed) = try read(out, from: 6) { r in
            (try StringDictionaryCodec.decode(&r, count: count), try StringDictionaryCodec.decode(&r, count: count))
        }
        #expect(decoded.0 == values)
        #expect(decoded.1 == values.reversed())
        #expect(consumed == out.count - 6)
    }

    @Test func truncatedPayloadThrows() {
        let values = ["AAPL", "MSFT", "AAPL", "GOOG", "AAPL", "€uro"]
        var out: [UInt8] = []
        StringDictionaryCodec.encode(values, into: &out)
        for cut in 0..<out.count {
            #expect(formatError { _ = try decodeStrings(Array(out[..<cut]), count: values.count) } != nil, "cut at \(cut)")
        }
    }

    struct BadPayload: Sendable, CustomTestStringConvertible {
        var name: String
        var hex: String
        var count: Int
        var testDescription: String { name }
    }

    static let malformed: [BadPayload] = [
        // Index 3 in a dictionary of 2 (width 2, codes 0, 3 → 0x0c).
        BadPayload(name: "index outside dictionary", hex: "02 01 61 01 62 02 0c", count: 2),
        BadPayload(name: "rows but no entries", hex: "00 00", count: 2),
        BadPayload(name: "width 33", hex: "01 01 61 21 00 00 00 00 00", count: 1),
        BadPayload(name: "more entries than rows", hex: "03 01 61 01 62 01 63 02 00", count: 2),
        BadPayload(name: "entry is not UTF-8", hex: "01 02 c3 28 00", count: 1),
    ]

    @Test(arguments: malformed)
    func malformedPayloads(_ v: BadPayload) {
        #expect(formatError { _ = try decodeStrings(bytes(hex: v.hex), count: v.count) }?.code == .malformed)
    }
}
