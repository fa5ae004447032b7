import Glibc
import StrataCache
import StrataEngine
import StrataFormat
import Testing

/// Stopping a publisher that cannot reach Redis: what it could not publish is counted as
/// dropped, not lost without a trace. Needs no Redis (a closed port).
struct CachePublisherStopTests {
    let root = TemporaryDirectory()

    @Test func rowsWaitingForAnUnreachableRedisAreCountedAsDroppedAtStop() throws {
        var dc = DatabaseConfiguration()
        dc.fsync = .interval(milliseconds: 5)
        let db = try Database(directory: root.path + "/data", configuration: dc)
        var c = CacheConfiguration(url: try RedisURL(parsing: "redis://127.0.0.1:1/0"))
        c.initialBackoffMilliseconds = 50
        c.maxBackoffMilliseconds = 200
        c.timeoutMilliseconds = 500
        let p = try CachePublisher(database: db, configuration: c)
        p.start()
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let base = Int64(1_704_205_800) * 1_000_000_000
        for i in 0..<60 {
            let times = (0..<100).map { base + Int64(i * 100 + $0) }
            try db.appendBlocking([Store.SeriesRows(series: es, schema: [Field("price", .float64)],
                                                    rows: RowBlock(timestamps: times, columns: [Column(.float64(times.map { _ in 1 }))]))])
        }
        #expect(eventually { p.status.failures >= 1 && p.status.lagRows == 6_000 })
        #expect(p.status.rowsDropped == 0)
        #expect(p.stop() == 6_000)
        let s = p.status
        #expect(s.state == .stopped && s.rowsDropped == 6_000 && s.rowsPublished == 0 && s.lagRows == 0, "\(s)")
        // A second stop counts nothing again.
        #expect(p.stop() == 0 && p.status.rowsDropped == 6_000)
        try db.close()
    }
}
