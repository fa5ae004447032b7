import StrataFormat
import Testing

struct TimestampVector: Sendable, CustomTestStringConvertible {
    var name: String
    var values: [Int64]
    var hex: String
    var testDescription: String { name }
}

func encodeTimestamps(_ values: [Int64], prefix: [UInt8] = []) -> [UInt8] {
    var out = prefix
    TimestampCodec.encode(values, into: &out)
    return out
}

func decodeTimestamps(_ data: [UInt8], from offset: Int = 0, count: Int) throws -> (value: [Int64], consumed: Int) {
    try read(data, from: offset) { try TimestampCodec.decode(&$0, count: count) }
}

@Suite("TimestampCodec (ts-dod)")
struct TimestampCodecTests {
    //     │ first <8b, Int64 LE> │ unit <varint ≥ 1> │ codes, MSB first │
    // Codes for D = Δᵢ − Δᵢ₋₁ in units (Δ₀ = 0): 0 | 10+7b | 110+9b | 1110+12b | 11110+32b | 11111+64b.
    static let golden: [TimestampVector] = [
        // Deltas 0,0,1000,1000,0 → unit gcd = 1000 → in units 0,0,1,1,0 → D = 0,0,1,0,-1.
        // first 1000 = e8 03 00…; unit 1000 = e8 07;
        // codes 0 | 0 | 10 0000001 | 0 | 10 1111111 = 00100000 00101011 11111(000) → 20 2b f8.
        TimestampVector(name: "unit detection: 1000 ns",
                        values: [1000, 1000, 1000, 2000, 3000, 3000],
                        hex: "e8 03 00 00 00 00 00 00  e8 07  20 2b f8"),
        // One row: no deltas, unit defaults to 1, no code bits.
        TimestampVector(name: "single row", values: [42], hex: "2a 00 00 00 00 00 00 00  01"),
        // Regular milliseconds in ns: unit 1_000_000 (varint c0 84 3d), deltas 1,1,1 →
        // D = 1,0,0 → 10 0000001 | 0 | 0 = 10000000 100(00000) → 80 80.
        TimestampVector(name: "regular 1 ms",
                        values: [0, 1_000_000, 2_000_000, 3_000_000],
                        hex: "00 00 00 00 00 00 00 00  c0 84 3d  80 80"),
        // Deltas 1, 64 → unit 1, D = 1, 63 (the top of the 7-bit bucket):
        // 10 0000001 | 10 0111111 = 10000000 11001111 11(000000) → 80 cf c0.
        TimestampVector(name: "7-bit bucket top", values: [0, 1, 65], hex: "00 00 00 00 00 00 00 00  01  80 cf c0"),
        // Deltas 1, -64 → D = 1, -65 (just below the 7-bit bucket → 9 bits, 447 = 110111111):
        // 10 0000001 | 110 110111111 = 10000000 11101101 11111(000) → 80 ed f8.
        TimestampVector(name: "9-bit bucket, negative", values: [0, 1, -63], hex: "00 00 00 00 00 00 00 00  01  80 ed f8"),
        // Int64.min then Int64.max: the delta wraps to -1 → unit 1, D = -1: 10 1111111 → bf 80.
        TimestampVector(name: "Int64.min then Int64.max", values: [Int64.min, Int64.max],
                        hex: "00 00 00 00 00 00 00 80  01  bf 80"),
    ]

    @Test(arguments: golden)
    func goldenBytes(_ v: TimestampVector) throws {
        let out = encodeTimestamps(v.values)
        #expect(hex(out) == normalized(v.hex))
        let (decoded, consumed) = try decodeTimestamps(bytes(hex: v.hex), count: v.values.count)
        #expect(decoded == v.values)
        #expect(consumed == out.count)
    }

    @Test(arguments: golden)
    func goldenAfterPrefix(_ v: TimestampVector) throws {
        let out = encodeTimestamps(v.values, prefix: foobar)
        #expect(Array(out.prefix(6)) == foobar)
        #expect(hex(out.dropFirst(6)) == normalized(v.hex))
        let (decoded, consumed) = try decodeTimestamps(out, from: 6, count: v.values.count)
        #expect(decoded == v.values)
        #expect(consumed == out.count - 6)
    }

    /// Each bucket edge costs exactly its code: rows 0, 1, 2 + D give deltas 1 and 1 + D
    /// (unit 1, since gcd(1, ·) = 1), so the codes are "10 0000001" (9 bits) then D's code.
    @Test(arguments: [
        (63, 9), (-64, 9), (64, 12), (-65, 12),
        (255, 12), (-256, 12), (256, 16), (-257, 16),
        (2047, 16), (-2048, 16), (2048, 37), (-2049, 37),
        (Int64(Int32.max), 37), (Int64(Int32.min), 37),
        (Int64(Int32.max) + 1, 69), (Int64(Int32.min) - 1, 69),
        (Int64(1) << 60, 69), (-(Int64(1) << 60), 69),
    ] as [(Int64, Int)])
    func bucketEdges(dod: Int64, codeBits: Int) throws {
        let values: [Int64] = [0, 1, 2 + dod]
        let out = encodeTimestamps(values)
        #expect(out.count == 8 + 1 + (9 + codeBits + 7) / 8)
        #expect(try decodeTimestamps(out, count: 3).value == values)
    }

    // MARK: Random round trips

    struct Shape: Sendable, CustomTestStringConvertible {
        var name: String
        var testDescription: String { name }
    }

