import StrataFormat

/// A trades-like schema with every field type, and rows to fill it.
enum Fixtures {
    static let schema: [Field] = [
        Field("price", .float64),
        Field("volume", .int64),
        Field("buy", .bool),
        Field("venue", .string),
        Field("condition", .string),
        Field("bid", .float64),
    ]

    static let day: Int64 = 20_454  // 2026-01-01
    static let dayStart: Int64 = day * 86_400_000_000_000

    /// `count` trades from `start`, 1–3 per millisecond. Presence: price and volume
    /// always (.all), buy and bid with gaps (.bitmap), venue always, condition never
    /// (.none). Absent rows hold the placeholders the decoder fills in (0, false, "").
    static func trades(count: Int, start: Int64, seed: UInt64) -> RowBlock {
        var rng = SplitMix64(seed: seed)
        var t = start
        var timestamps: [Int64] = [], price: [Double] = [], volume: [Int64] = []
        var buy: [Bool] = [], buyPresent: [Bool] = [], venue: [String] = [], bid: [Double] = [], bidPresent: [Bool] = []
        var tick: Int64 = 4512 * 4
        for _ in 0..<count {
            if Int.random(in: 0..<3, using: &rng) == 0 { t += 1_000_000 }
            timestamps.append(t)
            tick += Int64.random(in: -1...1, using: &rng)
            price.append(Double(tick) / 4)
            volume.append(Int64.random(in: 1...20, using: &rng))
            let hasSide = Int.random(in: 0..<4, using: &rng) != 0
            buyPresent.append(hasSide)
            buy.append(hasSide ? Bool.random(using: &rng) : false)
            venue.append(["XCME", "XEUR", "BATS"][Int.random(in: 0..<3, using: &rng)])
            let hasBid = Int.random(in: 0..<2, using: &rng) == 0
            bidPresent.append(hasBid)
            bid.append(hasBid ? Double(tick - 1) / 4 : 0)
        }
        return RowBlock(timestamps: timestamps, columns: [
            Column(.float64(price)),
            Column(.int64(volume)),
            Column(.bool(buy), presence: buyPresent),
            Column(.string(venue)),
            Column.null(.string, count: count),
            Column(.float64(bid), presence: bidPresent),
        ])
    }

    /// A small segment of `blockCount` blocks (rows 1, 2, 7, 8, … cycling), consecutive
    /// in time, built in memory; returns the file's bytes and the blocks written.
    static func segment(blockCount: Int = 4, rowCounts: [Int] = [7, 1, 65, 9], seed: UInt64 = 0x5E6) -> (bytes: [UInt8], blocks: [RowBlock]) {
        var builder = SegmentBuilder(measurement: "trades", symbol: "ESH6", day: day, schema: schema)
        var file = builder.header()
        var blocks: [RowBlock] = []
        var start = dayStart + 34_200_000_000_000  // 09:30
        for i in 0..<blockCount {
            let rows = trades(count: rowCounts[i % rowCounts.count], start: start, seed: seed &+ UInt64(i))
            blocks.append(rows)
            file += builder.block(rows).bytes
            start = rows.timestamps.last! + 1_000_000
        }
        file += builder.finish()
        return (file, blocks)
    }
}
