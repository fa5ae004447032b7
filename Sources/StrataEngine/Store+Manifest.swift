import StrataFormat
import StrataPlatform

/// One series on one day: the unit a manifest, a compaction and a tombstone apply to.
public struct SeriesDay: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var series: SeriesKey
    public var day: Day

    public init(_ series: SeriesKey, _ day: Day) {
        self.series = series
        self.day = day
    }

    public static func < (a: SeriesDay, b: SeriesDay) -> Bool { (a.series, a.day) < (b.series, b.day) }
    public var description: String { "\(series) \(day)" }
}

/// The segments and tombstones of one series-day as a reader sees them.
package struct DayView: Sendable {
    public var day: Day
    public var segments: [any SegmentSource]
    public var tombstones: [Tombstone]

    /// Time ranges deleted from `segment`.
    func deletedRanges(_ segment: any SegmentSource) -> [ClosedRange<Int64>] {
        tombstones.filter { segment.id.value <= $0.throughSegment }.map { $0.from...$0.to }
    }
}

/// Rows not yet in a segment, in arrival order, with the fields they were written with.
package struct RowChunk: Sendable {
    public var schema: [Field]
    public var rows: RowBlock

    public init(schema: [Field], rows: RowBlock) {
        self.schema = schema
        self.rows = rows
    }
}

extension Store {
    func manifestPath(_ key: SeriesDay) -> String { "\(dayPath(key.series, key.day))/\(DayManifest.fileName)" }

    /// The manifest of a series-day; an empty one when the day has none yet.
    public func manifest(_ key: SeriesDay) throws(StrataError) -> DayManifest {
        if try layout(of: key.series.measurement) == .packed { return try packEntry(key)?.manifest ?? DayManifest() }
        let path = manifestPath(key)
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch where error.code == .notFound {
            return DayManifest()
        }
        do {
            return try file.withUnsafeBytes { (bytes) throws(FormatError) in try DayManifest.decode(bytes) }
        } catch {
            throw StrataError.corrupt(error, path: path)
        }
    }

    /// Opens the live segments of a series-day. A compaction in another process may
    /// remove a segment between reading the manifest and opening it: then the manifest
    /// is read again.
    package func openDay(_ key: SeriesDay) throws(StrataError) -> DayView {
        var attempt = 0
        let packed = try layout(of: key.series.measurement) == .packed
        while true {
            do {
                if packed {
                    // The day manifest and its segments' places from one read.
                    let (manifest, segments) = try openPackedDay(key)
                    return try openDay(key, manifest, local: segments)
                }
                return try openDay(key, try self.manifest(key))
            } catch where error.code == .notFound && attempt < 5 {
                attempt += 1
            }
        }
    }

    /// Opens the segments `manifest` lists, each checked to be the segment the manifest
    /// means (`checkListed`).
    package func openDay(_ key: SeriesDay, _ manifest: DayManifest, local: [any SegmentSource]? = nil) throws(StrataError) -> DayView {
        var segments: [any SegmentSource] = []
        if let local {
            segments = local
        } else if try layout(of: key.series.measurement) == .packed {
            segments = try openPackedSegments(key, manifest)
        } else {
            for entry in manifest.segments {
                let id = SegmentID(entry.id)
                let segment = try openSegments.segment(path: segmentPath(key.series, key.day, id), id: id)
                try checkListed(segment, key, rows: entry.rows)
                segments.append(segment)
            }
        }
        if !manifest.cold.isEmpty {
            guard let cold = configuration.coldStorage else {
                throw StrataError(.invalidInput, "\(manifest.cold.count) segment(s) of \(key) are in the archive (\(manifest.cold[0].key)); open the store with its archive to read them",
                                  path: dayPath(key.series, key.day))
            }
            for entry in manifest.cold {
                let segment = try cold.open(ColdSegmentEntry(series: key.series, day: key.day, id: SegmentID(entry.id),
                                                             key: entry.key, rows: entry.rows, bytes: entry.bytes))
                try checkListed(segment, key, rows: entry.rows)
                segments.append(segment)
            }
            // Segment order (by id) decides the order of rows with equal times.
            segments.sort { $0.id < $1.id }
        }
        return DayView(day: key.day, segments: segments, tombstones: manifest.tombstones)
    }

