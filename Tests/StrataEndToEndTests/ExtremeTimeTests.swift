import StrataEngine
import StrataFormat
import StrataSystem
import StrataTestSupport
import Testing

/// Every time computation over users' times, at the ends of the Int64 range (1677-09-21 …
/// 2262-04-11): queries, bars (tick, statistics and roll-up paths), days, deletes,
/// compaction and the flush from memory. None may trap, and each answer is the one exact
/// arithmetic gives.
@Suite struct ExtremeTimeTests {
    static let times: [Int64] = [
        .min, .min + 1, .min + 43_200_000_000_000,  // 1677-09-21T12:12:43… (the 12:00 is before .min + 12h)
        -86_400_000_000_001, -1, 0, 1, 1_704_205_800_000_000_000,
        .max - 86_400_000_000_000, .max - 1, .max,
    ]
    static let intervals: [Int64] = [1, 2, 3, 1_000_000_000, 60_000_000_000, 3_600_000_000_000, 86_400_000_000_000,
                                     604_800_000_000_000, 1 << 62, .max / 2, .max - 1, .max]

    /// The bar start of `t` with exact arithmetic (Int128).
    static func exactStart(_ t: Int64, _ interval: Int64) -> Int128 {
        let i = Int128(interval), x = Int128(t)
        var q = x / i
        if x % i < 0 { q -= 1 }
        return q * i
    }

    /// The same, as Strata labels it: a start before the range is Int64.min.
    static func start(_ t: Int64, _ interval: Int64) -> Int64 {
        let exact = exactStart(t, interval)
        return exact < Int128(Int64.min) ? .min : Int64(exact)
    }

    /// Bars of (time, price, size) rows sorted by time, the obvious way.
    static func expected(_ rows: [(Int64, Double, Int64)], _ interval: Int64) -> [Bar] {
        var bars: [Bar] = []
        for (t, p, v) in rows {
            let s = start(t, interval)
            if bars.last?.start != s { bars.append(Bar(start: s, open: p, high: p, low: p, close: p, volume: 0, count: 0, vwap: nil)) }
            let k = bars.count - 1
            bars[k].high = max(bars[k].high, p)
            bars[k].low = min(bars[k].low, p)
            bars[k].close = p
            bars[k].volume! += Double(v)
            bars[k].count += 1
        }
        return bars
    }

    static func rows() -> [(Int64, Double, Int64)] {
        times.enumerated().map { (i, t) in (t, Double(100 + i), Int64(1 + i)) }
    }

    static func block(_ rows: [(Int64, Double, Int64)]) -> RowBlock {
        RowBlock(timestamps: rows.map(\.0), columns: [Column(.float64(rows.map(\.1))), Column(.int64(rows.map(\.2)))])
    }

