import StrataArchive
import StrataCache
import StrataEngine
import StrataMirror
import StrataPlatform

/// The one-off operations of a store's commands (`strata archive`, `tier`, `mirror`,
/// `cache`): each runs a service on an opened instance, or on the settings alone when it
/// needs no writer, so that the surfaces above StrataSystem never build a service
/// themselves.
extension StrataInstance {
    /// Archives every series-day that ended more than `olderThan` nanoseconds ago (each one
    /// compacted, uploaded and verified before its local segments go).
    public func pushToArchive(olderThan: Int64, measurement: String? = nil) throws(StrataError) -> Archive.PushSummary {
        try requireArchive().push(database, olderThan: olderThan, measurement: measurement)
    }

    /// Brings the archived days of `series` within [`from`, `to`] back to local disk; returns
    /// the segments restored.
    public func restoreFromArchive(series: SeriesKey, from: Int64, to: Int64) throws(StrataError) -> Int {
        try requireArchive().restore(database, series: series, from: from, to: to)
    }

    /// One pass of `policy` (compaction, then archiving when it is on) over `measurement`, or
    /// over every measurement.
    public func applyTiers(_ policy: TierPolicy, measurement: String? = nil) throws(StrataError) -> TieringSummary {
        try policy.apply(to: database, archive: policy.archiveAfter == nil ? nil : try requireArchive(), measurement: measurement)
    }

    /// Backfills the mirror named by `dsn` (else the settings'): catches up with the log,
    /// then replaces each series-day of `measurement` within [`from`, `to`].
    public func syncMirror(dsn: String? = nil, measurement: String? = nil, from: Int64 = .min, to: Int64 = .max) throws(StrataError) -> Mirror.SyncSummary {
        try Mirror(database: database, configuration: try settings.requireMirror(dsn: dsn)).sync(measurement: measurement, from: from, to: to)
    }

    /// Compares row counts and sums per series-day between the store and the mirror.
    public func verifyMirror(dsn: String? = nil, measurement: String? = nil, day: Day? = nil) throws(StrataError) -> (compared: Int, differences: [Mirror.Difference]) {
        try Mirror(database: database, configuration: try settings.requireMirror(dsn: dsn)).verify(measurement: measurement, day: day)
    }

    private func requireArchive() throws(StrataError) -> Archive {
        guard let archive else { throw StrataError(.invalidInput, "this operation needs an archive, and the store was opened without one") }
        return archive.archive
    }
}

extension StrataConfiguration {
    /// The mirror's settings with `dsn` (a command's `--dsn`) over the configured connection
    /// string; throws when neither names a database.
    func requireMirror(dsn: String?) throws(StrataError) -> MirrorConfiguration {
        guard var c = try mirror() ?? dsn.map({ MirrorConfiguration(dsn: $0) }) else {
            throw StrataError(.invalidInput, "no mirror database: give --dsn, or set TIMESCALE_DSN or mirror.dsn in the configuration")
        }
        if let dsn { c.dsn = dsn }
        return c
    }

    /// The Redis settings with `url` (a command's `--url`) over the configured one; throws
    /// when neither names a server.
    func requireCache(url: String?) throws(StrataError) -> CacheConfiguration {
        if let url {
            let parsed = try RedisURL(parsing: url)
            var c = try cache() ?? CacheConfiguration(url: parsed)
            c.url = parsed
            return c
        }
        guard let c = try cache() else {
            throw StrataError(.invalidInput, "no Redis: give --url, or set REDIS_URL or cache.url in the configuration")
        }
        return c
    }

    /// Where the mirror of the store in `dataDirectory` is (cursor, lag, extension), read
    /// from the database named by `dsn` (else the settings'); the store is only read.
    public func mirrorReport(dataDirectory: String, dsn: String? = nil) throws(StrataError) -> MirrorReport {
        try MirrorReport.inspect(dataDirectory: dataDirectory, configuration: try requireMirror(dsn: dsn))
    }

    /// Whether Redis (at `url`, else the settings') answers, the store's publisher's state and
    /// the streams under the prefix; the store is only read.
    public func cacheReport(dataDirectory: String, url: String? = nil) throws(StrataError) -> CacheReport {
        try CacheReport.inspect(dataDirectory: dataDirectory, configuration: try requireCache(url: url))
    }

    /// Republishes each series' last window of rows to Redis (at `url`, else the settings')
    /// from the store in `dataDirectory`, read without taking the writer's lock (cold days
    /// through `archive`). `measurement` and `symbols` narrow it; a symbol or measurement
    /// the store does not hold is an error, not "0 series".
    public func warmCache(dataDirectory: String, url: String? = nil, archive: StoreArchive?,
                          measurement: String? = nil, symbols: Set<String> = []) throws(StrataError) -> CacheWarm.Summary {
        let c = try requireCache(url: url)
        var configuration = StoreConfiguration()
        configuration.coldStorage = archive?.archive
        let store = try Store(directory: dataDirectory, configuration: configuration)
        if let measurement {
            _ = try store.existingSeries(measurement: measurement, symbols: symbols.isEmpty ? nil : symbols.sorted())
        } else if !symbols.isEmpty {
            var known = Set<String>()
            for m in try store.measurements() { known.formUnion(try store.symbols(m)) }
            if let missing = symbols.sorted().first(where: { !known.contains($0) }) {
                throw StrataError(.notFound, "no measurement has a symbol '\(missing)'", path: store.directory, field: "symbol")
            }
        }
        let connection = try RedisConnection(c.url, timeoutMilliseconds: c.timeoutMilliseconds)
        return try CacheWarm.warm(store: store, connection: connection, configuration: c, measurement: measurement, symbols: symbols)
    }
}
