import Glibc
import StrataEngine
import StrataTestSupport
import Testing

/// `strata cache` and the publisher inside `strata ingest --live`, against the Redis that
/// scripts/test starts.
@Suite(.enabled(if: getenv("STRATA_TEST_REDIS_URL") != nil || getenv("CI") != nil, "needs the Redis server scripts/test starts"))
struct CacheCLITests {
    let root = TemporaryDirectory()
    var data: String { root.path + "/data" }
    let prefix = "strata-cli-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    var url: String { String(cString: getenv("STRATA_TEST_REDIS_URL")!) }

    func config(window: String = "1h") -> String {
        let path = root.path + "/strata.json"
        writeText(path, "{\"data_dir\": \"\(data)\", \"cache\": {\"prefix\": \"\(prefix)\", \"window\": \"\(window)\"}}\n")
        return path
    }

    @Test func warmStatusAndLivePublishing() throws {
        let cfg = config()
        let env = ["REDIS_URL": url]
        // Two symbols; ESH4's rows span two hours, so warm takes only its last hour.
        writeText(root.path + "/a.csv", "time,symbol,price,size\n2024-01-02T13:00:00Z,ESH4,4500,1\n2024-01-02T14:30:00Z,ESH4,4512.25,1\n2024-01-02T14:30:00Z,ESH4,4512.5,2\n2024-01-03T09:00:00Z,NQH4,16800.25,1\n")
        #expect(runStrata(["ingest", "--config", cfg, "--measurement", "trade", root.path + "/a.csv"]).status == 0)
        let empty = runStrata(["cache", "status", "--config", cfg], environment: env)
        #expect(empty.status == 0 && empty.stdout.contains("publisher: none running for this store\nstreams: 0 (0 entries)\nlast hashes: 0\n") && empty.stdout.contains("(Redis 7."), "\(empty.stdout)\(empty.stderr)")
        let warm = runStrata(["cache", "warm", "--config", cfg], environment: env)
        #expect(warm.status == 0 && warm.stdout.hasPrefix("series: 2\nrows published: 3\n"), "\(warm.stdout)\(warm.stderr)")
        let warmed = runStrata(["cache", "status", "--config", cfg], environment: env)
        #expect(warmed.stdout.contains("streams: 2 (3 entries)\nlast hashes: 2\n"), "\(warmed.stdout)")
        // Warming again adds nothing: the streams already hold those rows.
        #expect(runStrata(["cache", "warm", "--config", cfg, "--measurement", "trade", "--symbol", "ESH4"], environment: env).stdout.hasPrefix("series: 1\nrows published: 0\n"))
        // A symbol or measurement the store lacks is named, not warmed as nothing.
        let typo = runStrata(["cache", "warm", "--config", cfg, "--measurement", "trade", "--symbol", "ESZ4"], environment: env)
        #expect(typo.status == 1 && typo.stderr.contains("measurement 'trade' has no symbol 'ESZ4'"), "\(typo.stderr)")
        let anywhere = runStrata(["cache", "warm", "--config", cfg, "--symbol", "ESZ4"], environment: env)
        #expect(anywhere.status == 1 && anywhere.stderr.contains("no measurement has a symbol 'ESZ4'"), "\(anywhere.stderr)")

        // Live ingest publishes as it goes, after what warm put there.
        writeText(root.path + "/b.csv", "time,symbol,price,size\n2024-01-02T14:31:00Z,ESH4,4513,4\n2024-01-02T14:31:00Z,ESH4,4513.25,5\n")
        let live = runStrata(["ingest", "--live", "--config", cfg, "--measurement", "trade", root.path + "/b.csv"], environment: env)
        #expect(live.status == 0 && live.stdout.contains("cache: 2 rows published to 127.0.0.1:"), "\(live.stdout)\(live.stderr)")
        let after = runStrata(["cache", "status", "--config", cfg], environment: env)
        #expect(after.stdout.contains("streams: 2 (5 entries)\n"), "\(after.stdout)")
        // The process that published left its counters (for 10 s).
        #expect(after.stdout.contains("rows published: 2\nrows dropped: 0\nlag: 0 rows"), "\(after.stdout)")
    }

    @Test func badURLsAndWrongPasswordsAreClear() throws {
        let cfg = config()
        writeText(root.path + "/a.csv", "time,symbol,price\n2024-01-02T14:30:00Z,ESH4,4512.25\n")
        let bad = runStrata(["ingest", "--live", "--config", cfg, "--measurement", "trade", root.path + "/a.csv"], environment: ["REDIS_URL": "http://127.0.0.1:6379"])
        #expect(bad.status != 0 && bad.stderr.contains("bad Redis URL (scheme http:// is not redis://)"), "\(bad.stderr)")
        let secret = "wrong-\(getpid())"
        let wrong = url.replacingPassword(with: secret)
        let denied = runStrata(["ingest", "--live", "--config", cfg, "--measurement", "trade", root.path + "/a.csv"], environment: ["REDIS_URL": wrong])
        #expect(denied.status == 0 && denied.stdout.contains("rows written: 1\n") && denied.stdout.contains("cache: 0 rows published") && denied.stdout.contains("WRONGPASS"), "\(denied.stdout)\(denied.stderr)")
        #expect(!denied.stdout.contains(secret) && !denied.stderr.contains(secret))
        let status = runStrata(["cache", "status", "--config", cfg, "--url", wrong])
        #expect(status.status != 0 && status.stderr.contains("WRONGPASS") && !status.stderr.contains(secret), "\(status.stderr)")
    }
}

extension String {
    /// A redis:// URL with another password.
    fileprivate func replacingPassword(with password: String) -> String {
        guard let at = lastIndex(of: "@"), let colon = self[..<at].lastIndex(of: ":") else { return self }
        return String(self[...colon]) + password + String(self[at...])
    }
}
