import StrataFormat
import StrataPlatform

/// What a compaction did.
public struct CompactionSummary: Sendable {
    public var seriesDays = 0
    public var segmentsBefore = 0
    public var segmentsAfter = 0
    public var rows = 0
    public var bytesBefore = 0
    public var bytesAfter = 0
    public var tombstonesPurged = 0

    public init() {}
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
                let position = try wal.append(framed, rows: 0)
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
            guard !m.segments.isEmpty || !m.cold.isEmpty else { continue }
            if let start, start < m.deletesAppliedThrough || start < m.rowsFlushedThrough { continue }
            out.append((key, m))
        }
        return out
    }

    /// Drops unflushed rows of `series` in the range. Lock held.
    func deleteFromMemory(_ series: SeriesKey, from: Int64, to: Int64) {
        if state.memtable.delete(series, from: from, to: to) {
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
            // Over every segment the day has now, local or archived.
            let newest = max(m.segments.last?.id ?? 0, m.cold.map(\.id).max() ?? 0)
            m.tombstones.append(Tombstone(from: from, to: to, throughSegment: newest))
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

    /// Compacts the series-days matching the filters (`day`: the partition holding that
    /// day) that have more than one segment or have tombstones.
    public func compact(measurement: String? = nil, symbol: String? = nil, day: Day? = nil) throws(StrataError) -> CompactionSummary {
        try compact { key in
            (measurement == nil || key.series.measurement == measurement) && (symbol == nil || key.series.symbol == symbol)
                && (day.map { key.day.daysSinceEpoch <= $0.daysSinceEpoch && $0.daysSinceEpoch < key.day.nextDay } ?? true)
        }
    }

    /// Compacts the series-days for which `include` is true (and that have more than one
    /// segment or have tombstones).
    public func compact(where include: (SeriesDay) -> Bool) throws(StrataError) -> CompactionSummary {
        var summary = CompactionSummary()
        // A packed partition's series compact together, into one pack.
        var packed: [PartitionKey: [SeriesDay]] = [:]
        var partitions: [PartitionKey] = []
        for key in try store.seriesDays() where include(key) {
            if try store.layout(of: key.series.measurement) == .packed {
                let p = PartitionKey(measurement: key.series.measurement, day: key.day)
                if packed[p] == nil { partitions.append(p) }
                packed[p, default: []].append(key)
                continue
            }
            if let s = try writer.withLock({ () throws(StrataError) in try compact(key) }) { summary.add(s) }
        }
        for p in partitions {
            if let s = try writer.withLock({ () throws(StrataError) in try compact(packed[p]!) }) { summary.add(s) }
        }
        return summary
    }

    /// One partition of one measurement.
    struct PartitionKey: Hashable {
        var measurement: String
        var day: Day
    }

    /// Merges the segments of one series-day into one, in query order (time, then arrival
    /// for equal times), without the rows its tombstones delete, with codecs chosen anew;
    /// the manifest switches to it atomically and the old files are removed. Nil when
    /// there is nothing to do. Call holding `writer`.
    func compact(_ key: SeriesDay) throws(StrataError) -> CompactionSummary? {
        try compact([key])
    }

    /// Compacts several series-days in one switch: those of one packed partition (whose
    /// packs are rewritten into one), or one series-day. Call holding `writer`.
    func compact(_ keys: [SeriesDay]) throws(StrataError) -> CompactionSummary? {
        try checkOpen()
        var summary = CompactionSummary()
        var new: [Store.NewSegment] = []
        var replaced: [SeriesDay: (old: Set<UInt64>, archived: Bool)] = [:]
        for key in keys {
            let manifest = try store.manifest(key)
            guard let merged = try merge(key, manifest) else { continue }
            replaced[key] = (Set(manifest.segments.map(\.id)), !manifest.cold.isEmpty)
            if let segment = merged.segment { new.append(segment) }
            summary.add(merged.summary)
        }
        guard let first = keys.first else { return nil }
        let packed = try store.layout(of: first.series.measurement) == .packed
        if replaced.isEmpty {
            // A packed partition of several packs compacts into one even when no series
            // needs merging.
            guard packed, try store.packCount(first.series.measurement, first.day) > 1 else { return nil }
        }
        let touched = packed ? keys : Array(replaced.keys)
        let series = Array(Set(touched.map(\.series)))
        beginSwitch(series)
        defer { monitor.withLock { endSwitch(series) } }
        // The manifests as read above: the writer lock is held throughout.
        let committed = try store.commit(new, touching: touched, edit: { key, m in
            guard let r = replaced[key] else { return }
            m.segments.removeAll { r.old.contains($0.id) }
            if !r.archived { m.tombstones = [] }
        }, crash: configuration.crashHook, repack: packed)
        summary.bytesAfter = committed.summary.bytes
        try configuration.crashHook.check(.compactionCommitted)
        if !packed {
            // A packed partition's old packs went with the switch.
            for (key, r) in replaced {
                for id in r.old {
                    let path = store.segmentPath(key.series, key.day, SegmentID(id))
                    store.openSegments.forget(path)
                    try FileSystem.remove(path)
                }
            }
        }
        monitor.withLock {
            state.counters.compactions += 1
            state.counters.rowsCompacted += summary.rows
        }
        return summary
    }

    /// The merged segment of one series-day and what merging it does; nil when there is
    /// nothing to merge.
    func merge(_ key: SeriesDay, _ manifest: DayManifest) throws(StrataError) -> (segment: Store.NewSegment?, summary: CompactionSummary)? {
        // Archived segments stay as they are: only local ones are merged, and tombstones
        // stay while archived segments may still hold rows they delete.
        let archived = !manifest.cold.isEmpty
        guard manifest.segments.count >= 2 || (!manifest.tombstones.isEmpty && !archived && !manifest.segments.isEmpty) else { return nil }
        var local = manifest
        local.cold = []
        let view = try store.openDay(key, local)
        // The fields the segments have, in the measurement's order.
        let measurementSchema = try schema(key.series.measurement)
        // Against the whole schema: a field of another type would otherwise just be left out.
        try SeriesSnapshot(series: key.series, schema: measurementSchema, days: [view]).checkFieldTypes(against: measurementSchema)
        let present = Set(view.segments.flatMap(\.schema))
        let fields = measurementSchema.fields.filter(present.contains)
        let snapshot = SeriesSnapshot(series: key.series, schema: MeasurementSchema(fields: fields), days: [view])
        let rows = try snapshot.query().rows
        var summary = CompactionSummary()
        summary.seriesDays = 1
        summary.segmentsBefore = manifest.segments.count
        summary.segmentsAfter = rows.rowCount > 0 ? 1 : 0
        summary.rows = rows.rowCount
        summary.bytesBefore = view.segments.reduce(0) { $0 + $1.size }
        summary.tombstonesPurged = archived ? 0 : manifest.tombstones.count
        return (rows.rowCount > 0 ? Store.NewSegment(key: key, schema: fields, rows: rows) : nil, summary)
    }
}

extension CompactionSummary {
    mutating func add(_ s: CompactionSummary) {
        seriesDays += s.seriesDays
        segmentsBefore += s.segmentsBefore
        segmentsAfter += s.segmentsAfter
        rows += s.rows
        bytesBefore += s.bytesBefore
        bytesAfter += s.bytesAfter
        tombstonesPurged += s.tombstonesPurged
    }
}

extension Database {
    // MARK: Archiving

    /// Moves the local segments of a series-day to the archive: merges them into one
    /// (compaction), hands that segment to `upload` — which stores it and returns its key
    /// and size once the copy is verified — then switches the day's manifest to list it as
    /// archived, and only then removes the local file. The upload runs without the writer
    /// lock, so flushes, deletes and compactions go on meanwhile; if the segment was
    /// replaced in that time (compacted with late rows), nothing switches and nil is
    /// returned (the caller may remove what it uploaded). Segments added meanwhile stay
    /// local. A crash before the switch leaves the local segment live (the uploaded object
    /// is simply written again next time); after it, the leftover file is removed on open.
    /// Returns the archived entry, or nil when the day has no local segment.
    public func archive(_ key: SeriesDay, upload: (Segment) throws(StrataError) -> (key: String, bytes: UInt64)) throws(StrataError) -> DayManifest.ColdEntry? {
        if try store.layout(of: key.series.measurement) == .packed {
            return try archive(packed: [key]) { (_, segment) throws(StrataError) in try upload(segment) }[key]
        }
        let picked = try writer.withLock { () throws(StrataError) -> (DayManifest.Entry, Segment)? in
            try checkOpen()
            _ = try compact(key)
            let manifest = try store.manifest(key)
            guard manifest.segments.count == 1, let entry = manifest.segments.first else { return nil }
            let id = SegmentID(entry.id)
            return (entry, try Segment(path: store.segmentPath(key.series, key.day, id), id: id))
        }
        guard let (entry, segment) = picked else { return nil }
        // The mapping keeps the bytes readable even if a compaction removes the file meanwhile.
        let uploaded = try upload(segment)
        let cold = DayManifest.ColdEntry(id: entry.id, rows: entry.rows, bytes: uploaded.bytes, key: uploaded.key)
        return try writer.withLock { () throws(StrataError) -> DayManifest.ColdEntry? in
            try checkOpen()
            let manifest = try store.manifest(key)
            guard manifest.segments.contains(where: { $0.id == entry.id }) else { return nil }
            beginSwitch([key.series])
            defer { monitor.withLock { endSwitch([key.series]) } }
            _ = try store.commit([], touching: [key], base: { _ in manifest }, edit: { _, m in
                m.segments.removeAll { $0.id == entry.id }
                m.cold.append(cold)
                m.cold.sort { $0.id < $1.id }
            }, crash: configuration.crashHook)
            store.openSegments.forget(segment.path)
            try FileSystem.remove(segment.path)
            return cold
        }
    }

    /// Brings archived segments of a series-day back to local disk: each object's segment
    /// (from `fetch`, verified by its checksums) is written as a local segment with its old
    /// id, then the manifest switches from the archived entry to the local one.
    public func restore(_ key: SeriesDay, fetch: (DayManifest.ColdEntry) throws(StrataError) -> [UInt8]) throws(StrataError) -> Int {
        if try store.layout(of: key.series.measurement) == .packed { return try restore(packed: key, fetch: fetch) }
        return try writer.withLock { () throws(StrataError) -> Int in
            try checkOpen()
            let manifest = try store.manifest(key)
            guard !manifest.cold.isEmpty else { return 0 }
            var restored = 0
            for entry in manifest.cold {
                let bytes = try fetch(entry)
                let path = store.segmentPath(key.series, key.day, SegmentID(entry.id))
                try FileSystem.makeDirectories(store.dayPath(key.series, key.day))
                try FileSystem.writeAtomically(path, [bytes])
                // The file must be a valid segment of this series-day before it goes live.
                let segment = try Segment(path: path, id: SegmentID(entry.id))
                guard segment.footer.measurement == key.series.measurement, segment.footer.symbol == key.series.symbol,
                      segment.footer.day == key.day.daysSinceEpoch, UInt64(segment.footer.rowCount) == entry.rows else {
                    try? FileSystem.remove(path)
                    throw StrataError(.corrupt, "archived object \(entry.key) does not hold segment \(entry.id) of \(key)", path: path)
                }
                restored += 1
            }
            // The restored files are durable under their ids; the manifest's rename makes
            // them live. (Not through `commit`, whose cleanup would take them for leftovers.)
            var m = manifest
            for entry in m.cold { m.segments.append(DayManifest.Entry(id: entry.id, rows: entry.rows)) }
            m.segments.sort { $0.id < $1.id }
            m.cold = []
            beginSwitch([key.series])
            defer { monitor.withLock { endSwitch([key.series]) } }
            try FileSystem.writeAtomically(store.manifestPath(key), [m.encode()])
            store.noteCensusChange(key, m)
            return restored
        }
    }
}

extension Database {
    /// `archive` for series-days of one packed partition, together: one compaction of the
    /// partition, then each series' one segment image handed to `upload` (without the writer
    /// lock), then one switch of the partition's manifest that lists the uploaded segments as
    /// archived. Packs left with no live image go with the switch. Returns the entries archived.
    public func archive(packed keys: [SeriesDay], upload: (SeriesDay, Segment) throws(StrataError) -> (key: String, bytes: UInt64)) throws(StrataError) -> [SeriesDay: DayManifest.ColdEntry] {
        let picked = try writer.withLock { () throws(StrataError) -> [(SeriesDay, DayManifest.Entry, Segment)] in
            try checkOpen()
            _ = try compact(keys)
            var out: [(SeriesDay, DayManifest.Entry, Segment)] = []
            for key in keys {
                let manifest = try store.manifest(key)
                guard manifest.segments.count == 1, let entry = manifest.segments.first else { continue }
                guard let source = try store.openDay(key, manifest).segments.first else { continue }
                // A slice of a group image goes to the archive as a segment of its own.
                if let slice = source as? GroupSlice {
                    out.append((key, entry, try slice.segment { schema, rows in store.encodeSegment(key.series, day: key.day, schema: schema, rows: rows) }))
                } else if let segment = source as? Segment {
                    out.append((key, entry, segment))
                }
            }
            return out
        }
        // Each segment keeps its pack mapped: a compaction meanwhile cannot take its bytes.
        var cold: [SeriesDay: (DayManifest.Entry, DayManifest.ColdEntry)] = [:]
        for (key, entry, segment) in picked {
            let uploaded = try upload(key, segment)
            cold[key] = (entry, DayManifest.ColdEntry(id: entry.id, rows: entry.rows, bytes: uploaded.bytes, key: uploaded.key))
        }
        guard !cold.isEmpty else { return [:] }
        return try writer.withLock { () throws(StrataError) -> [SeriesDay: DayManifest.ColdEntry] in
            try checkOpen()
            // Only segments still live switch (a compaction with late rows replaced the others).
            var switching: [SeriesDay: DayManifest.ColdEntry] = [:]
            for (key, (entry, c)) in cold where try store.manifest(key).segments.contains(where: { $0.id == entry.id }) { switching[key] = c }
            guard !switching.isEmpty else { return [:] }
            let series = Array(Set(switching.keys.map(\.series)))
            beginSwitch(series)
            defer { monitor.withLock { endSwitch(series) } }
            _ = try store.commit([], touching: Array(switching.keys), edit: { key, m in
                guard let c = switching[key] else { return }
                m.segments.removeAll { $0.id == c.id }
                m.cold.append(c)
                m.cold.sort { $0.id < $1.id }
            }, crash: configuration.crashHook)
            return switching
        }
    }

    /// `restore` for a series-day of a packed partition: the archived segments, fetched and
    /// checked, go into a new pack with their ids, and the partition's manifest switches them
    /// from archived to local.
    func restore(packed key: SeriesDay, fetch: (DayManifest.ColdEntry) throws(StrataError) -> [UInt8]) throws(StrataError) -> Int {
        try writer.withLock { () throws(StrataError) -> Int in
            try checkOpen()
            let manifest = try store.manifest(key)
            guard !manifest.cold.isEmpty else { return 0 }
            var images: [Store.NewSegment] = []
            for entry in manifest.cold {
                let bytes = try fetch(entry)
                // The bytes must be a valid segment of this series-day before they go live.
                let footer = try bytes.withUnsafeBytes { raw in Result { () throws(FormatError) in try SegmentReader(raw).footer } }
                    .mapError { StrataError.corrupt($0, path: entry.key) }.get()
                guard footer.measurement == key.series.measurement, footer.symbol == key.series.symbol,
                      footer.day == key.day.daysSinceEpoch, UInt64(footer.rowCount) == entry.rows else {
                    throw StrataError(.corrupt, "archived object \(entry.key) does not hold segment \(entry.id) of \(key)", path: entry.key)
                }
                images.append(Store.NewSegment(key: key, schema: footer.schema, rows: RowBlock(timestamps: [], columns: []), image: (entry.id, bytes)))
            }
            beginSwitch([key.series])
            defer { monitor.withLock { endSwitch([key.series]) } }
            _ = try store.commit(images, touching: [key], edit: { _, m in
                for entry in m.cold { m.segments.append(DayManifest.Entry(id: entry.id, rows: entry.rows)) }
                m.segments.sort { $0.id < $1.id }
                m.cold = []
            }, crash: configuration.crashHook)
            return images.count
        }
    }
}
