import StrataFormat
import StrataPlatform

/// Settings of a live database.
public struct DatabaseConfiguration: Sendable {
    public var store = StoreConfiguration()
    /// When an append counts as durable (see `FsyncPolicy`).
    public var fsync: FsyncPolicy = .always
    /// A WAL file is finished, and the next begun, when it would grow past this.
    public var walFileSize = 64 << 20
    /// At most this many bytes of log are kept for a reader of the log (the database
    /// mirror); beyond it the retention is dropped, the disk is not filled, and the reader
    /// finds its position gone (the mirror then reports "needs sync").
    public var maxRetainedLogBytes = 8 << 30
    /// A series is flushed into segments when it has this many unflushed rows...
    public var flushRows = 1 << 20
    /// ...or when its oldest unflushed row arrived this many nanoseconds ago.
    public var flushAge: Int64 = 600 * 1_000_000_000
    /// Unflushed rows take at most this much memory (as `RowChunk.estimatedBytes` counts
    /// it). At half of it every series is flushed; an append that would go past it waits
    /// for a flush (backpressure). Only a single batch larger than the whole bound goes
    /// past it, into an otherwise empty memtable.
    public var memoryLimit = 512 << 20
    /// A series-day with this many segments is compacted in the background; 0 turns
    /// background compaction off.
    public var compactAfterSegments = 8
    /// Appends that would make the store hold more series than this are refused before
    /// they reach the log (as InfluxDB's `max-series-per-database`); series already on
    /// disk or in the log are never refused.
    public var maxSeries = 1_000_000
    /// Test hook: ends the process at a named step (see `CrashHook`).
    package var crashHook: CrashHook = .none
    /// Called on the flush thread when flushes start failing (with the error) and when one
    /// succeeds again (nil): a server says so on standard error.
    public var onFlushFailure: (@Sendable (StrataError?) -> Void)?

    public init() {}
}

/// What opening a database found in its write-ahead log.
public struct RecoveryReport: Sendable {
    /// WAL files read.
    public var walFiles = 0
    /// Valid records read.
    public var records = 0
    /// Rows put back (they were not yet in segments); they are flushed before `open` returns.
    public var rowsRecovered = 0
    /// Rows of records that were already in segments.
    public var rowsAlreadyFlushed = 0
    /// Delete records applied again.
    public var deletes = 0
    /// Torn tails and damage, each naming the file and the offset where valid records end.
    public var damage: [StrataError] = []
    /// Where damaged files were moved, for inspection: WAL files (`_wal/damaged/`),
    /// series-days and schemas (`_damaged/`).
    public var quarantined: [String] = []
    /// Files no manifest listed (leftovers of crashed writes), removed.
    public var orphansRemoved: [String] = []
}

/// A live store: appends go through the write-ahead log into an in-memory table, which a
/// background thread flushes into segments; queries see segments and unflushed rows
/// together. One process opens a data directory at a time (it holds `<data-dir>/_lock`
/// until `close`).
///
/// Appends may come from any number of tasks at once. Each returns when its rows are
/// durable under the fsync policy, and every query that starts after that sees them.
/// (A query may also see rows whose append has not returned yet.)
public final class Database: @unchecked Sendable {
    public let store: Store
    public let configuration: DatabaseConfiguration
    public internal(set) var recovery = RecoveryReport()

    let lock: FileLock
    let wal: WriteAheadLog
    /// Guards `state`; appenders, queries and the flush thread meet here.
    let monitor = Monitor()
    var state = State()
    /// Serialises the writers of manifests: flush, compaction, delete.
    let writer = Monitor()
    /// Serialises changes of the log readers' retentions with their files.
    let retentionFiles = Monitor()
    private var flusher: BackgroundThread?

