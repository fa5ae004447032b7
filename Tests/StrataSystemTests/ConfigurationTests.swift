import StrataArchive
import StrataCache
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem
import StrataTestSupport
import Testing

@Suite struct ConfigurationTests {
    let sample = """
    {
      "data_dir": "/srv/strata",
      "store": { "fsync": "interval:100", "memory_mib": 1024 },
      "tiers": { "compact_after": "2d", "archive_after": "30d" },
      "archive": { "url": "s3://market-data/strata#1", "path_style": false, "part_size_mib": 16, "cache_mib": 64, "endpoint": null },
      "encryption": { "key_file": "/etc/strata/keys" }
    }
    """

    func parse(_ text: String) throws -> StrataConfiguration {
        try StrataConfiguration(try ConfigurationFile(text: text, source: "strata.json"))
    }

    @Test func aConfigurationFileSetsEverySection() throws {
        let c = try parse(sample)
        #expect(c.dataDirectory == "/srv/strata")
        #expect(c.database.fsync == .interval(milliseconds: 100) && c.database.memoryLimit == 1024 << 20)
        #expect(c.tiers.compactAfter == 2 * Day.nanosecondsPerDay && c.tiers.archiveAfter == 30 * Day.nanosecondsPerDay)
        #expect(c.tiers.flushAge == 600_000_000_000)
        #expect(c.cacheBytes == 64 << 20 && c.encryptionKeyFile == "/etc/strata/keys")
        // The environment wins over the file; the file fills in the rest; null is unset.
        let env = { (name: String) -> String? in name == "S3_PART_SIZE_MIB" ? "32" : nil }
        #expect(c.variable("STRATA_ARCHIVE", environment: env) == "s3://market-data/strata#1")
        #expect(c.variable("S3_PATH_STYLE", environment: env) == "0")
        #expect(c.variable("S3_PART_SIZE_MIB", environment: env) == "32")
        #expect(c.variable("S3_ENDPOINT", environment: env) == nil)
        #expect(c.variable("STRATA_ENCRYPTION_KEY_FILE", environment: env) == "/etc/strata/keys")
        // A key given directly in the environment takes the place of the file's key file.
        #expect(c.variable("STRATA_ENCRYPTION_KEY_FILE", environment: { $0 == "STRATA_ENCRYPTION_KEY" ? "k" : nil }) == nil)
        #expect(try parse(#"{"tiers": {"archive_after": "never"}}"#).tiers.archiveAfter == nil)
        #expect(StrataConfiguration().tiers.archiveAfter == 180 * Day.nanosecondsPerDay)
        // schedule and cache.
        let scheduled = try parse(#"{"schedule": {"tier_every": "30m", "backup_every": "daily 02:30", "quality_every": "never"}, "cache": {"url": "redis://h:6380/2", "window": "15m"}}"#)
        #expect(scheduled.tierSchedule == .every(seconds: 1_800) && scheduled.backupSchedule == .daily(minute: 150) && scheduled.qualitySchedule == nil)
        let cache = try #require(try scheduled.cache(environment: { _ in nil }))
        #expect(cache.url == RedisURL(host: "h", port: 6380, database: 2) && cache.windowSeconds == 900)
        #expect(try scheduled.cache(environment: { $0 == "REDIS_URL" ? "redis://other" : nil })?.url.host == "other")
        let defaults = StrataConfiguration()
        let noCache = try defaults.cache(environment: { _ in nil })
        #expect(defaults.tierSchedule == .every(seconds: 3_600) && defaults.backupSchedule == nil && noCache == nil)
        #expect(defaults.qualitySchedule == .every(seconds: 900) && defaults.tuneSchedule == .every(seconds: 60))
        #expect(try parse(#"{"schedule": {"tier_every": "never"}}"#).tierSchedule == nil)
        // server, quality, tuning.
        let more = try parse("""
            {"server": {"listen": "[::1]:9000", "symbol_tag": "ticker", "max_body_mib": 8, "slow_query": "250ms"},
             "quality": {"trading_hours": "09:00-15:30", "trading_days": "mon-fri", "utc_offset": "+09:00", "max_jump": 0.05, "gap_factor": 10.5},
             "store": {"flush_rows": 1000},
             "tuning": {"flush_rows_max": 16000}}
            """)
        #expect(more.server.listen == "[::1]:9000" && more.server.symbolTag == "ticker" && more.server.maxBodyBytes == 8 << 20)
        #expect(more.server.slowQuerySeconds == 0.25 && ServerSettings.hostAndPort(more.server.listen)! == ("::1", 9000))
        #expect(more.quality.session! == (540, 930) && more.quality.tradingDays == Set(1...5) && more.quality.utcOffsetSeconds == 32_400)
        #expect(more.quality.maxJump == 0.05 && more.quality.gapFactor == 10.5)
        // An unset bound widens to hold the configured value.
        #expect(more.tuning.flushRows == 1_000...16_000)
    }

    /// Bars in the SQL mirror: by default for measurements with a price and a volume, else
    /// the measurements `mirror.bars` names; `STRATA_MIRROR_BARS` wins over the file.
    @Test func mirrorBarsComeByDefaultAndTheEnvironmentWins() throws {
        let dsn = { (name: String) -> String? in name == "TIMESCALE_DSN" ? "host=db" : nil }
        let defaults = try #require(try StrataConfiguration().mirror(environment: dsn))
        #expect(defaults.options.automaticBars && defaults.options.bars.isEmpty)
        let file = try parse(#"{"mirror": {"bars": "trade=price,size; bar=close,volume"}}"#)
        let configured = try #require(try file.mirror(environment: dsn)).options
        #expect(!configured.automaticBars && configured.bars.count == 2)
        #expect(configured.bars["trade"]?.price == "price" && configured.bars["trade"]?.volume == "size" && configured.bars["bar"]?.price == "close")
        let auto = try parse(#"{"mirror": {"bars": "auto; quote=bid"}}"#).mirrorOptions
        #expect(auto.automaticBars && auto.bars["quote"]?.price == "bid" && auto.bars["quote"]?.volume == nil)
        for off in ["", "none", " none ; "] {
            let options = try parse(#"{"mirror": {"bars": "\#(off)"}}"#).mirrorOptions
            #expect(!options.automaticBars && options.bars.isEmpty, "\(off)")
        }
        // The environment replaces the file's setting; set to nothing, it leaves it.
        let env = { (value: String) in { (name: String) -> String? in name == "STRATA_MIRROR_BARS" ? value : dsn(name) } }
        let none = try #require(try file.mirror(environment: env("none"))).options
        #expect(!none.automaticBars && none.bars.isEmpty)
        let quote = try #require(try file.mirror(environment: env("quote=bid,bid_size"))).options
        #expect(!quote.automaticBars && quote.bars.count == 1 && quote.bars["quote"]?.volume == "bid_size")
        #expect(try file.mirror(environment: env(""))?.options.bars.count == 2)
        #expect(try StrataConfiguration().mirror(environment: env("auto"))?.options.automaticBars == true)
        #expect { try file.mirror(environment: env("trade")) } throws: {
            ($0 as! StrataError).message.hasPrefix("STRATA_MIRROR_BARS: bars must read measurement=price[,volume]")
        }
    }

    @Test func measurementsGetTheLayoutsTheConfigurationNames() throws {
        let c = try StrataConfiguration(try ConfigurationFile(text: #"{"store": {"layout": "series"}, "measurements": {"opt": "day packed", "bars": "packed", "ticks": "auto series"}}"#, source: "t.json"))
        #expect(c.database.store.defaultLayout == .layout(.series))
        #expect(c.database.store.layouts == ["opt": .layout(.packed), "bars": .layout(.packed), "ticks": .layout(.series)])
        #expect(c.database.store.partitions == ["opt": .period(.day), "ticks": .auto])
        #expect(StrataConfiguration().database.store.defaultLayout == .auto)
        for bad in [#""heap""#, #""day heap""#, #""packed day""#, #""day packed extra""#] {
            let file = try ConfigurationFile(text: #"{"measurements": {"m": "# + bad + "}}", source: "t.json")
            #expect(throws: StrataError.self) { try StrataConfiguration(file) }
        }
        #expect(throws: StrataError.self) { try StrataConfiguration(try ConfigurationFile(text: #"{"store": {"layout": "heap"}}"#, source: "t.json")) }
    }

    @Test func measurementsGetThePartitionPeriodsTheConfigurationNames() throws {
        let c = try StrataConfiguration(ConfigurationFile(text: #"{"store": {"partition": "day"}, "measurements": {"bar1d": "year", "BTC/USD bars": "month", "x": "auto"}}"#, source: "t.json"))
        #expect(c.database.store.defaultPartition == .period(.day))
        #expect(c.database.store.partitions == ["bar1d": .period(.year), "BTC/USD bars": .period(.month), "x": .auto])
        #expect(StrataConfiguration().database.store.defaultPartition == .auto)
    }

    /// The sample in the repository is valid and sets every setting the loader knows.
    @Test func theSampleConfigurationHasEverySetting() throws {
        let path = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let file = try ConfigurationFile.load("/" + path + "/config/strata.json")
        _ = try StrataConfiguration(file)
        for (section, keys) in StrataConfiguration.knownSettings {
            for key in keys { #expect(file.keyPaths.contains(ConfigurationFile.keyPath(section, key)), "the sample sets \(section).\(key)") }
        }
        let readme = String(decoding: try MappedFile(path: "/" + path + "/README.md").withUnsafeBytes { Array($0) }, as: UTF8.self)
        for (section, keys) in StrataConfiguration.knownSettings {
            for key in keys {
                let documented = readme.contains("`\(ConfigurationFile.keyPath(section, key))`")
                #expect(documented, "README documents \(section).\(key)")
            }
        }
    }

    @Test(arguments: [
        (#"{"tiers": {"compact_after": "2 days"}}"#, 1, "tiers.compact_after", "not a duration"),
        ("{\n\"tiers\": {\n \"keep\": \"2d\"}}", 3, "tiers.keep", "unknown setting (known in tiers:"),
        ("{\"data_dir\": \"a\",\n\"data_dir\": \"b\"}", 2, nil, "appears twice"),
        ("{\n\"tires\": {\"compact_after\": \"2d\"}}", 2, "tires", "unknown section"),
        (#"{"store": {"memory_mib": "512"}}"#, 1, "store.memory_mib", "must be a whole number"),
        (#"{"store": {"fsync": "sometimes"}}"#, 1, "store.fsync", "must be always, none or interval"),
        (#"{"store": {"partition": "fortnight"}}"#, 1, "store.partition", "not a partition period: day, week, month, year or auto"),
        ("{\"measurements\": {\"bar\": \"year\",\n\"tick\": \"hourly\"}}", 2, "measurements.tick", "not a partition period"),
        ("\n\n{\"data_dir\": /srv}", 3, nil, "unexpected '/'"),
        (#"{"archive": {"url": "a"}}"#, 1, "archive.url", "must be file:///DIR or s3://"),
        ("{\"archive\": {\"url\": \"s3://a\"\n", 2, nil, "ends inside an object"),
        (#"{"archive": {"access_key": 123}}"#, 1, "archive.access_key", "must be a \"string\""),
        (#"{"archive": {"path_style": "no"}}"#, 1, "archive.path_style", "must be true or false"),
        (#"{"archive": {"parallel_parts": 0}}"#, 1, "archive.parallel_parts", "must be in 1…64"),
        (#"{"schedule": {"tier_every": "0s"}}"#, 1, "schedule.tier_every", "must be at least 1s"),
        (#"{"schedule": {"backup_every": "daily 25:00"}}"#, 1, "schedule.backup_every", "daily HH:MM (UTC)"),
        (#"{"schedule": {"backup_every": "nightly"}}"#, 1, "schedule.backup_every", "is not a schedule"),
        (#"{"schedule": {"tier_every": "106751d"}}"#, 1, "schedule.tier_every", "at most 366d"),
        (#"{"store": {"flush_rows": 99999999999999999999}}"#, 1, "store.flush_rows", "99999999999999999999 is out of range"),
        (#"{"cache": {"url": "http://h"}}"#, 1, "cache.url", "bad Redis URL"),
        (#"{"cache": {"prefix": "a:b"}}"#, 1, "cache.prefix", "without ':'"),
        (#"{"server": {"listen": "8000"}}"#, 1, "server.listen", "must be HOST:PORT"),
        (#"{"quality": {"trading_hours": "9-17"}}"#, 1, "quality.trading_hours", "HH:MM-HH:MM"),
        (#"{"quality": {"utc_offset": "KST"}}"#, 1, "quality.utc_offset", "±HH:MM"),
        (#"{"mirror": {"bars": "trade=price,size,venue"}}"#, 1, "mirror.bars", "bars must read measurement=price[,volume]"),
        (#"{"mirror": {"bars": "none; trade=price"}}"#, 1, "mirror.bars", "not 'none'"),
        (#"{"store": {"flush_rows": 10000}, "tuning": {"flush_rows_min": 20000}}"#, 1, "tuning.flush_rows_min", "lies outside"),
        // Tuning bounds the engine cannot work with: below one segment block, or min above max.
        (#"{"tuning": {"flush_rows_min": 10}}"#, 1, "tuning.flush_rows_min", "must be in 8192…"),
        (#"{"tuning": {"flush_rows_max": 100}}"#, 1, "tuning.flush_rows_max", "must be in 8192…"),
        (#"{"tuning": {"flush_rows_min": 200000, "flush_rows_max": 100000}}"#, 1, "tuning.flush_rows_min", "200000 is above tuning.flush_rows_max (100000)"),
        (#"{"tuning": {"cache_mib_min": 512, "cache_mib_max": 128}}"#, 1, "tuning.cache_mib_min", "512 is above tuning.cache_mib_max (128)"),
        // A port that is not one, wherever a port is configured.
        ("{\n\"server\": {\"listen\": \"127.0.0.1:notaport\"}}", 2, "server.listen", "must be HOST:PORT"),
        ("{\n\"mirror\": {\"dsn\": \"host=db port=notaport dbname=x\"}}", 2, "mirror.dsn", "the port must be a number from 1 to 65535"),
        (#"{"mirror": {"dsn": "host=a,b port=5432,70000"}}"#, 1, "mirror.dsn", "the port (70000) must be a number from 1 to 65535"),
        (#"{"mirror": {"dsn": "postgresql://strata@db:notaport/market"}}"#, 1, "mirror.dsn", "the port must be a number from 1 to 65535"),
        (#"{"cache": {"url": "redis://h:notaport/0"}}"#, 1, "cache.url", "the port must be 1…65535"),
        (#"{"archive": {"endpoint": "http://127.0.0.1:notaport"}}"#, 1, "archive.endpoint", "the port must be a number from 1 to 65535"),
        (#"{"archive": {"endpoint": "127.0.0.1:8333"}}"#, 1, "archive.endpoint", "must start with http:// or https://"),
        // An archive URL that names no bucket is wrong in itself, whatever the credentials.
        (#"{"archive": {"url": "s3://"}}"#, 1, "archive.url", "S3 bucket name '' must be"),
        (#"{"archive": {"url": "s3:///strata"}}"#, 1, "archive.url", "S3 bucket name '' must be"),
        (#"{"archive": {"url": "file://"}}"#, 1, "archive.url", "must be file:///DIR"),
        (#"{"store": {"wal_file_mib": [1]}}"#, 1, "store.wal_file_mib", "not an array"),
        (#"["store"]"#, 1, nil, "a configuration is a JSON object"),
    ] as [(String, Int, String?, String)])
    func badSettingsAreNamedWithTheirKeyPathAndLine(text: String, line: Int, field: String?, message: String) throws {
        #expect { try parse(text) } throws: {
            let e = $0 as! StrataError
            return e.code == .invalidInput && e.line == line && e.field == field && e.path == "strata.json" && e.message.contains(message)
        }
    }

    /// validate-config's list: every problem, not just the first.
    @Test func everyProblemIsListed() throws {
        let file = try ConfigurationFile(text: """
            {"store": {"memory_mib": 0, "fsync": "x"},
             "cache": {"window": "soon"},
             "bogus": {}}
            """, source: "s.json")
        #expect(throws: StrataError.self) { try StrataConfiguration(file) }
        #expect(Set(file.problems.compactMap(\.field)) == ["bogus", "store.fsync", "store.memory_mib", "cache.window"])
        #expect(file.problems.allSatisfy { $0.line != nil })
    }

    /// A bad setting is recorded once and left at its default, so that the checks that look
    /// at the settings afterwards (the archive the commands would open) do not name it again.
    @Test func aBadArchiveURLIsOneProblemAndIsNotKept() throws {
        for url in ["ftp://x", "s3://", "s3://Bad_Bucket/p"] {
            let file = try ConfigurationFile(text: #"{"archive": {"url": "\#(url)", "endpoint": "http://h:x"}}"#, source: "s.json")
            let c = StrataConfiguration(reading: file)
            #expect(file.problems.compactMap(\.field).sorted() == ["archive.endpoint", "archive.url"], "\(url): \(file.problems)")
            #expect(c.variable("STRATA_ARCHIVE", environment: { _ in nil }) == nil && c.variable("S3_ENDPOINT", environment: { _ in nil }) == nil)
        }
        let good = try parse(#"{"archive": {"url": "s3://market-data/strata", "endpoint": "http://127.0.0.1:8333"}}"#)
        #expect(good.variable("STRATA_ARCHIVE", environment: { _ in nil }) == "s3://market-data/strata")
        #expect(good.variable("S3_ENDPOINT", environment: { _ in nil }) == "http://127.0.0.1:8333")
    }

    /// Every secret the file holds is named (not only the first), also in a setting that is
    /// wrong for another reason, and never by its value.
    @Test func everySecretTheFileHoldsIsNamed() throws {
        let file = try ConfigurationFile(text: """
            {"mirror": {"dsn": "host=db port=notaport password=hunter2"},
             "cache": {"url": "redis://:hunter3@h:6379"},
             "archive": {"access_key": "AKIA", "secret_key": "s3cr3t"}}
            """, source: "s.json")
        let c = StrataConfiguration(reading: file)
        #expect(c.secretsHeld == ["a password (mirror.dsn)", "a password (cache.url)", "the S3 secret key (archive.secret_key)"])
        #expect(file.problems.map(\.field) == ["mirror.dsn"])
        #expect(try parse(#"{"archive": {"secret_key": "s3cr3t"}}"#).secretsHeld == ["the S3 secret key (archive.secret_key)"])
        #expect(try parse(#"{"archive": {"secret_key": ""}, "mirror": {"dsn": "host=db"}}"#).secretsHeld.isEmpty)
    }

    @Test func aMalformedValueIsNotEchoed() throws {
        #expect { try ConfigurationFile(text: "{\"archive\": {\n\"secret_key\" \"s3cr3t/abc=\"}}", source: "f") } throws: {
            let e = $0 as! StrataError
            return e.line == 2 && !e.message.contains("s3cr3t")
        }
    }

    @Test func dailySchedulesWaitUntilTheirTimeOfDay() throws {
        let midnight: Int64 = 1_704_153_600_000_000_000  // 2024-01-02T00:00:00Z
        let hour: Int64 = 3_600_000_000_000
        let at0230 = try #require(try JobSchedule.parse("daily 02:30"))
        #expect(at0230.delay(from: midnight) == 9_000 && at0230.delay(from: midnight + 3 * hour) == 84_600)
        #expect(at0230.delay(from: midnight + 2 * hour + hour / 2) == 86_400)  // just ran: tomorrow
        #expect(at0230.description == "daily at 02:30 UTC" && JobSchedule.every(seconds: 5_400).description == "every 1h30m")
        #expect(try JobSchedule.parse("never") == nil && JobSchedule.parse("15m") == .every(seconds: 900))
    }

    @Test func durationsParse() throws {
        #expect(try parseDuration("0") == 0 && parseDuration("0s") == 0 && parseDuration("250ms") == 250_000_000)
        #expect(try parseDuration("180d") == 180 * Day.nanosecondsPerDay && parseDuration("2w") == 14 * Day.nanosecondsPerDay)
        for bad in ["", "d", "-1d", "1.5h", "1y", "99999999999w"] { #expect(throws: StrataError.self, "\(bad)") { try parseDuration(bad) } }
    }

}
