import Glibc
import StrataEngine
import Testing

/// `strata quality`, `validate-config`, `check-deps` and `selftest` as operators run them.
@Suite struct OperationsCLITests {
    let root = TemporaryDirectory()
    var data: String { root.path + "/data" }

    @Test func qualityReportsEachSeriesAndStrictSetsTheExitStatus() {
        writeText(root.path + "/bars.csv", """
            time,symbol,open,high,low,close,volume
            2024-01-02,ALI,10,11,9,10.5,100
            2024-01-03,ALI,10.5,11,10,10.75,100
            2024-01-03,ALI,10.5,11,10,10.75,100
            2024-01-04,ALI,0,0,0,0,0
            2024-01-05,ALI,11,10,12,11,100
            2024-01-02,BPI,50,51,49,50,10
            2024-01-03,BPI,50,51,49,50.5,10

            """)
        #expect(runStrata(["ingest", "--data-dir", data, "--measurement", "bar", root.path + "/bars.csv"]).status == 0)
        let text = runStrata(["quality", "--data-dir", data, "--measurement", "bar"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("bar ALI: 5 rows, 2024-01-02T00:00:00.000000000Z … 2024-01-05T00:00:00.000000000Z, median interval 1d\n"), "\(text.stdout)")
        #expect(text.stdout.contains("gap: 0, out of order: 0, duplicate: 1, outlier: 2, ohlc: 1, non positive price: 1, non positive volume: 1"), "\(text.stdout)")
        #expect(text.stdout.contains("2024-01-05T00:00:00.000000000Z ohlc: high 10.0 < low 12.0"))
        #expect(text.stdout.contains("bar BPI: 2 rows") && text.stdout.contains("ohlc: 0, non positive price: 0"))
        let strict = runStrata(["quality", "--data-dir", data, "--measurement", "bar", "--symbol", "BPI", "--strict", "--format", "json"])
        #expect(strict.status == 0 && strict.stdout.hasPrefix("[{\"measurement\":\"bar\",\"symbol\":\"BPI\",\"rows\":2,"), "\(strict.stdout)")
        let found = runStrata(["quality", "--data-dir", data, "--measurement", "bar", "--symbol", "ALI", "--strict", "--to", "2024-01-03"])
        #expect(found.status == 2 && found.stdout.contains("duplicate: 1"))
        let missing = runStrata(["quality", "--data-dir", data, "--measurement", "bar", "--symbol", "XYZ"])
        #expect(missing.status == 1 && missing.stderr.contains("measurement 'bar' has no symbol 'XYZ'"))
    }

    @Test func validateConfigListsEveryProblemWithItsKeyPath() {
        let config = root.path + "/strata.json"
        writeText(config, """
            {
              "store": {"memory_mib": 0},
              "tiers": {"archive_afer": "1d"},
              "server": {"listen": "0.0.0.0:8000"}
            }
            """)
        let bad = runStrata(["validate-config", "--config", config], environment: ["REDIS_URL": "http://nope"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("strata: \(config), line 3, field 'tiers.archive_afer': unknown setting"), "\(bad.stderr)")
        #expect(bad.stderr.contains("\(config), line 2, field 'store.memory_mib': must be in 1…1048576, not 0"))
        #expect(bad.stderr.contains("strata: REDIS_URL / cache.url: bad Redis URL"))
        // The file's valid settings are checked together even though others are bad.
        #expect(bad.stderr.contains("strata: server.listen: 0.0.0.0:8000 is not loopback, so API keys are needed"), "\(bad.stderr)")
        #expect(bad.stderr.contains("4 problems"), "\(bad.stderr)")
        writeText(config, #"{"server": {"listen": "0.0.0.0:8000"}}"#)
        let open = runStrata(["validate-config", "--config", config])
        #expect(open.status == 1 && open.stderr.contains("server.listen: 0.0.0.0:8000 is not loopback, so API keys are needed"))
        // An S3 archive without credentials, and an empty keys file.
        writeText(root.path + "/keys", "# none yet\n")
        writeText(config, #"{"archive": {"url": "s3://market/strata", "endpoint": "http://127.0.0.1:9000"}, "server": {"api_keys_file": "\#(root.path)/keys"}}"#)
        let s3 = runStrata(["validate-config", "--config", config])
        #expect(s3.status == 1 && s3.stderr.contains("archive s3://market/strata: an S3 bucket is named but S3_ACCESS_KEY and S3_SECRET_KEY are not set"), "\(s3.stderr)")
        #expect(s3.stderr.contains("holds no API keys"), "\(s3.stderr)")
        let sample = runStrata(["validate-config"], environment: ["STRATA_CONFIG": sourceRoot() + "/config/strata.json"])
        #expect(sample.status == 0 && sample.stdout.hasSuffix("config/strata.json: valid\n"), "\(sample.stdout)\(sample.stderr)")
        // A connection string libpq cannot parse names the option, never the password.
        let dsn = runStrata(["validate-config"], environment: ["TIMESCALE_DSN": "host=db bogus=1 password=hunter2"])
        #expect(dsn.status == 1 && dsn.stderr.contains("TIMESCALE_DSN / mirror.dsn: the PostgreSQL connection string is not valid: invalid connection option \"bogus\""), "\(dsn.stderr)")
        #expect(!dsn.stderr.contains("hunter2"))
        // A file every user may read must not hold a password.
        writeText(config, #"{"mirror": {"dsn": "postgresql://strata:hunter2@db/market"}}"#)
        _ = chmod(config, 0o644)
        let readable = runStrata(["validate-config", "--config", config])
        #expect(readable.status == 1 && readable.stderr.contains("holds a password (mirror.dsn) and every user may read it; chmod 600 it"), "\(readable.stderr)")
        #expect(!readable.stderr.contains("hunter2"))
        _ = chmod(config, 0o600)
        #expect(runStrata(["validate-config", "--config", config]).status == 0)
        let syntax = runStrata(["validate-config", "--config", config + ".missing"])
        #expect(syntax.status == 1 && syntax.stderr.contains("strata.json.missing"))
    }

    @Test func checkDepsReachesEachConfiguredService() {
        // Nothing configured: the store and the local archive only.
        let local = runStrata(["check-deps", "--data-dir", data])
        #expect(local.status == 0, "\(local.stdout)\(local.stderr)")
        #expect(local.stdout.contains("ok   store    \(data): does not exist yet"))
        #expect(local.stdout.contains("ok   archive  file://\(data)/_archive: does not exist yet; can be made (on first use), new objects unencrypted"), "\(local.stdout)")
        #expect(!FileSystem.exists(data), "the probe leaves nothing behind")
        // A directory archive that cannot be made fails, as its first push would.
        writeText(root.path + "/plain", "x")
        let blocked = runStrata(["check-deps", "--data-dir", data, "--archive", "file://\(root.path)/plain/archive"])
        #expect(blocked.status == 1 && blocked.stdout.contains("FAIL archive  file://\(root.path)/plain/archive: "), "\(blocked.stdout)")
        #expect(local.stdout.contains("-    mirror   -: not configured"))
        // A store path that is a file is named.
        writeText(root.path + "/file", "x")
        let file = runStrata(["check-deps", "--data-dir", root.path + "/file", "--archive", "file://\(root.path)/archive"])
        #expect(file.status == 1 && file.stdout.contains("FAIL store    \(root.path)/file: is a file, not a directory"), "\(file.stdout)")
        // Services that do not answer: each says what failed, and the exit status is 1.
        let down = runStrata(["check-deps", "--data-dir", data],
                             environment: ["TIMESCALE_DSN": "host=127.0.0.1 port=1 dbname=x user=x password=hunter2 connect_timeout=2",
                                           "REDIS_URL": "redis://:hunter2@127.0.0.1:1"])
        #expect(down.status == 1 && down.stdout.contains("FAIL mirror") && down.stdout.contains("FAIL cache"), "\(down.stdout)")
        #expect(!down.stdout.contains("hunter2") && !down.stderr.contains("hunter2"))
    }

    @Test(.enabled(if: (getenv("STRATA_TEST_PG_DSN") != nil && getenv("STRATA_TEST_REDIS_URL") != nil) || getenv("CI") != nil,
                   "needs the PostgreSQL and Redis servers scripts/test starts"))
    func checkDepsNamesTheVersionsOfRealServices() {
        let up = runStrata(["check-deps", "--data-dir", data],
                           environment: ["TIMESCALE_DSN": String(cString: getenv("STRATA_TEST_PG_DSN")!),
                                         "REDIS_URL": String(cString: getenv("STRATA_TEST_REDIS_URL")!)])
        #expect(up.status == 0, "\(up.stdout)\(up.stderr)")
        #expect(up.stdout.contains("ok   mirror   ") && up.stdout.contains(": PostgreSQL 15."), "\(up.stdout)")
        #expect(up.stdout.contains("ok   cache    ") && up.stdout.contains(": Redis "), "\(up.stdout)")
    }

    @Test func selftestRunsEveryStep() {
        let r = runStrata(["selftest"], environment: ["TMPDIR": root.path])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        for step in ["ingest", "query", "flush", "compact", "tier", "backup and restore", "quality"] {
            #expect(r.stdout.contains("ok   \(step)"), "\(step): \(r.stdout)")
        }
        #expect(r.stdout.hasSuffix("selftest passed\n"))
        // Its temporary directory is gone afterwards.
        #expect((try? FileSystem.list(root.path))?.filter { $0.hasPrefix("strata-selftest-") } == [])
    }
}

/// The repository's root (for config/strata.json).
func sourceRoot() -> String {
    "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
}
