import StrataArchive
import StrataCache
import StrataEngine
import StrataMirror
import StrataPlatform

/// When data moves down the tiers. Ages count from the end of a series-day.
public struct TierPolicy: Sendable, Equatable {
    /// Hot → warm: unflushed rows are flushed into segments at most this long after they
    /// arrived (the memtable also flushes by size).
    public var flushAge: Int64 = 10 * 60 * 1_000_000_000
    /// Days older than this are compacted into one segment (the raw warm tier before it).
    public var compactAfter: Int64 = 7 * Day.nanosecondsPerDay
    /// Days older than this move to the archive (cold); nil: never.
    public var archiveAfter: Int64? = 180 * Day.nanosecondsPerDay

    public init() {}
}

/// Everything a configuration file sets, over built-in defaults. The environment wins over
/// the file (`STRATA_DATA_DIR`, `STRATA_ARCHIVE`, `S3_*`, `TIMESCALE_DSN`, `REDIS_URL`,
/// `STRATA_ENCRYPTION_KEY*`, `STRATA_LISTEN`, `STRATA_API_KEYS_FILE`), and command-line
/// flags win over both. The file is JSON; config/strata.json holds every setting with its
/// default, and the README's configuration table says what each means.
public struct StrataConfiguration: Sendable {
    public var dataDirectory: String?
    public var database = DatabaseConfiguration()
    public var tiers = TierPolicy()
    /// Settings of the archive, keyed by the environment variable each one stands in for
    /// (`STRATA_ARCHIVE`, `S3_ENDPOINT`, …), so that one lookup serves both.
    public var archiveSettings: [String: String] = [:]
    public var cacheBytes = 256 << 20
    public var encryptionKeyFile: String?
    /// Read unencrypted objects although encryption is on (`STRATA_ENCRYPTION_ACCEPT_PLAIN`).
    public var acceptPlain = false
    /// The `mirror` settings (the DSN may also come from `TIMESCALE_DSN`).
    public var mirrorDSN: String?
    public var mirrorOptions = MirrorOptions()
    /// The `cache` settings (the URL may also come from `REDIS_URL`).
    public var cacheURL: String?
    public var cachePrefix: String?
    public var cacheWindowSeconds: Double?
    public var cacheLastTTLSeconds: Double?
    public var cacheBufferRows: Int?
    /// `server`: what `strata serve` listens on and accepts.
    public var server = ServerSettings()
    /// `schedule`: how often `strata serve` applies the tier policy, takes a backup, scans
    /// data quality and retunes itself (nil: never).
    public var tierSchedule: JobSchedule? = .every(seconds: 3_600)
    public var backupSchedule: JobSchedule?
    public var qualitySchedule: JobSchedule? = .every(seconds: 900)
    public var tuneSchedule: JobSchedule? = .every(seconds: 60)
    /// `quality`: what counts as a gap, an outlier, a price or a volume.
    public var quality = QualityPolicy()
    /// `tuning`: the bounds within which `strata serve` adjusts itself.
    public var tuning = TuningBounds()
    public let source: String?

    public init(source: String? = nil) { self.source = source }

    /// Every section and its settings, for unknown-key checks and the sample's test.
    public static let knownSettings: [String: Set<String>] = [
        "": ["data_dir"],
        "store": ["fsync", "flush_rows", "memory_mib", "wal_file_mib", "compact_after_segments", "max_series", "partition", "layout"],
        "tiers": ["flush_age", "compact_after", "archive_after"],
        "archive": ["url", "endpoint", "region", "access_key", "secret_key", "path_style", "part_size_mib", "parallel_parts", "cache_mib"],
        "encryption": ["key_file", "accept_plain"],
        "mirror": ["dsn", "schema", "compress_after", "retention", "bars"],
        "cache": ["url", "prefix", "window", "last_ttl", "buffer_rows"],
        "server": ["listen", "api_keys_file", "symbol_tag", "max_concurrent_requests", "max_body_mib", "max_line_kib", "slow_query"],
        "schedule": ["tier_every", "backup_every", "quality_every", "tune_every"],
        "quality": ["gap_factor", "min_gap", "trading_hours", "trading_days", "utc_offset", "max_jump", "lookback", "price_fields", "volume_fields"],
        "tuning": ["enabled", "flush_rows_min", "flush_rows_max", "cache_mib_min", "cache_mib_max"],
    ]

    /// Reads a configuration file; throws its first problem.
    public static func load(_ path: String) throws(StrataError) -> StrataConfiguration {
        try StrataConfiguration(try ConfigurationFile.load(path))
    }

