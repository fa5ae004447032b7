import Synchronization

/// The manifest of one partition of a *packed* measurement (Format.md, "Packed
/// measurements"): for every series in the partition, its day manifest — exactly the
/// bytes a series' own `_manifest` would hold — and where each of its local segments lies
/// inside the partition's pack files: a whole segment image, or a slice of a group image
/// that holds the rows of many small series. Entries are sorted by symbol (bytewise) and
/// stored in zstd-compressed pages, with a directory of each page's first symbol: a reader
/// finds one symbol by binary search over the directory and decompresses one page.
public struct PackManifest: Equatable, Sendable {
    public static let magic: [UInt8] = Array("STRATPKM".utf8)
    /// Version 2 stores entries in compressed pages and has group slices; version 1 (one
    /// uncompressed entry after another, whole images only) is still read.
    public static let version: UInt16 = 2
    public static let fileName = "_manifest"
    /// At most this many series in one partition (10^7): a bound for readers, far above
    /// what a day of an options chain holds.
    public static let maxEntries = 10_000_000
    /// The writer closes a page once its entries reach this many bytes (or `pageEntries`).
    static let pageBytes = 64 << 10
    static let pageEntries = 1_024
    /// The most bytes a page may decompress to (a bound for readers).
    public static let maxPageBytes = 16 << 20

    /// Where a segment's rows are: a whole segment image inside a pack file, or a slice of
    /// a group image (its rows from `firstRow` on, as many as the day manifest lists).
    public struct Location: Equatable, Hashable, Sendable {
        public var pack: UInt64
        public var offset: UInt64
        public var length: UInt64
        /// nil: the image at `offset` is the segment. A row: the image is a group image and
        /// the segment's rows start at that row of it.
        public var firstRow: UInt64?
        public init(pack: UInt64, offset: UInt64, length: UInt64, firstRow: UInt64? = nil) {
            self.pack = pack
            self.offset = offset
            self.length = length
            self.firstRow = firstRow
        }

        /// The image this location is in (a slice's group image, or the segment itself).
        public var image: Location { Location(pack: pack, offset: offset, length: length) }
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

    ///     │ header <16b> │ next pack id <8b> │ entry count <4b> │ page count <4b> │
    ///     │ (entries <4b>, raw length <4b>, stored length <4b>, first symbol <string>) × pages │
    ///     │ page × pages (a zstd frame of its entries) │ crc32c <4b> │
    public func encode() -> [UInt8] {
        // Pages: runs of entries up to `pageBytes` or `pageEntries`.
        var pages: [(entries: Int, first: String, raw: [UInt8])] = []
        var raw: [UInt8] = []
        var inPage = 0
        for e in entries {
            if inPage == 0 { pages.append((0, e.symbol, [])) }
            Self.encodeEntry(e, into: &raw)
            inPage += 1
            if raw.count >= Self.pageBytes || inPage == Self.pageEntries {
                pages[pages.count - 1].entries = inPage
                pages[pages.count - 1].raw = raw
                raw = []
                inPage = 0
            }
        }
        if inPage > 0 {
            pages[pages.count - 1].entries = inPage
            pages[pages.count - 1].raw = raw
        }
        let stored = pages.map { page in page.raw.withUnsafeBytes { Zstd.compress($0) } }
        var out = FileHeader.encode(magic: Self.magic, version: Self.version)
        out.writeInteger(nextPackID)
        out.writeInteger(UInt32(entries.count))
        out.writeInteger(UInt32(pages.count))
        for (page, bytes) in zip(pages, stored) {
            out.writeInteger(UInt32(page.entries))
            out.writeInteger(UInt32(page.raw.count))
            out.writeInteger(UInt32(bytes.count))
            out.writeString(page.first)
        }
        for bytes in stored { out.append(contentsOf: bytes) }
        out.writeInteger(CRC32C.checksum(out))
        return out
    }

