import Glibc
@testable import StrataCache
import StrataEngine
import StrataFormat
import StrataPlatform
import Testing

/// A batch sent again after a lost connection: XADDs Redis refuses because their rows
/// arrived before the loss are not dropped rows; XADDs refused for another reason are.
/// Decided from the streams' newest ids, not from Redis's wording.
@Suite(.enabled(if: RedisTestServer.enabled, "needs the Redis server scripts/test starts"))
struct CachePublisherResendTests {
    let root = TemporaryDirectory()

    func publisher(prefix: String) throws -> CachePublisher {
        let db = try Database(directory: root.path + "/data")
        var c = CacheConfiguration(url: try RedisTestServer.url)
        c.prefix = prefix
        return try CachePublisher(database: db, configuration: c)
    }

    /// Three rows of `series` as one batch, ids from 0-0.
    func batch(_ p: CachePublisher, _ series: SeriesKey) -> CachePublisher.Batch {
        var batch = CachePublisher.Batch()
        let times = (0..<3).map { Int64(1_704_205_800_000 + $0) * 1_000_000 }
        let rows = RowBlock(timestamps: times, columns: [Column(.float64([1, 2, 3]))])
        batch.lastID[series] = p.encoder.appendRows(series, schema: [Field("price", .float64)], rows: rows, range: 0..<3,
                                                     after: .zero, into: &batch.commands)
        for i in 0..<batch.commands.commands { batch.streamOf[i] = series }
        batch.rows = 3
        return batch
    }

    @Test func rowsThatArrivedBeforeTheLossAreNotDropped() throws {
        let p = try publisher(prefix: RedisTestServer.prefix("resend"))
        let c = try RedisTestServer.connect()
        let arrived = try SeriesKey(measurement: "trade", symbol: "ES")
        let b = batch(p, arrived)
        // The first send reached Redis; its replies were lost with the connection.
        #expect(try c.sendCheckingErrors(b.commands).isEmpty)
        let errors = try c.sendCheckingErrors(b.commands)
        #expect(errors.count == 3)
        let before = try p.arrivedBeforeTheLoss(b, errors, c)
        #expect(before == [arrived])
        p.account(b, errors, arrivedBefore: before)
        #expect(p.status.rowsPublished == 3 && p.status.rowsDropped == 0, "\(p.status)")
    }

    @Test func rowsRefusedForAnotherReasonAreDropped() throws {
        let p = try publisher(prefix: RedisTestServer.prefix("resend-wrongtype"))
        let c = try RedisTestServer.connect()
        let series = try SeriesKey(measurement: "trade", symbol: "NQ")
        // The stream's key holds a string: every XADD is refused (WRONGTYPE), and no stream
        // has the rows.
        var set = RESPWriter()
        set.command(["SET", p.encoder.keys.stream(series), "not a stream"])
        #expect(try c.sendCheckingErrors(set).isEmpty)
        let b = batch(p, series)
        let errors = try c.sendCheckingErrors(b.commands)
        #expect(errors.count == 3)
        let before = try p.arrivedBeforeTheLoss(b, errors, c)
        #expect(before.isEmpty)
        p.account(b, errors, arrivedBefore: before)
        #expect(p.status.rowsPublished == 0 && p.status.rowsDropped == 3, "\(p.status)")
    }
}