    /// Every problem of a configuration file, in the order of its lines, and its settings
    /// with each bad one left at its default (nil when the file is not JSON at all), so that
    /// checks across settings and the environment can go on.
    public static func check(_ path: String) -> (settings: StrataConfiguration?, problems: [StrataError]) {
        do throws(StrataError) {
            let file = try ConfigurationFile.load(path)
            let settings = StrataConfiguration(reading: file)
            let byLine = file.problems.enumerated().sorted { ($0.element.line ?? 0, $0.offset) < ($1.element.line ?? 0, $1.offset) }
            return (settings, byLine.map(\.element))
        } catch {
            return (nil, [error])
        }
    }

    public init(_ file: ConfigurationFile) throws(StrataError) {
        self.init(reading: file)
        try file.throwIfProblems()
    }

    /// Reads every setting, recording problems in `file` instead of stopping at the first.
    public init(reading file: ConfigurationFile) {
        source = file.source
        file.checkSections(Set(Self.knownSettings.keys.filter { !$0.isEmpty }).union(["measurements"]))
        for (section, known) in Self.knownSettings where file.sectionLines[section] != nil || section.isEmpty {
            file.check(section, known: known)
        }
        dataDirectory = file.string("", "data_dir")

        if let policy = file.parsed("store", "fsync", { text throws(StrataError) in
            guard let p = FsyncPolicy(parsing: text) else { throw StrataError(.invalidInput, "must be always, none or interval:<ms> (1…60000), not '\(text)'") }
            return p
        }) { database.fsync = policy }
        if let v = file.integer("store", "flush_rows", in: 1...(1 << 30)) { database.flushRows = Int(v) }
        if let v = file.integer("store", "memory_mib", in: 1...(1 << 20)) { database.memoryLimit = Int(v) << 20 }
        if let v = file.integer("store", "wal_file_mib", in: 1...(1 << 14)) { database.walFileSize = Int(v) << 20 }
        if let v = file.integer("store", "compact_after_segments", in: 0...1_000_000) { database.compactAfterSegments = Int(v) }
        if let v = file.integer("store", "max_series", in: 1...(1 << 40)) { database.maxSeries = Int(v) }
        if let choice = file.parsed("store", "partition", Self.parsePartition) { database.store.defaultPartition = choice }
        if let choice = file.parsed("store", "layout", Self.parseLayout) { database.store.defaultLayout = choice }
        // `measurements`: each measurement's partition period and layout, by name.
        for (name, _) in (file.sections["measurements"] ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let (partition, layout) = file.parsed("measurements", name, Self.parseMeasurement) else { continue }
            if case .failure(let problem) = Result(catching: { () throws(StrataError) in try Names.validateDirectory(name, what: "measurement") }) {
                file.problem("measurements", name, problem.message)
                continue
            }
            if let partition { database.store.partitions[name] = partition }
            if let layout { database.store.layouts[name] = layout }
        }

        if let v = file.duration("tiers", "flush_age") { tiers.flushAge = v }
        if let v = file.duration("tiers", "compact_after") { tiers.compactAfter = v }
        if let v = file.parsed("tiers", "archive_after", Self.durationOrNever) { tiers.archiveAfter = v }
        database.flushAge = tiers.flushAge

        let strings = ["region": "S3_REGION", "access_key": "S3_ACCESS_KEY", "secret_key": "S3_SECRET_KEY"]
        let numbers = ["part_size_mib": ("S3_PART_SIZE_MIB", Int64(5)...5120), "parallel_parts": ("S3_PARALLEL_PARTS", Int64(1)...64)]
        for (key, variable) in strings {
            if let s = file.string("archive", key) { archiveSettings[variable] = s }
        }
        // A bad URL or endpoint is named here, with its line, and not kept: the checks of the
        // archive a command would open then see none and do not name it again.
        if let url = file.parsed("archive", "url", Self.checkArchiveURL) { archiveSettings["STRATA_ARCHIVE"] = url }
        if let endpoint = file.parsed("archive", "endpoint", { text throws(StrataError) in try S3Configuration.checkEndpoint(text); return text }) {
            archiveSettings["S3_ENDPOINT"] = endpoint
        }
        for (key, (variable, range)) in numbers {
            if let v = file.integer("archive", key, in: range) { archiveSettings[variable] = String(v) }
        }
        if let b = file.boolean("archive", "path_style") { archiveSettings["S3_PATH_STYLE"] = b ? "1" : "0" }
        if let v = file.integer("archive", "cache_mib", in: 1...(1 << 20)) { cacheBytes = Int(v) << 20 }

        encryptionKeyFile = file.string("encryption", "key_file")
        acceptPlain = file.boolean("encryption", "accept_plain") ?? false

        mirrorDSN = file.parsed("mirror", "dsn") { text throws(StrataError) in try PostgresConnection.checkConnectionString(text); return text }
        if let schema = file.string("mirror", "schema") { mirrorOptions.schema = schema }
        if let v = file.duration("mirror", "compress_after") { mirrorOptions.compressAfterSeconds = v / 1_000_000_000 }
        if let v = file.duration("mirror", "retention") { mirrorOptions.retentionSeconds = v / 1_000_000_000 }
        if let bars = file.parsed("mirror", "bars", StrataConfiguration.parseBars) {
            (mirrorOptions.automaticBars, mirrorOptions.bars) = (bars.automatic, bars.measurements)
        }

        if let url = file.parsed("cache", "url", { text throws(StrataError) in _ = try RedisURL(parsing: text); return text }) { cacheURL = url }
        if let prefix = file.string("cache", "prefix") {
            if prefix.isEmpty || prefix.contains(":") { file.problem("cache", "prefix", "the key prefix must be non-empty and without ':', not '\(prefix)'") } else { cachePrefix = prefix }
        }
        cacheWindowSeconds = file.duration("cache", "window").map { Double($0) / 1e9 }
        cacheLastTTLSeconds = file.duration("cache", "last_ttl").map { Double($0) / 1e9 }
        cacheBufferRows = file.integer("cache", "buffer_rows", in: 1_000...(1 << 30)).map { Int($0) }

        server.read(file)

        tierSchedule = Self.schedule(file, "tier_every", default: tierSchedule)
        backupSchedule = Self.schedule(file, "backup_every", default: backupSchedule)
        qualitySchedule = Self.schedule(file, "quality_every", default: qualitySchedule)
        tuneSchedule = Self.schedule(file, "tune_every", default: tuneSchedule)

        quality.read(file)
        tuning.read(file, database: database, cacheBytes: cacheBytes)

        // Secrets as the file has them, also in a setting that is wrong for another reason.
        if let dsn = file.text("mirror", "dsn"), PostgresConnection.holdsPassword(dsn) { secretsHeld.append("a password (mirror.dsn)") }
        // A Redis URL's credentials are what comes before its last '@' (a password alone
        // when there is no ':'), so one that cannot be parsed may still hold a password.
        if let url = file.text("cache", "url"), (try? RedisURL(parsing: url)).map({ $0.password != nil }) ?? url.contains("@") {
            secretsHeld.append("a password (cache.url)")
        }
        if file.text("archive", "secret_key").map({ !$0.isEmpty }) == true { secretsHeld.append("the S3 secret key (archive.secret_key)") }
    }

