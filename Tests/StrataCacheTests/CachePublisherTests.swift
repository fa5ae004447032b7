import Glibc
import StrataCache
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataText
import Testing

@Suite(.enabled(if: RedisTestServer.enabled, "needs the Redis server scripts/test starts"))
struct CachePublisherTests {
    let root = TemporaryDirectory()
    let schema = [Field("price", .float64), Field("size", .int64), Field("venue", .string), Field("buy", .bool)]
    let base = Int64(1_704_205_800) * 1_000_000_000  // 2024-01-02T14:30:00Z

    func open() throws -> Database {
        var c = DatabaseConfiguration()
        c.fsync = .interval(milliseconds: 5)
        return try Database(directory: root.path + "/data", configuration: c)
    }

    func publisher(_ db: Database, prefix: String, url: RedisURL? = nil, _ configure: (inout CacheConfiguration) -> Void = { _ in }) throws -> CachePublisher {
        var c = CacheConfiguration(url: try url ?? RedisTestServer.url)
        c.prefix = prefix
        c.initialBackoffMilliseconds = 50
        c.maxBackoffMilliseconds = 200
        configure(&c)
        return try CachePublisher(database: db, configuration: c)
    }

    func rows(_ times: [Int64], _ prices: [Double], _ sizes: [Int64?], _ venues: [String], _ buys: [Bool]) -> RowBlock {
        RowBlock(timestamps: times, columns: [
            Column(.float64(prices)),
            Column(.int64(sizes.map { $0 ?? 0 }), presence: sizes.contains(nil) ? sizes.map { $0 != nil } : nil),
            Column(.string(venues)), Column(.bool(buys)),
        ])
    }

    /// Stream entries as (id, [field: value]).
    func entries(_ c: RedisConnection, _ key: String) throws -> [(String, [String: String])] {
        try (c.command("XRANGE", key, "-", "+").array ?? []).map { entry in
            let parts = entry.array!
            let fields = parts[1].array!.map { $0.text! }
            var map: [String: String] = [:]
            for i in stride(from: 0, to: fields.count, by: 2) { map[fields[i]] = fields[i + 1] }
            return (parts[0].text!, map)
        }
    }

    func hash(_ c: RedisConnection, _ key: String) throws -> [String: String] {
        let items = try c.command("HGETALL", key).array!.map { $0.text! }
        var map: [String: String] = [:]
        for i in stride(from: 0, to: items.count, by: 2) { map[items[i]] = items[i + 1] }
        return map
    }

    @Test func rowsArePublishedInOrderWithAllTheirFields() throws {
        let db = try open()
        let prefix = RedisTestServer.prefix("order")
        let p = try publisher(db, prefix: prefix)
        p.start()
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4"), odd = try SeriesKey(measurement: "trade", symbol: "BTC:USD%")
        // Equal timestamps, sub-millisecond times, an absent field, and a late row.
        try db.appendBlocking([
            Store.SeriesRows(series: es, schema: schema, rows: rows([base + 1, base + 1, base + 2_500_000], [4512.25, 4512.5, 0.1], [1, nil, 3], ["X", "Y", "a b"], [true, false, true])),
            Store.SeriesRows(series: odd, schema: schema, rows: rows([base], [42_000.5], [7], ["Z"], [false])),
        ])
        try db.appendBlocking([Store.SeriesRows(series: es, schema: schema, rows: rows([base - 1_000_000_000], [4500], [9], ["L"], [false]))])
        try p.waitUntilPublished()
        let c = try RedisTestServer.connect()
        let stream = try entries(c, "\(prefix):trade:ESH4")
        #expect(stream.map(\.0) == ["1704205800000-0", "1704205800000-1", "1704205800002-0", "1704205800002-1"])
        #expect(stream[0].1 == ["time": "\(base + 1)", "price": "4512.25", "size": "1", "venue": "X", "buy": "true"])
        #expect(stream[1].1 == ["time": "\(base + 1)", "price": "4512.5", "venue": "Y", "buy": "false"])  // no size
        #expect(stream[2].1["price"] == "0.1" && stream[3].1["time"] == "\(base - 1_000_000_000)")  // the late row keeps its time
        // A : or % in a name is escaped in the key.
        #expect(try entries(c, "\(prefix):trade:BTC%3AUSD%25").map(\.1["price"]) == ["42000.5"])
        // The last hash holds the newest row by time (not the late one), with a TTL.
        #expect(try hash(c, "\(prefix):last:trade:ESH4") == ["time": "\(base + 2_500_000)", "price": "0.1", "size": "3", "venue": "a b", "buy": "true"])
        let ttl = try c.command("PTTL", "\(prefix):last:trade:ESH4").integer ?? -1
        #expect(ttl > 86_000_000 && ttl <= 86_400_000)
        let s = p.status
        #expect(s.rowsPublished == 5 && s.rowsDropped == 0 && s.lagRows == 0 && s.streams == 2 && s.connected, "\(s)")
        // The process's counters, for strata cache status.
        let store = try db.store.identity()
        #expect(try eventually { try hash(c, "\(prefix):publisher:\(store):status")["rows_published"] == "5" })
        p.stop()
        try db.close()
    }

