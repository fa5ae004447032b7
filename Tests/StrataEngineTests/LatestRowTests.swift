import Glibc
@testable import StrataEngine
import StrataFormat
import StrataPlatform
import StrataTestSupport
import Testing

/// The latest row of a series is the last row a query of it returns, whatever the rows'
/// history: equal times across segments and memory, late rows, deletes at the end,
/// compaction, partitions of any period and either layout.
@Suite struct LatestRowTests {
    let root = TemporaryDirectory()
    let day = Day.nanosecondsPerDay
    let schema = [Field("price", .float64), Field("seq", .int64)]

    @Test(arguments: [(PartitionPeriod.day, MeasurementLayout.series), (.day, .packed), (.month, .series), (.week, .packed)])
    func theLatestRowIsTheLastRowAQueryReturns(_ period: PartitionPeriod, _ layout: MeasurementLayout) throws {
        var c = DatabaseConfiguration()
        c.fsync = .none
        c.compactAfterSegments = 0
        c.store = StoreConfiguration(rowsPerBlock: 8)
        c.store.partitions["t"] = .period(period)
        c.store.layouts["t"] = .layout(layout)
        let db = try Database(directory: root.path, configuration: c)
        let symbols = (0..<12).map { try! SeriesKey(measurement: "t", symbol: "S\($0)") }
        var rng = LinearCongruential(state: 99 + UInt64(period.rawValue.count))
        let start = ns("2024-01-30T00:00:00Z")
        var seq: Int64 = 0
        func check(_ step: String, _ reader: (SeriesKey) throws -> QueryResult) throws {
            for s in symbols {
                let all = try db.query(s).rows
                let latest = try reader(s)
                if all.rowCount == 0 {
                    #expect(latest.rows.rowCount == 0, "\(step) \(s)")
                } else {
                    #expect(latest.rows.rowCount == 1 && latest.rows.timestamps == [all.timestamps.last!], "\(step) \(s)")
                    #expect(latest.rows.columns.map(\.values) == all.slice((all.rowCount - 1)..<all.rowCount).columns.map(\.values), "\(step) \(s)")
                }
            }
        }
        for round in 0..<16 {
            var batch: [Store.SeriesRows] = []
            for s in symbols where rng.next() % 2 == 0 {
                // Times over 40 days, many equal: the newest rows land in any partition, late.
                let times = (0..<Int(1 + rng.next() % 30)).map { _ in start + Int64(rng.next() % 40) * day / 4 * Int64(rng.next() % 2) + Int64(rng.next() % 3) }
                batch.append(Store.SeriesRows(series: s, schema: schema, rows: RowBlock(timestamps: times, columns: [
                    Column(.float64(times.map { _ in Double(rng.next() % 100) })), Column(.int64((0..<Int64(times.count)).map { seq + $0 }))])))
                seq += Int64(times.count)
            }
            try db.appendBlocking(batch)
            if round % 3 == 1 { try db.flush() }
            if round % 4 == 3 {
                // A delete of each series' newest rows: the latest is then an older one.
                for s in symbols.prefix(4) {
                    if let last = try db.query(s).rows.timestamps.last { try db.deleteBlocking(s, from: last - Int64(rng.next() % 3) * day, to: .max) }
                }
            }
            if round == 9 { _ = try db.compact() }
            try check("round \(round)") { try db.latest($0) }
            // All series at once (partitions read once for all of them), with unflushed rows.
            let together = try db.latest(symbols)
            try check("round \(round), all at once") { together[symbols.firstIndex(of: $0)!] }
        }
        try db.flush()
        try check("flushed") { try db.latest($0) }
        try check("store") { try db.store.latest($0) }
        let stored = try db.store.latest(symbols + [try SeriesKey(measurement: "t", symbol: "none")])
        try check("store, all at once") { stored[symbols.firstIndex(of: $0)!] }
        #expect(stored.last?.rows.rowCount == 0)
        #expect(try db.latest(symbols[0], fields: ["seq"]).schema == [Field("seq", .int64)])
        try db.close()
    }
}