    static let shapes = ["ms bursts", "random ns", "decreasing", "extremes", "constant", "regular 1 s", "small jitter", "huge jumps"]
        .map(Shape.init)

    static func generate(_ shape: String, count: Int, rng: inout SplitMix64) -> [Int64] {
        let start: Int64 = 1_767_225_600_000_000_000  // 2026-01-01 in ns
        var t = start
        var out: [Int64] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            switch shape {
            case "ms bursts":
                // Trades in bursts of equal timestamps, new ms now and then.
                if Int.random(in: 0..<10, using: &rng) == 0 { t += 1_000_000 * Int64.random(in: 1...50, using: &rng) }
            case "random ns":
                t += Int64.random(in: 0...5_000_000_000, using: &rng)
            case "decreasing":
                t -= Int64.random(in: 0...1_000_000, using: &rng)
            case "extremes":
                t = [Int64.min, Int64.max, 0, -1, 1, Int64.min + 1, Int64.max - 1][Int.random(in: 0..<7, using: &rng)]
            case "constant":
                break
            case "regular 1 s":
                t += 1_000_000_000
            case "small jitter":
                t += 1_000_000 + Int64.random(in: -3...3, using: &rng)
            default:  // "huge jumps": any Int64 step, wrapping
                t = t &+ Int64(bitPattern: rng.next())
            }
            out.append(t)
        }
        return out
    }

    @Test(arguments: shapes, blockSizes)
    func randomRoundTrip(shape: Shape, count: Int) throws {
        var rng = SplitMix64(seed: 0x7157 &+ UInt64(count) &* 31 &+ UInt64(shape.name.utf8.count))
        let values = Self.generate(shape.name, count: count, rng: &rng)
        // Two blocks back to back after a prefix, as a block encoder reopened midway.
        let split = Int.random(in: 1...count, using: &rng)
        let a = Array(values[..<split]), b = split < count ? Array(values[split...]) : [values[0]]
        var out = foobar
        TimestampCodec.encode(a, into: &out)
        let middle = out.count
        TimestampCodec.encode(b, into: &out)
        #expect(Array(out.prefix(6)) == foobar)
        let (decoded, consumed) = try read(out, from: 6) { r in
            let x = try TimestampCodec.decode(&r, count: a.count)
            #expect(r.readerIndex == middle - 6)
            let y = try TimestampCodec.decode(&r, count: b.count)
            return (x, y)
        }
        #expect(decoded.0 == a)
        #expect(decoded.1 == b)
        #expect(consumed == out.count - 6)
    }

    // MARK: Size

    /// 8192 trades, 100 per millisecond: unit 1 ms, D = +1 then −1 around each new ms
    /// (two 9-bit codes) and 0 (one bit) inside bursts: about 1.16 bits a row.
    @Test func burstsOfEqualMillisecondsCostUnderOneAndAHalfBitsARow() throws {
        var values: [Int64] = []
        var t: Int64 = 1_767_225_600_000_000_000
        for i in 0..<8192 {
            if i % 100 == 0 { t += 1_000_000 }
            values.append(t)
        }
        let out = encodeTimestamps(values)
        let bitsPerRow = Double(out.count * 8) / 8192
        #expect(bitsPerRow <= 1.5, "\(bitsPerRow) bits a row")
        #expect(try decodeTimestamps(out, count: values.count).value == values)
    }

    /// Same, with the gap between milliseconds varying (1…5 ms) and burst lengths random:
    /// codes stay in the 7-bit bucket.
    @Test func irregularBurstsStayCompact() throws {
        var rng = SplitMix64(seed: 0xB0057)
        var values: [Int64] = []
        var t: Int64 = 1_767_225_600_000_000_000
        while values.count < 8192 {
            t += 1_000_000 * Int64.random(in: 1...5, using: &rng)
            for _ in 0..<min(Int.random(in: 50...150, using: &rng), 8192 - values.count) { values.append(t) }
        }
        let out = encodeTimestamps(values)
        #expect(Double(out.count * 8) / 8192 <= 1.5)
        #expect(try decodeTimestamps(out, count: values.count).value == values)
    }

    @Test func regularSecondsCostOneBitARow() {
        let values = (0..<8192).map { Int64($0) * 1_000_000_000 }
        // 8 + varint(1e9) (5 bytes) + ceil((9 + 8190) / 8) bytes
        #expect(encodeTimestamps(values).count == 8 + 5 + (9 + 8190 + 7) / 8)
    }

    // MARK: Corruption

    @Test func truncatedStreamThrows() throws {
        let values: [Int64] = [0, 1, 65, 66, 1000, 5000, 5000, 5001]
        let out = encodeTimestamps(values)
        for cut in 0..<out.count {
            let error = formatError { _ = try decodeTimestamps(Array(out[..<cut]), count: values.count) }
            #expect(error?.code == .truncated, "cut at \(cut)")
        }
    }

    @Test func zeroRowsAndBadUnitAreMalformed() {
        #expect(formatError { _ = try decodeTimestamps([], count: 0) }?.code == .malformed)
        // unit 0
        #expect(formatError { _ = try decodeTimestamps(bytes(hex: "00 00 00 00 00 00 00 00 00"), count: 1) }?.code == .malformed)
        // unit 2^63 (varint 80 × 9, 01)
        #expect(formatError {
            _ = try decodeTimestamps(bytes(hex: "00 00 00 00 00 00 00 00 80 80 80 80 80 80 80 80 80 01"), count: 1)
        }?.code == .malformed)
    }
}
