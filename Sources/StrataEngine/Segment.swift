import StrataFormat
import StrataPlatform

/// An open, mmap'd segment file. Owns its mapping; decoded blocks are copies, so they
/// outlive the segment.
public final class Segment: SegmentSource, @unchecked Sendable {
    public let path: String
    public let id: SegmentID
    let file: MappedFile
    /// The segment's bytes within `file`: all of it, or one segment image of a pack.
    let range: Range<Int>
    let reader: SegmentReader

    public convenience init(path: String, id: SegmentID) throws(StrataError) {
        try self.init(file: try MappedFile(path: path), id: id)
    }

    /// A segment held in memory (rebuilt from a cold object); `name` stands for its path.
    public convenience init(bytes: [UInt8], name: String, id: SegmentID) throws(StrataError) {
        try self.init(file: try MappedFile(copying: bytes, path: name), id: id)
    }

    init(file: MappedFile, id: SegmentID) throws(StrataError) {
        self.path = file.path
        self.id = id
        self.file = file
        self.range = 0..<file.size
        do {
            reader = try file.withUnsafeBytes { (bytes) throws(FormatError) in try SegmentReader(bytes) }
        } catch {
            throw StrataError.corrupt(error, path: path)
        }
    }

    /// The segment image at `location` of the pack file `pack` (Format.md, "Packed
    /// measurements"); messages name it as `<pack path>@<offset>`.
    package init(pack: MappedFile, location: PackManifest.Location, id: SegmentID) throws(StrataError) {
        self.path = "\(pack.path)@\(location.offset)"
        self.id = id
        self.file = pack
        do {
            let bytes = try pack.withUnsafeBytes { (all) throws(FormatError) in try PackLayout.segmentBytes(all, location) }
            self.range = Int(location.offset)..<Int(location.offset + location.length)
            reader = try SegmentReader(bytes)
        } catch {
            throw StrataError.corrupt(error, path: path)
        }
    }

    /// The segment's bytes, lent for the call.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        file.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    public var footer: SegmentFooter { reader.footer }
    public var size: Int { range.count }
    public var location: String { path }

    public func decodeBlocks(_ blocks: [Int], fields: Set<Int>?) throws(StrataError) -> [RowBlock] {
        var out: [RowBlock] = []
        out.reserveCapacity(blocks.count)
        for b in blocks { out.append(try decodeBlock(b, fields: fields)) }
        return out
    }

    public func decodeBlock(_ index: Int, fields: Set<Int>? = nil) throws(StrataError) -> RowBlock {
        do {
            return try reader.decodeBlock(index, fields: fields)
        } catch {
            throw StrataError.corrupt(error, path: path, block: index)
        }
    }

    public func describeBlock(_ index: Int) throws(StrataError) -> [BlockCodec.ChunkInfo] {
        do {
            try reader.verifyBlock(index)
            return try BlockCodec.describe(reader.blockBytes(index), schema: schema, baseOffset: footer.blocks[index].offset)
        } catch {
            throw StrataError.corrupt(error, path: path, block: index)
        }
    }

    /// Verifies every block checksum (the header and footer were verified on open).
    public func verify() throws(StrataError) {
        for i in footer.blocks.indices {
            do { try reader.verifyBlock(i) } catch { throw StrataError.corrupt(error, path: path, block: i) }
        }
    }


}

/// Segment files already opened (mapped, header and footer checked), by path, each kept while
/// the file at the path is the one mapped: a query of a warm series-day costs a `stat`, not an
/// `mmap`, a footer decode and an `munmap`. The store forgets a segment it removes, so that a
/// removed file's space is not held by its mapping; the least recently used go beyond
/// `capacity`.
final class SegmentCache: Sendable {
    private let kept = KeptValues<String, Segment>(capacity: 256)

    func segment(path: String, id: SegmentID) throws(StrataError) -> Segment {
        let identity = FileSystem.identity(path)
        if let identity, let hit = kept.value(path, if: { $0.file.identity == identity && $0.id == id }) { return hit }
        let segment = try Segment(path: path, id: id)
        kept.keep(segment, for: path)
        return segment
    }

    /// Drops the segment at `path` (its file is being removed).
    func forget(_ path: String) { kept.forget(path) }
}
