import Glibc
@testable import StrataEngine
import StrataFormat
import StrataPlatform
import StrataTestSupport
import Testing

/// The storage census /metrics and /status read is counted once, then kept by the store as
/// its manifests change: after every kind of write it equals a fresh count from disk.
@Suite struct CensusTests {
    let root = TemporaryDirectory()
    let es = try! SeriesKey(measurement: "trade", symbol: "ESH4")
    let nq = try! SeriesKey(measurement: "trade", symbol: "NQH4")
    let bid = try! SeriesKey(measurement: "quote", symbol: "ESH4")
    let day1 = ns("2024-01-02T14:30:00Z")
    let day2 = ns("2024-01-03T14:30:00Z")

    func times(_ start: Int64, _ n: Int) -> [Int64] { (0..<n).map { start + Int64($0) * 1_000_000 } }

    /// What a store opened afresh counts from disk.
    func fresh() throws -> StorageCensus { try Store(directory: root.path).census() }

    @Test func theKeptCensusFollowsEveryWrite() async throws {
        var c = DatabaseConfiguration()
        c.fsync = .none
        c.compactAfterSegments = 0
        let db = try Database(directory: root.path, configuration: c)
        defer { try? db.close() }
        try await db.append(es, schema: TradeRows.schema, rows: TradeRows.rows(times(day1, 100), firstSeq: 0))
        try db.flush()
        let first = try db.store.census()
        #expect(first == (try fresh()) && first.measurements["trade"]?.warmRows == 100)
        #expect(db.store.censusKeeper.current() != nil)

        // Another segment on the same day, a new day, a new series, a new measurement.
        try await db.append([Store.SeriesRows(series: es, schema: TradeRows.schema, rows: TradeRows.rows(times(day1 + 500_000_000, 50), firstSeq: 100)),
                             Store.SeriesRows(series: es, schema: TradeRows.schema, rows: TradeRows.rows(times(day2, 30), firstSeq: 150)),
                             Store.SeriesRows(series: nq, schema: TradeRows.schema, rows: TradeRows.rows(times(day1, 20), firstSeq: 0)),
                             Store.SeriesRows(series: bid, schema: TradeRows.schema, rows: TradeRows.rows(times(day1, 10), firstSeq: 0))])
        try db.flush()
        var kept = try db.store.census()
        #expect(kept == (try fresh()))
        #expect(kept.measurements["trade"]?.series == 2 && kept.measurements["trade"]?.seriesDays == 3 && kept.measurements["trade"]?.warmRows == 200)
        #expect(kept.measurements["quote"]?.warmRows == 10)

        // Compaction, a delete, and a day archived and brought back.
        _ = try db.compact()
        #expect(try db.store.census() == (try fresh()))
        try await db.delete(es, from: day1, to: day1 + 10_000_000)
        _ = try db.compact()
        #expect(try db.store.census() == (try fresh()))
        var objects: [String: [UInt8]] = [:]
        let key = SeriesDay(es, Day(containing: day2))
        let cold = try db.archive(key) { (segment) throws(StrataError) in
            let bytes = try MappedFile(path: segment.path).withUnsafeBytes { Array($0) }
            objects["object"] = bytes
            return ("object", UInt64(bytes.count))
        }
        #expect(cold != nil)
        kept = try db.store.census()
        #expect(kept == (try fresh()) && kept.measurements["trade"]?.coldRows == 30, "\(kept)")
        _ = try db.restore(key) { _ in objects["object"]! }
        kept = try db.store.census()
        #expect(kept == (try fresh()) && kept.measurements["trade"]?.coldRows == 0, "\(kept)")

        // A day moved aside (quarantined) leaves the census; its series with it when it was
        // the series' only day.
        try db.writer.withLock { () throws(StrataError) in _ = try db.store.quarantine(SeriesDay(bid, Day(containing: day1))) }
        kept = try db.store.census()
        #expect(kept == (try fresh()) && kept.measurements["quote"] == nil, "\(kept)")
    }
}
