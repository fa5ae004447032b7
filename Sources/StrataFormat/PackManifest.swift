/// The manifest of one partition of a *packed* measurement (Format.md, "Packed
/// measurements"): for every series in the partition, its day manifest — exactly the
/// bytes a series' own `_manifest` would hold — and where each of its local segments lies
/// inside the partition's pack files. Entries are sorted by symbol (bytewise), and a
/// directory of entry offsets lets a reader find one symbol by binary search without
/// decoding the others.
public struct PackManifest: Equatable, Sendable {
    public static let magic: [UInt8] = Array("STRATPKM".utf8)
    public static let version: UInt16 = 1
    public static let fileName = "_manifest"
    /// At most this many series in one partition (10^7): a bound for readers, far above
    /// what a day of an options chain holds.
    public static let maxEntries = 10_000_000

    /// Where a segment's bytes are: a whole segment file image inside a pack file.
    public struct Location: Equatable, Hashable, Sendable {
        public var pack: UInt64
        public var offset: UInt64
        public var length: UInt64
        public init(pack: UInt64, offset: UInt64, length: UInt64) {
            self.pack = pack
            self.offset = offset
            self.length = length
        }
    }

    /// One series of the partition.
    public struct Entry: Equatable, Sendable {
        public var symbol: String
        public var manifest: DayManifest
        /// One per `manifest.segments`, in that order.
        public var locations: [Location]
        public init(symbol: String, manifest: DayManifest, locations: [Location]) {
            precondition(locations.count == manifest.segments.count, "one location per local segment")
            self.symbol = symbol
            self.manifest = manifest
            self.locations = locations
        }
    }

    /// The id the next pack file of the partition gets.
    public var nextPackID: UInt64 = 1
    /// Sorted by symbol's UTF-8 bytes, symbols distinct.
    public var entries: [Entry] = []

    public init() {}

    public init(nextPackID: UInt64, entries: [Entry]) {
        self.nextPackID = nextPackID
        self.entries = entries.sorted { Self.precedes($0.symbol, $1.symbol) }
    }

    /// Bytewise order of symbols, the order of entries.
    public static func precedes(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        // Over contiguous UTF-8 (a native string's own storage): a byte loop, no iterator.
        return a.withUTF8 { x in
            b.withUTF8 { y in
                for i in 0..<min(x.count, y.count) where x[i] != y[i] { return x[i] < y[i] }
                return x.count < y.count
            }
        }
    }

    /// Minimum length of a location: a segment image is at least a header and a trailer.
    static let minimumSegmentBytes: UInt64 = 40

    public func encode() -> [UInt8] {
        var out = FileHeader.encode(magic: Self.magic, version: Self.version)
        out.writeInteger(nextPackID)
        out.writeInteger(UInt32(entries.count))
        let directory = out.count
        out.append(contentsOf: repeatElement(0, count: 8 * entries.count))
        for (i, e) in entries.enumerated() {
            out.setInteger(UInt64(out.count), at: directory + 8 * i)
            out.writeString(e.symbol)
            let manifest = e.manifest.encode()
            out.writeInteger(UInt32(manifest.count))
            out.append(contentsOf: manifest)
            for l in e.locations {
                out.writeInteger(l.pack)
                out.writeInteger(l.offset)
                out.writeInteger(l.length)
            }
        }
        out.writeInteger(CRC32C.checksum(out))
        return out
    }

    /// Decodes every entry (and checks their order).
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(FormatError) -> PackManifest {
        try decode(try View(bytes))
    }

    /// Decodes every entry of a checked manifest (and checks their order).
    public static func decode(_ view: View) throws(FormatError) -> PackManifest {
        var m = PackManifest()
        m.nextPackID = view.nextPackID
        m.entries.reserveCapacity(view.count)
        for i in 0..<view.count {
            let e = try view.entry(at: i)
            if let last = m.entries.last, !precedes(last.symbol, e.symbol) {
                throw FormatError(.malformed, "pack manifest entry '\(e.symbol)' is not after '\(last.symbol)'", offset: view.entryOffset(i))
            }
            m.entries.append(e)
        }
        return m
    }

    /// A checked pack manifest whose entries are decoded on demand.
    public struct View: @unchecked Sendable {
        public let bytes: UnsafeRawBufferPointer
        public let nextPackID: UInt64
        public let count: Int
        /// End of the entries (where the checksum begins).
        let end: Int
        static let directoryStart = FileHeader.size + 12