    struct State {
        /// Per reader of the log, where log files are kept from (`retainLog`).
        var retentions: [String: WALPosition] = [:]
        /// Rows not yet in segments, and the memory they take.
        var memtable = Memtable()
        var schemas: [String: MeasurementSchema] = [:]
        /// Per series, odd while its manifests are being switched (a seqlock for queries).
        var generation: [SeriesKey: UInt64] = [:]
        var memoryWaiters: [CheckedContinuation<MemoryWake, Never>] = []
        var flushRequested = false
        var closed = false
        /// Set once `close` has flushed: no more manifest writes.
        var finished = false
        var lastFlushError: StrataError?
        var lastCompactionError: StrataError?
        /// Threads waiting in `reserveMemoryBlocking`.
        var blockedAppenders = 0
        /// Set when the store's state in memory can no longer be trusted; writes fail.
        var failure: StrataError?
        var counters = DatabaseStatistics()
        /// Per series written since open: the newest time seen and the rows that came later
        /// than a newer one (out-of-order arrivals; data quality).
        var arrivals: [SeriesKey: SeriesArrivals] = [:]
        /// The rows at which a series is flushed, when retuned since open.
        var tunedFlushRows: Int?
        /// Every series the store holds (on disk, in the log or in the memtable), for
        /// `maxSeries`; appends and log replay add theirs.
        var series: Set<SeriesKey> = []
    }

    /// Opens (creating if needed) the database in `directory`: takes the lock, removes
    /// leftovers of crashed writes, replays the write-ahead log and flushes what it held.
    public init(directory: String, configuration: DatabaseConfiguration = DatabaseConfiguration()) throws(StrataError) {
        precondition(configuration.flushRows >= 1 && configuration.memoryLimit >= 1 << 16, "flush limits out of range")
        precondition(configuration.walFileSize >= 1 << 12, "walFileSize out of range")
        store = try Store(directory: directory, configuration: configuration.store, create: true)
        self.configuration = configuration
        lock = try FileLock(path: "\(store.directory)/_lock", wait: false, kind: .open)
        var orphans: [String] = []
        var openDamage: [StrataError] = []
        var openQuarantined: [String] = []
        let walDirectory = "\(store.directory)/_wal"
        let old: [(sequence: UInt64, path: String)]
        let sequence: UInt64
        var retentions: [String: WALPosition] = [:]
        var series: Set<SeriesKey> = []
        do throws(StrataError) {
            // Leftovers of crashed writes go first; the manifests' watermarks also say
            // which log positions were used, so the new log starts above all of them even
            // if log files were lost.
            var highest: UInt64 = 0
            for measurement in try store.measurements() where try store.layout(of: measurement) == .packed {
                for day in try store.packedPartitions(measurement) {
                    // A packed partition that cannot be read is moved aside whole, as a
                    // series-day is.
                    do throws(StrataError) {
                        if try store.hasPacksWithoutManifest(measurement, day) {
                            throw StrataError(.corrupt, "pack files without a pack manifest", path: store.packDirectory(measurement, day))
                        }
                        let pack = try store.packManifest(measurement, day)
                        orphans += try store.removePackOrphans(measurement, day, pack)
                        for e in pack.entries {
                            series.insert(try SeriesKey(measurement: measurement, symbol: e.symbol))
                            highest = max(highest, e.manifest.rowsFlushedThrough.file, e.manifest.deletesAppliedThrough.file)
                        }
                    } catch where error.code == .corrupt {
                        let target = try store.quarantinePartition(measurement, day)
                        var reported = error
                        reported.message += "; the partition was moved to \(target) and the rest of the store serves"
                        openDamage.append(reported)
                        openQuarantined.append(target)
                    }
                }
            }
            for key in try store.seriesDays(layout: .series) {
                // A day that cannot be read, or whose segments lost their manifest, is
                // moved aside whole (nothing of it deleted); its rows still in the log are
                // replayed into a new one below.
                let m: DayManifest
                do throws(StrataError) {
                    if try store.hasSegmentsWithoutManifest(key) {
                        throw StrataError(.corrupt, "segment files without a manifest", path: store.dayPath(key.series, key.day))
                    }
                    m = try store.manifest(key)
                } catch where error.code == .corrupt {
                    let target = try store.quarantine(key)
                    var reported = error
                    reported.message += "; the series-day was moved to \(target) and the rest of the store serves"
                    openDamage.append(reported)
                    openQuarantined.append(target)
                    continue
                }
                orphans += try store.removeOrphans(key, m)
                series.insert(key.series)
                highest = max(highest, m.rowsFlushedThrough.file, m.deletesAppliedThrough.file)
            }
            // A measurement's damaged schema is rebuilt from its segments (log replay
            // needs it).
            for measurement in try store.measurements() {
                do throws(StrataError) {
                    _ = try store.schema(measurement)
                } catch where error.code == .corrupt {
                    let (_, movedTo) = try store.rebuildSchema(measurement)
                    var reported = error
                    reported.message += "; moved to \(movedTo), and the schema rebuilt from the measurement's segments"
                    openDamage.append(reported)
                    openQuarantined.append(movedTo)
                }
            }
            old = try WriteAheadLog.files(in: walDirectory)
            sequence = max(old.last?.sequence ?? 0, highest) + 1
            retentions = try Database.loadRetentions(walDirectory)
        } catch {
            lock.unlock()
            throw error
        }
        do throws(StrataError) {
            wal = try WriteAheadLog(directory: walDirectory, sequence: sequence,
                                    policy: configuration.fsync, maxFileSize: configuration.walFileSize)
        } catch {
            lock.unlock()
            throw error
        }
        monitor.withLock {
            state.retentions = retentions
            state.series = series
        }
        do throws(StrataError) {
            // From here until a clean close, the log may hold records not in segments.
            if FileSystem.exists("\(walDirectory)/_closed") {
                try FileSystem.remove("\(walDirectory)/_closed")
                try FileSystem.syncDirectory(walDirectory)
            }
            try recover(old)
            recovery.orphansRemoved = orphans
            recovery.damage = openDamage + recovery.damage
            recovery.quarantined = openQuarantined + recovery.quarantined
            removeStaleSnapshots()
        } catch {
            try? wal.close()
            lock.unlock()
            throw error
        }
        flusher = BackgroundThread(name: "strata-flush") { [self] in flushLoop() }
    }

