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

    /// The latest row comes from the footers' statistics when every field of the last row is
    /// a number or Bool present in its whole block; nulls, strings and a field the segment
    /// lacks are answered too, and always as the query's last row.
    @Test(arguments: [MeasurementLayout.series, .packed])
    func theLatestRowOfEveryFieldKind(_ layout: MeasurementLayout) throws {
        var c = StoreConfiguration(rowsPerBlock: 4)
        c.layouts["q"] = .layout(layout)
        let store = try Store(directory: root.path, configuration: c, create: true)
        let t = ns("2024-05-02T09:00:00Z")
        let fields = [Field("bid", .float64), Field("size", .int64), Field("hidden", .bool), Field("venue", .string), Field("note", .float64)]
        var batch: [Store.SeriesRows] = []
        // A: all present (from the footers); B: the last row's note is null; C: a string; D: no note at all.
        for (k, symbol) in ["A", "B", "C", "D"].enumerated() {
            let times = (0..<10).map { t + Int64($0 / 2) * 1_000 }  // equal times in pairs
            let columns = [
                Column(.float64(times.indices.map { Double($0) + 0.25 })), Column(.int64(times.indices.map { Int64($0 * 7) })),
                Column(.bool(times.indices.map { $0 % 3 == 0 })),
                k == 2 ? Column(.string(times.indices.map { "v\($0)" })) : Column(.string(times.map { _ in "" }), presence: times.map { _ in false }),
                k == 3 ? Column(.float64(times.map { _ in 0 }), presence: times.map { _ in false })
                    : Column(.float64(times.indices.map { Double($0) }), presence: k == 1 ? times.indices.map { $0 < 9 } : nil),
            ]
            batch.append(Store.SeriesRows(series: try SeriesKey(measurement: "q", symbol: symbol), schema: fields, rows: RowBlock(timestamps: times, columns: columns)))
        }
        try store.write(batch)
        // A second segment of A ends at the same time: its last row is the latest.
        let a = batch[0].series
        try store.write([Store.SeriesRows(series: a, schema: fields, rows: RowBlock(timestamps: [t + 4_000], columns: [
            Column(.float64([99])), Column(.int64([-1])), Column(.bool([true])), Column(.string(["x"])), Column(.float64([1.5]))]))])
        let all = try store.latest(batch.map(\.series))
        for (item, latest) in zip(batch, all) {
            let rows = try store.query(item.series).rows
            let last = rows.slice((rows.rowCount - 1)..<rows.rowCount)
            #expect(latest.rows == last, "\(item.series)")
            for subset in [["note"], ["size", "bid"], ["venue", "hidden"]] {
                let one = try store.latest(item.series, fields: subset)
                #expect(one.rows == (try store.query(item.series, fields: subset)).rows.slice((rows.rowCount - 1)..<rows.rowCount), "\(item.series) \(subset)")
            }
        }
        #expect(all[0].rows.columns[0].values == .float64([99]))
    }

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
        let stored = try db.store.latest(symbols + [try SeriesKey(measurement: "t", symbol: "none")] + symbols.prefix(2))
        try check("store, all at once") { stored[symbols.firstIndex(of: $0)!] }
        #expect(stored[symbols.count].rows.rowCount == 0)
        // A series asked for twice is answered twice.
        #expect(stored.suffix(2).map(\.rows) == stored.prefix(2).map(\.rows))
        #expect(try db.latest(symbols[0], fields: ["seq"]).schema == [Field("seq", .int64)])
        try db.close()
    }
}