    /// Streams keep the window (by the rows' own time); last hashes expire with their TTL.
    @Test func theWindowTrimsStreamsAndLastHashesExpire() throws {
        let db = try open()
        let prefix = RedisTestServer.prefix("window")
        let p = try publisher(db, prefix: prefix) {
            $0.windowSeconds = 1
            $0.lastTTLSeconds = 0.3
        }
        p.start()
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        // 10 s of rows, one per millisecond.
        for second in 0..<10 {
            let times = (0..<1_000).map { base + Int64(second * 1_000 + $0) * 1_000_000 }
            try db.appendBlocking([Store.SeriesRows(series: es, schema: [Field("price", .float64)],
                                                    rows: RowBlock(timestamps: times, columns: [Column(.float64(times.map { Double($0 % 1_000_000_007) }))]))])
        }
        try p.waitUntilPublished()
        let c = try RedisTestServer.connect()
        let ids = try entries(c, "\(prefix):trade:ESH4").map { StreamID($0.0)! }
        let newest = ids.last!
        #expect(newest.milliseconds == base / 1_000_000 + 9_999)
        let minid = newest.milliseconds - 1_000
        // Everything within the window is there; older entries go in whole stream nodes
        // (approximate trimming, 100 entries a node), so fewer than a node's worth remain.
        #expect(ids.filter { $0.milliseconds >= minid }.count == 1_001)  // MINID keeps the id equal to it
        #expect(ids.filter { $0.milliseconds < minid }.count < 100, "\(ids.count) entries")
        #expect(try eventually(3) { try c.command("EXISTS", "\(prefix):last:trade:ESH4") == .integer(0) })
        p.stop()
        try db.close()
    }

    /// A wrong password: reported and retried; ingest is unaffected.
    @Test func aWrongPasswordIsReportedAndIngestGoesOn() throws {
        let db = try open()
        var url = try RedisTestServer.url
        url.password = "wrong-\(getpid())"
        let p = try publisher(db, prefix: RedisTestServer.prefix("denied"), url: url)
        p.start()
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let started = monotonicNanoseconds()
        for i in 0..<100 {
            try db.appendBlocking([Store.SeriesRows(series: es, schema: [Field("price", .float64)],
                                                    rows: RowBlock(timestamps: [base + Int64(i)], columns: [Column(.float64([1]))]))])
        }
        #expect(Double(monotonicNanoseconds() - started) / 1e9 < 5)
        #expect(eventually { p.status.failures >= 2 })
        let s = p.status
        #expect(s.state == .disconnected && !s.connected && s.lastError?.contains("WRONGPASS") == true && s.lastError?.contains("wrong-\(getpid())") == false, "\(s)")
        #expect(s.lagRows == 100 && s.rowsPublished == 0 && s.lagSeconds > 0)
        #expect(try db.query(es).rows.rowCount == 100)
        p.stop()
        try db.close()
    }