    /// Whether `directory` has write-ahead log records that may not be in segments yet
    /// (its last writer did not close it): opening a `Database` on it recovers them.
    public static func needsRecovery(_ directory: String) throws(StrataError) -> Bool {
        // Closed cleanly: every record is in segments (files kept for the mirror hold only
        // records that are).
        if FileSystem.exists("\(directory)/_wal/_closed") { return false }
        for file in try WriteAheadLog.files(in: "\(directory)/_wal") where try FileSystem.fileSize(file.path) > WALLayout.headerSize {
            return true
        }
        return false
    }

    // MARK: Appending

    /// Appends rows to one series; returns when they are durable under the fsync policy.
    public func append(_ series: SeriesKey, schema: [Field], rows: RowBlock) async throws(StrataError) {
        try await append([Store.SeriesRows(series: series, schema: schema, rows: rows)])
    }

    /// Appends rows to several series (one WAL record each, all made durable together).
    /// When they do not fit beside the unflushed rows, it waits for a flush; or, unless
    /// `waitingForMemory`, throws `.busy` at once with nothing written (a server tells its
    /// client to retry instead of holding the request).
    /// Rows need not be sorted; rows with equal timestamps keep their order. A field's
    /// type must match what the measurement already has; otherwise nothing is written.
    /// Unless `waitingForSync`, it returns once the records are written to the operating
    /// system (a crash of the process loses nothing), without waiting for the fsync policy's
    /// fdatasync: a power loss or kernel crash may lose them (InfluxDB 3's `no_sync`).
    public func append(_ batch: [Store.SeriesRows], waitingForMemory: Bool = true, waitingForSync: Bool = true) async throws(StrataError) {
        let prepared = try prepare(batch)
        guard !prepared.records.isEmpty else { return }
        try await reserveMemory(prepared.bytes, waiting: waitingForMemory)
        let end = try enter(prepared)
        if waitingForSync { try await wal.waitUntilDurable(end) }
    }

