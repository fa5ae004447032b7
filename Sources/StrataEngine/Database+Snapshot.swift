import Glibc
import StrataFormat
import StrataPlatform

/// A consistent view of a store's files for a backup: every series-day's manifest, the
/// segments it lists (held by hard links, so compaction or archiving may go on), and the
/// schema files. Taken after a flush, it holds every row acknowledged before it began,
/// so the write-ahead log adds nothing to it. `discard` removes the links.
package struct StoreSnapshot: Sendable {
    package struct SegmentFile: Sendable {
        public var id: SegmentID
        public var rows: UInt64
        /// The hard link that keeps the segment's bytes while the snapshot lives.
        public var path: String
        public var size: Int
    }

    package struct SeriesDayFiles: Sendable {
        public var key: SeriesDay
        /// The `_manifest` bytes.
        public var manifest: [UInt8]
        public var segments: [SegmentFile]
        /// Segments the manifest lists as archived (they stay in the archive).
        public var archived: [DayManifest.ColdEntry]
    }

    /// One partition of a packed measurement: its pack manifest and its packs.
    package struct PackedPartitionFiles: Sendable {
        public var measurement: String
        public var day: Day
        /// The pack manifest's bytes.
        public var manifest: [UInt8]
        /// Each pack the manifest locates: its id, the hard link keeping its bytes, its size
        /// and the rows of the segment images the manifest locates in it.
        public var packs: [(id: UInt64, path: String, size: Int, rows: UInt64)]
        /// Segments its series list as archived (they stay in the archive).
        public var archived: [DayManifest.ColdEntry]
    }

    /// Measurement → its `_schema` file's bytes.
    public var schemas: [String: [UInt8]]
    /// Measurement → its `_layout` file's bytes (packed measurements only).
    public var layouts: [String: [UInt8]] = [:]
    /// The partitions of packed measurements.
    public var packed: [PackedPartitionFiles] = []
    /// Measurement → its `_partition` file's bytes (none for a measurement of days made
    /// before periods existed).
    public var partitions: [String: [UInt8]] = [:]
    public var days: [SeriesDayFiles]
    /// The log position every row of the snapshot was flushed through.
    package var walPosition: WALPosition
    /// The directory of the hard links.
    package let staging: String

    public var rows: UInt64 {
        days.reduce(0) { $0 + $1.segments.reduce(0) { $0 + $1.rows } + $1.archived.reduce(0) { $0 + $1.rows } }
            + packed.reduce(0) { $0 + $1.packs.reduce(0) { $0 + $1.rows } + $1.archived.reduce(0) { $0 + $1.rows } }
    }

    /// Removes the hard links.
    package func discard() {
        try? FileSystem.removeTree(staging)
    }
}

extension Database {
    /// Where snapshots keep their hard links; leftovers of a crash are removed on open.
    var snapshotDirectory: String { "\(store.directory)/_snapshots" }

