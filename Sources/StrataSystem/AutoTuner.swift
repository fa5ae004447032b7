import StrataArchive
import StrataEngine
import Synchronization

/// The bounds within which `strata serve` retunes itself (the `tuning` section).
public struct TuningBounds: Sendable, Equatable {
    public var enabled = true
    /// Rows of one series that make it due for a flush.
    public var flushRows: ClosedRange<Int> = (64 << 10)...(4 << 20)
    /// Bytes of decompressed archive blocks kept in memory.
    public var cacheBytes: ClosedRange<Int> = (64 << 20)...(1 << 30)

    public init() {}

    /// Reads the bounds; unset ones widen to hold the configured starting values.
    mutating func read(_ file: ConfigurationFile, database: DatabaseConfiguration, cacheBytes start: Int) {
        if let v = file.boolean("tuning", "enabled") { enabled = v }
        // The tuner must not shrink flushes below one block of a segment: each flush writes a
        // segment, and ten-row segments would be mostly headers, checksums and fsyncs.
        let rowsFloor = Int64(database.store.rowsPerBlock)
        let rowsMin = file.integer("tuning", "flush_rows_min", in: rowsFloor...(1 << 30)).map(Int.init)
        let rowsMax = file.integer("tuning", "flush_rows_max", in: rowsFloor...(1 << 30)).map(Int.init)
        let cacheMin = file.integer("tuning", "cache_mib_min", in: 1...(1 << 20)).map { Int($0) << 20 }
        let cacheMax = file.integer("tuning", "cache_mib_max", in: 1...(1 << 20)).map { Int($0) << 20 }
        if let r = Self.bound(file, "flush_rows", rowsMin, rowsMax, default: flushRows, start: database.flushRows, unit: 1, setting: "store.flush_rows") {
            flushRows = r
        }
        if let r = Self.bound(file, "cache_mib", cacheMin, cacheMax, default: cacheBytes, start: start, unit: 1 << 20, setting: "archive.cache_mib") {
            cacheBytes = r
        }
    }

    static func bound(_ file: ConfigurationFile, _ name: String, _ low: Int?, _ high: Int?, default range: ClosedRange<Int>, start: Int, unit: Int,
                      setting: String) -> ClosedRange<Int>? {
        let lower = low ?? min(range.lowerBound, start), upper = high ?? max(range.upperBound, start)
        guard lower <= upper else {
            file.problem("tuning", "\(name)_min", "\(lower / unit) is above tuning.\(name)_max (\(upper / unit)\(high == nil ? ", its default" : ""))")
            return nil
        }
        guard (lower...upper).contains(start) else {
            file.problem("tuning", low != nil && start < lower ? "\(name)_min" : "\(name)_max", "\(setting) (\(start / unit)) lies outside tuning.\(name)_min…\(name)_max (\(lower / unit)…\(upper / unit))")
            return nil
        }
        return lower...upper
    }
}

/// Adjusts the flush threshold and the archive's block cache from the load it observes,
/// within `TuningBounds`, one step (×2 or ÷2) per call; `strata serve` calls it on its
/// schedule. Every change is logged and kept for /status.
///
/// - Flush rows halve when appenders waited for memory or the memtable passed three
///   quarters of its bound since the last call (smaller flushes free memory sooner), and
///   double when flushes were cut by the row threshold with memory to spare (larger
///   segments compress better and need less compaction).
/// - The cache doubles when it evicted blocks while missing more than a tenth of its
///   reads (the working set does not fit), and halves when it went unused while at most
///   a quarter full.
public final class AutoTuner: Sendable {
    public struct Change: Sendable, Equatable {
        /// Wall clock, ns.
        public var at: Int64
        /// The key path of the setting: `store.flush_rows`, `archive.cache_mib`.
        public var setting: String
        public var from: Int
        public var to: Int
        public var reason: String

        public var description: String { "\(setting) \(from) → \(to): \(reason)" }
    }

    public struct Observation: Sendable {
        var database: DatabaseStatistics
        var cache: ColdCacheStatistics?
    }

    public let database: Database
    public let archive: Archive?
    public let bounds: TuningBounds
    let log: @Sendable (Change) -> Void
    struct State {
        var last: Observation?
        var changes: [Change] = []
        var total = 0
    }
    private let state = Mutex(State())
    public static let keptChanges = 50

