import StrataArchive
import StrataCache
import StrataEngine
import StrataFormat
import StrataSystem
import Testing

@Suite struct ConfigurationTests {
    let sample = """
    # Strata
    data_dir = "/srv/strata"   # where the segments live

    [store]
    fsync = "interval:100"
    memory_mib = 1_024

    [tiers]
    compact_after = "2d"
    archive_after = "30d"

    [archive]
    url = "s3://market-data/strata#1"
    path_style = false
    part_size_mib = 16
    cache_mib = 64

    [encryption]
    key_file = "/etc/strata/keys"
    """

    @Test func aConfigurationFileSetsEverySection() throws {
        let c = try StrataConfiguration(try ConfigurationFile(text: sample, source: "strata.toml"))
        #expect(c.dataDirectory == "/srv/strata")
        #expect(c.database.fsync == .interval(milliseconds: 100) && c.database.memoryLimit == 1024 << 20)
        #expect(c.tiers.compactAfter == 2 * Day.nanosecondsPerDay && c.tiers.archiveAfter == 30 * Day.nanosecondsPerDay)
        #expect(c.tiers.flushAge == 600_000_000_000)
        #expect(c.cacheBytes == 64 << 20 && c.encryptionKeyFile == "/etc/strata/keys")
        // The environment wins over the file; the file fills in the rest.
        let env = { (name: String) -> String? in name == "S3_PART_SIZE_MIB" ? "32" : nil }
        #expect(c.variable("STRATA_ARCHIVE", environment: env) == "s3://market-data/strata#1")
        #expect(c.variable("S3_PATH_STYLE", environment: env) == "0")
        #expect(c.variable("S3_PART_SIZE_MIB", environment: env) == "32")
        #expect(c.variable("STRATA_ENCRYPTION_KEY_FILE", environment: env) == "/etc/strata/keys")
        // A key given directly in the environment takes the place of the file's key file.
        #expect(c.variable("STRATA_ENCRYPTION_KEY_FILE", environment: { $0 == "STRATA_ENCRYPTION_KEY" ? "k" : nil }) == nil)
        let never = try StrataConfiguration(try ConfigurationFile(text: "[tiers]\narchive_after = \"never\"\n", source: "t"))
        #expect(never.tiers.archiveAfter == nil)
        #expect(StrataConfiguration().tiers.archiveAfter == 180 * Day.nanosecondsPerDay)
        // [schedule] and [cache].
        let scheduled = try StrataConfiguration(try ConfigurationFile(text: "[schedule]\ntier_every = \"30m\"\nbackup_every = \"1d\"\n[cache]\nurl = \"redis://h:6380/2\"\nwindow = \"15m\"\n", source: "t"))
        #expect(scheduled.tierEverySeconds == 1_800 && scheduled.backupEverySeconds == 86_400)
        let cache = try #require(try scheduled.cache(environment: { _ in nil }))
        #expect(cache.url == RedisURL(host: "h", port: 6380, database: 2) && cache.windowSeconds == 900)
        #expect(try scheduled.cache(environment: { $0 == "REDIS_URL" ? "redis://other" : nil })?.url.host == "other")
        let defaults = StrataConfiguration()
        let noCache = try defaults.cache(environment: { _ in nil })
        #expect(defaults.tierEverySeconds == 3_600 && defaults.backupEverySeconds == nil && noCache == nil)
        #expect(try StrataConfiguration(try ConfigurationFile(text: "[schedule]\ntier_every = \"never\"\n", source: "t")).tierEverySeconds == nil)
    }

