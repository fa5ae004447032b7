import Glibc
@testable import StrataEngine
import StrataFormat
import StrataPlatform
import StrataTestSupport
import Testing

/// Partitions of a week, a month or a year: their names, how a measurement gets its period,
/// and every path of the engine (writes, queries, late rows, deletes, compaction, a crash and
/// replay) on them.
@Suite struct PartitionTests {
    let root = TemporaryDirectory()
    let day = Day.nanosecondsPerDay

    @Test func namesAndPeriodsRoundTripOverFourCenturies() {
        for period in PartitionPeriod.allCases {
            var d: Int64 = -106_000
            while d < 106_000 {
                let p = Day(daysSinceEpoch: d, period: period)
                #expect(p.daysSinceEpoch <= d && d < p.nextDay, "\(period) \(d)")
                #expect(Day(p.description) == p, "\(period) \(p)")
                d += 37
            }
        }
        #expect(Day(daysSinceEpoch: CivilTime.days(fromCivil: 2024, 3, 5), period: .week).description == "2024-W10")
        #expect(Day(daysSinceEpoch: CivilTime.days(fromCivil: 2021, 1, 3), period: .week).description == "2020-W53")
        #expect(Day(daysSinceEpoch: CivilTime.days(fromCivil: 2024, 12, 30), period: .week).description == "2025-W01")
        #expect(Day(daysSinceEpoch: CivilTime.days(fromCivil: 2024, 3, 5), period: .month).description == "2024-03")
        #expect(Day(daysSinceEpoch: CivilTime.days(fromCivil: 2024, 3, 5), period: .year).description == "2024")
        for bad in ["2024-13", "2024-00", "2024-W00", "2021-W53", "2024-W54", "2024-02-30", "02024", "2024-3", "2024-w10", "2024-W1", "abcd", "2024-03-05 "] {
            #expect(Day(bad) == nil, "\(bad)")
        }
        let march = Day(daysSinceEpoch: CivilTime.days(fromCivil: 2024, 3, 1), period: .month)
        #expect(march.bounds() == ns("2024-03-01T00:00:00Z")...(ns("2024-04-01T00:00:00Z") - 1))
        #expect(march.bounds(offsetSeconds: 3_600) == (ns("2024-03-01T00:00:00Z") - 3_600_000_000_000)...(ns("2024-04-01T00:00:00Z") - 3_600_000_000_001))
        // The partitions at the ends of time are cut short, never overflow.
        #expect(Day(containing: .max, period: .year).bounds().upperBound == .max)
        #expect(Day(containing: .min, period: .year).bounds().lowerBound == .min)
    }

    func store(_ choice: PartitionChoice, measurement: String? = nil) throws -> Store {
        var c = StoreConfiguration(rowsPerBlock: 64)
        if let measurement { c.partitions[measurement] = choice } else { c.defaultPartition = choice }
        return try Store(directory: root.path, configuration: c, create: true)
    }

    func bars(_ times: [Int64], first: Int64 = 0) -> RowBlock {
        RowBlock(timestamps: times, columns: [Column(.float64(times.indices.map { Double(first + Int64($0)) })), Column(.int64(times.map { _ in 1 }))])
    }
    let schema = [Field("close", .float64), Field("volume", .int64)]

    @Test func autoPicksYearsForDailyBarsMonthsForMinuteBarsAndDaysForTicks() throws {
        let s = try store(.auto)
        let start = ns("2024-01-02T00:00:00Z")
        try s.write(try SeriesKey(measurement: "daily", symbol: "005930"), schema: schema, rows: bars((0..<20).map { start + $0 * day }))
        try s.write(try SeriesKey(measurement: "minute", symbol: "005930"), schema: schema, rows: bars((0..<20).map { start + $0 * 60_000_000_000 }))
        try s.write(try SeriesKey(measurement: "tick", symbol: "ESH4"), schema: schema, rows: bars((0..<20).map { start + $0 * 1_000_000 }))
        // Too few rows to tell: days, whatever their spacing.
        try s.write(try SeriesKey(measurement: "few", symbol: "X"), schema: schema, rows: bars([start, start + day, start + 2 * day]))
        #expect(try ["daily", "minute", "tick", "few"].map { try s.partitionPeriod(of: $0) } == [.year, .month, .day, .day])
        #expect(try s.days(try SeriesKey(measurement: "daily", symbol: "005930")).map(\.description) == ["2024"])
        // Recorded, checksummed, and kept by a store opened with other settings.
        let recorded = try ChecksummedText.decode(readFile("\(root.path)/daily/_partition"), path: "_partition", kind: "partition file")
        #expect(recorded == ["year"])
        let other = try Store(directory: root.path)
        #expect(try other.partitionPeriod(of: "daily") == .year && other.partitionPeriod(of: "tick") == .day)
        try other.write(try SeriesKey(measurement: "daily", symbol: "000660"), schema: schema, rows: bars([start, start + 400 * day]))
        #expect(try other.days(try SeriesKey(measurement: "daily", symbol: "000660")).map(\.description) == ["2024", "2025"])
    }

