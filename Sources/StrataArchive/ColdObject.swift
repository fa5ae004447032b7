import StrataEngine
import StrataFormat

/// A segment made cold for an object store: its blocks compressed one by one with zstd,
/// followed by an index, so a reader can fetch the index and then only the blocks a query
/// needs, by ranged GETs.
///
///     │ header "STRATCLD" v1 <16b> │ block 0 (zstd frame) │ … │ block n−1 │ index │ trailer <24b> │
///     index:   │ segment's footer offset <8b> │ footer length <4b> │ segment footer (as in the segment file) │
///              │ block count <4b> │
///              │ (offset <8b>, length <4b>, crc32c <4b>) × count │
///     trailer: │ index offset <8b> │ index length <4b> │ crc32c of the index <4b> │ magic "STRATCLD" <8b> │
///
/// Each zstd frame decompresses to exactly the bytes the block had in the segment (its
/// length is the footer's block length), with the block's own CRC32C; the index's crc32c
/// per block covers the compressed bytes, so damage in the bucket is found before
/// decompression. Header, blocks and footer put back together are the original segment
/// file, byte for byte (`segmentBytes`).
public enum ColdObject {
    public static let magic: [UInt8] = Array("STRATCLD".utf8)
    public static let version: UInt16 = 1
    public static let trailerSize = 24
    /// How much of an object's end a reader fetches first: usually trailer and index at once.
    public static let tailGuess = 64 << 10

    /// Where a block lies in the object.
    public struct BlockExtent: Sendable, Equatable {
        public var offset: Int
        public var length: Int
        public var crc: UInt32
    }

    /// The index of a cold object: the segment footer and where each block lies.
    public struct Index: Sendable {
        public var footer: SegmentFooter
        public var extents: [BlockExtent]
        /// Object bytes that hold blocks `range`, as one span for a single ranged GET.
        public func span(_ range: Range<Int>) -> Range<Int> {
            extents[range.lowerBound].offset..<(extents[range.upperBound - 1].offset + extents[range.upperBound - 1].length)
        }
    }

    /// Makes a cold object from a whole segment file (which is checked first).
    public static func make(fromSegment segment: UnsafeRawBufferPointer) throws(FormatError) -> [UInt8] {
        let reader = try SegmentReader(segment)
        var out = FileHeader.encode(magic: magic, version: version)
        var extents: [BlockExtent] = []
        for (i, entry) in reader.footer.blocks.enumerated() {
            try reader.verifyBlock(i)
            let compressed = Zstd.compress(UnsafeRawBufferPointer(rebasing: segment[entry.offset..<(entry.offset + entry.length)]))
            extents.append(BlockExtent(offset: out.count, length: compressed.count, crc: CRC32C.checksum(compressed)))
            out += compressed
        }
        let indexOffset = out.count
        var footer: [UInt8] = []
        reader.footer.encode(into: &footer)
        var index: [UInt8] = []
        index.writeInteger(UInt64(reader.footer.blocks.last.map { $0.offset + $0.length } ?? SegmentLayout.headerSize))
        index.writeInteger(UInt32(footer.count))
        index += footer
        index.writeInteger(UInt32(extents.count))
        for e in extents {
            index.writeInteger(UInt64(e.offset))
            index.writeInteger(UInt32(e.length))
            index.writeInteger(e.crc)
        }
        out += index
        out.writeInteger(UInt64(indexOffset))
        out.writeInteger(UInt32(index.count))
        out.writeInteger(CRC32C.checksum(index))
        out += magic
        return out
    }

    /// What the end of an object gave: the index, or where to fetch it from.
    public enum Tail: Sendable {
        case index(Index)
        /// The index starts before the fetched tail: fetch `range`, then parse it with
        /// `index(_:offset:crc:)`.
        case fetch(range: Range<Int>, crc: UInt32)
    }

    /// Reads the index from the end of an object: `tail` holds the object's last bytes
    /// (at least the trailer), `size` is the whole object's size.
    public static func index(tail: UnsafeRawBufferPointer, objectSize size: Int) throws(FormatError) -> Tail {
        let tailStart = size - tail.count
        guard size >= FileHeader.size + trailerSize, tail.count >= trailerSize else {
            throw FormatError(.truncated, "cold object of \(size) bytes is too short", offset: size)
        }
        let t = tail.count - trailerSize
        guard Array(tail[(t + 16)..<(t + 24)]) == magic else {
            throw FormatError(.badMagic, "not a Strata cold object (no STRATCLD magic at the end)", offset: size - 8)
        }
        guard let indexOffset = Int(exactly: UInt64(littleEndian: tail.loadUnaligned(fromByteOffset: t, as: UInt64.self))) else {
            throw FormatError(.malformed, "cold object index offset is out of range", offset: size - trailerSize)
        }
        let indexLength = Int(UInt32(littleEndian: tail.loadUnaligned(fromByteOffset: t + 8, as: UInt32.self)))
        let crc = UInt32(littleEndian: tail.loadUnaligned(fromByteOffset: t + 12, as: UInt32.self))
        guard indexOffset >= FileHeader.size, indexOffset <= size, size - trailerSize - indexOffset == indexLength else {
            throw FormatError(.malformed, "cold object index at \(indexOffset) of \(indexLength) bytes does not end at the trailer", offset: size - trailerSize)
        }
        guard indexOffset >= tailStart else { return .fetch(range: indexOffset..<(indexOffset + indexLength), crc: crc) }
        let bytes = UnsafeRawBufferPointer(rebasing: tail[(indexOffset - tailStart)..<(indexOffset - tailStart + indexLength)])
        return .index(try index(bytes, offset: indexOffset, crc: crc))
    }