    /// `append` for callers outside Swift concurrency: blocks the calling thread while
    /// memory is full and until the rows are durable.
    public func appendBlocking(_ batch: [Store.SeriesRows]) throws(StrataError) {
        let prepared = try prepare(batch)
        guard !prepared.records.isEmpty else { return }
        try reserveMemoryBlocking(prepared.bytes)
        let end = try enter(prepared)
        try wal.waitUntilDurableBlocking(end)
    }

    /// A batch checked and encoded as WAL records, outside any lock.
    struct PreparedBatch {
        /// `ordered`: the rows' times never decrease (checked here, outside the lock, so that
        /// counting out-of-order arrivals under it is one comparison for in-order data).
        var records: [(item: Store.SeriesRows, framed: [UInt8], bytes: Int, ordered: Bool)] = []
        var bytes = 0
    }

    func prepare(_ batch: [Store.SeriesRows]) throws(StrataError) -> PreparedBatch {
        var prepared = PreparedBatch()
        for item in batch {
            try Store.check(item.schema, item.rows)
            guard item.rows.rowCount > 0 else { continue }
            let payload = WALRecord.rows(measurement: item.series.measurement, symbol: item.series.symbol,
                                         schema: item.schema, rows: item.rows).encode()
            guard payload.count <= WALLayout.maxRecordSize else {
                throw StrataError(.invalidInput, "a batch of \(item.rows.rowCount) rows for \(item.series) encodes to \(payload.count) bytes; split it (the limit is \(WALLayout.maxRecordSize))")
            }
            var framed: [UInt8] = []
            framed.reserveCapacity(payload.count + WALLayout.recordHeaderSize)
            WALLayout.frame(payload, into: &framed)
            let bytes = RowChunk(schema: item.schema, rows: item.rows).estimatedBytes
            let times = item.rows.timestamps
            let ordered = zip(times, times.dropFirst()).allSatisfy { $0 <= $1 }
            prepared.records.append((item, framed, bytes, ordered))
            prepared.bytes += bytes
        }
        return prepared
    }

    /// Writes the records to the WAL and their rows to the memtable, in one critical
    /// section so that both see appends in the same order. Returns where the last record ends.
    func enter(_ prepared: PreparedBatch) throws(StrataError) -> WALPosition {
        var madeDurable = false
        let end = try monitor.withLock { () throws(StrataError) -> WALPosition in
            // The reservation becomes memtable bytes below (or is given up if this throws).
            state.memtable.unreserve(prepared.bytes)
            if state.closed { throw StrataError(.invalidInput, "the database is closed", path: store.directory) }
            if let failure = state.failure { throw failure }
            // Check every schema before writing anything, so a conflict writes nothing.
            var schemas: [String: MeasurementSchema] = [:]
            for r in prepared.records {
                let m = r.item.series.measurement
                var schema: MeasurementSchema
                if let s = schemas[m] { schema = s } else { schema = try knownSchema(m) }
                _ = try schema.merge(r.item.schema, measurement: m)
                schemas[m] = schema
            }
            var added: Set<SeriesKey> = []
            for r in prepared.records where !state.series.contains(r.item.series) { added.insert(r.item.series) }
            guard state.series.count + added.count <= configuration.maxSeries else {
                let example = added.first.map { " (\($0) is new)" } ?? ""
                throw StrataError(.invalidInput, "the write would give the store \(state.series.count + added.count) series\(example); the limit is \(configuration.maxSeries) (store.max_series)")
            }
            var end = WALPosition.zero
            let now = monotonicNanoseconds()
            // One write for the batch: a full disk refuses all of it or none.
            let (positions, durable) = try wal.appendAll(prepared.records.map { ($0.framed, $0.item.rows.rowCount) })
            madeDurable = durable
            for (r, (start, recordEnd)) in zip(prepared.records, positions) {
                insert(RowChunk(schema: r.item.schema, rows: r.item.rows), bytes: r.bytes, series: r.item.series,
                       start: start, end: recordEnd, now: now)
                let late = state.arrivals[r.item.series, default: SeriesArrivals()].note(r.item.rows.timestamps, ordered: r.ordered)
                state.counters.outOfOrderRows += late
                end = recordEnd
            }
            for (m, s) in schemas { state.schemas[m] = s }
            state.series.formUnion(added)
            state.counters.appends += 1
            state.counters.rowsAppended += prepared.records.reduce(0) { $0 + $1.item.rows.rowCount }
            return end
        }
        // Readers of the log are woken outside the database's lock.
        if madeDurable { wal.notifyWatchers() }
        try configuration.crashHook.check(.walAppended)
        return end
    }