    /// Takes a snapshot of the series-days of `measurement` (all when nil) and, within
    /// them, of `symbols` (all when nil): flushes what is in memory, then — holding the
    /// writer lock, so no manifest changes meanwhile — reads each manifest and hard-links
    /// the segments it lists. Appends go on throughout; they belong to the next snapshot.
    package func snapshot(measurement: String? = nil, symbols: Set<String>? = nil) throws(StrataError) -> StoreSnapshot {
        try writer.withLock { () throws(StrataError) -> StoreSnapshot in
            try checkOpen()
            _ = try flush(all: true)
            try FileSystem.makeDirectories(snapshotDirectory)
            var staging = ""
            for attempt in 0..<1000 {
                let candidate = "\(snapshotDirectory)/\(getpid())-\(CivilTime.now())-\(attempt)"
                if mkdir(candidate, 0o755) == 0 { staging = candidate; break }
                if errno != EEXIST { throw FileSystem.failure("mkdir", candidate) }
            }
            var snapshot = StoreSnapshot(schemas: [:], days: [], walPosition: WALPosition.zero, staging: staging)
            do throws(StrataError) {
                for m in try store.measurements() where measurement == nil || m == measurement {
                    let schemaPath = store.schemaPath(m)
                    if FileSystem.exists(schemaPath) {
                        snapshot.schemas[m] = try MappedFile(path: schemaPath).withUnsafeBytes { Array($0) }
                    }
                    let partitionPath = store.partitionPath(m)
                    if FileSystem.exists(partitionPath) {
                        snapshot.partitions[m] = try MappedFile(path: partitionPath).withUnsafeBytes { Array($0) }
                    }
                    if try store.layout(of: m) == .packed {
                        try snapshotPacked(m, symbols: symbols, into: &snapshot)
                    }
                }
                for key in try store.seriesDays(layout: .series) {
                    if let measurement, key.series.measurement != measurement { continue }
                    if let symbols, !symbols.contains(key.series.symbol) { continue }
                    let manifest = try store.manifest(key)
                    snapshot.walPosition = max(snapshot.walPosition, manifest.rowsFlushedThrough, manifest.deletesAppliedThrough)
                    var files = StoreSnapshot.SeriesDayFiles(key: key, manifest: manifest.encode(), segments: [], archived: manifest.cold)
                    for entry in manifest.segments {
                        let id = SegmentID(entry.id)
                        let link = "\(staging)/\(snapshot.days.count)-\(id.fileName)"
                        let source = store.segmentPath(key.series, key.day, id)
                        try FileSystem.link(source, link)
                        files.segments.append(StoreSnapshot.SegmentFile(id: id, rows: entry.rows, path: link, size: try FileSystem.fileSize(link)))
                    }
                    snapshot.days.append(files)
                }
            } catch {
                snapshot.discard()
                throw error
            }
            return snapshot
        }
    }

    /// Adds a packed measurement to a snapshot being taken: its `_layout`, and per partition
    /// the pack manifest's bytes and hard links to its packs. A packed partition is one unit
    /// on disk, so it is backed up whole: a backup of some of its symbols is refused.
    func snapshotPacked(_ m: String, symbols: Set<String>?, into snapshot: inout StoreSnapshot) throws(StrataError) {
        if symbols != nil {
            throw StrataError(.invalidInput, "measurement '\(m)' is packed: its partitions are backed up whole, so back it up without --symbol", path: store.measurementPath(m), field: "symbol")
        }
        snapshot.layouts[m] = try MappedFile(path: store.layoutPath(m)).withUnsafeBytes { Array($0) }
        for day in try store.packedPartitions(m) {
            let path = store.packManifestPath(m, day)
            guard FileSystem.exists(path) else { continue }
            let bytes = try MappedFile(path: path).withUnsafeBytes { Array($0) }
            let pack = try bytes.withUnsafeBytes { raw in Result { () throws(FormatError) in try PackManifest.decode(raw) } }
                .mapError { StrataError.corrupt($0, path: path) }.get()
            var rows: [UInt64: UInt64] = [:]
            var files = StoreSnapshot.PackedPartitionFiles(measurement: m, day: day, manifest: bytes, packs: [], archived: [])
            for e in pack.entries {
                snapshot.walPosition = max(snapshot.walPosition, e.manifest.rowsFlushedThrough, e.manifest.deletesAppliedThrough)
                for (segment, location) in zip(e.manifest.segments, e.locations) { rows[location.pack, default: 0] += segment.rows }
                files.archived += e.manifest.cold
            }
            for id in rows.keys.sorted() {
                let link = "\(snapshot.staging)/p\(snapshot.packed.count)-\(paddedHex(id, digits: 16)).pack"
                try FileSystem.link(store.packPath(m, day, id), link)
                files.packs.append((id, link, try FileSystem.fileSize(link), rows[id]!))
            }
            snapshot.packed.append(files)
        }
    }

    /// Removes hard links that snapshots of a crashed process left.
    func removeStaleSnapshots() {
        for dir in (try? FileSystem.list(snapshotDirectory)) ?? [] {
            StoreSnapshot(schemas: [:], days: [], walPosition: WALPosition.zero, staging: "\(snapshotDirectory)/\(dir)").discard()
        }
    }
}
