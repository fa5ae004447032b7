/// A place in the write-ahead log: a file's sequence number and a byte offset in it.
/// Positions grow with every record ever written to a store's log.
public struct WALPosition: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var file: UInt64
    public var offset: UInt64

    public init(file: UInt64, offset: UInt64) {
        self.file = file
        self.offset = offset
    }

    public static let zero = WALPosition(file: 0, offset: 0)

    public static func < (a: WALPosition, b: WALPosition) -> Bool {
        (a.file, a.offset) < (b.file, b.offset)
    }

    public var description: String { "\(file):\(offset)" }
}

/// A deleted time range of a series-day: rows with from ≤ time ≤ to in the segments
/// numbered up to `throughSegment` are gone. Segments written later (newer rows,
/// corrections) are not affected.
public struct Tombstone: Hashable, Sendable {
    public var from: Int64
    public var to: Int64
    public var throughSegment: UInt64

    public init(from: Int64, to: Int64, throughSegment: UInt64) {
        precondition(from <= to, "a tombstone's range is from ≤ to")
        self.from = from
        self.to = to
        self.throughSegment = throughSegment
    }

    public func covers(segment: UInt64, time: Int64) -> Bool {
        segment <= throughSegment && time >= from && time <= to
    }
}

/// The live segments of one series-day, `<day-dir>/_manifest`: the single source of
/// truth for which segment files hold data. A new manifest replaces the old one
/// atomically (rename), so a crash leaves the old set or the new set.
///
///     │ header "STRATMAN" v1 <16b> │ next segment id <8b> │ rows flushed through <16b> │
///     │ deletes applied through <16b> │ segment count <4b> │ (id <8b>, rows <8b>)* │
///     │ tombstone count <4b> │ (from <8b>, to <8b>, through segment <8b>)* │ crc32c <4b> │
///
/// A WAL position is │ file <8b> │ offset <8b> │. The CRC32C covers every byte before it.
public struct DayManifest: Equatable, Sendable {
    public static let magic: [UInt8] = Array("STRATMAN".utf8)
    /// Version 1 has no archived segments; version 2 adds them after the tombstones. A
    /// manifest with no archived segment is written as version 1.
    public static let version: UInt16 = 2
    public static let fileName = "_manifest"
    /// More segments or tombstones than this in one day is damage.
    static let maxEntries = 1 << 20

    /// A segment moved to the archive: its id (still ordering it among the day's segments
    /// and under tombstones), rows, the cold object's size and key.
    public struct ColdEntry: Equatable, Sendable {
        public var id: UInt64
        public var rows: UInt64
        public var bytes: UInt64
        public var key: String
        public init(id: UInt64, rows: UInt64, bytes: UInt64, key: String) {
            self.id = id
            self.rows = rows
            self.bytes = bytes
            self.key = key
        }
    }

    public struct Entry: Equatable, Sendable {
        public var id: UInt64
        public var rows: UInt64
        public init(id: UInt64, rows: UInt64) {
            self.id = id
            self.rows = rows
        }
    }

    /// The id the next segment of this day gets; ids are never reused.
    public var nextSegmentID: UInt64 = 1
    /// Rows of WAL records that start before this position are in the segments.
    public var rowsFlushedThrough: WALPosition = .zero
    /// Delete records that start before this position are applied (as tombstones here,
    /// or already purged by compaction).
    public var deletesAppliedThrough: WALPosition = .zero
    /// Live segments, oldest first (ids increase).
    public var segments: [Entry] = []
    public var tombstones: [Tombstone] = []
    /// Segments in the archive, oldest first.
    public var cold: [ColdEntry] = []

    public init() {}

    public var rowCount: UInt64 { segments.reduce(0) { $0 + $1.rows } + cold.reduce(0) { $0 + $1.rows } }

    /// Adds a new segment and returns its id.
    public mutating func addSegment(rows: UInt64) -> UInt64 {
        let id = nextSegmentID
        nextSegmentID += 1
        segments.append(Entry(id: id, rows: rows))
        return id
    }