    /// The schema of a measurement as this database knows it. Lock held.
    func knownSchema(_ measurement: String) throws(StrataError) -> MeasurementSchema {
        if let s = state.schemas[measurement] { return s }
        try Names.validateDirectory(measurement, what: "measurement")
        let s = try store.schema(measurement)
        state.schemas[measurement] = s
        return s
    }

    /// Adds rows to the memtable. Lock held.
    func insert(_ chunk: RowChunk, bytes: Int, series: SeriesKey, start: WALPosition, end: WALPosition, now: Int64) {
        let buffer = state.memtable.insert(chunk, bytes: bytes, series: series, start: start, end: end, now: now)
        if buffer.rows >= (state.tunedFlushRows ?? configuration.flushRows) { requestFlush() }
        state.counters.memoryPeakBytes = max(state.counters.memoryPeakBytes, state.memtable.bytes)
        if state.memtable.bytes >= configuration.memoryLimit / 2 { requestFlush() }
    }

    /// Wakes the flush thread. Lock held.
    func requestFlush() {
        if !state.flushRequested {
            state.flushRequested = true
            monitor.broadcast()
        }
    }

    enum MemoryWake: Sendable {
        case proceed, checkAgain
        case fail(StrataError)
    }

    /// Waits while the memtable is full (backpressure), then reserves `bytes` in it:
    /// `enter` must follow. Not `waiting`: throws `.busy` instead of waiting.
    func reserveMemory(_ bytes: Int, waiting: Bool = true) async throws(StrataError) {
        while true {
            let wake: MemoryWake = await withCheckedContinuation { continuation in
                monitor.withLock {
                    if state.closed {
                        continuation.resume(returning: .fail(StrataError(.invalidInput, "the database is closed", path: store.directory)))
                    } else if let failure = state.failure {
                        continuation.resume(returning: .fail(failure))
                    } else if fits(bytes) {
                        state.memtable.reserve(bytes)
                        continuation.resume(returning: .proceed)
                    } else if !waiting {
                        refusedForMemory()
                        continuation.resume(returning: .fail(StrataError(.busy, "unflushed rows are at the memory bound (\(configuration.memoryLimit >> 20) MiB); nothing was written", path: store.directory)))
                    } else {
                        state.counters.backpressureWaits += 1
                        state.memoryWaiters.append(continuation)
                        requestFlush()
                    }
                }
            }
            switch wake {
            case .proceed: return
            case .checkAgain: continue
            case .fail(let e): throw e
            }
        }
    }

    /// An append turned away at the memory bound: counted, and a flush asked for so that
    /// the retry finds room. Lock held.
    func refusedForMemory() {
        state.counters.backpressureRefusals += 1
        requestFlush()
    }

    /// Whether a batch of `bytes` may go into the memtable now, beside the rows there and
    /// the batches reserved (an empty memtable takes any batch, so one larger than the
    /// bound still goes in). Lock held.
    func fits(_ bytes: Int) -> Bool {
        let taken = state.memtable.used
        return taken == 0 || taken + bytes <= configuration.memoryLimit
    }

    /// The blocking form of `reserveMemory`.
    func reserveMemoryBlocking(_ bytes: Int) throws(StrataError) {
        try monitor.withLock { () throws(StrataError) in
            var counted = false
            defer { if counted { state.blockedAppenders -= 1 } }
            while !state.closed && !fits(bytes) {
                if let e = state.failure { throw e }
                if !counted {
                    state.counters.backpressureWaits += 1
                    state.blockedAppenders += 1
                    counted = true
                }
                requestFlush()
                monitor.wait()
                if let e = state.failure { throw e }
                if let e = state.lastFlushError, !fits(bytes) { throw e }
            }
            if state.closed { throw StrataError(.invalidInput, "the database is closed", path: store.directory) }
            state.memtable.reserve(bytes)
        }
    }