    @Test func aMeasurementMadeBeforePeriodsKeepsDaysAndADamagedRecordIsNamed() throws {
        let days = try store(.period(.day))
        let series = try SeriesKey(measurement: "old", symbol: "A")
        try days.write(series, schema: schema, rows: bars([ns("2024-01-02T00:00:00Z")]))
        try FileSystem.remove("\(root.path)/old/_partition")
        // Without a record, a measurement that has series holds days, whatever the settings say.
        let years = try Store(directory: root.path, configuration: { var c = StoreConfiguration(); c.defaultPartition = .period(.year); return c }())
        try years.write(series, schema: schema, rows: bars([ns("2024-05-02T00:00:00Z")]))
        #expect(try years.days(series).map(\.description) == ["2024-01-02", "2024-05-02"])
        try FileSystem.makeDirectories("\(root.path)/bad")
        writeFile("\(root.path)/bad/_partition", ChecksummedText.encode("fortnight\n"))
        do {
            _ = try years.partitionPeriod(of: "bad")
            Issue.record("a damaged partition file was read")
        } catch {
            #expect(error.code == .corrupt && error.path == "\(root.path)/bad/_partition")
        }
    }

    @Test func monthsHoldEveryRowAcrossWritesQueriesAndLateRows() throws {
        let s = try store(.period(.month), measurement: "bar")
        let series = try SeriesKey(measurement: "bar", symbol: "BTC/USD")
        let start = ns("2024-01-30T00:00:00Z")
        let times = (0..<40).map { start + $0 * day / 2 }  // 30 January … 19 February, twice a day
        try s.write(series, schema: schema, rows: bars(times))
        #expect(try s.days(series).map(\.description) == ["2024-01", "2024-02"])
        // A late row in January goes into January's partition as a second segment.
        try s.write(series, schema: schema, rows: bars([ns("2024-01-31T06:00:00Z")], first: 1000))
        #expect(try s.openSegments(series, Day(containing: start, period: .month)).count == 2)
        let all = try s.query(series)
        #expect(all.rows.rowCount == 41)
        #expect(all.rows.timestamps == (times + [ns("2024-01-31T06:00:00Z")]).sorted())
        // A range that crosses the partitions' boundary.
        let cross = try s.query(series, from: ns("2024-01-31T12:00:00Z"), to: ns("2024-02-01T12:00:00Z"))
        #expect(cross.rows.timestamps == [ns("2024-01-31T12:00:00Z"), ns("2024-02-01T00:00:00Z"), ns("2024-02-01T12:00:00Z")])
        // Each segment's footer names its partition's first day.
        for segment in try s.openSegments(series, Day(containing: ns("2024-02-05T00:00:00Z"), period: .month)) {
            #expect(segment.footer.day == CivilTime.days(fromCivil: 2024, 2, 1))
            try segment.verify()
        }
    }

    @Test func aDatabaseFlushesDeletesCompactsAndReplaysYears() throws {
        var c = DatabaseConfiguration()
        c.fsync = .none
        c.store.partitions["bar"] = .period(.year)
        let series = try SeriesKey(measurement: "bar", symbol: "SPY")
        let start = ns("2023-12-20T21:00:00Z")
        let times = (0..<30).map { start + $0 * day }
        do {
            let db = try Database(directory: root.path, configuration: c)
            try db.appendBlocking([Store.SeriesRows(series: series, schema: schema, rows: bars(times))])
            try db.flush()
            // Late rows for 2023 and a delete across the new year, then a crash: no close.
            try db.appendBlocking([Store.SeriesRows(series: series, schema: schema, rows: bars([ns("2023-12-24T12:00:00Z")], first: 500))])
            try db.deleteBlocking(series, from: ns("2023-12-31T00:00:00Z"), to: ns("2024-01-01T23:59:59Z"))
            #expect(try db.query(series).rows.rowCount == 29)
            #expect(try db.store.days(series).map(\.description) == ["2023", "2024"])
            db.simulateCrash()
        }
        let db = try Database(directory: root.path, configuration: c)
        #expect(db.recovery.rowsRecovered == 1)
        let rows = try db.query(series).rows
        let expected = (times + [ns("2023-12-24T12:00:00Z")]).filter { $0 < ns("2023-12-31T00:00:00Z") || $0 > ns("2024-01-01T23:59:59Z") }.sorted()
        #expect(rows.timestamps == expected)
        try db.flush()
        // A day picks the partition that holds it.
        let christmas = try db.compact(measurement: "bar", day: Day(containing: ns("2023-12-25T00:00:00Z")))
        #expect(christmas.seriesDays == 1)
        let compacted = try db.compact()
        #expect(compacted.seriesDays == 1)
        #expect(try db.query(series).rows.timestamps == expected)
        #expect(try db.store.openSegments(series, Day(containing: start, period: .year)).count == 1)
        try db.close()
    }
}
