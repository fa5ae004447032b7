import StrataArchive
import StrataCache
import StrataEngine
import StrataMirror

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
/// the file (`STRATA_DATA_DIR`, `STRATA_ARCHIVE`, `S3_*`, `STRATA_ENCRYPTION_KEY*`), and
/// command-line flags win over both.
///
///     data_dir = "/var/lib/strata"
///
///     [store]
///     fsync = "interval:100"         # always | none | interval:<ms>
///     flush_rows = 1048576
///     memory_mib = 512
///
///     [tiers]
///     flush_age = "10m"              # hot → warm
///     compact_after = "7d"           # warm days are compacted after this
///     archive_after = "180d"         # and moved to the archive after this ("never": kept)
///
///     [archive]
///     url = "s3://market-data/strata"   # or "file:///srv/strata-archive"
///     endpoint = "https://s3.eu-west-1.amazonaws.com"
///     region = "eu-west-1"
///     access_key = "…"               # better: S3_ACCESS_KEY / S3_SECRET_KEY in the environment
///     secret_key = "…"
///     path_style = false
///     part_size_mib = 8
///     parallel_parts = 4
///     cache_mib = 256
///
///     [encryption]
///     key_file = "/etc/strata/keys"  # encrypts cold objects and backups
///
///     [cache]
///     url = "redis://:password@127.0.0.1:6379/0"   # or REDIS_URL
///     prefix = "strata"
///     window = "1h"                  # each series' stream keeps this much of its data
///     last_ttl = "1d"                # the last hashes expire after this without rows
///     buffer_rows = 1000000          # rows waiting while Redis is away; older are dropped
///
///     [schedule]                     # work strata serve does on its own
///     tier_every = "1h"              # apply [tiers] (compact, archive); "never": off
///     backup_every = "24h"           # incremental backup to the archive (default: never)
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
    /// The `[mirror]` settings (the DSN may also come from `TIMESCALE_DSN`).
    public var mirrorDSN: String?
    public var mirrorOptions = MirrorOptions()
    /// The `[cache]` settings (the URL may also come from `REDIS_URL`).
    public var cacheURL: String?
    public var cachePrefix: String?
    public var cacheWindowSeconds: Double?
    public var cacheLastTTLSeconds: Double?
    public var cacheBufferRows: Int?
    /// `[schedule]`: how often `strata serve` applies the tier policy and takes a backup
    /// (nil: never; the tier policy runs hourly unless the file says otherwise).
    public var tierEverySeconds: Double? = 3_600
    public var backupEverySeconds: Double?
    public let source: String?

    public init(source: String? = nil) { self.source = source }

    /// Reads a configuration file.
    public static func load(_ path: String) throws(StrataError) -> StrataConfiguration {
        try StrataConfiguration(try ConfigurationFile.load(path))
    }

    public init(_ file: ConfigurationFile) throws(StrataError) {
        source = file.source
        try file.checkSections(["store", "tiers", "archive", "encryption", "mirror", "cache", "schedule"])
        try file.check("", known: ["data_dir"])
        dataDirectory = try file.string("", "data_dir")

        try file.check("store", known: ["fsync", "flush_rows", "memory_mib", "wal_file_mib", "compact_after_segments"])
        if let text = try file.string("store", "fsync") {
            guard let policy = FsyncPolicy(parsing: text) else {
                throw StrataError(.invalidInput, "fsync must be always, none or interval:<ms> (1…60000), not '\(text)'",
                                  path: file.source, line: file.sections["store"]?["fsync"]?.line)
            }
            database.fsync = policy
        }
        if let v = try file.integer("store", "flush_rows", in: 1...(1 << 30)) { database.flushRows = Int(v) }
        if let v = try file.integer("store", "memory_mib", in: 1...(1 << 20)) { database.memoryLimit = Int(v) << 20 }
        if let v = try file.integer("store", "wal_file_mib", in: 1...(1 << 14)) { database.walFileSize = Int(v) << 20 }
        if let v = try file.integer("store", "compact_after_segments", in: 0...1_000_000) { database.compactAfterSegments = Int(v) }

        try file.check("tiers", known: ["flush_age", "compact_after", "archive_after"])
        if let v = try file.duration("tiers", "flush_age") { tiers.flushAge = v }
        if let v = try file.duration("tiers", "compact_after") { tiers.compactAfter = v }
        if try file.string("tiers", "archive_after") == "never" {
            tiers.archiveAfter = nil
        } else if let v = try file.duration("tiers", "archive_after") {
            tiers.archiveAfter = v
        }
        database.flushAge = tiers.flushAge

        let strings = ["url": "STRATA_ARCHIVE", "endpoint": "S3_ENDPOINT", "region": "S3_REGION", "access_key": "S3_ACCESS_KEY",
                       "secret_key": "S3_SECRET_KEY"]
        let numbers = ["part_size_mib": ("S3_PART_SIZE_MIB", Int64(5)...5120), "parallel_parts": ("S3_PARALLEL_PARTS", Int64(1)...64)]
        try file.check("archive", known: Set(strings.keys).union(numbers.keys).union(["path_style", "cache_mib"]))
        for (key, variable) in strings {
            if let s = try file.string("archive", key) { archiveSettings[variable] = s }
        }
        for (key, (variable, range)) in numbers {
            if let v = try file.integer("archive", key, in: range) { archiveSettings[variable] = String(v) }
        }
        if let b = try file.boolean("archive", "path_style") { archiveSettings["S3_PATH_STYLE"] = b ? "1" : "0" }
        if let v = try file.integer("archive", "cache_mib", in: 1...(1 << 20)) { cacheBytes = Int(v) << 20 }

        try file.check("encryption", known: ["key_file", "accept_plain"])
        encryptionKeyFile = try file.string("encryption", "key_file")
        acceptPlain = try file.boolean("encryption", "accept_plain") ?? false

        try file.check("mirror", known: ["dsn", "schema", "compress_after", "retention", "bars"])
        mirrorDSN = try file.string("mirror", "dsn")
        if let schema = try file.string("mirror", "schema") { mirrorOptions.schema = schema }
        if let v = try file.duration("mirror", "compress_after") { mirrorOptions.compressAfterSeconds = v / 1_000_000_000 }
        if let v = try file.duration("mirror", "retention") { mirrorOptions.retentionSeconds = v / 1_000_000_000 }
        if let text = try file.string("mirror", "bars") {
            do throws(StrataError) {
                mirrorOptions.bars = try StrataConfiguration.parseBars(text)
            } catch {
                throw StrataError(.invalidInput, error.message, path: file.source, line: file.sections["mirror"]?["bars"]?.line)
            }
        }

        try file.check("cache", known: ["url", "prefix", "window", "last_ttl", "buffer_rows"])
        cacheURL = try file.string("cache", "url")
        if let url = cacheURL {
            do throws(StrataError) {
                _ = try RedisURL(parsing: url)
            } catch {
                throw StrataError(.invalidInput, error.message, path: file.source, line: file.sections["cache"]?["url"]?.line, field: "cache.url")
            }
        }
        cachePrefix = try file.string("cache", "prefix")
        if let prefix = cachePrefix, prefix.isEmpty || prefix.contains(":") {
            throw StrataError(.invalidInput, "the key prefix must be non-empty and without ':', not '\(prefix)'", path: file.source,
                              line: file.sections["cache"]?["prefix"]?.line, field: "cache.prefix")
        }
        cacheWindowSeconds = try file.duration("cache", "window").map { Double($0) / 1e9 }
        cacheLastTTLSeconds = try file.duration("cache", "last_ttl").map { Double($0) / 1e9 }
        cacheBufferRows = try file.integer("cache", "buffer_rows", in: 1_000...(1 << 30)).map { Int($0) }

        try file.check("schedule", known: ["tier_every", "backup_every"])
        tierEverySeconds = try Self.every(file, "tier_every", default: tierEverySeconds)
        backupEverySeconds = try Self.every(file, "backup_every", default: backupEverySeconds)
    }

    /// A `[schedule]` interval: a duration of at least a second, or "never".
    static func every(_ file: ConfigurationFile, _ key: String, default value: Double?) throws(StrataError) -> Double? {
        if try file.string("schedule", key) == "never" { return nil }
        guard let v = try file.duration("schedule", key) else { return value }
        guard v >= 1_000_000_000 else {
            throw StrataError(.invalidInput, "'\(key)' must be at least 1s", path: file.source, line: file.sections["schedule"]?[key]?.line)
        }
        return Double(v) / 1e9
    }

    /// `trade=price,size; bar=close,volume`: measurements that get 1-minute bars, with their
    /// price field and optional volume field.
    public static func parseBars(_ text: String) throws(StrataError) -> [String: MirrorOptions.BarFields] {
        var out: [String: MirrorOptions.BarFields] = [:]
        for item in text.split(separator: ";") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces() }
            let fields = parts.count == 2 ? parts[1].split(separator: ",").map { $0.trimmingSpaces() } : []
            guard parts.count == 2, !parts[0].isEmpty, (1...2).contains(fields.count), fields.allSatisfy({ !$0.isEmpty }) else {
                throw StrataError(.invalidInput, "bars must read measurement=price[,volume]; … (e.g. trade=price,size), not '\(item)'")
            }
            out[parts[0]] = MirrorOptions.BarFields(price: fields[0], volume: fields.count == 2 ? fields[1] : nil)
        }
        return out
    }

    /// The mirror's settings: the DSN from `TIMESCALE_DSN`, else the file's `[mirror] dsn`;
    /// nil when neither is set (the mirror is off).
    public func mirror(environment: (String) -> String? = Keyring.environmentVariable) -> MirrorConfiguration? {
        guard let dsn = environment("TIMESCALE_DSN").flatMap({ $0.isEmpty ? nil : $0 }) ?? mirrorDSN else { return nil }
        var c = MirrorConfiguration(dsn: dsn)
        c.options = mirrorOptions
        if let schema = environment("STRATA_MIRROR_SCHEMA"), !schema.isEmpty { c.options.schema = schema }
        return c
    }

    /// The Redis hot tier's settings: the URL from `REDIS_URL`, else the file's `[cache] url`;
    /// nil when neither is set (publishing is off). Throws on a malformed URL.
    public func cache(environment: (String) -> String? = Keyring.environmentVariable) throws(StrataError) -> CacheConfiguration? {
        guard let text = environment("REDIS_URL").flatMap({ $0.isEmpty ? nil : $0 }) ?? cacheURL else { return nil }
        var c = CacheConfiguration(url: try RedisURL(parsing: text))
        if let v = cachePrefix { c.prefix = v }
        if let v = cacheWindowSeconds { c.windowSeconds = v }
        if let v = cacheLastTTLSeconds { c.lastTTLSeconds = v }
        if let v = cacheBufferRows { c.bufferRows = v }
        return c
    }

    /// A setting looked up in the environment first, then in this file.
    public func variable(_ name: String, environment: (String) -> String? = Keyring.environmentVariable) -> String? {
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