    @Test(arguments: [
        ("[tiers]\ncompact_after = \"2 days\"\n", 2, "not a duration"),
        ("[tiers]\nkeep = \"2d\"\n", 2, "unknown setting 'keep' in [tiers]"),
        ("data_dir = \"a\"\ndata_dir = \"b\"\n", 2, "appears twice"),
        ("[tires]\ncompact_after = \"2d\"\n", 1, "unknown section [tires]"),
        ("[store]\nmemory_mib = \"512\"\n", 2, "must be a whole number"),
        ("[store]\nfsync = \"sometimes\"\n", 2, "fsync must be"),
        ("\n\ndata_dir = /srv\n", 3, "a value is"),
        ("[archive]\nurl = \"a\"b\"\n", 2, "second '\"'"),
        ("[archive\n", 1, "section header"),
        ("[ ]\nx = 1\n", 1, "section name"),
        ("[archive]\naccess_key = 123\n", 2, "must be a \"string\""),
        ("[archive]\npath_style = \"no\"\n", 2, "must be true or false"),
        ("[archive]\nparallel_parts = 0\n", 2, "must be in 1…64"),
        ("[schedule]\ntier_every = \"0s\"\n", 2, "'tier_every' must be at least 1s"),
        ("[cache]\nurl = \"http://h\"\n", 2, "bad Redis URL"),
        ("[cache]\nprefix = \"a:b\"\n", 2, "without ':'"),
    ])
    func badSettingsAreNamedWithTheirLine(text: String, line: Int, message: String) throws {
        #expect { try StrataConfiguration(try ConfigurationFile(text: text, source: "strata.toml")) } throws: {
            let e = $0 as! StrataError
            return e.code == .invalidInput && e.line == line && e.path == "strata.toml" && e.message.contains(message)
        }
    }

    @Test func aMalformedLineIsNotEchoed() throws {
        #expect { try ConfigurationFile(text: "[archive]\nsecret_key \"s3cr3t/abc=\"\n", source: "f") } throws: {
            let e = $0 as! StrataError
            return e.line == 2 && !e.message.contains("s3cr3t")
        }
    }

    @Test func durationsParse() throws {
        #expect(try parseDuration("0") == 0 && parseDuration("0s") == 0 && parseDuration("250ms") == 250_000_000)
        #expect(try parseDuration("180d") == 180 * Day.nanosecondsPerDay && parseDuration("2w") == 14 * Day.nanosecondsPerDay)
        for bad in ["", "d", "-1d", "1.5h", "1y", "99999999999w"] { #expect(throws: StrataError.self, "\(bad)") { try parseDuration(bad) } }
    }

    /// Days of 2024-01-02 … 2024-01-11, two segments each, seen on 2024-01-12: compact after
    /// 2 days, archive after 6.
    @Test func theTierPolicyCompactsThenArchivesByAge() async throws {
        let root = TemporaryDirectory()
        let scenario = TieringScenario(objects: try LocalObjectStore(directory: root.path + "/bucket"))
        let db = try Database(directory: scenario.root.path + "/data", configuration: scenario.configuration())
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        for day in 0..<10 {
            for part in 0..<2 {
                let t = scenario.base + Int64(day) * Day.nanosecondsPerDay + Int64(part) * 3_600_000_000_000
                try await db.append(es, schema: scenario.schema, rows: RowBlock(timestamps: [t, t + 1], columns: [Column(.float64([1, 2])), Column(.int64([1, 2]))]))
                try db.flush()
            }
        }
        let before = try db.query(es).rows
        var policy = TierPolicy()
        policy.compactAfter = 2 * Day.nanosecondsPerDay
        policy.archiveAfter = 6 * Day.nanosecondsPerDay
        let now = scenario.base + 10 * Day.nanosecondsPerDay  // the end of the last day
        let summary = try policy.apply(to: db, archive: scenario.archive, now: now)
        // Days 0…7 ended at least 2 days ago; days 0…3 at least 6.
        #expect(summary.compacted.seriesDays == 8)
        #expect(summary.archived?.seriesDays == 4)
        for day in 0..<10 {
            let m = try db.store.manifest(SeriesDay(es, Day(containing: scenario.base + Int64(day) * Day.nanosecondsPerDay)))
            switch day {
            case 0..<4: #expect(m.segments.isEmpty && m.cold.count == 1, "day \(day)")
            case 4..<8: #expect(m.segments.count == 1 && m.cold.isEmpty, "day \(day)")
            default: #expect(m.segments.count == 2, "day \(day)")
            }
        }
        #expect(try db.query(es).rows == before)
        // Archiving off: nothing more moves.
        policy.archiveAfter = nil
        #expect(try policy.apply(to: db, archive: scenario.archive, now: now + 100 * Day.nanosecondsPerDay).archived == nil)
        try db.close()
    }
}
