import StrataArchive
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem
import Testing

/// The tier policy over a directory archive: compaction, then archiving, by age.
@Suite struct TierPolicyTests {
    /// A month partition ages from its end: January is due on 3 February (with 2 days), not
    /// before, however old its first rows; archived, it goes under a YYYY/MM key and comes back.
    @Test func aMonthAgesFromItsEndAndIsArchivedUnderItsMonth() async throws {
        let root = TemporaryDirectory()
        let scenario = TieringScenario(objects: try LocalObjectStore(directory: root.path + "/bucket"))
        var c = scenario.configuration()
        c.store.partitions["bar"] = .period(.month)
        let db = try Database(directory: scenario.root.path + "/data", configuration: c)
        let series = try SeriesKey(measurement: "bar", symbol: "SPY")
        for part in 0..<2 {
            let t = scenario.base + Int64(part) * 20 * Day.nanosecondsPerDay  // 2 and 22 January
            try await db.append(series, schema: scenario.schema, rows: RowBlock(timestamps: [t], columns: [Column(.float64([1])), Column(.int64([1]))]))
            try db.flush()
        }
        let january = SeriesDay(series, Day(containing: scenario.base, period: .month))
        #expect(try db.store.manifest(january).segments.count == 2)
        var policy = TierPolicy()
        policy.compactAfter = 2 * Day.nanosecondsPerDay
        policy.archiveAfter = 2 * Day.nanosecondsPerDay
        let end = scenario.base + 30 * Day.nanosecondsPerDay  // 2024-02-01
        let early = try policy.apply(to: db, archive: scenario.archive, now: end + Day.nanosecondsPerDay)
        #expect(early.compacted.seriesDays == 0 && early.archived?.seriesDays == 0)
        let due = try policy.apply(to: db, archive: scenario.archive, now: end + 2 * Day.nanosecondsPerDay + 1)
        #expect(due.compacted.seriesDays == 1 && due.archived?.seriesDays == 1)
        let m = try db.store.manifest(january)
        #expect(m.segments.isEmpty && m.cold.count == 1 && m.cold[0].key.hasPrefix("bar/SPY/2024/01/"), "\(m.cold)")
        #expect(try db.query(series).rows.timestamps == [scenario.base, scenario.base + 20 * Day.nanosecondsPerDay])
        try db.close()
    }

    /// Days of 2024-01-02 … 2024-01-11, two segments each, seen on 2024-01-12: compact after
    /// 2 days, archive after 6.
    @Test func theTierPolicyCompactsThenArchivesByAge() async throws {
        let root = TemporaryDirectory()
        let scenario = TieringScenario(objects: try LocalObjectStore(directory: root.path + "/bucket"))
        let db = try Database(directory: scenario.root.path + "/data", configuration: scenario.configuration())
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        for day in 0..<10 {
            for part in 0..<2 {
                let t = scenario.base + Int64(day) * Day.nanosecondsPerDay + Int64(part) * 3_600_000_000_000
                try await db.append(es, schema: scenario.schema, rows: RowBlock(timestamps: [t, t + 1], columns: [Column(.float64([1, 2])), Column(.int64([1, 2]))]))
                try db.flush()
            }
        }
        let before = try db.query(es).rows
        var policy = TierPolicy()
        policy.compactAfter = 2 * Day.nanosecondsPerDay
        policy.archiveAfter = 6 * Day.nanosecondsPerDay
        let now = scenario.base + 10 * Day.nanosecondsPerDay  // the end of the last day
        let summary = try policy.apply(to: db, archive: scenario.archive, now: now)
        // Days 0…7 ended at least 2 days ago; days 0…3 at least 6.
        #expect(summary.compacted.seriesDays == 8)
        #expect(summary.archived?.seriesDays == 4)
        for day in 0..<10 {
            let m = try db.store.manifest(SeriesDay(es, Day(containing: scenario.base + Int64(day) * Day.nanosecondsPerDay)))
            switch day {
            case 0..<4: #expect(m.segments.isEmpty && m.cold.count == 1, "day \(day)")
            case 4..<8: #expect(m.segments.count == 1 && m.cold.isEmpty, "day \(day)")
            default: #expect(m.segments.count == 2, "day \(day)")
            }
        }
        #expect(try db.query(es).rows == before)
        // Archiving off: nothing more moves.
        policy.archiveAfter = nil
        #expect(try policy.apply(to: db, archive: scenario.archive, now: now + 100 * Day.nanosecondsPerDay).archived == nil)
        try db.close()
    }
}
