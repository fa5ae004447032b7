import Glibc
import StrataEngine
import StrataFormat
import StrataMirror
import StrataPlatform
import StrataSystem
import Testing

@Suite(.enabled(if: PostgresTestServer.enabled, "needs the PostgreSQL server scripts/test starts"), .serialized)
struct MirrorTests {
    let root = TemporaryDirectory()
    let schema = [Field("price", .float64), Field("size", .int64)]
    let symbols = (0..<10).map { "SYM\($0)" }

    func open() throws -> Database {
        var c = DatabaseConfiguration()
        c.fsync = .interval(milliseconds: 5)
        c.walFileSize = 4 << 20
        return try Database(directory: root.path, configuration: c)
    }

    func mirror(_ db: Database, schemaName: String, dsn: String? = nil) throws -> Mirror {
        var c = MirrorConfiguration(dsn: dsn ?? PostgresTestServer.dsn!)
        c.options.schema = try PostgresTestServer.schema(schemaName)
        c.maxBackoffMilliseconds = 400
        return try Mirror(database: db, configuration: c)
    }

    /// Appends `batches` batches of 1,000 synthetic trades per symbol, starting at batch `from`.
    func ingest(_ db: Database, batches: Range<Int>) throws {
        for b in batches {
            var batch: [Store.SeriesRows] = []
            for (k, symbol) in symbols.enumerated() {
                let ticks = SyntheticTicks(seed: UInt64(b * 100 + k + 1)).trades(count: 1_000)
                let shift = Int64(b) * 60_000_000_000
                batch.append(Store.SeriesRows(series: try SeriesKey(measurement: "trade", symbol: symbol), schema: schema,
                                              rows: RowBlock(timestamps: ticks.timestamps.map { $0 + shift }, columns: ticks.columns)))
            }
            try db.appendBlocking(batch)
        }
    }

    /// Per symbol: rows, sum of prices, sum of sizes — in Strata and in the mirror. Every
    /// caller has ingested rows for every symbol, so a symbol without rows in Strata, or
    /// columns of other types than the schema's, fails the test instead of comparing less.
    func compare(_ db: Database, _ m: Mirror) throws {
        let c = try PostgresTestServer.connect()
        let table = MirrorSchema(options: m.configuration.options, timescale: false).table("trade")
        let r = try c.execute("SELECT symbol, count(*), sum(price)::numeric(30,4)::text, sum(size) FROM \(table) GROUP BY symbol ORDER BY symbol")
        var strata: [[String?]] = []
        for symbol in symbols {
            let rows = try db.query(try SeriesKey(measurement: "trade", symbol: symbol)).rows
            try #require(rows.rowCount > 0 && rows.columns.count == 2, "trade/\(symbol) in Strata: \(rows.rowCount) rows, \(rows.columns.count) columns")
            let prices: [Double]? = if case .float64(let p) = rows.columns[0].values { p } else { nil }
            let sizes: [Int64]? = if case .int64(let s) = rows.columns[1].values { s } else { nil }
            let p = try #require(prices, "trade/\(symbol): price is \(rows.columns[0].values.type), not float64")
            let s = try #require(sizes, "trade/\(symbol): size is \(rows.columns[1].values.type), not int64")
            strata.append([symbol, "\(rows.rowCount)", String(format4(p.reduce(0, +))), "\(s.reduce(0, +))"])
        }
        #expect(r.rows == strata)
    }

    func format4(_ v: Double) -> String {
        // Sums of prices on a 0.25 grid are exact in a double.
        let scaled = Int64((v * 10_000).rounded())
        return "\(scaled / 10_000).\(String(repeating: "0", count: 4 - String(scaled % 10_000).count))\(scaled % 10_000)"
    }

