import StrataArchive
import StrataEngine
import StrataFormat
import StrataSystem
import Testing

/// The tier policy, archiving and restoring over rows at the ends of the Int64 range
/// (1677-09-21, 2262-04-11), with every `now` and age: nothing traps, days are due exactly
/// when their last nanosecond is old enough, and every row reads back the same.
@Suite struct ExtremeTimeTieringTests {
    let times: [Int64] = [.min, .min + 43_200_000_000_000, 0, .max - 1, .max]

    @Test(arguments: [Int64.min, 0, Int64.max])
    func tieringAtTheEndsOfTime(now: Int64) async throws {
        let root = TemporaryDirectory()
        let archive = Archive(objects: try LocalObjectStore(directory: root.path + "/cold"), cacheBytes: 1 << 20)
        var configuration = DatabaseConfiguration()
        configuration.store.coldStorage = archive
        let db = try Database(directory: root.path + "/data", configuration: configuration)
        let series = try SeriesKey(measurement: "trade", symbol: "X")
        let block = RowBlock(timestamps: times, columns: [Column(.float64(times.indices.map { Double($0) })), Column(.int64(times.indices.map { Int64($0) }))])
        try await db.append(series, schema: SyntheticTicks.tradeSchema, rows: block)
        try db.flush()
        for age: Int64 in [0, 1, Day.nanosecondsPerDay, .max] {
            var policy = TierPolicy()
            policy.compactAfter = age
            policy.archiveAfter = age
            let summary = try policy.apply(to: db, archive: archive, now: now)
            // A day is due when its last nanosecond lies more than `age` before `now`.
            let due = Set(times.map { Day(containing: $0) }).filter { day in
                Int128(day.bounds().upperBound) < Int128(now) - Int128(age)
            }
            #expect(summary.archived?.seriesDays ?? 0 <= due.count, "now \(now), age \(age): \(summary)")
            #expect(try db.query(series).rows.timestamps == times, "now \(now), age \(age)")
        }
        // Every day that was due is in the archive; the day of 2262-04-11 never is.
        let listed = try archive.list(measurement: "trade")
        #expect(!listed.contains { $0.day == Day(containing: .max) })
        if now == .max { #expect(listed.count == 2, "\(listed)") }
        // Restored over the whole range, and bars of a day over it.
        _ = try archive.restore(db, series: series, from: .min, to: .max)
        #expect(try db.query(series).rows.timestamps == times)
        let bars = try db.bars(series, spec: BarSpec(interval: Day.nanosecondsPerDay, source: .ticks(price: "price", volume: nil)))
        #expect(bars.map(\.count) == [2, 1, 2] && bars.first?.start == .min, "\(bars)")
        try db.close()
    }
}
