import StrataArchive
import StrataCache
import StrataEngine
import StrataMirror
import StrataPlatform

/// One running Strata: a store opened from its settings, with the services around it —
/// the archive its cold days are read from, the database mirror, the Redis publisher, the
/// scheduled jobs (tiering, backups, quality scans, tuning). The composition root: `strata
/// serve`, `strata ingest --live` and the HTTP server open a store here, and nowhere else
/// are these services built, started or stopped.
///
///     let instance = try StrataInstance(directory: path, settings: settings, archive: archive)
///     instance.start()           // mirror, publisher, scheduler
///     …
///     let stopped = instance.stop()   // in reverse order; rows still unpublished are counted
///     try instance.close()            // flushes and closes the store
public final class StrataInstance: Sendable {
    /// What the services report as they run, for a surface to show (the CLI prints each on
    /// standard error).
    public enum Event: Sendable {
        /// Opening found damage (a quarantined series-day, a damaged log file).
        case recoveryDamage(StrataError)
        /// Flushes started failing (the rows stay in memory and in the log), or work again (nil).
        case flushFailure(StrataError?)
        /// The database mirror's PostgreSQL was lost or reached again.
        case mirror(Reachability.Change)
        /// The Redis publisher's server was lost or reached again.
        case cache(Reachability.Change, server: String)
        /// Auto-tuning changed a setting.
        case tuning(String)
    }

    /// Which services run beside the store.
    public struct Services: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// The database mirror, when `mirror.dsn` (or TIMESCALE_DSN) is set.
        public static let mirror = Services(rawValue: 1)
        /// The Redis publisher, when `cache.url` (or REDIS_URL) is set.
        public static let cache = Services(rawValue: 2)
        /// Tiering, backups, quality scans and tuning on the settings' schedules.
        public static let scheduledJobs = Services(rawValue: 4)
        public static let all: Services = [.mirror, .cache, .scheduledJobs]
    }

    public let settings: StrataConfiguration
    public let database: Database
    /// The archive cold days are read from and tiering and backups write to (nil: the store
    /// is used without one, and jobs that need one do not run).
    public let archive: StoreArchive?
    public let mirror: Mirror?
    public let publisher: CachePublisher?
    public let scheduler: Scheduler
    /// The latest data-quality scan (empty until one ran), and the auto-tuner when tuning runs.
    public let quality: QualityMonitor
    public let tuner: AutoTuner?

    /// Opens the store in `directory` (creating it), replaying its log, and builds the
    /// services `services` names that the settings configure; nothing runs before `start`.
    /// `adjustMirror` may change the mirror's settings (a test hook of `ingest --live`).
    public init(directory: String, settings: StrataConfiguration, archive: StoreArchive?, services: Services = .all,
                adjustMirror: (inout MirrorConfiguration) -> Void = { _ in },
                events: @escaping @Sendable (Event) -> Void = { _ in }) throws(StrataError) {
        self.settings = settings
        self.archive = archive
        var configuration = settings.database
        if let archive { configuration.store.coldStorage = archive.archive }
        configuration.onFlushFailure = { events(.flushFailure($0)) }
        let database = try Database(directory: directory, configuration: configuration)
        self.database = database
        for damage in database.recovery.damage { events(.recoveryDamage(damage)) }
        do throws(StrataError) {
            mirror = try (services.contains(.mirror) ? settings.mirror() : nil).map { c throws(StrataError) in
                var c = c
                adjustMirror(&c)
                c.onReachabilityChange = { events(.mirror($0)) }
                return try Mirror(database: database, configuration: c)
            }
            publisher = try (services.contains(.cache) ? settings.cache() : nil).map { c throws(StrataError) in
                var c = c
                c.onReachabilityChange = { [server = c.url.description] in events(.cache($0, server: server)) }
                return try CachePublisher(database: database, configuration: c)
            }
        } catch {
            try? database.close()
            throw error
        }
        quality = QualityMonitor(database: database, policy: settings.quality)
        var jobs: [Scheduler.Job] = []
        var tuner: AutoTuner?
        if services.contains(.scheduledJobs) {
            if let schedule = settings.tierSchedule {
                let policy = settings.tiers
                jobs.append(Scheduler.tiering(policy, database: database, archive: policy.archiveAfter == nil ? nil : archive?.archive, every: schedule))
            }
            if let schedule = settings.backupSchedule, let archive {
                jobs.append(Scheduler.backup(archive.backups, database: database, every: schedule))
            }
            if let schedule = settings.qualitySchedule {
                jobs.append(Scheduler.quality(quality, every: schedule))
            }
            if settings.tuning.enabled, let schedule = settings.tuneSchedule {
                let t = AutoTuner(database: database, archive: archive?.archive, bounds: settings.tuning) { events(.tuning($0.description)) }
                tuner = t
                jobs.append(Scheduler.tuning(t, every: schedule))
            }
        }
        self.tuner = tuner
        scheduler = Scheduler(jobs: jobs)
    }

    /// Starts the mirror, the publisher and the scheduled jobs.
    public func start() {
        mirror?.start()
        publisher?.start()
        scheduler.start()
    }

    /// What the Redis publisher left behind when it stopped.
    public struct Stopped: Sendable {
        /// The publisher's counters after it stopped (nil when none ran).
        public var cache: CacheStatus?
        /// Whether Redis was unreachable when the stop began.
        public var cacheWasAway = false
        /// Rows still waiting for Redis when it stopped (dropped).
        public var cacheRowsAtStop = 0
        /// The publisher's window: `strata cache warm` republishes this many seconds of rows.
        public var cacheWindowSeconds = 3_600.0
        /// The mirror's counters after it stopped (nil when none ran).
        public var mirror: MirrorStatus?
        /// Whether the mirror had replicated the whole durable log (`finish` waited for it).
        public var mirrorCaughtUp = false
        /// Whether the publisher had sent every row before it stopped (`finish` waited for it).
        public var cachePublished = false
    }

    /// Gives the mirror up to `mirrorSeconds` (half a second once its database is found away)
    /// and the publisher up to `cacheSeconds` (half a second when Redis is away: the rows are
    /// dropped anyway, Redis is a cache) to send what the log holds, then stops everything
    /// (`stop`). What the mirror does not reach, its next run replicates: the log is kept.
    public func finish(mirrorSeconds: Double = 30, cacheSeconds: Double = 10) -> Stopped {
        let mirrorCaughtUp = mirror.map { (try? $0.waitUntilReplicated(seconds: mirrorSeconds, awaySeconds: 0.5)) != nil } ?? false
        let cachePublished = publisher.map { p in
            (try? p.waitUntilPublished(seconds: p.status.state == .disconnected ? 0.5 : cacheSeconds)) != nil
        } ?? false
        var stopped = stop()
        stopped.mirrorCaughtUp = mirrorCaughtUp
        stopped.cachePublished = cachePublished
        return stopped
    }

    /// Stops the scheduled jobs (after the one in progress), the mirror and the publisher,
    /// in that order; the store stays open.
    @discardableResult
    public func stop() -> Stopped {
        scheduler.stop()
        mirror?.stop()
        var stopped = Stopped()
        stopped.mirror = mirror?.status
        if let publisher {
            stopped.cacheWasAway = !publisher.status.connected
            stopped.cacheRowsAtStop = publisher.stop()
            stopped.cache = publisher.status
            stopped.cacheWindowSeconds = publisher.configuration.windowSeconds
        }
        return stopped
    }

    /// Flushes and closes the store (after `stop`).
    public func close() throws(StrataError) {
        try database.close()
    }
}