    /// An archive URL: `file:///DIR`, or `s3://BUCKET[/PREFIX]` with a bucket name and a
    /// prefix S3 takes; what a command would open it with (credentials, endpoint) is
    /// checked where it is opened.
    public static func checkArchiveURL(_ url: String) throws(StrataError) -> String {
        if url.hasPrefix("s3://") {
            let rest = url.dropFirst("s3://".count)
            let bucket = rest.prefix { $0 != "/" }
            try S3Configuration.checkBucket(String(bucket), prefix: normalizedPrefix(String(rest.dropFirst(bucket.count))))
            return url
        }
        guard url.hasPrefix("file://"), url.count > "file://".count else {
            throw StrataError(.invalidInput, "must be file:///DIR or s3://BUCKET[/PREFIX], not '\(url)'")
        }
        return url
    }

    /// A duration, or "never" (nil).
    static func durationOrNever(_ text: String) throws(StrataError) -> Int64? {
        text == "never" ? nil : try parseDuration(text)
    }

    /// A `schedule` setting: a duration of at least a second, daily HH:MM, or "never".
    static func schedule(_ file: ConfigurationFile, _ key: String, default value: JobSchedule?) -> JobSchedule? {
        guard file.string("schedule", key) != nil else { return value }
        return file.parsed("schedule", key, JobSchedule.parse) ?? value
    }

    /// A partition period (`day`, `week`, `month`, `year`) or `auto`.
    static func parsePartition(_ text: String) throws(StrataError) -> PartitionChoice {
        guard let choice = PartitionChoice(text) else {
            throw StrataError(.invalidInput, "'\(text)' is not a partition period: day, week, month, year or auto")
        }
        return choice
    }

    /// A layout (`series`, `packed`) or `auto`.
    static func parseLayout(_ text: String) throws(StrataError) -> LayoutChoice {
        guard let choice = LayoutChoice(text) else {
            throw StrataError(.invalidInput, "'\(text)' is not a layout: series, packed or auto")
        }
        return choice
    }