    /// Checks, from the footer already read, that `segment` is what the manifest of `key`
    /// lists (Format.md, "Day manifest" and "Footer"): it names the directory's
    /// measurement, symbol and day, holds the manifest's row count, and was cut into days
    /// with this store's day offset. A segment copied into another series' or day's
    /// directory is an error naming the file, never rows of the wrong series.
    func checkListed(_ segment: any SegmentSource, _ key: SeriesDay, rows: UInt64) throws(StrataError) {
        let f = segment.footer
        if f.measurement != key.series.measurement || f.symbol != key.series.symbol || f.day != key.day.daysSinceEpoch {
            throw StrataError(.corrupt, "the segment holds \(f.measurement)/\(f.symbol) on \(Day(daysSinceEpoch: f.day)), but its directory and manifest are those of \(key.series) on \(key.day)",
                              path: segment.location)
        }
        if UInt64(f.rowCount) != rows {
            throw StrataError(.corrupt, "the segment's blocks hold \(f.rowCount) rows; the manifest of \(key.series) on \(key.day) lists it with \(rows)",
                              path: segment.location)
        }
        if f.dayOffsetSeconds != configuration.dayOffsetSeconds {
            throw StrataError(.conflict, "the segment's days were cut with a day offset of \(f.dayOffsetSeconds) s, this reader's with \(configuration.dayOffsetSeconds) s: it would miss rows at the ends of days",
                              path: segment.location)
        }
    }

    /// Ids of the live segments of a series-day.
    package func segmentIDs(_ series: SeriesKey, _ day: Day) throws(StrataError) -> [SegmentID] {
        try manifest(SeriesDay(series, day)).segments.map { SegmentID($0.id) }
    }

    package func openSegments(_ series: SeriesKey, _ day: Day) throws(StrataError) -> [any SegmentSource] {
        try openDay(SeriesDay(series, day)).segments
    }

    /// Every series-day of the store (of measurements of one `layout` only, if given).
    public func seriesDays(layout only: MeasurementLayout? = nil) throws(StrataError) -> [SeriesDay] {
        var out: [SeriesDay] = []
        for m in try measurements() {
            let layout = try layout(of: m)
            if let only, layout != only { continue }
            if layout == .packed {
                for day in try packedPartitions(m) {
                    let symbols = try withPackManifest(m, day) { (view) throws(FormatError) in try view?.symbols() ?? [] }
                    for s in symbols { out.append(SeriesDay(try SeriesKey(measurement: m, symbol: s), day)) }
                }
                continue
            }
            for s in try symbols(m) {
                let series = try SeriesKey(measurement: m, symbol: s)
                for d in try days(series) { out.append(SeriesDay(series, d)) }
            }
        }
        return out
    }

    /// Removes what crashed writers left in a series-day directory: temporary files and
    /// segments its manifest does not list. Call with the write lock held.
    @discardableResult
    func removeOrphans(_ key: SeriesDay, _ manifest: DayManifest) throws(StrataError) -> [String] {
        let dir = dayPath(key.series, key.day)
        let live = Set(manifest.segments.map { SegmentID($0.id).fileName })
        var removed: [String] = []
        for name in try FileSystem.list(dir) {
            let temporary = name.hasPrefix(".") && name.hasSuffix(".tmp")
            let orphan = SegmentID(fileName: name) != nil && !live.contains(name)
            if temporary || orphan {
                openSegments.forget("\(dir)/\(name)")
                try FileSystem.remove("\(dir)/\(name)")
                removed.append("\(dir)/\(name)")
            }
        }
        return removed
    }

    /// A segment to add to a series-day: sorted rows of that day.
    struct NewSegment {
        var key: SeriesDay
        var schema: [Field]
        var rows: RowBlock
        /// A segment's bytes that exist already, with the id they keep (a segment coming back
        /// from the archive into a packed partition; `edit` lists it). `rows` is then unused.
        var image: (id: UInt64, bytes: [UInt8])? = nil
    }

    /// Writes new segments and the manifests that make them live, crash-safely: segments
    /// first under temporary names, then renamed, then the manifests renamed over the old
    /// ones. A crash before a manifest's rename leaves that day's old set (the new file is
    /// an orphan, removed later); after it, the new set. `base` gives each day's current
    /// manifest; `edit` may change a manifest further before it is written (watermarks,
    /// removed segments). Returns the new manifests. Call with the write lock held.
    ///
    /// If it throws, `switched` tells how many manifests were already replaced: those
    /// series-days have their new set even though the write as a whole failed.
    func commit(_ new: [NewSegment], touching extra: [SeriesDay] = [], base: ((SeriesDay) throws(StrataError) -> DayManifest)? = nil,
                edit: (SeriesDay, inout DayManifest) -> Void = { _, _ in },
                crash: CrashHook = .none, repack: Bool = false) throws(StrataError) -> (manifests: [SeriesDay: DayManifest], summary: WriteSummary) {
        var switched = 0
        return try commit(new, touching: extra, base: base, edit: edit, crash: crash, repack: repack, switched: &switched)
    }