        /// Checks the header, the checksum over the whole file and the directory of entry
        /// offsets. `bytes` must stay valid while the view is used.
        public init(_ bytes: UnsafeRawBufferPointer) throws(FormatError) {
            try FileHeader.verify(bytes, magic: PackManifest.magic, version: PackManifest.version, kind: "pack manifest")
            guard bytes.count >= Self.directoryStart + 4 else {
                throw FormatError(.truncated, "pack manifest of \(bytes.count) bytes has no entry count and checksum", offset: bytes.count)
            }
            let end = bytes.count - 4
            let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: end, as: UInt32.self))
            guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<end])) == stored else {
                throw FormatError(.checksumMismatch, "pack manifest checksum mismatch", offset: 0)
            }
            self.bytes = bytes
            self.end = end
            nextPackID = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: FileHeader.size, as: UInt64.self))
            count = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: FileHeader.size + 8, as: UInt32.self)))
            guard count <= PackManifest.maxEntries, Self.directoryStart + 8 * count <= end else {
                throw FormatError(.malformed, "pack manifest entry count \(count) does not fit the file", offset: FileHeader.size + 8)
            }
            // Without entries, the checksum follows the count.
            guard count > 0 || end == Self.directoryStart else {
                throw FormatError(.malformed, "pack manifest without entries has \(end - Self.directoryStart) bytes before its checksum", offset: Self.directoryStart)
            }
            var previous = Self.directoryStart + 8 * count - 1
            for i in 0..<count {
                let at = Int(clamping: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: Self.directoryStart + 8 * i, as: UInt64.self)))
                // Entries lie in directory order, each after the previous one's first byte.
                guard at > previous, at < end, i > 0 || at == Self.directoryStart + 8 * count else {
                    throw FormatError(.malformed, "pack manifest entry \(i) starts at \(at), out of order or outside the entries", offset: Self.directoryStart + 8 * i)
                }
                previous = at
            }
            // Symbols in order, or a binary search would miss one without an error.
            var last: String?
            for i in 0..<count {
                let symbol = try self.symbol(at: i)
                if let last, !PackManifest.precedes(last, symbol) {
                    throw FormatError(.malformed, "pack manifest entry '\(symbol)' is not after '\(last)'", offset: entryOffset(i))
                }
                last = symbol
            }
        }

        public func entryOffset(_ i: Int) -> Int {
            Int(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: Self.directoryStart + 8 * i, as: UInt64.self)))
        }

        func entryEnd(_ i: Int) -> Int { i + 1 < count ? entryOffset(i + 1) : end }

        /// The symbol of entry `i`.
        public func symbol(at i: Int) throws(FormatError) -> String {
            let start = entryOffset(i)
            var reader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[start..<entryEnd(i)]), baseOffset: start)
            return try reader.readString("symbol", maxBytes: 1024)
        }

        /// Entry `i`, decoded and checked: it fills exactly its place in the file.
        public func entry(at i: Int) throws(FormatError) -> Entry {
            let start = entryOffset(i)
            var reader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[start..<entryEnd(i)]), baseOffset: start)
            let symbol = try reader.readString("symbol", maxBytes: 1024)
            guard !symbol.isEmpty else { throw reader.malformed("an entry has an empty symbol", at: 0) }
            let length = Int(try reader.readInteger(as: UInt32.self, "day manifest length"))
            let manifestAt = start + reader.readerIndex
            let manifestBytes = try reader.readBytes(count: length, "day manifest")
            let manifest: DayManifest
            do {
                manifest = try DayManifest.decode(manifestBytes)
            } catch {
                throw FormatError(error.code, "the day manifest of '\(symbol)': \(error.message)", offset: manifestAt + (error.offset ?? 0))
            }
            guard reader.readableBytes == 24 * manifest.segments.count else {
                throw reader.malformed("'\(symbol)' has \(manifest.segments.count) segments but \(reader.readableBytes) bytes of locations (24 each)")
            }
            var locations: [Location] = []
            locations.reserveCapacity(manifest.segments.count)
            for _ in manifest.segments {
                let at = reader.readerIndex
                let l = Location(pack: try reader.readInteger("pack id"), offset: try reader.readInteger("segment offset"),
                                 length: try reader.readInteger("segment length"))
                guard l.pack >= 1, l.pack < nextPackID, l.offset >= UInt64(FileHeader.size), l.length >= PackManifest.minimumSegmentBytes,
                      l.length <= UInt64(Int64.max), l.offset <= UInt64(Int64.max) - l.length else {
                    throw reader.malformed("a segment of '\(symbol)' is at pack \(l.pack), \(l.offset)+\(l.length): not a place in a pack below the next pack id \(nextPackID)", at: at)
                }
                locations.append(l)
            }
            return Entry(symbol: symbol, manifest: manifest, locations: locations)
        }

        /// The entry of `symbol`, found by binary search, or nil.
        public func entry(for symbol: String) throws(FormatError) -> Entry? {
            var lo = 0, hi = count
            while lo < hi {
                let mid = (lo + hi) / 2
                let s = try self.symbol(at: mid)
                if s == symbol { return try entry(at: mid) }
                if PackManifest.precedes(s, symbol) { lo = mid + 1 } else { hi = mid }
            }
            return nil
        }

        /// Every symbol, in entry order.
        public func symbols() throws(FormatError) -> [String] {
            var out: [String] = []
            out.reserveCapacity(count)
            for i in 0..<count { out.append(try symbol(at: i)) }
            return out
        }
    }
}

/// A pack file: the common header (magic `STRATPAK`) followed by whole segment images,
/// which a pack manifest locates.
public enum PackLayout {
    public static let magic: [UInt8] = Array("STRATPAK".utf8)
    public static let version: UInt16 = 1

    public static func header() -> [UInt8] { FileHeader.encode(magic: magic, version: version) }

    /// Checks a pack's header and that `location` lies inside it; returns the segment's bytes.
    public static func segmentBytes(_ pack: UnsafeRawBufferPointer, _ location: PackManifest.Location) throws(FormatError) -> UnsafeRawBufferPointer {
        try FileHeader.verify(pack, magic: magic, version: version, kind: "pack")
        guard location.offset + location.length <= UInt64(pack.count) else {
            throw FormatError(.truncated, "a segment at \(location.offset)+\(location.length) lies past the end of a pack of \(pack.count) bytes", offset: pack.count)
        }
        return UnsafeRawBufferPointer(rebasing: pack[Int(location.offset)..<Int(location.offset + location.length)])
    }
}
