import Glibc
import StrataEngine
import StrataPlatform
import StrataTestSupport
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
        #expect(readable.status == 1 && readable.stderr.contains("every user may read it, and it holds a password (mirror.dsn); chmod 600 it"), "\(readable.stderr)")
        #expect(!readable.stderr.contains("hunter2"))
        _ = chmod(config, 0o600)
        #expect(runStrata(["validate-config", "--config", config]).status == 0)
        let syntax = runStrata(["validate-config", "--config", config + ".missing"])
        #expect(syntax.status == 1 && syntax.stderr.contains("strata.json.missing"))
    }

    /// A port that is not one is named wherever a port is configured: in the file with its
    /// key path and line, in the environment with its variable.
    @Test func validateConfigNamesEveryBadPort() {
        let config = root.path + "/strata.json"
        writeText(config, """
            {
              "server": {"listen": "127.0.0.1:notaport"},
              "mirror": {"dsn": "host=db port=notaport dbname=market"},
              "cache": {"url": "redis://h:notaport/0"},
              "archive": {"endpoint": "http://127.0.0.1:notaport"}
            }
            """)
        let file = runStrata(["validate-config", "--config", config])
        #expect(file.status == 1)
        for (line, field) in [(2, "server.listen"), (3, "mirror.dsn"), (4, "cache.url"), (5, "archive.endpoint")] {
            #expect(file.stderr.contains("strata: \(config), line \(line), field '\(field)': "), "\(field): \(file.stderr)")
        }
        #expect(file.stderr.hasSuffix("\n4 problems\n"), "\(file.stderr)")
        let env = runStrata(["validate-config"], environment: [
            "TIMESCALE_DSN": "postgresql://strata@db:notaport/market", "REDIS_URL": "redis://h:99999", "STRATA_LISTEN": "127.0.0.1:x",
            "S3_BUCKET": "market", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "b", "S3_ENDPOINT": "http://127.0.0.1:notaport",
        ])
        #expect(env.stderr.contains("strata: TIMESCALE_DSN / mirror.dsn: the PostgreSQL connection string is not valid: the port must be a number from 1 to 65535"), "\(env.stderr)")
        #expect(env.stderr.contains("strata: REDIS_URL / cache.url: bad Redis URL (the port (99999) must be 1…65535)"), "\(env.stderr)")
        #expect(env.stderr.contains("strata: STRATA_LISTEN: must be HOST:PORT, not '127.0.0.1:x'"), "\(env.stderr)")
        #expect(env.stderr.contains("S3 endpoint 'http://127.0.0.1:notaport': the port must be a number from 1 to 65535"), "\(env.stderr)")
        #expect(env.status == 1 && env.stderr.hasSuffix("\n4 problems\n"), "\(env.stderr)")
    }

    @Test func validateConfigNamesTuningBoundsTheEngineCannotUse() {
        let config = root.path + "/strata.json"
        writeText(config, "{\"tuning\": {\n  \"flush_rows_min\": 10}}")
        let low = runStrata(["validate-config", "--config", config])
        #expect(low.status == 1 && low.stderr.contains("strata: \(config), line 2, field 'tuning.flush_rows_min': must be in 8192…1073741824, not 10"), "\(low.stderr)")
        writeText(config, #"{"tuning": {"flush_rows_min": 300000, "flush_rows_max": 200000}}"#)
        let crossed = runStrata(["validate-config", "--config", config])
        #expect(crossed.status == 1 && crossed.stderr.contains("field 'tuning.flush_rows_min': 300000 is above tuning.flush_rows_max (200000)"), "\(crossed.stderr)")
    }

    /// A file every user may read is refused for each secret it holds, the S3 secret key
    /// as much as a password, and so is a world-readable key file.
    @Test func validateConfigNamesEverySecretInAWorldReadableFile() {
        let config = root.path + "/strata.json"
        writeText(config, #"{"archive": {"access_key": "AKIA", "secret_key": "s3cr3t/abc="}, "mirror": {"dsn": "host=db password=hunter2"}}"#)
        _ = chmod(config, 0o644)
        let both = runStrata(["validate-config", "--config", config])
        #expect(both.status == 1 && both.stderr.contains("\(config): every user may read it, and it holds a password (mirror.dsn) and the S3 secret key (archive.secret_key); chmod 600 it, or give the secrets through the environment"), "\(both.stderr)")
        #expect(!both.stderr.contains("s3cr3t") && !both.stderr.contains("hunter2"))
        writeText(config, #"{"archive": {"secret_key": "s3cr3t/abc="}}"#)
        let key = runStrata(["validate-config", "--config", config])
        #expect(key.status == 1 && key.stderr.contains("every user may read it, and it holds the S3 secret key (archive.secret_key); chmod 600 it, or give the secret through the environment"), "\(key.stderr)")
        _ = chmod(config, 0o600)
        #expect(runStrata(["validate-config", "--config", config]).status == 0)
        writeText(root.path + "/keys.txt", String(repeating: "ab", count: 32) + "\n")
        _ = chmod(root.path + "/keys.txt", 0o644)
        let keys = runStrata(["validate-config"], environment: ["STRATA_ENCRYPTION_KEY_FILE": root.path + "/keys.txt"])
        #expect(keys.status == 1 && keys.stderr.contains("\(root.path)/keys.txt holds encryption keys and every user may read it; chmod 600 it"), "\(keys.stderr)")
        _ = chmod(root.path + "/keys.txt", 0o600)
        #expect(runStrata(["validate-config"], environment: ["STRATA_ENCRYPTION_KEY_FILE": root.path + "/keys.txt"]).status == 0)
    }

    /// A bad archive URL is one problem, whether or not the environment names a bucket; the
    /// archive the commands would open (STRATA_ARCHIVE, else S3_BUCKET, else archive.url) is
    /// checked once.
    @Test func validateConfigNamesABadArchiveOnce() {
        let config = root.path + "/strata.json"
        let keys = ["S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "b"]
        for (url, environment, expected) in [
            ("ftp://x", [:], ["archive.url"]),
            ("ftp://x", ["S3_BUCKET": "market"], ["archive.url", "S3_ACCESS_KEY and S3_SECRET_KEY are not set"]),
            ("ftp://x", ["S3_BUCKET": "market"].merging(keys) { $1 }, ["archive.url"]),
            ("s3://", [:], ["archive.url"]),
            ("s3://", ["S3_BUCKET": "market"], ["archive.url", "S3_ACCESS_KEY and S3_SECRET_KEY are not set"]),
            ("s3://", ["S3_BUCKET": "market"].merging(keys) { $1 }, ["archive.url"]),
            ("s3://market/strata", [:], ["S3_ACCESS_KEY and S3_SECRET_KEY are not set"]),
            ("s3://market/strata", ["S3_BUCKET": "other"], ["S3_ACCESS_KEY and S3_SECRET_KEY are not set"]),
            ("s3://market/strata", ["STRATA_ARCHIVE": "s3://Bad_Bucket"].merging(keys) { $1 }, ["S3 bucket name 'Bad_Bucket'"]),
        ] as [(String, [String: String], [String])] {
            writeText(config, #"{"archive": {"url": "\#(url)"}}"#)
            let r = runStrata(["validate-config", "--config", config], environment: environment)
            let lines = r.stderr.split(separator: "\n").dropLast().map(String.init)
            #expect(r.status == 1 && lines.count == expected.count, "\(url) \(environment): \(r.stderr)")
            for (line, text) in zip(lines, expected) { #expect(line.contains(text), "\(url) \(environment): \(r.stderr)") }
            #expect(r.stderr.hasSuffix("\n\(expected.count) problem\(expected.count == 1 ? "" : "s")\n"), "\(url) \(environment): \(r.stderr)")
        }
    }

    /// serve, like every command, refuses a bad file with the problems validate-config lists
    /// first and the count of the rest, from the same checker.
    @Test func serveAndValidateConfigCountTheSameProblems() {
        let config = root.path + "/strata.json"
        writeText(config, """
            {
              "store": {"memory_mib": 0, "fsync": "x"},
              "tiers": {"archive_afer": "1d", "flush_age": "soon"},
              "archive": {"url": "ftp://x", "secret_key": "s3cr3t"},
              "tuning": {"flush_rows_min": 10},
              "mirror": {"dsn": "host=db port=notaport password=hunter2"},
              "server": {"listen": "0.0.0.0:8000"}
            }
            """)
        _ = chmod(config, 0o644)
        let environment = ["REDIS_URL": "redis://h:notaport"]
        let listed = runStrata(["validate-config", "--config", config], environment: environment)
        let problems = listed.stderr.split(separator: "\n").map(String.init)
        #expect(listed.status == 1 && problems.last == "\(problems.count - 1) problems", "\(listed.stderr)")
        // 7 in the file, its permissions, the listen address without keys, REDIS_URL.
        #expect(problems.count - 1 == 10, "\(listed.stderr)")
        for command in [["serve", "--data-dir", data], ["tier", "--data-dir", data]] {
            let refused = runStrata(command + ["--config", config], environment: environment)
            #expect(refused.status != 0 && !FileSystem.exists(data), "\(command[0]): \(refused.stderr)")
            let lines = refused.stderr.split(separator: "\n").map(String.init)
            #expect(lines == Array(problems.prefix(3)) + ["strata: \(problems.count - 1 - 3) more problems (strata validate-config lists them all)"],
                    "\(command[0]): \(refused.stderr)")
        }
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
