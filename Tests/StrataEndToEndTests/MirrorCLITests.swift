import Glibc
import StrataEngine
import StrataTestSupport
import Testing

/// `strata mirror` and the mirror inside `strata ingest --live`, against the PostgreSQL that
/// scripts/test starts.
@Suite(.enabled(if: getenv("STRATA_TEST_PG_DSN") != nil || getenv("CI") != nil, "needs the PostgreSQL server scripts/test starts"))
struct MirrorCLITests {
    let root = TemporaryDirectory()
    var data: String { root.path + "/data" }
    var environment: [String: String] {
        ["TIMESCALE_DSN": String(cString: getenv("STRATA_TEST_PG_DSN")!), "STRATA_MIRROR_SCHEMA": "strata_cli_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"]
    }

    @Test func syncVerifyStatusAndLiveReplication() throws {
        let env = environment
        writeText(root.path + "/a.csv", "time,symbol,price,size\n2024-01-02T14:30:00.001Z,ESH4,4512.25,1\n2024-01-02T14:30:00.001Z,ESH4,4512.5,2\n2024-01-03T09:00:00Z,NQH4,16800.25,1\n")
        #expect(runStrata(["ingest", "--data-dir", data, "--measurement", "trade", root.path + "/a.csv"]).status == 0)
        let never = runStrata(["mirror", "status", "--data-dir", data], environment: env)
        #expect(never.status == 0 && never.stdout.contains("state: never replicated") && never.stdout.contains("extension: "), "\(never.stdout)\(never.stderr)")
        let unsynced = runStrata(["mirror", "verify", "--data-dir", data], environment: env)
        #expect(unsynced.status == 1 && unsynced.stdout.contains("differs: trade/ESH4 2024-01-02"), "\(unsynced.stdout)\(unsynced.stderr)")
        let sync = runStrata(["mirror", "sync", "--data-dir", data], environment: env)
        #expect(sync.status == 0 && sync.stdout.contains("series-days replaced: 2\nrows: 3\n"), "\(sync.stdout)\(sync.stderr)")
        let same = runStrata(["mirror", "verify", "--data-dir", data], environment: env)
        #expect(same.status == 0 && same.stdout.hasSuffix("series-days compared: 2\nmirror: identical\n"), "\(same.stdout)\(same.stderr)")

        // Live ingest replicates as it goes.
        writeText(root.path + "/b.csv", "time,symbol,price,size\n2024-01-02T14:31:00Z,ESH4,4513,4\n2024-01-02T14:31:00Z,ESH4,4513.25,5\n")
        let live = runStrata(["ingest", "--live", "--data-dir", data, "--measurement", "trade", root.path + "/b.csv"], environment: env)
        #expect(live.status == 0 && live.stdout.contains("mirror: 2 rows replicated to 127.0.0.1:"), "\(live.stdout)\(live.stderr)")
        #expect(runStrata(["mirror", "verify", "--data-dir", data], environment: env).status == 0)
        let caughtUp = runStrata(["mirror", "status", "--data-dir", data], environment: env)
        #expect(caughtUp.stdout.contains("state: caught up\n") && caughtUp.stdout.contains("lag: 0 rows (0 bytes of log)"), "\(caughtUp.stdout)")

        // A delete made without the mirror running is kept in the log and replicated later.
        #expect(runStrata(["delete", "--data-dir", data, "--measurement", "trade", "--symbol", "ESH4",
                           "--from", "2024-01-02T14:31:00Z", "--to", "2024-01-02T14:31:00Z"], environment: env).status == 0)
        let behind = runStrata(["mirror", "verify", "--data-dir", data, "--day", "2024-01-02"], environment: env)
        #expect(behind.status == 1 && behind.stdout.contains("differs: trade/ESH4 2024-01-02: 2 rows in Strata, 4 in the mirror"), "\(behind.stdout)")
        writeText(root.path + "/empty.csv", "time,symbol,price,size\n")
        #expect(runStrata(["ingest", "--live", "--data-dir", data, "--measurement", "trade", root.path + "/empty.csv"], environment: env).status == 0)
        #expect(runStrata(["mirror", "verify", "--data-dir", data], environment: env).status == 0)

        // The process dies after a batch's COPY, before its COMMIT: nothing of the batch
        // stays, and the next run replicates it once.
        writeText(root.path + "/c.csv", "time,symbol,price,size\n2024-01-04T10:00:00Z,ESH4,4520,7\n2024-01-04T10:00:01Z,NQH4,16900,8\n")
        let killed = runStrata(["ingest", "--live", "--mirror-exit-before-commit", "--data-dir", data, "--measurement", "trade", root.path + "/c.csv"], environment: env)
        #expect(killed.status == 86, "\(killed.stdout)\(killed.stderr)")
        let partial = runStrata(["mirror", "verify", "--data-dir", data], environment: env)
        #expect(partial.status == 1 && partial.stdout.contains("differs: trade/ESH4 2024-01-04: 1 rows in Strata, 0 in the mirror"), "\(partial.stdout)")
        let lagging = runStrata(["mirror", "status", "--data-dir", data], environment: env)
        #expect(lagging.stdout.contains("state: behind\n") && lagging.stdout.contains("lag: 2 rows ("), "\(lagging.stdout)")
        #expect(runStrata(["ingest", "--live", "--data-dir", data, "--measurement", "trade", root.path + "/empty.csv"], environment: env).status == 0)
        let whole = runStrata(["mirror", "verify", "--data-dir", data], environment: env)
        #expect(whole.status == 0 && whole.stdout.contains("series-days compared: 4\n"), "\(whole.stdout)")

        // No database at all: a clear error.
        let none = runStrata(["mirror", "status", "--data-dir", data], environment: ["TIMESCALE_DSN": ""])
        #expect(none.status != 0 && none.stderr.contains("TIMESCALE_DSN"))
    }

    /// SQL users' bars: made by default for a measurement with a price and a volume, made
    /// again by a later sync when they are gone, and as STRATA_MIRROR_BARS says.
    @Test func barsComeByDefaultAgainWhenGoneAndAsTheEnvironmentSays() throws {
        var env = environment
        let schema = env["STRATA_MIRROR_SCHEMA"]!
        writeText(root.path + "/t.csv", "time,symbol,price,size\n2024-01-02T14:30:00.001Z,ESH4,4512.25,1\n2024-01-02T14:30:00.001Z,ESH4,4512.5,2\n2024-01-02T14:30:59Z,ESH4,4512,3\n")
        writeText(root.path + "/q.csv", "time,symbol,bid,ask,bid_size\n2024-01-02T14:30:00Z,ESH4,4512,4512.25,7\n")
        #expect(runStrata(["ingest", "--data-dir", data, "--measurement", "trade", root.path + "/t.csv"]).status == 0)
        #expect(runStrata(["ingest", "--data-dir", data, "--measurement", "quote", root.path + "/q.csv"]).status == 0)
        func sync() {
            let r = runStrata(["mirror", "sync", "--data-dir", data], environment: env)
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        }
        let exists = "SELECT to_regclass('\(schema).trade_ohlcv_1m') IS NOT NULL, to_regclass('\(schema).quote_ohlcv_1m') IS NOT NULL"
        sync()
        // The README's queries, as they stand there; open and close in arrival order.
        #expect(psql("SELECT open, close, volume, count FROM \(schema).trade_ohlcv_1m WHERE symbol = 'ESH4'") == "4512.25|4512|6|3\n")
        #expect(psql("SELECT open, close, volume, count FROM \(schema).trade_ohlcv('ESH4', '2024-01-02', '2024-01-03')") == "4512.25|4512|6|3\n")
        #expect(psql(exists) == "t|f\n")
        // Gone: the next sync makes them again, with no rows to replicate.
        #expect(psql("DROP VIEW \(schema).trade_ohlcv_1m; DROP FUNCTION \(schema).trade_ohlcv") == "")
        sync()
        #expect(psql(exists) == "t|f\n" && psql("SELECT count(*) FROM \(schema).trade_ohlcv('ESH4', '2024-01-02', '2024-01-03', '1 hour')") == "1\n")
        // The environment names the measurements (and no others).
        #expect(psql("DROP VIEW \(schema).trade_ohlcv_1m") == "")
        env["STRATA_MIRROR_BARS"] = "quote=bid,bid_size"
        sync()
        #expect(psql(exists) == "f|t\n")
        #expect(psql("SELECT open, volume FROM \(schema).quote_ohlcv('ESH4', '2024-01-02', '2024-01-03')") == "4512|7\n")
        // none: no bars made.
        #expect(psql("DROP VIEW \(schema).quote_ohlcv_1m") == "")
        env["STRATA_MIRROR_BARS"] = "none"
        sync()
        #expect(psql(exists) == "f|f\n")
        // Malformed: named, by the command and by validate-config.
        env["STRATA_MIRROR_BARS"] = "quote=bid,ask,bid_size"
        let bad = runStrata(["mirror", "sync", "--data-dir", data], environment: env)
        #expect(bad.status != 0 && bad.stderr.contains("STRATA_MIRROR_BARS: bars must read measurement=price[,volume]"), "\(bad.stderr)")
        let validate = runStrata(["validate-config"], environment: ["STRATA_CONFIG": "", "STRATA_MIRROR_BARS": "quote=bid,ask,bid_size"])
        #expect(validate.status == 1 && validate.stderr.contains("STRATA_MIRROR_BARS: bars must read"), "\(validate.stderr)")
    }

    /// What psql prints for `sql` (unaligned, tuples only), or its error.
    func psql(_ sql: String) -> String {
        let tmp = TemporaryDirectory()
        writeText(tmp.path + "/q.sql", sql)
        _ = system("psql \"$STRATA_TEST_PG_DSN\" -XAtq -v ON_ERROR_STOP=1 -f '\(tmp.path)/q.sql' >'\(tmp.path)/out' 2>&1")
        return (try? readFile(tmp.path + "/out")).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}