    /// A `measurements` entry: a partition period (or `auto`), a layout, or both in that
    /// order (`"year"`, `"packed"`, `"day packed"`).
    static func parseMeasurement(_ text: String) throws(StrataError) -> (PartitionChoice?, LayoutChoice?) {
        let words = text.split(separator: " ").map(String.init)
        switch words.count {
        case 1:
            if let p = PartitionChoice(words[0]) { return (p, nil) }
            if let l = LayoutChoice(words[0]) { return (nil, l) }
        case 2:
            if let p = PartitionChoice(words[0]), let l = LayoutChoice(words[1]) { return (p, l) }
        default: break
        }
        throw StrataError(.invalidInput, "'\(text)' is not a partition period (day, week, month, year, auto), a layout (series, packed), or a period and a layout")
    }

    /// `trade=price,size; bar=close,volume`: the measurements that get bars, with their price
    /// field and optional volume field, and no others; `auto` among them keeps the default
    /// for the others (a numeric `price` and `size`, `volume`, `qty` or `quantity`), and is
    /// the default; `none` or nothing at all: no bars.
    public static func parseBars(_ text: String) throws(StrataError) -> (automatic: Bool, measurements: [String: MirrorOptions.BarFields]) {
        let items = text.split(separator: ";").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
        if items == ["none"] || items.isEmpty { return (false, [:]) }
        var automatic = false
        var out: [String: MirrorOptions.BarFields] = [:]
        for item in items {
            if item == "auto" {
                automatic = true
                continue
            }
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces() }
            let fields = parts.count == 2 ? parts[1].split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces() } : []
            guard parts.count == 2, !parts[0].isEmpty, (1...2).contains(fields.count), fields.allSatisfy({ !$0.isEmpty }) else {
                throw StrataError(.invalidInput, "bars must read measurement=price[,volume]; … (e.g. trade=price,size), auto or none, not '\(item)'")
            }
            out[parts[0]] = MirrorOptions.BarFields(price: fields[0], volume: fields.count == 2 ? fields[1] : nil)
        }
        return (automatic, out)
    }

    /// The secrets the file holds (by name, never the value): a password in the mirror's DSN
    /// or the cache's URL, the S3 secret key. A file that every user may read must hold none.
    public private(set) var secretsHeld: [String] = []

    /// The mirror's settings: the DSN from `TIMESCALE_DSN`, else the file's `[mirror] dsn`;
    /// nil when neither is set (the mirror is off). `STRATA_MIRROR_SCHEMA` and
    /// `STRATA_MIRROR_BARS` win over the file's `schema` and `bars`; throws on malformed bars.
    public func mirror(environment: (String) -> String? = Environment.variable) throws(StrataError) -> MirrorConfiguration? {
        guard let dsn = environment("TIMESCALE_DSN").flatMap({ $0.isEmpty ? nil : $0 }) ?? mirrorDSN else { return nil }
        var c = MirrorConfiguration(dsn: dsn)
        c.options = mirrorOptions
        if let schema = environment("STRATA_MIRROR_SCHEMA"), !schema.isEmpty { c.options.schema = schema }
        if let text = environment("STRATA_MIRROR_BARS"), !text.isEmpty {
            do throws(StrataError) {
                (c.options.automaticBars, c.options.bars) = try Self.parseBars(text)
            } catch {
                throw StrataError(.invalidInput, "STRATA_MIRROR_BARS: \(error.message)")
            }
        }
        return c
    }

    /// The Redis hot tier's settings: the URL from `REDIS_URL`, else the file's `[cache] url`;
    /// nil when neither is set (publishing is off). Throws on a malformed URL.
    public func cache(environment: (String) -> String? = Environment.variable) throws(StrataError) -> CacheConfiguration? {
        guard let text = environment("REDIS_URL").flatMap({ $0.isEmpty ? nil : $0 }) ?? cacheURL else { return nil }
        var c = CacheConfiguration(url: try RedisURL(parsing: text))
        if let v = cachePrefix { c.prefix = v }
        if let v = cacheWindowSeconds { c.windowSeconds = v }
        if let v = cacheLastTTLSeconds { c.lastTTLSeconds = v }
        if let v = cacheBufferRows { c.bufferRows = v }
        return c
    }

    /// A setting looked up in the environment first, then in this file.
    public func variable(_ name: String, environment: (String) -> String? = Environment.variable) -> String? {
        if let v = environment(name), !v.isEmpty { return v }
        switch name {
        case "STRATA_DATA_DIR": return dataDirectory
        case "STRATA_ENCRYPTION_ACCEPT_PLAIN": return acceptPlain ? "1" : nil
        case "STRATA_ENCRYPTION_KEY_FILE":
            // A key given directly in the environment wins over the file's key file.
            return environment("STRATA_ENCRYPTION_KEY").map { $0.isEmpty } ?? true ? encryptionKeyFile : nil
        default: return archiveSettings[name]
        }
    }
}
