import StrataFormat
import StrataPlatform

extension Database {
    /// The flush thread: flushes series that are big or old enough, everything when memory
    /// is half full, and compacts series-days that gathered many segments.
    func flushLoop() {
        var backoff: Int64 = 0
        // When the memtable was last scanned for due series: appends wake this loop, and a
        // scan of 10^5 series per append would cost more than the appends.
        var lastScan: Int64 = .min
        while true {
            let due: [SeriesKey]? = monitor.withLock {
                if backoff > 0 {
                    // After a failure, wait out the whole backoff: appends and other
                    // broadcasts do not cut it short.
                    let deadline = monotonicNanoseconds() + backoff
                    while !state.closed, case let left = deadline - monotonicNanoseconds(), left > 0 {
                        monitor.wait(nanoseconds: left)
                    }
                } else if !state.flushRequested && !state.closed {
                    monitor.wait(nanoseconds: 100_000_000)
                }
                if state.closed { return nil }
                let now = monotonicNanoseconds()
                if !state.flushRequested && !memoryPressed && backoff == 0 && lastScan > .min && now - lastScan < 100_000_000 { return [] }
                lastScan = now
                state.flushRequested = false
                let due = dueSeries()
                // Memory freed by other means (a delete) lets waiting appenders go on.
                if due.isEmpty && (!state.memoryWaiters.isEmpty || state.blockedAppenders > 0) {
                    wakeMemoryWaiters()
                    monitor.broadcast()
                }
                return due
            }
            guard let due else { return }
            if due.isEmpty { continue }
            let touched: [SeriesDay: DayManifest]
            do throws(StrataError) {
                touched = try writer.withLock { () throws(StrataError) in try flush(due) }
                if backoff > 0 { configuration.onFlushFailure?(nil) }
                backoff = 0
            } catch {
                if backoff == 0 { configuration.onFlushFailure?(error) }
                // Rows stay in memory and in the WAL; try again later, and let waiting
                // appenders see why memory is not freed.
                backoff = min(max(backoff * 2, 100_000_000), 5_000_000_000)
                monitor.withLock {
                    state.lastFlushError = error
                    state.counters.flushFailures += 1
                    if state.memtable.bytes >= configuration.memoryLimit { wakeMemoryWaiters(error) }
                    monitor.broadcast()
                }
                continue
            }
            guard configuration.compactAfterSegments > 0 else { continue }
            for keys in compactionsDue(touched) {
                if monitor.withLock({ state.closed }) { return }
                do throws(StrataError) {
                    _ = try writer.withLock { () throws(StrataError) in try compact(keys) }
                } catch {
                    // The day keeps its segments (the switch is atomic); a later flush of
                    // it tries again. Writers are not affected.
                    monitor.withLock { state.lastCompactionError = error }
                }
            }
        }
    }

    /// What a flush leaves to compact: each series-day with `compactAfterSegments` segments
    /// or more, and each packed partition with that many packs or a series-day that has that
    /// many segments, whose touched series compact together.
    func compactionsDue(_ touched: [SeriesDay: DayManifest]) -> [[SeriesDay]] {
        let limit = configuration.compactAfterSegments
        var out: [[SeriesDay]] = []
        var packed: [PartitionKey: [SeriesDay]] = [:]
        for (key, manifest) in touched.sorted(by: { $0.key < $1.key }) {
            if (try? store.layout(of: key.series.measurement)) == .packed {
                packed[PartitionKey(measurement: key.series.measurement, day: key.day), default: []].append(key)
            } else if manifest.segments.count >= limit {
                out.append([key])
            }
        }
        for (p, keys) in packed.sorted(by: { ($0.key.measurement, $0.key.day) < ($1.key.measurement, $1.key.day) }) {
            let many = keys.contains { touched[$0]!.segments.count >= limit }
            if many || ((try? store.packCount(p.measurement, p.day)) ?? 0) >= limit { out.append(keys) }
        }
        return out
    }

    /// Series to flush now. Lock held.
    /// Half the memory used, or appenders waiting for memory. Call holding `monitor`.
    var memoryPressed: Bool {
        state.memtable.bytes >= configuration.memoryLimit / 2 || !state.memoryWaiters.isEmpty || state.blockedAppenders > 0
    }

    func dueSeries() -> [SeriesKey] {
        // Under memory pressure everything goes.
        if memoryPressed {
            return Array(state.memtable.active.keys)
        }
        let now = monotonicNanoseconds()
        let flushRows = state.tunedFlushRows ?? configuration.flushRows
        return state.memtable.active.compactMap { key, buffer in
            buffer.rows >= flushRows || now - buffer.since >= configuration.flushAge ? key : nil
        }
    }

    /// Flushes every series with unflushed rows (or only the big and old ones).
    func flush(all: Bool, removingLogFiles: Bool = true) throws(StrataError) -> [SeriesDay: DayManifest] {
        let keys = monitor.withLock { all ? Array(state.memtable.active.keys) : dueSeries() }
        return try flush(keys, removingLogFiles: removingLogFiles)
    }

