import StrataEngine
import StrataFormat
import StrataSystem
import StrataTestSupport
import Synchronization
import Testing

@Suite struct QualityTests {
    let second: Int64 = 1_000_000_000
    /// 2024-01-02T00:00:00Z, a Tuesday.
    let tuesday: Int64 = 1_704_153_600_000_000_000
    let series = try! SeriesKey(measurement: "trade", symbol: "ESH4")

    func trades(_ rows: [(Int64, Double, Int64)]) -> ([Field], RowBlock) {
        ([Field("price", .float64), Field("size", .int64)],
         RowBlock(timestamps: rows.map(\.0), columns: [Column(.float64(rows.map(\.1))), Column(.int64(rows.map(\.2)))]))
    }

    @Test func eachKindOfProblemIsFoundWhereItIs() {
        var rows: [(Int64, Double, Int64)] = (0..<100).map { (tuesday + Int64($0) * second, 100 + Double($0 % 3) * 0.25, 1) }
        rows.insert(rows[10], at: 11)                              // an exact duplicate
        rows.insert((rows[20].0, 100.25, 2), at: 21)               // same time, other size: not one
        rows[30].1 = 0                                             // a zero price
        rows[40].2 = -5                                            // a negative size
        rows[50].1 = 150                                           // a jump up…
        rows[51].1 = 100                                           // …and back down
        rows.append((tuesday + 3_600 * second, 100, 1))            // an hour's silence
        let (schema, block) = trades(rows)
        let report = QualityScanner(policy: QualityPolicy()).scan(series: series, schema: schema, rows: block)
        #expect(report.rows == 103 && report.medianInterval == second)
        #expect(report.counts == [.duplicate: 1, .nonPositivePrice: 1, .nonPositiveVolume: 1, .outlier: 2, .gap: 1])
        let at = { (kind: QualityReport.Kind) in report.examples.filter { $0.kind == kind }.map(\.time) }
        #expect(at(.duplicate) == [tuesday + 10 * second])
        #expect(at(.nonPositivePrice) == [tuesday + 28 * second])  // rows 30 is the 29th second after two inserts
        #expect(at(.gap) == [tuesday + 99 * second])
        // Values as stored: an integer size is no 0.0.
        #expect(report.examples.filter { $0.kind == .nonPositivePrice || $0.kind == .nonPositiveVolume }.map(\.detail) == ["price = 0", "size = -5"])
        #expect(report.examples.first { $0.kind == .outlier }?.detail.contains("→ 150.0 (+49.") == true)
        #expect(report.examples.first { $0.kind == .gap }?.detail.contains("no rows for 58m21s of trading time") == true)
    }

    @Test func ohlcInconsistenciesAreFound() {
        let schema = [Field("open", .float64), Field("high", .float64), Field("low", .float64), Field("close", .float64), Field("volume", .float64)]
        let times = (0..<4).map { tuesday + Int64($0) * 86_400 * second }
        let block = RowBlock(timestamps: times, columns: [
            Column(.float64([10, 10, 12, 10])), Column(.float64([11, 9, 11, 11])), Column(.float64([9, 10, 9, 9])),
            Column(.float64([10, 9.5, 10, 11.5])), Column(.float64([5, 5, 5, 0])),
        ])
        let report = QualityScanner(policy: QualityPolicy()).scan(series: series, schema: schema, rows: block)
        // high < low; open above high; close above high; and a zero volume.
        #expect(report.counts[.ohlc] == 3 && report.counts[.nonPositiveVolume] == 1)
        #expect(report.examples.filter { $0.kind == .ohlc }.map(\.detail) == ["high 9.0 < low 10.0", "open 12.0 outside [low 9.0, high 11.0]", "close 11.5 outside [low 9.0, high 11.0]"])
    }

    /// NaN prices and rows centuries apart are reported or skipped, never a crash.
    @Test func nanAndExtremeTimesAreSafe() throws {
        let schema = [Field("open", .float64), Field("high", .float64), Field("low", .float64), Field("close", .float64)]
        let times: [Int64] = [.min + 1, -5_000_000_000_000_000_000, 0, 9_000_000_000_000_000_000, .max]
        let nan = Double.nan
        let block = RowBlock(timestamps: times, columns: [
            Column(.float64([1, nan, 1, 1, 1])), Column(.float64([nan, 2, 2, 2, 2])), Column(.float64([1, 1, nan, 1, 1])),
            Column(.float64([1, 1, 1, nan, 1])),
        ])
        var policy = QualityPolicy()
        policy.session = try QualityPolicy.parseSession("09:00-17:00")
        policy.utcOffsetSeconds = 14 * 3_600
        let report = QualityScanner(policy: policy).scan(series: series, schema: schema, rows: block)
        #expect(report.rows == 5 && report.counts[.ohlc] == nil && report.counts[.gap] == nil && report.medianInterval == 5_000_000_000_000_000_000)
        #expect(policy.tradingTime(from: .min, to: .max) == .max)
    }