    ///     entry: │ symbol <string> │ day manifest length <4b> │ day manifest │ location × local segments │
    ///     location: │ kind <1b> │ pack <8b> │ offset <8b> │ length <8b> │ first row <8b>, kind 1 only │
    static func encodeEntry(_ e: Entry, into out: inout [UInt8]) {
        out.writeString(e.symbol)
        let manifest = e.manifest.encode()
        out.writeInteger(UInt32(manifest.count))
        out.append(contentsOf: manifest)
        for l in e.locations {
            out.append(l.firstRow == nil ? 0 : 1)
            out.writeInteger(l.pack)
            out.writeInteger(l.offset)
            out.writeInteger(l.length)
            if let row = l.firstRow { out.writeInteger(row) }
        }
    }

    /// Decodes every entry (and checks their order).
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(FormatError) -> PackManifest {
        try decode(try View(bytes))
    }

    /// Decodes every entry of a checked manifest.
    public static func decode(_ view: View) throws(FormatError) -> PackManifest {
        var m = PackManifest()
        m.nextPackID = view.nextPackID
        m.entries.reserveCapacity(view.count)
        for p in view.pages.indices { m.entries.append(contentsOf: try view.page(p)) }
        return m
    }

    /// A checked pack manifest whose pages are decoded on demand (the last few stay decoded).
    public final class View: @unchecked Sendable {
        public let bytes: UnsafeRawBufferPointer
        public let version: UInt16
        public let nextPackID: UInt64
        /// Entries in all.
        public let count: Int

        /// A run of entries: a compressed page (version 2), or all entries (version 1).
        struct Page {
            var firstEntry: Int
            var entries: Int
            var firstSymbol: String
            /// Its bytes in the file (compressed in version 2).
            var offset: Int
            var storedLength: Int
            /// Bytes it decompresses to (version 2).
            var rawLength: Int
        }
        let pages: [Page]
        /// Version 1: each entry's offset (the directory), checked against where it is found.
        private let entryOffsets: [Int]
        private let decoded = Mutex<(pages: [Int: [Entry]], order: [Int])>(([:], []))
        /// Decoded pages kept: a scan of every series of a partition of 10^5 (about 200
        /// pages) decodes each page once, not once per scan.
        static let keptPages = 256