    /// Writes the unflushed rows of `keys` into segments: sorted, cut into days, written
    /// with the manifests that make them live, which also record how far the WAL is now
    /// in segments for each series-day. Queries see the rows throughout: in memory until
    /// the manifests switch, in segments after. Then WAL files that hold no unflushed row
    /// are removed, unless `removingLogFiles` is false (during replay, when files not yet
    /// read look obsolete). Call holding `writer`.
    func flush(_ keys: [SeriesKey], removingLogFiles: Bool = true) throws(StrataError) -> [SeriesDay: DayManifest] {
        let taken: [(SeriesKey, SeriesBuffer)] = try monitor.withLock { () throws(StrataError) in
            if state.finished { throw StrataError(.invalidInput, "the database is closed", path: store.directory) }
            if let failure = state.failure { throw failure }
            return state.memtable.beginFlush(keys)
        }
        if taken.isEmpty { return [:] }
        var new: [Store.NewSegment] = []
        var batch: [Store.SeriesRows] = []
        var flushedThrough: [SeriesKey: WALPosition] = [:]
        var rows = 0
        for (key, buffer) in taken {
            let merged = buffer.merged()
            batch.append(Store.SeriesRows(series: key, schema: merged.schema, rows: merged.rows))
            flushedThrough[key] = buffer.lastEnd
            rows += buffer.rows
        }
        let result: [SeriesDay: DayManifest]
        var switching = false
        var switched = 0
        do throws(StrataError) {
            new = try store.plan(batch, periods: try store.partitionPeriods(for: batch))
            // The fields go on disk in the order this database first saw them (the order
            // queries answer in now), not in the order of the series flushed, so that a
            // query's columns stay the same after the flush and after a restart.
            try store.registerFields(of: batch, firstSeen: monitor.withLock { state.schemas })
            beginSwitch(taken.map(\.0))
            switching = true
            let committed = try store.commit(new, edit: { key, m in
                if let p = flushedThrough[key.series], p > m.rowsFlushedThrough { m.rowsFlushedThrough = p }
            }, crash: configuration.crashHook, switched: &switched)
            result = committed.manifests
        } catch {
            if switched > 0 {
                // Some series-days switched to segments holding these rows, others did not:
                // memory can no longer say which rows are flushed. Stop writing; reopening
                // replays the log against the manifests, which know exactly.
                monitor.withLock {
                    var e = error
                    e.message = "a flush failed halfway, so the store accepts no more writes until it is reopened: " + e.message
                    state.failure = e
                    if switching { endSwitch(taken.map(\.0)) }
                    wakeMemoryWaiters(e)
                    monitor.broadcast()
                }
                throw error
            }
            // Nothing switched: the rows go back in front of whatever arrived meanwhile.
            monitor.withLock {
                state.memtable.abortFlush(taken)
                if switching { endSwitch(taken.map(\.0)) }
                monitor.broadcast()
            }
            throw error
        }
        try configuration.crashHook.check(.flushCommitted)
        monitor.withLock {
            state.memtable.endFlush(taken)
            state.counters.flushes += 1
            state.counters.rowsFlushed += rows
            state.counters.segmentsWritten += new.count
            state.lastFlushError = nil
            endSwitch(taken.map(\.0))
            if state.memtable.bytes < configuration.memoryLimit { wakeMemoryWaiters() }
        }
        if removingLogFiles { try removeObsoleteWALFiles() }
        return result
    }

    /// Marks the manifests of `keys` as being switched: queries of them wait. Takes the lock.
    func beginSwitch(_ keys: [SeriesKey]) {
        monitor.withLock { for k in keys { state.generation[k, default: 0] += 1 } }
    }

    /// Ends a switch begun by `beginSwitch`. Lock held.
    func endSwitch(_ keys: [SeriesKey]) {
        for k in keys { state.generation[k, default: 0] += 1 }
        monitor.broadcast()
    }

    /// Removes WAL files that hold no unflushed row: those before the oldest record still
    /// in memory, never the file being written, and none a reader of the log retains.
    func removeObsoleteWALFiles() throws(StrataError) {
        let current = wal.currentSequence
        try limitRetention()
        let oldestNeeded = monitor.withLock {
            ([state.memtable.oldestLogFile].compactMap { $0 } + state.retentions.values.map(\.file)).min() ?? current
        }
        for file in try WriteAheadLog.files(in: wal.directory) where file.sequence < min(oldestNeeded, current) {
            try FileSystem.remove(file.path)
        }
    }
}

extension Database {
    /// Drops retentions, oldest first, while together they keep more than
    /// `maxRetainedLogBytes`: the disk must not fill because a reader (the mirror) is down.
    /// The reader finds its position gone and says so.
    func limitRetention() throws(StrataError) {
        while let (reader, oldest) = monitor.withLock({ state.retentions.min { $0.value < $1.value } }) {
            var kept = 0
            for file in try WriteAheadLog.files(in: wal.directory) where file.sequence >= oldest.file {
                kept += try FileSystem.fileSize(file.path)
            }
            guard kept > configuration.maxRetainedLogBytes else { return }
            try releaseLog(for: reader)
        }
    }
}

extension SeriesBuffer {
    /// Appends the rows of a newer buffer of the same series.
    mutating func append(_ newer: SeriesBuffer) {
        chunks += newer.chunks
        rows += newer.rows
        bytes += newer.bytes
        lastEnd = newer.lastEnd
    }
}
