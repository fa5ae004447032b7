import StrataFormat

/// What a compaction did.
public struct CompactionSummary: Sendable {
    public var seriesDays = 0
    public var segmentsBefore = 0
    public var segmentsAfter = 0
    public var rows = 0
    public var bytesBefore = 0
    public var bytesAfter = 0
    public var tombstonesPurged = 0
}

extension Database {
    // MARK: Deletes

    /// Deletes the rows of `series` with from ≤ time ≤ to that were appended before this
    /// call; rows appended later (corrections) stay. Queries stop seeing the rows at once;
    /// flushed rows are hidden by tombstones until compaction removes them. Durable under
    /// the fsync policy when this returns.
    public func delete(_ series: SeriesKey, from: Int64, to: Int64) async throws(StrataError) {
        try await wal.waitUntilDurable(try enterDelete(series, from: from, to: to))
    }

    /// `delete` for callers outside Swift concurrency.
    public func deleteBlocking(_ series: SeriesKey, from: Int64, to: Int64) throws(StrataError) {
        try wal.waitUntilDurableBlocking(try enterDelete(series, from: from, to: to))
    }

    /// Logs and applies a delete; returns where its WAL record ends.
    func enterDelete(_ series: SeriesKey, from: Int64, to: Int64) throws(StrataError) -> WALPosition {
        guard from <= to else {
            throw StrataError(.invalidInput, "delete range is empty: from \(CivilTime.format(from)) is after to \(CivilTime.format(to))")
        }
        let payload = WALRecord.delete(measurement: series.measurement, symbol: series.symbol, from: from, to: to).encode()
        var framed: [UInt8] = []
        WALLayout.frame(payload, into: &framed)
        return try writer.withLock { () throws(StrataError) -> WALPosition in
            try checkOpen()
            // Holding `writer`, no flush, compaction or other delete runs: the manifests
            // read here stay as they are until this delete commits, and the series has no
            // buffer in flight.
            let days = try daysToTombstone(series, from: from, to: to, after: nil)
            // The record and the removal from memory in one critical section: appends
            // logged before the delete lose their rows in the range, appends logged after
            // it (corrections) keep them.
            let (_, end) = try monitor.withLock { () throws(StrataError) in
                if let failure = state.failure { throw failure }
                let position = try wal.append(framed)
                state.generation[series, default: 0] += 1
                deleteFromMemory(series, from: from, to: to)
                state.counters.deletes += 1
                return position
            }
            defer { monitor.withLock { endSwitch([series]) } }
            do throws(StrataError) {
                // The record must be durable before any tombstone is: a tombstone whose
                // delete record a power loss took would delete rows no replay knows of.
                try wal.makeDurable(end)
                try tombstone(days, from: from, to: to, end: end)
            } catch {
                // The delete is logged and half applied: stop writing until a reopen
                // replays it to the end.
                monitor.withLock {
                    var e = error
                    e.message = "a delete failed halfway, so the store accepts no more writes until it is reopened: " + e.message
                    state.failure = e
                    wakeMemoryWaiters(e)
                    monitor.broadcast()
                }
                throw error
            }
            return end
        }
    }

    /// Applies a delete record found by replay: drops replayed rows in the range, and adds
    /// a tombstone to each day whose manifest shows no flush or delete after `start`
    /// (those already reflect it). Call holding `writer`.
    func replayDelete(_ series: SeriesKey, from: Int64, to: Int64, start: WALPosition, end: WALPosition) throws(StrataError) {
        let days = try daysToTombstone(series, from: from, to: to, after: start)
        monitor.withLock {
            state.generation[series, default: 0] += 1
            deleteFromMemory(series, from: from, to: to)
        }
        defer { monitor.withLock { endSwitch([series]) } }
        try tombstone(days, from: from, to: to, end: end)
    }

    /// The days of `series` in the range that have segments, with their manifests; with
    /// `after`, only days whose manifests show no flush or delete at or after it.
    func daysToTombstone(_ series: SeriesKey, from: Int64, to: Int64, after start: WALPosition?) throws(StrataError) -> [(SeriesDay, DayManifest)] {
        var out: [(SeriesDay, DayManifest)] = []
        for day in try store.days(series, from: from, to: to) {
            let key = SeriesDay(series, day)
            let m = try store.manifest(key)
            guard !m.segments.isEmpty else { continue }
            if let start, start < m.deletesAppliedThrough || start < m.rowsFlushedThrough { continue }
            out.append((key, m))
        }
        return out
    }

