import Glibc
import StrataEngine
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
}