    /// Redis is killed mid-stream and comes back empty: ingest never waits, rows beyond the
    /// buffer are dropped and counted, publishing resumes, and every last hash is right
    /// again (rewritten on reconnect, also for series with no new rows since).
    @Test func redisKilledAndRestartedMidStream() throws {
        let dir = TemporaryDirectory()
        let server = dir.path + "/redis"
        let env = try #require(startRedis(server))
        defer { _ = runScript("redis-server", "stop", server) }
        let db = try open()
        let prefix = RedisTestServer.prefix("restart")
        let p = try publisher(db, prefix: prefix, url: try RedisURL(parsing: env)) { $0.bufferRows = 5_000 }
        p.start()
        let symbols = (0..<10).map { try! SeriesKey(measurement: "trade", symbol: "SYM\($0)") }
        var appended = 0
        func ingest(_ batches: Range<Int>) throws {
            for b in batches {
                var batch: [Store.SeriesRows] = []
                for (k, series) in symbols.enumerated() where b < 30 || k < 5 {  // after batch 30 only half the symbols trade
                    let times = (0..<100).map { base + Int64(b * 100 + $0) * 1_000_000 }
                    batch.append(Store.SeriesRows(series: series, schema: [Field("price", .float64), Field("size", .int64)],
                                                  rows: RowBlock(timestamps: times, columns: [Column(.float64(times.map { Double(($0 / 1_000_000) % 10_000) + Double(k) / 4 })),
                                                                                               Column(.int64(times.map { _ in Int64(b) }))])))
                }
                try db.appendBlocking(batch)
                appended += batch.count * 100
            }
        }
        try ingest(0..<10)
        try p.waitUntilPublished()
        #expect(runScript("redis-server", "kill", server) == 0)
        let started = monotonicNanoseconds()
        try ingest(10..<40)  // 25,000 rows while Redis is down: more than the buffer holds
        let ingestSeconds = Double(monotonicNanoseconds() - started) / 1e9
        #expect(eventually { p.status.state == .disconnected })
        #expect(eventually { p.status.rowsDropped > 0 })
        #expect(runScript("redis-server", "restart", server) == 0)
        try ingest(40..<45)
        try p.waitUntilPublished()
        let s = p.status
        #expect(s.rowsPublished + s.rowsDropped == appended && s.lagRows == 0 && s.connects >= 2, "\(s)")
        #expect(s.rowsDropped >= 25_000 - 5_000 - 1_000, "\(s)")  // what did not fit (less what went out before the loss was seen)
        #expect(ingestSeconds < 5)
        // Every series' last hash is its newest row in Strata, including SYM5…9, which had
        // no rows after the restart.
        let c = try RedisConnection(try RedisURL(parsing: env))
        for series in symbols {
            let r = try db.query(series).rows
            let last = try hash(c, "\(prefix):last:trade:\(series.symbol)")
            let prices = try #require({ if case .float64(let v) = r.columns[0].values { v } else { nil } }())
            #expect(last["time"] == "\(r.timestamps.last!)" && last["price"] == TextFormat.double(prices.last!), "\(series.symbol): \(last)")
        }
        // The stream of a symbol that kept trading resumes after the restart.
        #expect(try entries(c, "\(prefix):trade:SYM0").count >= 500)
        p.stop()
        try db.close()
    }