    /// Parses index bytes fetched on their own (after `index(tail:)` asked for them).
    public static func index(_ bytes: UnsafeRawBufferPointer, offset: Int, crc: UInt32) throws(FormatError) -> Index {
        guard CRC32C.checksum(bytes) == crc else {
            throw FormatError(.checksumMismatch, "cold object index checksum mismatch", offset: offset)
        }
        var reader = ByteReader(bytes, baseOffset: offset)
        let segmentFooterOffset = try reader.readInteger(as: UInt64.self, "segment footer offset")
        let footerLength = Int(try reader.readInteger(as: UInt32.self, "footer length"))
        guard footerLength <= reader.readableBytes, segmentFooterOffset <= UInt64(Int.max) else {
            throw reader.truncated("segment footer", needed: footerLength)
        }
        var footerReader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[12..<(12 + footerLength)]), baseOffset: offset + 12)
        let footer = try SegmentFooter.decode(&footerReader, fileSize: Int(segmentFooterOffset))
        try reader.skip(footerLength, "segment footer")
        let count = Int(try reader.readInteger(as: UInt32.self, "block count"))
        guard count == footer.blocks.count, reader.readableBytes == count * 16 else {
            throw reader.malformed("cold object index lists \(count) blocks, the footer \(footer.blocks.count)")
        }
        var extents: [BlockExtent] = []
        var expected = FileHeader.size
        for _ in 0..<count {
            guard let blockOffset = Int(exactly: try reader.readInteger(as: UInt64.self, "block offset")) else {
                throw reader.malformed("cold block offset is out of range")
            }
            let e = BlockExtent(offset: blockOffset,
                                length: Int(try reader.readInteger(as: UInt32.self, "block length")),
                                crc: try reader.readInteger(as: UInt32.self, "block crc32c"))
            guard e.offset == expected, e.length > 0 else {
                throw reader.malformed("cold block at \(e.offset) of \(e.length) bytes; expected one at \(expected)")
            }
            expected += e.length
            extents.append(e)
        }
        guard expected == offset else { throw reader.malformed("cold blocks end at \(expected), the index starts at \(offset)") }
        return Index(footer: footer, extents: extents)
    }

    /// The segment bytes of block `block`, from the object bytes `span` (which start at
    /// object offset `spanStart`): checksum, decompress, and check the block's own CRC.
    public static func block(_ block: Int, of index: Index, span: UnsafeRawBufferPointer, spanStart: Int) throws(FormatError) -> [UInt8] {
        let e = index.extents[block]
        let lower = e.offset - spanStart
        guard lower >= 0, lower + e.length <= span.count else {
            throw FormatError(.truncated, "cold block \(block) is not in the fetched bytes", offset: e.offset)
        }
        let compressed = UnsafeRawBufferPointer(rebasing: span[lower..<(lower + e.length)])
        guard CRC32C.checksum(compressed) == e.crc else {
            throw FormatError(.checksumMismatch, "cold block \(block) checksum mismatch", offset: e.offset)
        }
        let bytes: [UInt8]
        do {
            bytes = try Zstd.decompress(compressed, size: index.footer.blocks[block].length)
        } catch {
            throw FormatError(.malformed, "cold block \(block): \(error.message)", offset: e.offset)
        }
        return bytes
    }

    /// The original segment file of a whole cold object.
    public static func segmentBytes(_ object: UnsafeRawBufferPointer) throws(FormatError) -> [UInt8] {
        try FileHeader.verify(object, magic: magic, version: version, kind: "cold object")
        let index: Index
        switch try Self.index(tail: object, objectSize: object.count) {
        case .index(let i): index = i
        case .fetch: throw FormatError(.malformed, "cold object index is not where its trailer says", offset: object.count)
        }
        var out = SegmentLayout.header()
        for i in index.extents.indices {
            guard index.footer.blocks[i].offset == out.count else {
                throw FormatError(.malformed, "segment block \(i) was at \(index.footer.blocks[i].offset), not \(out.count)", offset: index.extents[i].offset)
            }
            out += try block(i, of: index, span: object, spanStart: 0)
        }
        let footerOffset = out.count
        var footer: [UInt8] = []
        index.footer.encode(into: &footer)
        out += footer
        out.writeInteger(UInt64(footerOffset))
        out.writeInteger(UInt32(footer.count))
        out.writeInteger(CRC32C.checksum(footer))
        out += SegmentLayout.magic
        return out
    }
}