    /// Drops unflushed rows of `series` in the range. Lock held.
    func deleteFromMemory(_ series: SeriesKey, from: Int64, to: Int64) {
        guard var buffer = state.active[series] else { return }
        let before = buffer.bytes
        if buffer.delete(from: from, to: to) > 0 {
            state.memoryBytes -= before - buffer.bytes
            state.active[series] = buffer.rows == 0 ? nil : buffer
            // Appenders waiting for memory may fit now.
            wakeMemoryWaiters()
            monitor.broadcast()
        }
    }

    /// Adds a tombstone over the current segments of each day and records the delete as
    /// applied through `end`.
    func tombstone(_ days: [(SeriesDay, DayManifest)], from: Int64, to: Int64, end: WALPosition) throws(StrataError) {
        guard !days.isEmpty else { return }
        let base = Dictionary(uniqueKeysWithValues: days.map { ($0.0, $0.1) })
        _ = try store.commit([], touching: days.map(\.0), base: { key in base[key]! }, edit: { _, m in
            m.tombstones.append(Tombstone(from: from, to: to, throughSegment: m.segments.last!.id))
            m.deletesAppliedThrough = end
        }, crash: configuration.crashHook)
    }

    /// Throws if the database is closed or failed. Call holding `writer`.
    func checkOpen() throws(StrataError) {
        try monitor.withLock { () throws(StrataError) in
            if state.finished { throw StrataError(.invalidInput, "the database is closed", path: store.directory) }
            if let failure = state.failure { throw failure }
        }
    }

    // MARK: Compaction

    /// Compacts the series-days matching the filters that have more than one segment or
    /// have tombstones.
    public func compact(measurement: String? = nil, symbol: String? = nil, day: Day? = nil) throws(StrataError) -> CompactionSummary {
        var summary = CompactionSummary()
        for key in try store.seriesDays() {
            if let measurement, key.series.measurement != measurement { continue }
            if let symbol, key.series.symbol != symbol { continue }
            if let day, key.day != day { continue }
            if let s = try writer.withLock({ () throws(StrataError) in try compact(key) }) {
                summary.seriesDays += 1
                summary.segmentsBefore += s.segmentsBefore
                summary.segmentsAfter += s.segmentsAfter
                summary.rows += s.rows
                summary.bytesBefore += s.bytesBefore
                summary.bytesAfter += s.bytesAfter
                summary.tombstonesPurged += s.tombstonesPurged
            }
        }
        return summary
    }

    /// Merges the segments of one series-day into one, in query order (time, then arrival
    /// for equal times), without the rows its tombstones delete, with codecs chosen anew;
    /// the manifest switches to it atomically and the old files are removed. Nil when
    /// there is nothing to do. Call holding `writer`.
    func compact(_ key: SeriesDay) throws(StrataError) -> CompactionSummary? {
        try checkOpen()
        let manifest = try store.manifest(key)
        guard manifest.segments.count >= 2 || !manifest.tombstones.isEmpty else { return nil }
        let view = try store.openDay(key, manifest)
        // The fields the segments have, in the measurement's order.
        let measurementSchema = try schema(key.series.measurement)
        let present = Set(view.segments.flatMap(\.schema))
        let fields = measurementSchema.fields.filter(present.contains)
        let snapshot = SeriesSnapshot(series: key.series, schema: MeasurementSchema(fields: fields), days: [view])
        let rows = try snapshot.query().rows
        let old = Set(manifest.segments.map(\.id))
        var summary = CompactionSummary(seriesDays: 1, segmentsBefore: manifest.segments.count, segmentsAfter: rows.rowCount > 0 ? 1 : 0,
                                        rows: rows.rowCount, bytesBefore: view.segments.reduce(0) { $0 + $1.size },
                                        tombstonesPurged: manifest.tombstones.count)
        beginSwitch([key.series])
        defer { monitor.withLock { endSwitch([key.series]) } }
        let new = rows.rowCount > 0 ? [Store.NewSegment(key: key, schema: fields, rows: rows)] : []
        let committed = try store.commit(new, touching: [key], base: { _ in manifest }, edit: { _, m in
            m.segments.removeAll { old.contains($0.id) }
            m.tombstones = []
        }, crash: configuration.crashHook)
        summary.bytesAfter = committed.summary.bytes
        try configuration.crashHook.check(.compactionCommitted)
        for id in old { try FileSystem.remove(store.segmentPath(key.series, key.day, SegmentID(id))) }
        monitor.withLock {
            state.counters.compactions += 1
            state.counters.rowsCompacted += rows.rowCount
        }
        return summary
    }
}