    @Test func gapsCountOnlyTradingTime() throws {
        var policy = QualityPolicy()
        policy.session = try QualityPolicy.parseSession("09:00-15:30")
        policy.tradingDays = try QualityPolicy.parseDays("mon-fri")
        policy.utcOffsetSeconds = try QualityPolicy.parseOffset("+09:00")
        let hour = 3_600 * second
        // Tuesday 15:30 KST (06:30 UTC) to Wednesday 09:00 KST: no trading time.
        #expect(policy.tradingTime(from: tuesday + 6 * hour + 30 * 60 * second, to: tuesday + 24 * hour) == 0)
        // Friday 15:00 KST to Monday 10:00 KST: 30 minutes on Friday, an hour on Monday.
        let friday = tuesday + 3 * 24 * hour
        #expect(policy.tradingTime(from: friday + 6 * hour, to: friday + 3 * 24 * hour + hour) == 90 * 60 * second)
        // A session crossing midnight belongs to the day it starts: Sunday 17:00 opens, Saturday does not.
        policy.session = try QualityPolicy.parseSession("17:00-16:00")
        policy.tradingDays = try QualityPolicy.parseDays("sun-thu")
        policy.utcOffsetSeconds = 0
        let saturday = tuesday + 4 * 24 * hour
        #expect(policy.tradingTime(from: saturday, to: saturday + 24 * hour) == 0)
        #expect(policy.tradingTime(from: saturday + 24 * hour, to: saturday + 48 * hour) == 7 * hour)
        #expect(try QualityPolicy.parseDays("fri-mon") == [5, 6, 7, 1])
        // Trades every second through a session, a 2-hour halt: one gap; the night: none.
        policy.session = try QualityPolicy.parseSession("00:00-06:00")
        policy.tradingDays = Set(1...7)
        var times = (0..<7_200).map { tuesday + Int64($0) * second }
        times += (0..<7_200).map { tuesday + 4 * hour + Int64($0) * second }
        times += (0..<100).map { tuesday + 24 * hour + Int64($0) * second }
        let block = RowBlock(timestamps: times, columns: [Column(.float64(times.map { _ in 1 }))])
        let report = QualityScanner(policy: policy).scan(series: series, schema: [Field("price", .float64)], rows: block)
        #expect(report.counts[.gap] == 1 && report.examples.first?.time == tuesday + 7_199 * second)
    }

    @Test func outOfOrderArrivalsAreCountedAsRowsArrive() async throws {
        let root = TemporaryDirectory()
        let db = try Database(directory: root.path + "/data")
        defer { try? db.close() }
        let (schema, first) = trades([(tuesday + 10 * second, 1, 1), (tuesday + 5 * second, 1, 1), (tuesday + 20 * second, 1, 1)])
        try await db.append(series, schema: schema, rows: first)
        let (_, later) = trades([(tuesday + 15 * second, 1, 1), (tuesday + 30 * second, 1, 1)])
        try await db.append(series, schema: schema, rows: later)
        #expect(db.arrivals[series]?.outOfOrderRows == 2 && db.statistics.outOfOrderRows == 2)
        let report = try QualityScanner(policy: QualityPolicy()).scan(db, series)
        #expect(report.rows == 5 && report.counts[.outOfOrder] == nil)  // stored rows are sorted: only ingest saw it
        // The monitor scans every series of the store, in memory and on disk.
        try db.flush()
        let other = try SeriesKey(measurement: "quote", symbol: "NQH4")
        try await db.append(other, schema: schema, rows: trades([(tuesday, 0, 1)]).1)
        let monitor = QualityMonitor(database: db, policy: QualityPolicy())
        let summary = try monitor.scan(now: tuesday + 60 * second)
        #expect(summary.series == 2 && summary.rows == 6 && summary.seriesWithIssues == 2)
        #expect(summary.totals == [.outOfOrder: 2, .nonPositivePrice: 1])
        #expect(summary.worst.first?.series == series)
        // The next scan counts only the arrivals since this one.
        try await db.append(series, schema: schema, rows: trades([(tuesday + 1 * second, 1, 1)]).1)
        let next = try monitor.scan(now: tuesday + 60 * second)
        #expect(next.totals == [.outOfOrder: 1, .nonPositivePrice: 1])
        #expect(try monitor.scan(now: tuesday + 60 * second).totals == [.nonPositivePrice: 1])
    }
}

@Suite struct AutoTunerTests {
    let series = try! SeriesKey(measurement: "trade", symbol: "ESH4")

    func rows(_ n: Int, from start: Int64) -> RowBlock {
        RowBlock(timestamps: (0..<n).map { start + Int64($0) }, columns: [Column(.float64(Array(repeating: 1.5, count: n)))])
    }

    @Test func flushRowsHalveUnderMemoryPressureAndDoubleWhenFlushesAreCutBySize() async throws {
        let root = TemporaryDirectory()
        var configuration = DatabaseConfiguration()
        configuration.memoryLimit = 1 << 20
        configuration.flushRows = 4_000
        let db = try Database(directory: root.path + "/data", configuration: configuration)
        defer { try? db.close() }
        var bounds = TuningBounds()
        bounds.flushRows = 1_000...16_000
        let changes = Mutex<[AutoTuner.Change]>([])
        let tuner = AutoTuner(database: db, archive: nil, bounds: bounds) { c in changes.withLock { $0.append(c) } }
        #expect(tuner.tune().isEmpty)  // the first call only observes
        // Flushes of 4,000 rows, cut at the threshold, with memory to spare: double.
        for i in 0..<3 {
            try await db.append(series, schema: [Field("price", .float64)], rows: rows(4_000, from: Int64(i) * 10_000))
            try db.flush()
        }
        let grown = tuner.tune()
        #expect(grown.map(\.setting) == ["store.flush_rows"] && grown.first?.from == 4_000 && grown.first?.to == 8_000 && db.flushRows == 8_000)
        // The memtable past three quarters of its bound (one batch of ~900 KB): halve.
        try await db.append(series, schema: [Field("price", .float64)], rows: rows(50_000, from: 1_000_000))
        try db.flush()
        let shrunk = tuner.tune()
        #expect(shrunk.first?.to == 4_000 && db.flushRows == 4_000 && shrunk.first?.reason.contains("of its bound") == true, "\(shrunk)")
        // Idle: no change; and never below the bound.
        #expect(tuner.tune().isEmpty)
        #expect(changes.withLock { $0.count } == 2 && tuner.changes.total == 2)
    }
}