    @Test func aMillionRowsArriveExactlyOnceWhileIngestGoesOn() throws {
        let db = try open()
        let m = try mirror(db, schemaName: "million")
        m.start()
        try ingest(db, batches: 0..<100)  // 100 × 10 × 1,000 = 1M rows
        try m.waitUntilReplicated(seconds: 120)
        try compare(db, m)
        let s = m.status
        #expect(s.rowsReplicated == 1_000_000 && (s.timescale == true || s.plainReason != nil))
        m.stop()
        try db.close()
    }

    /// A store that held rows before its first mirror says they need a backfill, and its
    /// log is kept from the moment the mirror is set up, before it ever reaches the database.
    @Test func aFirstMirrorOfAStoreWithDataAsksForABackfillAndKeepsTheLog() throws {
        let db = try open()
        try ingest(db, batches: 0..<2)
        try db.flush()
        #expect(db.logRetention == nil)
        let m = try mirror(db, schemaName: "backfill", dsn: PostgresTestServer.dsn(replacing: "port", with: "1"))
        #expect(m.status.needsBackfill && db.logRetention != nil)
        try ingest(db, batches: 2..<3)
        try db.flush()
        var seen = 0
        _ = try db.readLog(after: .zero) { (_: LogEntry) throws(StrataError) in seen += 1 }
        #expect(seen >= 10)  // at least the batch appended after the mirror was set up (10 series)
        try db.close()
        // The need outlives the process, until a full sync fills the database.
        let reopened = try open()
        let real = try mirror(reopened, schemaName: "backfill")
        #expect(real.status.needsBackfill && Mirror.needsBackfill(root.path))
        _ = try real.sync(measurement: "trade")
        #expect(real.status.needsBackfill)  // a partial sync is not a backfill
        _ = try real.sync()
        #expect(!real.status.needsBackfill && !Mirror.needsBackfill(root.path))
        try compare(reopened, real)
        try reopened.close()
        #expect(try !mirror(try open(), schemaName: "backfill").status.needsBackfill)
    }

    /// PostgreSQL crashes (pg_ctl stop -m immediate) in the middle of replication and comes
    /// back: ingest never waits, and the mirror ends with every row once. It kills and
    /// restarts the cluster, so it needs the one scripts/pg-server started (in CI it must
    /// be there: the test fails rather than skips).
    @Test(.enabled(if: PostgresTestServer.env("STRATA_TEST_PG_DIR") != nil || PostgresTestServer.env("CI") != nil,
                   "needs STRATA_TEST_PG_DIR, the cluster scripts/pg-server starts, to crash and restart it"))
    func theServerCrashingMidStreamLosesAndDuplicatesNothing() throws {
        let dir = try #require(PostgresTestServer.env("STRATA_TEST_PG_DIR"), "STRATA_TEST_PG_DIR is not set: run the tests with scripts/test")
        let db = try open()
        let m = try mirror(db, schemaName: "crash")
        m.start()
        try ingest(db, batches: 0..<20)
        #expect(runScript("pg-server", "kill", dir) == 0)
        let started = monotonicNanoseconds()
        try ingest(db, batches: 20..<40)
        let ingestSeconds = Double(monotonicNanoseconds() - started) / 1e9
        // The mirror notices (when it next writes) and retries.
        try waitUntil("the mirror retries after the crash", { m.status }) { $0.state == .retrying && $0.lastError != nil }
        // While the database is away the lag in rows is what the log holds after the cursor.
        try waitUntilDurable(db)
        let away = m.status
        let behind = try db.logRows(after: away.cursor!.position, through: db.durableLogPosition)
        #expect(behind > 0 && away.lagRows == behind && away.lagSeconds > 0, "\(away)")
        #expect(runScript("pg-server", "restart", dir) == 0)
        try ingest(db, batches: 40..<50)
        try m.waitUntilReplicated(seconds: 120)
        try compare(db, m)
        #expect(m.status.lagRows == 0, "\(m.status)")
        // "Ingest never waits" is the point, so a time bound stays, far from the normal time:
        // these 200,000 rows take about 0.2 s here. Ingest that waited for the database to
        // return would not finish at all (it returns only after ingest); one that paid the
        // DSN's 5 s connect timeout once per batch would take 100 s.
        #expect(ingestSeconds < 30, "ingest took \(ingestSeconds) s while the database was away")
        m.stop()
        try db.close()
    }