        /// Checks the header, the checksum over the whole file and the directory of pages
        /// (or, in version 1, of entry offsets). `bytes` must stay valid while the view is used.
        public init(_ bytes: UnsafeRawBufferPointer) throws(FormatError) {
            let fileVersion: UInt16 = bytes.count >= 10 ? UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self)) : PackManifest.version
            try FileHeader.verify(bytes, magic: PackManifest.magic, version: fileVersion == 1 ? 1 : PackManifest.version, kind: "pack manifest")
            let countsEnd = FileHeader.size + (fileVersion == 1 ? 12 : 16)
            guard bytes.count >= countsEnd + 4 else {
                throw FormatError(.truncated, "pack manifest of \(bytes.count) bytes has no counts and checksum", offset: bytes.count)
            }
            let end = bytes.count - 4
            let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: end, as: UInt32.self))
            guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<end])) == stored else {
                throw FormatError(.checksumMismatch, "pack manifest checksum mismatch", offset: 0)
            }
            self.bytes = bytes
            self.version = fileVersion
            nextPackID = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: FileHeader.size, as: UInt64.self))
            count = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: FileHeader.size + 8, as: UInt32.self)))
            guard count <= PackManifest.maxEntries else {
                throw FormatError(.malformed, "pack manifest entry count \(count) is above \(PackManifest.maxEntries)", offset: FileHeader.size + 8)
            }
            if fileVersion == 1 {
                (pages, entryOffsets) = try Self.version1Directory(bytes, count: count, end: end)
            } else {
                pages = try Self.pageDirectory(bytes, count: count, end: end)
                entryOffsets = []
            }
        }

        /// Version 2: the page directory, checked (entry counts add up, pages fill the file up
        /// to the checksum, first symbols in order).
        private static func pageDirectory(_ bytes: UnsafeRawBufferPointer, count: Int, end: Int) throws(FormatError) -> [Page] {
            let pageCountAt = FileHeader.size + 12
            let pageCount = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: pageCountAt, as: UInt32.self)))
            var reader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[(pageCountAt + 4)..<end]), baseOffset: pageCountAt + 4)
            // Every page holds an entry and takes 13 bytes of directory at least.
            guard pageCount <= count, pageCount * 13 <= reader.readableBytes, (pageCount == 0) == (count == 0) else {
                throw FormatError(.malformed, "pack manifest page count \(pageCount) does not fit \(count) entries and the file", offset: pageCountAt)
            }
            var pages: [Page] = []
            pages.reserveCapacity(pageCount)
            var entries = 0
            for p in 0..<pageCount {
                let at = reader.readerIndex
                let n = Int(try reader.readInteger(as: UInt32.self, "entries of page \(p)"))
                let raw = Int(try reader.readInteger(as: UInt32.self, "raw length of page \(p)"))
                let storedAt = reader.readerIndex
                let stored = Int(try reader.readInteger(as: UInt32.self, "stored length of page \(p)"))
                let symbolAt = reader.readerIndex
                let symbol = try reader.readString("first symbol of page \(p)", maxBytes: 1024)
                guard n >= 1, n <= count - entries else {
                    throw reader.malformed("page \(p) holds \(n) entries; \(count - entries) of \(count) are left for it", at: at)
                }
                guard raw >= 1, raw <= PackManifest.maxPageBytes else {
                    throw reader.malformed("page \(p) decompresses to \(raw) bytes, not 1 … \(PackManifest.maxPageBytes)", at: at + 4)
                }
                guard stored >= 1 else { throw reader.malformed("page \(p) has no bytes", at: storedAt) }
                guard !symbol.isEmpty, pages.last.map({ PackManifest.precedes($0.firstSymbol, symbol) }) ?? true else {
                    throw reader.malformed("page \(p) starts at '\(symbol)', not after the previous page's first symbol", at: symbolAt)
                }
                pages.append(Page(firstEntry: entries, entries: n, firstSymbol: symbol, offset: 0, storedLength: stored, rawLength: raw))
                entries += n
            }
            guard entries == count else {
                throw FormatError(.malformed, "pages hold \(entries) entries; the count says \(count)", offset: FileHeader.size + 8)
            }
            // The pages follow the directory back to back and end where the checksum begins.
            var offset = reader.baseOffset + reader.readerIndex
            for p in pages.indices {
                guard pages[p].storedLength <= end - offset else {
                    throw FormatError(.malformed, "page \(p) of \(pages[p].storedLength) bytes at \(offset) runs past the checksum at \(end)", offset: offset)
                }
                pages[p].offset = offset
                offset += pages[p].storedLength
            }
            guard offset == end else {
                throw FormatError(.malformed, "\(end - offset) bytes after the last page", offset: offset)
            }
            return pages
        }

        /// Version 1: the entry offsets, checked; all entries are one uncompressed page.
        private static func version1Directory(_ bytes: UnsafeRawBufferPointer, count: Int, end: Int) throws(FormatError) -> ([Page], [Int]) {
            let directoryStart = FileHeader.size + 12
            guard directoryStart + 8 * count <= end else {
                throw FormatError(.malformed, "pack manifest entry count \(count) does not fit the file", offset: FileHeader.size + 8)
            }
            // Without entries, the checksum follows the count.
            guard count > 0 || end == directoryStart else {
                throw FormatError(.malformed, "pack manifest without entries has \(end - directoryStart) bytes before its checksum", offset: directoryStart)
            }
            var offsets: [Int] = []
            offsets.reserveCapacity(count)
            var previous = directoryStart + 8 * count - 1
            for i in 0..<count {
                let at = Int(clamping: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: directoryStart + 8 * i, as: UInt64.self)))
                // Entries lie in directory order, each after the previous one's first byte.
                guard at > previous, at < end, i > 0 || at == directoryStart + 8 * count else {
                    throw FormatError(.malformed, "pack manifest entry \(i) starts at \(at), out of order or outside the entries", offset: directoryStart + 8 * i)
                }
                offsets.append(at)
                previous = at
            }
            guard count > 0 else { return ([], []) }
            let start = directoryStart + 8 * count
            var reader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), baseOffset: start)
            let first = try reader.readString("symbol", maxBytes: 1024)
            return ([Page(firstEntry: 0, entries: count, firstSymbol: first, offset: start, storedLength: end - start, rawLength: end - start)], offsets)
        }

        /// The entries of page `p`, decoded and checked (symbols in order, the first one the
        /// directory's, the page used up exactly).
        func page(_ p: Int) throws(FormatError) -> [Entry] {
            if let hit = decoded.withLock({ $0.pages[p] }) { return hit }
            let page = pages[p]
            let storedBytes = UnsafeRawBufferPointer(rebasing: bytes[page.offset..<(page.offset + page.storedLength)])
            var entries: [Entry] = []
            entries.reserveCapacity(page.entries)
            if version == 1 {
                // Each entry fills exactly its place, from its offset to the next one's.
                for i in 0..<page.entries {
                    let at = entryOffsets[i]
                    let end = i + 1 < page.entries ? entryOffsets[i + 1] : page.offset + page.storedLength
                    var one = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[at..<end]), baseOffset: at)
                    entries.append(try decodeEntry(&one, after: entries.last?.symbol))
                    guard one.readableBytes == 0 else { throw one.malformed("\(one.readableBytes) bytes after the locations of '\(entries.last!.symbol)'") }
                }
            } else {
                let raw: [UInt8]
                do {
                    raw = try Zstd.decompress(storedBytes, size: page.rawLength)
                } catch {
                    throw FormatError(error.code, "page \(p): \(error.message)", offset: page.offset)
                }
                // Errors inside a page name the page's first byte in the file and the byte
                // within the decompressed page in the message.
                let parsed = raw.withUnsafeBytes { all in
                    Result { () throws(FormatError) -> [Entry] in
                        var reader = ByteReader(all)
                        var out: [Entry] = []
                        out.reserveCapacity(page.entries)
                        for _ in 0..<page.entries { out.append(try decodeEntry(&reader, after: out.last?.symbol)) }
                        guard reader.readableBytes == 0 else { throw reader.malformed("\(reader.readableBytes) bytes after the page's last entry") }
                        return out
                    }
                }
                switch parsed {
                case .success(let all): entries = all
                case .failure(let error):
                    throw FormatError(error.code, "page \(p), byte \(error.offset ?? 0) of its \(page.rawLength): \(error.message)", offset: page.offset)
                }
            }
            guard entries.first?.symbol == page.firstSymbol else {
                throw FormatError(.malformed, "page \(p) starts at '\(entries.first?.symbol ?? "")'; the directory says '\(page.firstSymbol)'", offset: page.offset)
            }
            if p + 1 < pages.count, !PackManifest.precedes(entries.last!.symbol, pages[p + 1].firstSymbol) {
                throw FormatError(.malformed, "page \(p) ends at '\(entries.last!.symbol)', not before the next page's first symbol", offset: page.offset)
            }
            decoded.withLock { d in
                d.pages[p] = entries
                d.order.append(p)
                if d.order.count > Self.keptPages { d.pages[d.order.removeFirst()] = nil }
            }
            return entries
        }

        /// One entry, checked: a symbol after `previous`, a day manifest, one location per
        /// local segment in a pack below the next pack id.
        private func decodeEntry(_ reader: inout ByteReader, after previous: String?) throws(FormatError) -> Entry {
            let start = reader.readerIndex
            let symbol = try reader.readString("symbol", maxBytes: 1024)
            guard !symbol.isEmpty else { throw reader.malformed("an entry has an empty symbol", at: start) }
            if let previous, !PackManifest.precedes(previous, symbol) {
                throw reader.malformed("pack manifest entry '\(symbol)' is not after '\(previous)'", at: start)
            }
            let length = Int(try reader.readInteger(as: UInt32.self, "day manifest length"))
            let manifestAt = reader.baseOffset + reader.readerIndex
            let manifestBytes = try reader.readBytes(count: length, "day manifest")
            let manifest: DayManifest
            do {
                manifest = try DayManifest.decode(manifestBytes)
            } catch {
                throw FormatError(error.code, "the day manifest of '\(symbol)': \(error.message)", offset: manifestAt + (error.offset ?? 0))
            }
            var locations: [Location] = []
            locations.reserveCapacity(manifest.segments.count)
            for s in manifest.segments {
                let at = reader.readerIndex
                var slice = false
                if version >= 2 {
                    let kind = try reader.readInteger(as: UInt8.self, "location kind")
                    guard kind <= 1 else { throw reader.malformed("a segment of '\(symbol)' has location kind \(kind)", at: at) }
                    slice = kind == 1
                }
                var l = Location(pack: try reader.readInteger("pack id"), offset: try reader.readInteger("segment offset"),
                                 length: try reader.readInteger("segment length"))
                if slice { l.firstRow = try reader.readInteger(as: UInt64.self, "first row") }
                guard l.pack >= 1, l.pack < nextPackID, l.offset >= UInt64(FileHeader.size), l.length >= PackManifest.minimumSegmentBytes,
                      l.length <= UInt64(Int64.max), l.offset <= UInt64(Int64.max) - l.length else {
                    throw reader.malformed("a segment of '\(symbol)' is at pack \(l.pack), \(l.offset)+\(l.length): not a place in a pack below the next pack id \(nextPackID)", at: at)
                }
                // A slice's rows must be countable in a group image: first row + rows ≤ 2^63.
                if let first = l.firstRow, first > UInt64(Int64.max) - s.rows || s.rows == 0 {
                    throw reader.malformed("a segment of '\(symbol)' is a slice of \(s.rows) rows from row \(first)", at: at)
                }
                locations.append(l)
            }
            return Entry(symbol: symbol, manifest: manifest, locations: locations)
        }

        /// The entry of `symbol`, found by binary search over the pages, or nil.
        public func entry(for symbol: String) throws(FormatError) -> Entry? {
            // The last page whose first symbol is not after `symbol`.
            var lo = 0, hi = pages.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if PackManifest.precedes(symbol, pages[mid].firstSymbol) { hi = mid } else { lo = mid + 1 }
            }
            guard lo > 0 else { return nil }
            let entries = try page(lo - 1)
            var a = 0, b = entries.count
            while a < b {
                let mid = (a + b) / 2
                if entries[mid].symbol == symbol { return entries[mid] }
                if PackManifest.precedes(entries[mid].symbol, symbol) { a = mid + 1 } else { b = mid }
            }
            return nil
        }

        /// Every entry, page by page, in symbol order.
        public func forEachEntry(_ body: (Entry) throws(FormatError) -> Void) throws(FormatError) {
            for p in pages.indices {
                for e in try page(p) { try body(e) }
            }
        }

        /// Every symbol, in entry order.
        public func symbols() throws(FormatError) -> [String] {
            var out: [String] = []
            out.reserveCapacity(count)
            try forEachEntry { out.append($0.symbol) }
            return out
        }
    }
}

/// A pack file: the common header (magic `STRATPAK`) followed by whole segment images and
/// group images, which a pack manifest locates.
public enum PackLayout {
    public static let magic: [UInt8] = Array("STRATPAK".utf8)
    public static let version: UInt16 = 1

    public static func header() -> [UInt8] { FileHeader.encode(magic: magic, version: version) }

    /// Checks a pack's header and that `location`'s image lies inside it; returns the image's bytes.
    public static func segmentBytes(_ pack: UnsafeRawBufferPointer, _ location: PackManifest.Location) throws(FormatError) -> UnsafeRawBufferPointer {
        try FileHeader.verify(pack, magic: magic, version: version, kind: "pack")
        guard location.offset + location.length <= UInt64(pack.count) else {
            throw FormatError(.truncated, "an image at \(location.offset)+\(location.length) lies past the end of a pack of \(pack.count) bytes", offset: pack.count)
        }
        return UnsafeRawBufferPointer(rebasing: pack[Int(location.offset)..<Int(location.offset + location.length)])
    }
}