    public init(database: Database, archive: Archive?, bounds: TuningBounds, log: @escaping @Sendable (Change) -> Void = { _ in }) {
        self.database = database
        self.archive = archive
        self.bounds = bounds
        self.log = log
    }

    /// The latest changes, oldest first, and how many there were in all.
    public var changes: (latest: [Change], total: Int) { state.withLock { ($0.changes, $0.total) } }

    /// Looks at the load since the last call and makes at most one step per setting.
    @discardableResult
    public func tune(now: Int64 = CivilTime.now()) -> [Change] {
        let peak = database.takeMemoryPeak()
        let current = Observation(database: database.statistics, cache: archive?.cacheStatistics)
        let previous = state.withLock { s in
            defer { s.last = current }
            return s.last
        }
        guard let previous, bounds.enabled else { return [] }
        var made: [Change] = []
        if let c = flushStep(previous.database, current.database, peakMemory: peak, now: now) { made.append(c) }
        if let before = previous.cache, let after = current.cache, let c = cacheStep(before, after, now: now) { made.append(c) }
        guard !made.isEmpty else { return [] }
        state.withLock { s in
            s.changes.append(contentsOf: made)
            s.total += made.count
            if s.changes.count > Self.keptChanges { s.changes.removeFirst(s.changes.count - Self.keptChanges) }
        }
        for c in made { log(c) }
        return made
    }

    func flushStep(_ a: DatabaseStatistics, _ b: DatabaseStatistics, peakMemory: Int, now: Int64) -> Change? {
        let rows = database.flushRows
        let limit = database.configuration.memoryLimit
        // Appends that waited for memory, or were refused for it (a server's 503).
        let waits = b.backpressureWaits - a.backpressureWaits + b.backpressureRefusals - a.backpressureRefusals
        if waits > 0 || peakMemory > limit / 4 * 3 {
            let to = max(bounds.flushRows.lowerBound, rows / 2)
            guard to < rows else { return nil }
            database.setFlushRows(to)
            let why = waits > 0 ? "\(waits) append\(waits == 1 ? "" : "s") met the memory bound" : "the memtable reached \(peakMemory * 100 / limit)% of its bound"
            return Change(at: now, setting: "store.flush_rows", from: rows, to: to, reason: why)
        }
        let flushes = b.flushes - a.flushes
        let flushed = b.rowsFlushed - a.rowsFlushed
        // Flushes cut at the threshold (not by age or memory), with memory to spare.
        if flushes > 0, flushed / flushes >= rows * 9 / 10, peakMemory < limit / 4 {
            let to = min(bounds.flushRows.upperBound, rows * 2)
            guard to > rows else { return nil }
            database.setFlushRows(to)
            return Change(at: now, setting: "store.flush_rows", from: rows, to: to,
                          reason: "\(flushes) flush\(flushes == 1 ? "" : "es") averaged \(flushed / flushes) rows with the memtable under a quarter full")
        }
        return nil
    }

    func cacheStep(_ a: ColdCacheStatistics, _ b: ColdCacheStatistics, now: Int64) -> Change? {
        guard let archive else { return nil }
        let hits = b.hits - a.hits, misses = b.misses - a.misses, evicted = b.evictedBytes - a.evictedBytes
        let mib = 1 << 20
        if evicted > 0, misses * 10 > hits + misses {
            let to = min(bounds.cacheBytes.upperBound, b.capacity * 2)
            guard to > b.capacity else { return nil }
            archive.setCacheCapacity(to)
            return Change(at: now, setting: "archive.cache_mib", from: b.capacity / mib, to: to / mib,
                          reason: "\(misses) of \(hits + misses) block reads missed while \(evicted / mib) MiB were evicted")
        }
        if hits + misses == 0, b.bytes <= b.capacity / 4 {
            let to = max(bounds.cacheBytes.lowerBound, b.capacity / 2)
            guard to < b.capacity else { return nil }
            archive.setCacheCapacity(to)
            return Change(at: now, setting: "archive.cache_mib", from: b.capacity / mib, to: to / mib,
                          reason: "unused, \(b.bytes / mib) MiB held")
        }
        return nil
    }
}