    func commit(_ new: [NewSegment], touching extra: [SeriesDay] = [], base: ((SeriesDay) throws(StrataError) -> DayManifest)? = nil,
                edit: (SeriesDay, inout DayManifest) -> Void = { _, _ in },
                crash: CrashHook = .none, repack: Bool = false, switched: inout Int) throws(StrataError) -> (manifests: [SeriesDay: DayManifest], summary: WriteSummary) {
        // Packed measurements' series-days switch partition by partition (Store+Pack.swift).
        var packed: Set<String> = []
        for m in Set(new.map(\.key.series.measurement) + extra.map(\.series.measurement)) where try layout(of: m) == .packed { packed.insert(m) }
        if !packed.isEmpty {
            // Each layout's commit only for what it has: an empty one would still pass the
            // crash points.
            let mixed = new.contains { !packed.contains($0.key.series.measurement) } || extra.contains { !packed.contains($0.series.measurement) }
            if !mixed { return try commitPacked(new, touching: extra, base: base, edit: edit, crash: crash, repack: repack, switched: &switched) }
            let own = try commitSeries(new.filter { !packed.contains($0.key.series.measurement) }, touching: extra.filter { !packed.contains($0.series.measurement) },
                                       base: base, edit: edit, crash: crash, switched: &switched)
            let shared = try commitPacked(new.filter { packed.contains($0.key.series.measurement) }, touching: extra.filter { packed.contains($0.series.measurement) },
                                          base: base, edit: edit, crash: crash, repack: repack, switched: &switched)
            var summary = own.summary
            summary.rows += shared.summary.rows
            summary.bytes += shared.summary.bytes
            summary.segments += shared.summary.segments
            return (own.manifests.merging(shared.manifests) { $1 }, summary)
        }
        return try commitSeries(new, touching: extra, base: base, edit: edit, crash: crash, switched: &switched)
    }

    private func commitSeries(_ new: [NewSegment], touching extra: [SeriesDay], base: ((SeriesDay) throws(StrataError) -> DayManifest)?,
                              edit: (SeriesDay, inout DayManifest) -> Void,
                              crash: CrashHook, switched: inout Int) throws(StrataError) -> (manifests: [SeriesDay: DayManifest], summary: WriteSummary) {
        var manifests: [SeriesDay: DayManifest] = [:]
        var order: [SeriesDay] = []
        var summary = WriteSummary()
        let group = new.count + Set(new.map(\.key)).count + extra.count > Store.groupSyncThreshold
        func load(_ key: SeriesDay) throws(StrataError) {
            guard manifests[key] == nil else { return }
            let m: DayManifest
            if let base { m = try base(key) } else { m = try manifest(key) }
            try FileSystem.makeDirectories(dayPath(key.series, key.day), sync: !group)
            try removeOrphans(key, m)
            manifests[key] = m
            order.append(key)
        }
        var files: [(temporary: String, final: String, pieces: [[UInt8]])] = []
        for s in new {
            try load(s.key)
            let id = SegmentID(manifests[s.key]!.addSegment(rows: UInt64(s.rows.rowCount)))
            let final = segmentPath(s.key.series, s.key.day, id)
            let pieces = encodeSegment(s.key.series, day: s.key.day, schema: s.schema, rows: s.rows)
            files.append((FileSystem.temporaryPath(for: final), final, pieces))
            summary.rows += s.rows.rowCount
            summary.bytes += pieces.reduce(0) { $0 + $1.count }
            summary.segments.append(final)
        }
        for key in extra { try load(key) }
        var manifestFiles: [(temporary: String, final: String, pieces: [[UInt8]])] = []
        for key in order {
            edit(key, &manifests[key]!)
            let final = manifestPath(key)
            manifestFiles.append((FileSystem.temporaryPath(for: final), final, [manifests[key]!.encode()]))
        }
        var written: [String] = []
        do throws(StrataError) {
            for f in files + manifestFiles {
                try? FileSystem.remove(f.temporary)
                try FileSystem.writeFile(f.temporary, f.pieces, sync: !group)
                written.append(f.temporary)
            }
            try crash.check(.segmentsWritten)
            // Segments under their names before any manifest names them; then the
            // manifests, each an atomic switch from the old set to the new one.
            if group { try FileSystem.syncFileSystem(directory) }
            for f in files { try FileSystem.rename(f.temporary, f.final) }
            if group {
                try FileSystem.syncFileSystem(directory)
            } else {
                for dir in Set(files.map { FileSystem.parentDirectory($0.final) }) { try FileSystem.syncDirectory(dir) }
            }
            try crash.check(.segmentsRenamed)
            for (i, f) in manifestFiles.enumerated() {
                try FileSystem.rename(f.temporary, f.final)
                noteCensusChange(order[i], manifests[order[i]])
                switched += 1
                if i == 0 { try crash.check(.firstManifestRenamed) }
            }
            if group {
                try FileSystem.syncFileSystem(directory)
            } else {
                for dir in Set(manifestFiles.map { FileSystem.parentDirectory($0.final) }) { try FileSystem.syncDirectory(dir) }
            }
        } catch {
            for t in written { try? FileSystem.remove(t) }
            throw error
        }
        return (manifests, summary)
    }
}