    /// Warm beside a live publisher: rows from before the publisher started go in front of
    /// the stream's live entries, in order, and a newer last hash is kept.
    @Test func warmPutsOlderRowsInFrontOfLiveOnes() throws {
        let db = try open()
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let schema = [Field("price", .float64)]
        func append(_ seconds: [Int64], _ price: Double) throws {
            try db.appendBlocking([Store.SeriesRows(series: es, schema: schema,
                                                    rows: RowBlock(timestamps: seconds.map { base + $0 * 1_000_000_000 }, columns: [Column(.float64(seconds.map { _ in price }))]))])
        }
        try append([0, 1, 2], 1)  // before the publisher: only warm can publish these
        try db.flush()
        let prefix = RedisTestServer.prefix("warm")
        let p = try publisher(db, prefix: prefix)
        p.start()
        try append([10, 11], 2)
        try p.waitUntilPublished()
        try db.flush()  // warm reads the store's segments
        var c = CacheConfiguration(url: try RedisTestServer.url)
        c.prefix = prefix
        let redis = try RedisTestServer.connect()
        // A newer last row than any Strata has (as a publisher elsewhere may have written) stays.
        _ = try redis.command("HSET", "\(prefix):last:trade:ESH4", "time", "\(base + 99_000_000_000)", "price", "9.0")
        let summary = try CacheWarm.warm(store: db.store, connection: redis, configuration: c)
        #expect(summary.series == 1 && summary.rows == 3)
        #expect(try hash(redis, "\(prefix):last:trade:ESH4")["price"] == "9.0")
        _ = try redis.command("DEL", "\(prefix):last:trade:ESH4")
        #expect(try CacheWarm.warm(store: db.store, connection: redis, configuration: c).rows == 0)  // nothing older left to add
        #expect(try hash(redis, "\(prefix):last:trade:ESH4")["price"] == "2")
        #expect(try redis.command("PTTL", "\(prefix):trade:ESH4") == .integer(-1))  // the stream keeps no expiry
        let stream = try entries(redis, "\(prefix):trade:ESH4")
        #expect(stream.map { $0.1["time"]! } == [Int64(0), 1, 2, 10, 11].map { "\(base + $0 * 1_000_000_000)" })
        #expect(stream.map { $0.1["price"] } == ["1", "1", "1", "2", "2"])
        #expect(try hash(redis, "\(prefix):last:trade:ESH4")["time"] == "\(base + 11_000_000_000)")
        // The publisher goes on appending after the merged entries.
        try append([12], 3)
        try p.waitUntilPublished()
        #expect(try entries(redis, "\(prefix):trade:ESH4").count == 6)
        #expect(p.status.rowsDropped == 0)
        p.stop()
        try db.close()
    }

    /// A row Redis refuses (its stream's key holds another type) is counted as dropped and
    /// named; the other series go on.
    @Test func refusedRowsAreCountedAndNamed() throws {
        let db = try open()
        let prefix = RedisTestServer.prefix("refused")
        let redis = try RedisTestServer.connect()
        _ = try redis.command("SET", "\(prefix):trade:BAD", "not a stream")
        let p = try publisher(db, prefix: prefix)
        p.start()
        let schema = [Field("price", .float64)]
        for symbol in ["BAD", "GOOD"] {
            try db.appendBlocking([Store.SeriesRows(series: try SeriesKey(measurement: "trade", symbol: symbol), schema: schema,
                                                    rows: RowBlock(timestamps: [base, base + 1], columns: [Column(.float64([1, 2]))]))])
        }
        try p.waitUntilPublished()
        let s = p.status
        #expect(s.rowsDropped == 2 && s.rowsPublished == 2 && s.lastError?.contains("WRONGTYPE") == true, "\(s)")
        #expect(try entries(redis, "\(prefix):trade:GOOD").count == 2)
        p.stop()
        try db.close()
    }

    func startRedis(_ dir: String) -> String? {
        let pipe = popen("'\(scriptsPath)/redis-server' start '\(dir)'", "r")
        defer { pclose(pipe) }
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, 4096, pipe) != nil {
            let line = String(cString: buffer)
            if line.hasPrefix("export STRATA_TEST_REDIS_URL='") {
                return String(line.dropFirst("export STRATA_TEST_REDIS_URL='".count).prefix { $0 != "'" })
            }
        }
        return nil
    }

    var scriptsPath: String {
        var root = "\(#filePath)"
        for _ in 0..<3 { root = String(root[..<root.lastIndex(of: "/")!]) }
        return root + "/scripts"
    }
}