    @Test(arguments: [false, true])
    func barsAndQueriesAtTheEndsOfTime(inMemory: Bool) async throws {
        let dir = TemporaryDirectory()
        var configuration = DatabaseConfiguration()
        configuration.store = StoreConfiguration(rowsPerBlock: 2)
        let db = try Database(directory: dir.path, configuration: configuration)
        let series = try SeriesKey(measurement: "trade", symbol: "X")
        let rows = Self.rows()
        try await db.append(series, schema: SyntheticTicks.tradeSchema, rows: Self.block(rows))
        if !inMemory { try db.flush() }
        // Raw rows: every range, its ends at the extremes too.
        for from in Self.times {
            for to in Self.times where from <= to {
                let got = try db.query(series, from: from, to: to).rows.timestamps
                #expect(got == Self.times.filter { $0 >= from && $0 <= to }, "[\(from), \(to)]")
            }
        }
        for interval in Self.intervals {
            // Bars from ticks (price, size), and the same rows rolled up as OHLC bars.
            let bars = try db.bars(series, spec: BarSpec(interval: interval, source: .ticks(price: "price", volume: "size")))
            let want = Self.expected(rows, interval)
            #expect(bars.map(\.start) == want.map(\.start) && bars.map(\.count) == want.map(\.count)
                    && bars.map(\.open) == want.map(\.open) && bars.map(\.close) == want.map(\.close), "interval \(interval)")
            let rolled = try db.bars(series, spec: BarSpec(interval: interval, source: .bars(open: "price", high: "price", low: "price", close: "price", volume: "size")))
            #expect(rolled.map(\.start) == want.map(\.start) && rolled.map(\.count) == want.map(\.count), "roll-up, interval \(interval)")
        }
        try db.close()
    }

    @Test func barBoundsAreExactOrClamped() {
        for t in Self.times {
            for interval in Self.intervals {
                let (start, end) = barBounds(t, interval: interval)
                #expect(start == Self.start(t, interval), "\(t) / \(interval)")
                let exactEnd = Self.exactStart(t, interval) + Int128(interval)
                #expect(end.map { Int128($0) } == (exactEnd > Int128(Int64.max) ? nil : exactEnd), "end of \(t) / \(interval)")
                #expect(start <= t && (end.map { t < $0 } ?? true))
            }
        }
    }

    @Test func daysAtTheEndsAreCutNotOverflowed() {
        for t in Self.times {
            for offset: Int64 in [0, 3_600, -3_600, 9 * 3_600, 86_399] {
                let day = Day(containing: t, offsetSeconds: offset)
                let bounds = day.bounds(offsetSeconds: offset)
                #expect(bounds.lowerBound <= bounds.upperBound)
                if t.addingReportingOverflow(offset * 1_000_000_000).overflow == false {
                    #expect(bounds.contains(t), "\(t) in \(day) (offset \(offset)): \(bounds)")
                }
            }
        }
        #expect(Int64.max.addingSaturating(1) == .max && Int64.min.subtractingSaturating(1) == .min && Int64.min.addingSaturating(-1) == .min)
        #expect(Int64(5).subtractingSaturating(.min) == .max && Int64(-5).addingSaturating(.max) == .max - 5)
    }

    /// Deletes over the whole range and at its ends, then compaction: what remains is exact.
    @Test func deletesAndCompactionAtTheEnds() async throws {
        let dir = TemporaryDirectory()
        let db = try Database(directory: dir.path)
        let series = try SeriesKey(measurement: "trade", symbol: "X")
        try await db.append(series, schema: SyntheticTicks.tradeSchema, rows: Self.block(Self.rows()))
        try db.flush()
        try await db.delete(series, from: .min, to: .min)
        try await db.delete(series, from: .max, to: .max)
        _ = try db.compact()
        let left = try db.query(series).rows.timestamps
        #expect(left == Array(Self.times.dropFirst().dropLast()))
        try await db.delete(series, from: .min, to: .max)
        _ = try db.compact()
        #expect(try db.query(series).rows.rowCount == 0)
        try db.close()
    }
}

extension ExtremeTimeTests {
    /// The fault campaign's case, end to end: rows on the first and last days there are,
    /// flushed; daily bars, tiering and archiving of them do not trap.
    @Test func theFirstAndLastDaysThroughTheCLI() throws {
        let root = TemporaryDirectory()
        let data = root.path + "/data"
        writeText(root.path + "/t.csv", "time,symbol,price\n1677-09-21T12:00:00Z,X,1\n2262-04-11T23:47:16.854775807Z,X,2\n")
        #expect(runStrata(["ingest", "--data-dir", data, "--measurement", "trade", root.path + "/t.csv"]).status == 0)
        let bars = runStrata(["query", "--data-dir", data, "--measurement", "trade", "--symbol", "X", "--interval", "1d", "--ohlcv", "price"])
        #expect(bars.status == 0 && bars.stdout == """
            time,symbol,open,high,low,close,volume,count,vwap
            1677-09-21T00:12:43.145224192Z,X,1,1,1,1,,1,
            2262-04-11T00:00:00.000000000Z,X,2,2,2,2,,1,

            """, "\(bars)")
        let tier = runStrata(["tier", "--data-dir", data, "--compact-after", "0s", "--archive-after", "0s"])
        #expect(tier.status == 0 && tier.stdout.contains("series-days archived: 1"), "\(tier)")
        let again = runStrata(["query", "--data-dir", data, "--measurement", "trade", "--symbol", "X", "--time-format", "ns"])
        #expect(again.stdout == "time,symbol,price\n-9223329600000000000,X,1\n9223372036854775807,X,2\n", "\(again)")
    }
}