    /// A wrong password, or a host nothing listens on: reported, retried, ingest unaffected.
    @Test(arguments: ["password", "port"])
    func anUnusableDatabaseIsReportedAndIngestIsUnaffected(broken: String) throws {
        let db = try open()
        let secret = "wrong-\(getpid())"
        let dsn = broken == "password" ? PostgresTestServer.dsn(replacing: "password", with: secret) : PostgresTestServer.dsn(replacing: "port", with: "1")
        let m = try mirror(db, schemaName: "denied", dsn: dsn)
        m.start()
        // Ingest is unaffected: it returns with every row readable (below) while the mirror
        // has replicated nothing (its lag is every row).
        try ingest(db, batches: 0..<5)
        let s = try waitUntil("the mirror fails twice", { m.status }) { $0.failures >= 2 }
        let expected = broken == "password" ? "password authentication failed" : "cannot connect to PostgreSQL at 127.0.0.1:1"
        #expect(s.state == .retrying && s.failures >= 2 && s.lastError?.contains(expected) == true && s.lastError?.contains(secret) == false, "\(s)")
        #expect(try db.query(try SeriesKey(measurement: "trade", symbol: "SYM3")).rows.rowCount == 5_000)
        // Never connected, yet the lag is every row appended, and its age counts.
        try waitUntilDurable(db)
        let lag = m.status
        #expect(lag.lagRows == 50_000 && lag.lagSeconds > 0 && lag.server?.hasPrefix("127.0.0.1:") == true, "\(lag)")
        m.stop()
        try db.close()
        // Reopened with the database still unusable: the rows left behind are counted at once.
        let again = try open()
        let m2 = try mirror(again, schemaName: "denied", dsn: dsn)
        #expect(m2.status.lagRows == 50_000, "\(m2.status)")
        try ingest(again, batches: 5..<6)
        try waitUntilDurable(again)
        #expect(m2.status.lagRows == 60_000, "\(m2.status)")
        try again.close()
    }
}

/// Polls `value` until `condition` holds (every 10 ms, for up to `seconds`, a deadline far
/// beyond the normal wait) and returns the value that satisfied it; fails the test, naming
/// `what` and the last value, if it never does.
@discardableResult
func waitUntil<T>(_ what: String, seconds: Double = 60, _ value: () throws -> T, _ condition: (T) -> Bool,
                  sourceLocation: SourceLocation = #_sourceLocation) throws -> T {
    let deadline = monotonicNanoseconds() + Int64(seconds * 1e9)
    var last = try value()
    while !condition(last) {
        try #require(monotonicNanoseconds() <= deadline, "\(what): not within \(seconds) s; last seen: \(last)", sourceLocation: sourceLocation)
        usleep(10_000)
        last = try value()
    }
    return last
}

/// Waits until every append that has returned is durable: under the tests' `interval`
/// fsync policy `appendBlocking` returns before the group commit's fsync.
func waitUntilDurable(_ db: Database, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let written = db.writtenLogPosition
    try waitUntil("the log durable through \(written)", { db.durableLogPosition }, { $0 >= written }, sourceLocation: sourceLocation)
}

/// Runs one of the project's scripts (`scripts/<name> …`); returns its exit status.
func runScript(_ name: String, _ arguments: String...) -> Int32 {
    var root = "\(#filePath)"
    for _ in 0..<3 { root = String(root[..<root.lastIndex(of: "/")!]) }
    let status = system("'\(root)/scripts/\(name)' " + arguments.map { "'\($0)'" }.joined(separator: " ") + " >/dev/null 2>&1")
    return (status >> 8) & 0xFF
}