    public func encode() -> [UInt8] {
        var out = FileHeader.encode(magic: Self.magic, version: cold.isEmpty ? 1 : 2)
        out.writeInteger(nextSegmentID)
        for p in [rowsFlushedThrough, deletesAppliedThrough] {
            out.writeInteger(p.file)
            out.writeInteger(p.offset)
        }
        out.writeInteger(UInt32(segments.count))
        for s in segments {
            out.writeInteger(s.id)
            out.writeInteger(s.rows)
        }
        out.writeInteger(UInt32(tombstones.count))
        for t in tombstones {
            out.writeInteger(t.from)
            out.writeInteger(t.to)
            out.writeInteger(t.throughSegment)
        }
        if !cold.isEmpty {
            out.writeInteger(UInt32(cold.count))
            for c in cold {
                out.writeInteger(c.id)
                out.writeInteger(c.rows)
                out.writeInteger(c.bytes)
                out.writeString(c.key)
            }
        }
        out.writeInteger(CRC32C.checksum(out))
        return out
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(FormatError) -> DayManifest {
        let fileVersion: UInt16 = bytes.count >= 10 ? UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self)) : version
        try FileHeader.verify(bytes, magic: magic, version: fileVersion == 1 ? 1 : version, kind: "day manifest")
        guard bytes.count >= FileHeader.size + 4 else {
            throw FormatError(.truncated, "day manifest of \(bytes.count) bytes has no checksum", offset: bytes.count)
        }
        let end = bytes.count - 4
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: end, as: UInt32.self))
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<end])) == stored else {
            // Checksum errors name the first byte the checksum covers.
            throw FormatError(.checksumMismatch, "day manifest checksum mismatch", offset: 0)
        }
        var reader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[FileHeader.size..<end]), baseOffset: FileHeader.size)
        var m = DayManifest()
        m.nextSegmentID = try reader.readInteger(as: UInt64.self, "next segment id")
        m.rowsFlushedThrough = WALPosition(file: try reader.readInteger("flushed file"), offset: try reader.readInteger("flushed offset"))
        m.deletesAppliedThrough = WALPosition(file: try reader.readInteger("deletes file"), offset: try reader.readInteger("deletes offset"))
        // Errors name the first byte of the item that is wrong.
        let segmentCount = Int(try reader.readInteger(as: UInt32.self, "segment count"))
        guard segmentCount <= maxEntries, segmentCount * 16 <= reader.readableBytes else {
            throw reader.malformed("segment count \(segmentCount) does not fit the manifest", at: reader.readerIndex - 4)
        }
        for _ in 0..<segmentCount {
            let id = try reader.readInteger(as: UInt64.self, "segment id")
            let rows = try reader.readInteger(as: UInt64.self, "segment rows")
            guard id > (m.segments.last?.id ?? 0), id < m.nextSegmentID else {
                throw reader.malformed("segment id \(id) is out of order or not below the next id \(m.nextSegmentID)", at: reader.readerIndex - 16)
            }
            m.segments.append(Entry(id: id, rows: rows))
        }
        let tombstoneCount = Int(try reader.readInteger(as: UInt32.self, "tombstone count"))
        let fits = fileVersion == 1 ? tombstoneCount * 24 == reader.readableBytes : tombstoneCount * 24 <= reader.readableBytes
        guard tombstoneCount <= maxEntries, fits else {
            throw reader.malformed("tombstone count \(tombstoneCount) does not match the \(reader.readableBytes) bytes left", at: reader.readerIndex - 4)
        }
        for _ in 0..<tombstoneCount {
            let from = try reader.readInteger(as: Int64.self, "tombstone from")
            let to = try reader.readInteger(as: Int64.self, "tombstone to")
            let through = try reader.readInteger(as: UInt64.self, "tombstone segment")
            guard from <= to else { throw reader.malformed("tombstone from \(from) is after to \(to)", at: reader.readerIndex - 16) }
            m.tombstones.append(Tombstone(from: from, to: to, throughSegment: through))
        }
        if fileVersion >= 2 {
            let coldCount = Int(try reader.readInteger(as: UInt32.self, "archived segment count"))
            guard coldCount >= 1, coldCount <= maxEntries, coldCount * 25 <= reader.readableBytes else {
                throw reader.malformed("archived segment count \(coldCount) does not fit the manifest", at: reader.readerIndex - 4)
            }
            var ids = Set(m.segments.map(\.id))
            for _ in 0..<coldCount {
                let entryAt = reader.readerIndex
                let entry = ColdEntry(id: try reader.readInteger(as: UInt64.self, "archived segment id"),
                                      rows: try reader.readInteger(as: UInt64.self, "archived rows"),
                                      bytes: try reader.readInteger(as: UInt64.self, "archived bytes"),
                                      key: try reader.readString("archived key", maxBytes: 1024))
                guard entry.id < m.nextSegmentID, ids.insert(entry.id).inserted, !entry.key.isEmpty else {
                    throw reader.malformed("archived segment \(entry.id) is listed twice, has no key, or is not below the next id", at: entryAt)
                }
                m.cold.append(entry)
            }
            guard reader.readableBytes == 0 else { throw reader.malformed("\(reader.readableBytes) unused bytes after the archived segments") }
        }
        return m
    }
}