    /// Lets waiting appenders check the memory again, or fails them. Lock held.
    func wakeMemoryWaiters(_ error: StrataError? = nil) {
        let waiters = state.memoryWaiters
        state.memoryWaiters = []
        for w in waiters { w.resume(returning: error.map { .fail($0) } ?? .checkAgain) }
    }

    // MARK: Reading

    /// The measurement's fields as this database knows them (flushed or not).
    public func schema(_ measurement: String) throws(StrataError) -> MeasurementSchema {
        try monitor.withLock { () throws(StrataError) in try knownSchema(measurement) }
    }

    /// Segments and unflushed rows of `series` for [from, to], taken consistently: if a
    /// flush, compaction or delete switches this series' manifests meanwhile, it is taken
    /// again.
    package func snapshot(_ series: SeriesKey, from: Int64 = .min, to: Int64 = .max) throws(StrataError) -> SeriesSnapshot {
        var attempts = 0
        while true {
            attempts += 1
            let before = monitor.withLock {
                while (state.generation[series] ?? 0) & 1 == 1 { monitor.wait() }
                return state.generation[series] ?? 0
            }
            var views: [DayView] = []
            do throws(StrataError) {
                for day in try store.days(series, from: from, to: to) { views.append(try store.openDay(SeriesDay(series, day))) }
            } catch where error.code == .notFound && attempts < 100 {
                continue  // a segment went away under a compaction: take it again
            }
            let taken: SeriesSnapshot? = try monitor.withLock { () throws(StrataError) in
                // After a half-failed write, memory and manifests may both hold some rows.
                if let failure = state.failure { throw failure }
                guard (state.generation[series] ?? 0) == before else { return nil }
                let memory = state.memtable.chunks(of: series)
                return SeriesSnapshot(series: series, schema: try knownSchema(series.measurement), days: views, memory: memory)
            }
            if let taken { return taken }
        }
    }

    /// Raw rows of `series` with from ≤ time ≤ to, flushed or not (see `SeriesSnapshot.query`).
    public func query(_ series: SeriesKey, from: Int64 = .min, to: Int64 = .max, fields: [String]? = nil) throws(StrataError) -> QueryResult {
        try snapshot(series, from: from, to: to).query(from: from, to: to, fields: fields)
    }

    /// Bars of `series` over rows with from ≤ time ≤ to, flushed or not.
    public func bars(_ series: SeriesKey, spec: BarSpec, from: Int64 = .min, to: Int64 = .max) throws(StrataError) -> [Bar] {
        try snapshot(series, from: from, to: to).bars(spec: spec, from: from, to: to)
    }

    /// Series with unflushed rows.
    public func seriesInMemory() -> [SeriesKey] {
        monitor.withLock { state.memtable.series.sorted() }
    }

    public var statistics: DatabaseStatistics {
        var s = monitor.withLock {
            var c = state.counters
            c.memoryBytes = state.memtable.bytes
            c.unflushedRows = state.memtable.rows
            c.flushError = state.lastFlushError?.description
            return c
        }
        s.writeError = wal.spaceFailure?.description
        s.wal = wal.statistics
        return s
    }

    /// Unflushed rows of one series that make it due for a flush: the configuration's
    /// `flushRows` unless retuned with `setFlushRows`.
    public var flushRows: Int { monitor.withLock { state.tunedFlushRows ?? configuration.flushRows } }

    /// Changes the rows at which a series is flushed (auto-tuning); takes effect at once.
    public func setFlushRows(_ rows: Int) {
        precondition(rows >= 1, "a flush needs rows")
        monitor.withLock {
            state.tunedFlushRows = rows
            if state.memtable.active.values.contains(where: { $0.rows >= rows }) { requestFlush() }
        }
    }

    /// The most memory the memtable held since the last call (or since open).
    public func takeMemoryPeak() -> Int {
        monitor.withLock {
            state.memtable.takePeak()
        }
    }

    /// Per series written to since open: its newest time and its out-of-order arrivals.
    public var arrivals: [SeriesKey: SeriesArrivals] {
        monitor.withLock { state.arrivals }
    }

