import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem
import StrataTestSupport
import Testing

@Suite struct BarTests {
    /// Bars computed the obvious way, row by row.
    func naiveBars(_ rows: RowBlock, interval: Int64) -> [Bar] {
        guard case .float64(let p) = rows.columns[0].values, case .int64(let v) = rows.columns[1].values else { return [] }
        var bars: [Bar] = []
        var pv = 0.0
        for i in 0..<rows.rowCount {
            let t = rows.timestamps[i]
            let start = (t >= 0 ? t / interval : (t - interval + 1) / interval) * interval
            if bars.last?.start != start {
                if !bars.isEmpty { bars[bars.count - 1].vwap = pv / bars[bars.count - 1].volume! }
                bars.append(Bar(start: start, open: p[i], high: p[i], low: p[i], close: p[i], volume: 0, count: 0, vwap: nil))
                pv = 0
            }
            let k = bars.count - 1
            bars[k].high = max(bars[k].high, p[i])
            bars[k].low = min(bars[k].low, p[i])
            bars[k].close = p[i]
            bars[k].volume! += Double(v[i])
            bars[k].count += 1
            pv += p[i] * Double(v[i])
        }
        if !bars.isEmpty { bars[bars.count - 1].vwap = pv / bars[bars.count - 1].volume! }
        return bars
    }

    func expectClose(_ a: [Bar], _ b: [Bar]) {
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) {
            #expect(x.start == y.start && x.open == y.open && x.high == y.high && x.low == y.low && x.close == y.close)
            #expect(x.volume == y.volume && x.count == y.count)
            if let xv = x.vwap, let yv = y.vwap { #expect(abs(xv - yv) <= 1e-9 * abs(yv)) } else { #expect(x.vwap == y.vwap) }
        }
    }

    @Test(arguments: [Int64(1_000_000_000), 60_000_000_000, 300_000_000_000, 3_600_000_000_000, 86_400_000_000_000])
    func barsMatchARowByRowComputation(_ interval: Int64) throws {
        let dir = TemporaryDirectory()
        // Small blocks so that coarse bars take the statistics path and fine ones decode.
        let store = try Store(directory: dir.path, configuration: StoreConfiguration(rowsPerBlock: 256), create: true)
        let series = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let ticks = SyntheticTicks(seed: 3).trades(count: 20_000)
        try store.write(series, schema: SyntheticTicks.tradeSchema, rows: ticks)
        let bars = try store.bars(series, spec: BarSpec(interval: interval, source: .ticks(price: "price", volume: "size")))
        expectClose(bars, naiveBars(ticks, interval: interval))
    }

    @Test func barsOverARangeAndAcrossLateSegments() throws {
        let dir = TemporaryDirectory()
        let store = try Store(directory: dir.path, configuration: StoreConfiguration(rowsPerBlock: 128), create: true)
        let series = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let ticks = SyntheticTicks(seed: 5).trades(count: 6000)
        // Write every third row later, as a second segment: bars must come out the same.
        let late = Array(stride(from: 0, to: ticks.rowCount, by: 3))
        let early = ticks.timestamps.indices.filter { $0 % 3 != 0 }
        try store.write(series, schema: SyntheticTicks.tradeSchema, rows: ticks.gather(early))
        try store.write(series, schema: SyntheticTicks.tradeSchema, rows: ticks.gather(late))
        let from = ticks.timestamps[1000], to = ticks.timestamps[5000]
        let inRange = ticks.timestamps.indices.filter { ticks.timestamps[$0] >= from && ticks.timestamps[$0] <= to }
        for interval in [Int64(60_000_000_000), 3_600_000_000_000] {
            let bars = try store.bars(series, spec: BarSpec(interval: interval, source: .ticks(price: "price", volume: "size")), from: from, to: to)
            expectClose(bars, naiveBars(ticks.gather(inRange), interval: interval))
        }
    }

    @Test func barsRollUpIntoCoarserBars() throws {
        let dir = TemporaryDirectory()
        let store = try Store(directory: dir.path, create: true)
        let series = try SeriesKey(measurement: "bar", symbol: "EURUSD")
        let hour: Int64 = 3_600_000_000_000
        let base = ns("2024-01-02T00:00:00Z")
        // Four hourly bars into one 4-hour bar.
        let rows = RowBlock(timestamps: (0..<4).map { base + $0 * hour }, columns: [
            Column(.float64([1.10, 1.12, 1.11, 1.13])), Column(.float64([1.12, 1.15, 1.13, 1.14])),
            Column(.float64([1.09, 1.11, 1.08, 1.12])), Column(.float64([1.12, 1.11, 1.13, 1.135])),
            Column(.int64([100, 200, 300, 400])),
        ])
        let fields = ["open", "high", "low", "close"].map { Field($0, .float64) } + [Field("volume", .int64)]
        try store.write(series, schema: fields, rows: rows)
        let bars = try store.bars(series, spec: BarSpec(interval: 4 * hour, source: .bars(open: "open", high: "high", low: "low", close: "close", volume: "volume")))
        #expect(bars.count == 1)
        let b = try #require(bars.first)
        #expect(b.open == 1.10 && b.high == 1.15 && b.low == 1.08 && b.close == 1.135)
        #expect(b.volume == 1000 && b.count == 4)
        let vwap = (1.12 * 100 + 1.11 * 200 + 1.13 * 300 + 1.135 * 400) / 1000
        #expect(abs(b.vwap! - vwap) < 1e-12)
    }

    @Test func unknownOrTextFieldsAreClearErrors() throws {
        let dir = TemporaryDirectory()
        let store = try Store(directory: dir.path, create: true)
        let series = try SeriesKey(measurement: "trade", symbol: "X")
        try store.write(series, schema: [Field("venue", .string)], rows: RowBlock(timestamps: [1], columns: [Column(.string(["A"]))]))
        let missing = #expect(throws: StrataError.self) {
            try store.bars(series, spec: BarSpec(interval: 60_000_000_000, source: .ticks(price: "price", volume: nil)))
        }
        #expect(missing?.message == "measurement 'trade' has no field 'price'")
        let text = #expect(throws: StrataError.self) {
            try store.bars(series, spec: BarSpec(interval: 60_000_000_000, source: .ticks(price: "venue", volume: nil)))
        }
        #expect(text?.message == "field 'venue' is string; bars need float or int fields")
    }
}
