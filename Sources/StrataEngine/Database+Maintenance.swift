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
            // Holding `writer`, no flush is running: this series has no buffer in flight.
            let (start, end) = try monitor.withLock { () throws(StrataError) in
                if state.closed { throw StrataError(.invalidInput, "the database is closed", path: store.directory) }
                if let failure = state.failure { throw failure }
                return try wal.append(framed)
            }
            try applyDelete(series, from: from, to: to, start: start, end: end)
            monitor.withLock { state.counters.deletes += 1 }
            return end
        }
    }

    /// Applies a delete record: drops unflushed rows in the range and adds a tombstone to
    /// each day that has segments. On replay, a day whose manifest shows a flush or a
    /// delete applied after `start` already reflects it and is left alone. Call holding
    /// `writer`.
    func applyDelete(_ series: SeriesKey, from: Int64, to: Int64, start: WALPosition, end: WALPosition) throws(StrataError) {
        var days: [SeriesDay] = []
        var base: [SeriesDay: DayManifest] = [:]
        for day in try store.days(series, from: from, to: to) {
            let key = SeriesDay(series, day)
            let m = try store.manifest(key)
            guard !m.segments.isEmpty, start >= m.deletesAppliedThrough, start >= m.rowsFlushedThrough else { continue }
            days.append(key)
            base[key] = m
        }
        beginSwitch([series])
        defer { monitor.withLock { endSwitch([series]) } }
        monitor.withLock {
            guard var buffer = state.active[series] else { return }
            let before = buffer.bytes
            if buffer.delete(from: from, to: to) > 0 {
                state.memoryBytes -= before - buffer.bytes
                state.active[series] = buffer.rows == 0 ? nil : buffer
            }
        }
        guard !days.isEmpty else { return }
        _ = try store.commit([], touching: days, base: { key in base[key]! }, edit: { _, m in
            m.tombstones.append(Tombstone(from: from, to: to, throughSegment: m.segments.last!.id))
            m.deletesAppliedThrough = end
        }, crash: configuration.crashHook)
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