    /// Flushes every unflushed row into segments now (e.g. before copying the files).
    public func flush() throws(StrataError) {
        _ = try writer.withLock { () throws(StrataError) in try flush(all: true) }
    }

    // MARK: Closing

    /// Stops background work, flushes every unflushed row into segments, closes the
    /// write-ahead log and releases the lock. Appends after this fail.
    public func close() throws(StrataError) {
        let first = monitor.withLock {
            let was = state.closed
            state.closed = true
            wakeMemoryWaiters(StrataError(.invalidInput, "the database is closed", path: store.directory))
            monitor.broadcast()
            return !was
        }
        guard first else { return }
        flusher?.join()
        var failure: StrataError?
        do throws(StrataError) {
            try writer.withLock { () throws(StrataError) in
                defer { monitor.withLock { state.finished = true } }
                _ = try flush(all: true)
            }
        } catch {
            failure = error
        }
        do throws(StrataError) {
            try wal.close()
        } catch {
            failure = failure ?? error
        }
        if failure == nil {
            // Every record is in segments: leave an empty log behind (but for the files a
            // reader of the log retains).
            do throws(StrataError) {
                try WriteAheadLog.startEmptyFile(in: wal.directory, after: wal.currentSequence)
                let retained = monitor.withLock { state.retentions.values.min()?.file } ?? .max
                for file in try WriteAheadLog.files(in: wal.directory) where file.sequence <= wal.currentSequence && file.sequence < retained {
                    try FileSystem.remove(file.path)
                }
                try FileSystem.writeAtomically("\(wal.directory)/_closed", [Array("closed cleanly: every record is in segments\n".utf8)])
            } catch {
                failure = error
            }
        }
        lock.unlock()
        if let failure { throw failure }
    }
}

/// How the rows of one series arrived since the database was opened.
public struct SeriesArrivals: Sendable, Equatable {
    public var rows = 0
    /// The newest time seen.
    public var newest = Int64.min
    /// Rows whose time was earlier than the newest already seen.
    public var outOfOrderRows = 0

    public init() {}

    /// Counts `times` in arrival order; returns how many came out of order. `ordered`:
    /// the times never decrease, so only the first needs comparing.
    mutating func note(_ times: [Int64], ordered: Bool) -> Int {
        rows += times.count
        var late = 0
        if ordered, let first = times.first, first >= newest {
            newest = times.last!
        } else {
            for t in times {
                if t < newest { late += 1 } else { newest = t }
            }
        }
        outOfOrderRows += late
        return late
    }
}

/// Counters of a database since it was opened.
public struct DatabaseStatistics: Sendable {
    public var appends = 0
    public var rowsAppended = 0
    public var flushes = 0
    public var rowsFlushed = 0
    public var segmentsWritten = 0
    public var compactions = 0
    public var rowsCompacted = 0
    public var deletes = 0
    public var backpressureWaits = 0
    /// Appends refused at once (not waiting) because they did not fit.
    public var backpressureRefusals = 0
    /// Rows that arrived with a time earlier than a row of their series already written.
    public var outOfOrderRows = 0
    public var memoryBytes = 0
    /// The most `memoryBytes` has been since the database was opened.
    public var memoryPeakBytes = 0
    public var unflushedRows = 0
    /// Flush attempts that failed since open (the rows stay in memory and in the log and are
    /// tried again), and the error while flushes are failing (nil once one succeeds).
    public var flushFailures = 0
    public var flushError: String?
    /// Why appends are refused now (a full file system), nil while they are taken.
    public var writeError: String?
    public var wal = WALStatistics()
}

extension Database {
    /// Stops this database as a crash would, for tests: background threads stop, nothing
    /// is flushed, the lock is released. What was appended stays in the WAL only.
    func simulateCrash() {
        monitor.withLock {
            state.closed = true
            wakeMemoryWaiters(StrataError(.invalidInput, "the database is closed", path: store.directory))
            monitor.broadcast()
        }
        flusher?.join()
        try? wal.close()
        lock.unlock()
    }
}
