import Glibc
import StrataEngine
import StrataPlatform
import StrataTestSupport
import Testing

/// The archive commands as an operator coming from `aws s3 ls` uses them: full object URLs,
/// and a bucket made by `archive init` or by the first upload, as check-deps says.
@Suite struct ArchiveCLITests {
    let root = TemporaryDirectory()
    var data: String { root.path + "/data" }

    func ingest() {
        writeText(root.path + "/t.csv", "time,symbol,price,size\n2024-01-02T14:30:00Z,ESH4,4512.25,1\n2024-01-02T14:30:01Z,NQH4,16800.25,2\n")
        #expect(runStrata(["ingest", "--data-dir", data, "--measurement", "trade", root.path + "/t.csv"]).status == 0)
    }

    static func env(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

    /// `archive cat` takes `file://` URLs, inside the store's archive or anywhere.
    @Test func catTakesFileURLs() throws {
        ingest()
        // The answer says what old meant (2 January 2024 is more than 180 days ago).
        let push = runStrata(["archive", "push", "--data-dir", data])
        #expect(push.stdout.hasPrefix("series-days archived: 2\nolder than: 180d (the configuration's archive_after, else 180d; --older-than 0s archives every flushed day)\n"), "\(push)")
        let key = try #require(runStrata(["archive", "ls", "--data-dir", data, "--symbol", "NQH4", "--measurement", "trade"]).stdout.lines().dropFirst().first?.split(separator: ",").first.map(String.init))
        let expected = "time,symbol,price,size\n2024-01-02T14:30:01.000000000Z,NQH4,16800.25,2\n"
        let inside = runStrata(["archive", "cat", "--data-dir", data, "file://\(data)/_archive/\(key)"])
        #expect(inside.status == 0 && inside.stdout == expected, "\(inside)")
        // An object copied out of any archive (as aws s3 cp leaves it).
        let copy = root.path + "/copied.strata"
        writeFile(copy, try readFile("\(data)/_archive/\(key)"))
        let outside = runStrata(["archive", "cat", "--data-dir", data, "file://\(copy)"])
        #expect(outside.status == 0 && outside.stdout == expected, "\(outside)")
        let relative = runStrata(["archive", "cat", "--data-dir", data, "file://copied.strata"])
        #expect(relative.status == 1 && relative.stderr.contains("file:///DIR/KEY (an absolute path)"), "\(relative)")
    }

    /// A delete over archived days makes a tombstone that readers apply to the archived
    /// segments, found through the archive the store recorded (here the default one).
    @Test func deleteReachesArchivedDays() throws {
        writeText(root.path + "/t.csv", "time,symbol,price,size\n2024-01-02T14:30:00Z,ESH4,4512.25,1\n"
                  + "2024-01-02T14:30:01Z,ESH4,4512.5,2\n2024-01-02T14:30:02Z,ESH4,4512.75,3\n")
        #expect(runStrata(["ingest", "--data-dir", data, "--measurement", "trade", root.path + "/t.csv"]).status == 0)
        #expect(runStrata(["archive", "push", "--data-dir", data]).status == 0)
        #expect(!FileSystem.exists(data + "/trade/ESH4/2024-01-02/0000000000000001.seg"), "the day went to the archive")
        let delete = runStrata(["delete", "--data-dir", data, "--measurement", "trade", "--symbol", "ESH4",
                                "--from", "2024-01-02T14:30:01Z", "--to", "2024-01-02T14:30:01Z"])
        #expect(delete.status == 0 && delete.stdout == "rows deleted: 1\n", "\(delete)")
        let kept = "time,symbol,price,size\n2024-01-02T14:30:00.000000000Z,ESH4,4512.25,1\n2024-01-02T14:30:02.000000000Z,ESH4,4512.75,3\n"
        let query = runStrata(["query", "--data-dir", data, "--measurement", "trade", "--symbol", "ESH4"])
        #expect(query.status == 0 && query.stdout == kept, "\(query)")
        // Compaction leaves the archived segment and its tombstone alone; the row stays hidden.
        #expect(runStrata(["compact", "--data-dir", data]).status == 0)
        #expect(runStrata(["query", "--data-dir", data, "--measurement", "trade", "--symbol", "ESH4"]).stdout == kept)
        // Restored, the segment is local again under its own id, and the tombstone still covers it.
        #expect(runStrata(["archive", "restore", "--data-dir", data, "--measurement", "trade", "--symbol", "ESH4",
                           "--from", "2024-01-02", "--to", "2024-01-02"]).status == 0)
        #expect(runStrata(["query", "--data-dir", data, "--measurement", "trade", "--symbol", "ESH4"]).stdout == kept)
    }

    /// A new bucket: check-deps says the first upload makes it; `archive init` makes it;
    /// `archive cat s3://BUCKET/PREFIX/KEY` reads what `archive ls` lists.
    @Test(.enabled(if: env("STRATA_TEST_S3_ENDPOINT") != nil || env("CI") != nil, "needs the S3 server scripts/test starts"))
    func s3URLsAndANewBucket() throws {
        let endpoint = try #require(Self.env("STRATA_TEST_S3_ENDPOINT"))
        let s3 = ["S3_ENDPOINT": endpoint, "S3_ACCESS_KEY": Self.env("STRATA_TEST_S3_ACCESS_KEY") ?? "", "S3_SECRET_KEY": Self.env("STRATA_TEST_S3_SECRET_KEY") ?? ""]
        ingest()
        let bucket = "strata-cli-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let archive = "s3://\(bucket)/cold"
        let deps = runStrata(["check-deps", "--data-dir", data, "--archive", archive], environment: s3)
        #expect(deps.stdout.contains("ok   archive  \(archive)/: reachable; the bucket '\(bucket)' does not exist yet: the first upload makes it (strata archive init makes it now)"), "\(deps)")
        let made = runStrata(["archive", "init", "--data-dir", data, "--archive", archive], environment: s3)
        #expect(made.status == 0 && made.stdout == "\(archive)/: made the bucket '\(bucket)'\n", "\(made)")
        let again = runStrata(["archive", "init", "--data-dir", data, "--archive", archive], environment: s3)
        #expect(again.status == 0 && again.stdout == "\(archive)/: the bucket '\(bucket)' exists\n", "\(again)")
        #expect(runStrata(["check-deps", "--data-dir", data, "--archive", archive], environment: s3).stdout.contains("ok   archive  \(archive)/: reachable, new objects unencrypted"))
        let push = runStrata(["archive", "push", "--data-dir", data, "--archive", archive, "--older-than", "0s"], environment: s3)
        #expect(push.status == 0, "\(push)")
        let key = try #require(runStrata(["archive", "ls", "--data-dir", data, "--archive", archive, "--measurement", "trade", "--symbol", "ESH4"], environment: s3)
            .stdout.lines().dropFirst().first?.split(separator: ",").first.map(String.init))
        let expected = "time,symbol,price,size\n2024-01-02T14:30:00.000000000Z,ESH4,4512.25,1\n"
        for name in [key, "\(archive)/\(key)", "s3://\(bucket)/cold/\(key)"] {
            let cat = runStrata(["archive", "cat", "--data-dir", data, "--archive", archive, name], environment: s3)
            #expect(cat.status == 0 && cat.stdout == expected, "\(name): \(cat)")
        }
        // The URL alone: the store remembers its archive, and the URL names its bucket.
        let bare = runStrata(["archive", "cat", "--data-dir", data, "s3://\(bucket)/cold/\(key)"], environment: s3)
        #expect(bare.status == 0 && bare.stdout == expected, "\(bare)")
        // A bucket nobody made: the first push of another store makes it.
        let other = "s3://\(bucket)-new"
        let second = root.path + "/second"
        #expect(runStrata(["ingest", "--data-dir", second, "--measurement", "trade", root.path + "/t.csv"]).status == 0)
        let first = runStrata(["archive", "push", "--data-dir", second, "--archive", other, "--older-than", "0s"], environment: s3)
        #expect(first.status == 0 && first.stdout.hasPrefix("series-days archived: 2\nolder than: 0s\n"), "\(first)")
        let listed = runStrata(["archive", "ls", "--data-dir", second, "--archive", other], environment: s3)
        #expect(listed.stdout.lines().count == 3, "\(listed)")
    }
}
