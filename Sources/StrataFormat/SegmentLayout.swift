/// A segment file: the rows of one series (measurement, symbol) within one day.
///
///     │ header <16b> │ block* │ footer │ trailer <24b> │
///
///     header:  │ magic "STRATSEG" <8b> │ version <2b> │ flags <2b> │ crc32c of the 12 bytes before <4b> │
///     trailer: │ footer offset <8b> │ footer length <4b> │ footer crc32c <4b> │ magic "STRATSEG" <8b> │
///
/// All integers are little-endian. See Format.md for the footer and blocks.
public enum SegmentLayout {
    public static let magic: [UInt8] = Array("STRATSEG".utf8)
    /// The magic of a group image (Format.md, "Group images"): the rows of many small series
    /// of one packed partition, one after another, in the segment format.
    public static let groupMagic: [UInt8] = Array("STRATGRP".utf8)
    public static let version: UInt16 = 1
    public static let headerSize = 16
    public static let trailerSize = 24
    /// The footer carries this many bytes per block before the field statistics.
    static let blockEntryFixedSize = 8 + 4 + 4 + 8 + 8

    public static func header(group: Bool = false) -> [UInt8] {
        FileHeader.encode(magic: group ? groupMagic : magic, version: version)
    }
}

/// Where a block lies in the file and what it holds.
public struct BlockEntry: Sendable, Equatable {
    public var offset: Int
    public var length: Int
    public var statistics: BlockStatistics

    public init(offset: Int, length: Int, statistics: BlockStatistics) {
        self.offset = offset
        self.length = length
        self.statistics = statistics
    }
}

/// Everything a segment's footer says.
public struct SegmentFooter: Sendable, Equatable {
    public var measurement: String
    public var symbol: String
    /// Days since 1970-01-01 of the segment's day.
    public var day: Int64
    /// Seconds added to UTC before cutting days (0: UTC days; -18000: days of UTC-5).
    public var dayOffsetSeconds: Int64
    public var schema: [Field]
    public var blocks: [BlockEntry]

    public init(measurement: String, symbol: String, day: Int64, dayOffsetSeconds: Int64 = 0, schema: [Field], blocks: [BlockEntry]) {
        self.measurement = measurement
        self.symbol = symbol
        self.day = day
        self.dayOffsetSeconds = dayOffsetSeconds
        self.schema = schema
        self.blocks = blocks
    }

    public var rowCount: Int { blocks.reduce(0) { $0 + $1.statistics.rowCount } }

    /// Blocks whose time range meets [from, to].
    public func blocks(overlapping from: Int64, _ to: Int64) -> [Int] {
        guard from <= to else { return [] }
        return blocks.indices.filter { blocks[$0].statistics.maxTime >= from && blocks[$0].statistics.minTime <= to }
    }
    public var minTime: Int64? { blocks.map(\.statistics.minTime).min() }
    public var maxTime: Int64? { blocks.map(\.statistics.maxTime).max() }

    ///     │ measurement <string> │ symbol <string> │ day <zigzag varint> │ day offset seconds <zigzag varint> │
    ///     │ field count <varint> │ (name <string>, type <1b>)* │
    ///     │ block count <varint> │ block entry* │
    ///     block entry: │ offset <8b> │ length <4b> │ rows <4b> │ min time <8b> │ max time <8b> │
    ///                  │ per field: count <4b> │ min <8b> │ max <8b> │ first <8b> │ last <8b> │ sum <8b> │
    ///                  │ product count <1b> │ product sum <8b>* │
    public func encode(into out: inout [UInt8]) {
        out.writeString(measurement)
        out.writeString(symbol)
        out.writeVarInt(day)
        out.writeVarInt(dayOffsetSeconds)
        FieldListCodec.write(schema, into: &out)
        out.writeVarUInt(UInt64(blocks.count))
        for b in blocks {
            out.writeInteger(UInt64(b.offset))
            out.writeInteger(UInt32(b.length))
            out.writeInteger(UInt32(b.statistics.rowCount))
            out.writeInteger(b.statistics.minTime)
            out.writeInteger(b.statistics.maxTime)
            for s in b.statistics.fields {
                out.writeInteger(UInt32(s.count))
                out.writeInteger(s.min)
                out.writeInteger(s.max)
                out.writeInteger(s.first)
                out.writeInteger(s.last)
                out.writeInteger(s.sum)
            }
            out.append(UInt8(b.statistics.productSums.count))
            for p in b.statistics.productSums { out.writeInteger(p.bitPattern) }
        }
    }

    /// `ordered`: blocks follow one another in time (a segment); a group image's blocks do not.
    public static func decode(_ reader: inout ByteReader, fileSize: Int, ordered: Bool = true) throws(FormatError) -> SegmentFooter {
        let measurement = try reader.readString("measurement name", maxBytes: 1024)
        let symbol = try reader.readString("symbol", maxBytes: 1024)
        let day = try reader.readVarInt("day")
        let dayOffsetAt = reader.readerIndex
        let dayOffsetSeconds = try reader.readVarInt("day offset seconds")
        guard dayOffsetSeconds.magnitude <= 86_400 else { throw reader.malformed("day offset of \(dayOffsetSeconds) s is more than a day", at: dayOffsetAt) }
        let schema = try FieldListCodec.read(&reader)
        let blockCount = try reader.readCount("block count", limit: reader.readableBytes / SegmentLayout.blockEntryFixedSize)
        let expectedProducts = BlockStatistics.productFields(schema).map { $0.count * ($0.count - 1) / 2 } ?? 0
        var nextOffset = SegmentLayout.headerSize
        var previousMax = Int64.min
        var blocks: [BlockEntry] = []
        blocks.reserveCapacity(blockCount)
        for b in 0..<blockCount {
            // Errors name the first byte of the entry's field that is wrong.
            let entryAt = reader.readerIndex
            let offset = Int(clamping: try reader.readInteger(as: UInt64.self, "offset of block \(b)"))
            let length = Int(try reader.readInteger(as: UInt32.self, "length of block \(b)"))
            // Blocks lie back to back between the header and the footer, in time order.
            guard offset == nextOffset else {
                throw reader.malformed("block \(b) at \(offset) does not follow the previous block at \(nextOffset)", at: entryAt)
            }
            guard length >= 5, length <= fileSize - offset else {
                throw reader.malformed("block \(b) at \(offset) of \(length) bytes does not fit between the header and the footer at \(fileSize)", at: entryAt + 8)
            }
            nextOffset = offset + length
            let rows = Int(try reader.readInteger(as: UInt32.self, "rows of block \(b)"))
            let minTime = try reader.readInteger(as: Int64.self, "min time of block \(b)")
            let maxTime = try reader.readInteger(as: Int64.self, "max time of block \(b)")
            guard rows >= 1 else { throw reader.malformed("block \(b) has no rows", at: entryAt + 12) }
            guard minTime >= previousMax || !ordered else {
                throw reader.malformed("block \(b) starts at \(minTime), before the previous block ends at \(previousMax)", at: entryAt + 16)
            }
            guard minTime <= maxTime else {
                throw reader.malformed("block \(b) ends at \(maxTime), before it starts at \(minTime)", at: entryAt + 24)
            }
            previousMax = maxTime
            var fields: [FieldStatistics] = []
            fields.reserveCapacity(schema.count)
            for f in schema {
                let count = Int(try reader.readInteger(as: UInt32.self, "count of \(f.name)"))
                fields.append(FieldStatistics(
                    count: count,
                    min: try reader.readInteger(as: UInt64.self, "min of \(f.name)"),
                    max: try reader.readInteger(as: UInt64.self, "max of \(f.name)"),
                    first: try reader.readInteger(as: UInt64.self, "first of \(f.name)"),
                    last: try reader.readInteger(as: UInt64.self, "last of \(f.name)"),
                    sum: try reader.readInteger(as: UInt64.self, "sum of \(f.name)")))
            }
            let productCount = Int(try reader.readInteger(as: UInt8.self, "product count of block \(b)"))
            guard productCount == expectedProducts else {
                throw reader.malformed("block \(b) has \(productCount) product sums; its schema calls for \(expectedProducts)", at: reader.readerIndex - 1)
            }
            var products: [Double] = []
            for _ in 0..<productCount { products.append(try reader.readFloat64("product sum")) }
            blocks.append(BlockEntry(offset: offset, length: length,
                                     statistics: BlockStatistics(rowCount: rows, minTime: minTime, maxTime: maxTime,
                                                                 fields: fields, productSums: products)))
        }
        guard reader.readableBytes == 0 else { throw reader.malformed("\(reader.readableBytes) unexpected bytes after the block index") }
        guard nextOffset == fileSize else {
            // Named at the first of those bytes.
            throw FormatError(.malformed, "\(fileSize - nextOffset) bytes between the last block and the footer", offset: nextOffset)
        }
        return SegmentFooter(measurement: measurement, symbol: symbol, day: day, dayOffsetSeconds: dayOffsetSeconds,
                             schema: schema, blocks: blocks)
    }
}

/// Builds a segment a piece at a time: the header, then each block, then the footer
/// and trailer. It does no I/O: the caller writes each piece as it comes.
public struct SegmentBuilder {
    public let measurement: String
    public let symbol: String
    public let day: Int64
    public let dayOffsetSeconds: Int64
    public let schema: [Field]
    /// A group image: rows of many series one after another, blocks in no time order.
    public let group: Bool
    public private(set) var offset: Int
    public private(set) var blocks: [BlockEntry] = []
    private var lastMaxTime = Int64.min

    public init(measurement: String, symbol: String, day: Int64, dayOffsetSeconds: Int64 = 0, schema: [Field]) {
        self.init(measurement: measurement, symbol: symbol, day: day, dayOffsetSeconds: dayOffsetSeconds, schema: schema, group: false)
    }

    /// A builder of a group image (its footer's symbol is empty).
    public init(groupOf measurement: String, day: Int64, dayOffsetSeconds: Int64 = 0, schema: [Field]) {
        self.init(measurement: measurement, symbol: "", day: day, dayOffsetSeconds: dayOffsetSeconds, schema: schema, group: true)
    }

    private init(measurement: String, symbol: String, day: Int64, dayOffsetSeconds: Int64, schema: [Field], group: Bool) {
        self.group = group
        self.measurement = measurement
        self.symbol = symbol
        self.day = day
        self.dayOffsetSeconds = dayOffsetSeconds
        self.schema = schema
        self.offset = 0
    }

    /// The header bytes. Call first.
    public mutating func header() -> [UInt8] {
        precondition(offset == 0, "header already written")
        offset = SegmentLayout.headerSize
        return SegmentLayout.header(group: group)
    }

    /// A block encoded on its own, to be appended in order: blocks of one segment can be
    /// encoded in parallel.
    public struct EncodedBlock: Sendable {
        public let bytes: [UInt8]
        public let statistics: BlockStatistics
        public let chunks: [BlockCodec.ChunkInfo]
    }

    /// Encodes rows (sorted by time) as one block of a segment with `schema`.
    public static func encodeBlock(_ rows: RowBlock, schema: [Field]) -> EncodedBlock {
        precondition(rows.stableTimeOrder() == nil, "block rows must be sorted by time")
        return encodeGroupBlock(rows, schema: schema)
    }

    /// Encodes rows in the order given, as one block of a group image: the rows of one series
    /// after another, each series' rows sorted by time.
    public static func encodeGroupBlock(_ rows: RowBlock, schema: [Field]) -> EncodedBlock {
        precondition(rows.columns.count == schema.count, "block columns do not match the schema")
        let stats = BlockStatistics.of(rows, schema: schema)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(rows.rowCount * 4 + 64)
        let chunks = BlockCodec.encode(rows, into: &bytes)
        return EncodedBlock(bytes: bytes, statistics: stats, chunks: chunks)
    }

    /// Appends an encoded block (not earlier than the previous one); returns its bytes.
    public mutating func append(_ block: EncodedBlock) -> [UInt8] {
        precondition(offset > 0, "write the header first")
        precondition(group || block.statistics.minTime >= lastMaxTime || blocks.isEmpty, "blocks must be in time order")
        blocks.append(BlockEntry(offset: offset, length: block.bytes.count, statistics: block.statistics))
        offset += block.bytes.count
        lastMaxTime = block.statistics.maxTime
        return block.bytes
    }

    /// Encodes rows (sorted by time, and not earlier than the previous block's) as one block.
    public mutating func block(_ rows: RowBlock) -> (bytes: [UInt8], chunks: [BlockCodec.ChunkInfo]) {
        let encoded = Self.encodeBlock(rows, schema: schema)
        return (append(encoded), encoded.chunks)
    }

    /// The footer and trailer. Call last.
    public func finish() -> [UInt8] {
        var out: [UInt8] = []
        let footer = SegmentFooter(measurement: measurement, symbol: symbol, day: day, dayOffsetSeconds: dayOffsetSeconds,
                                   schema: schema, blocks: blocks)
        footer.encode(into: &out)
        let crc = CRC32C.checksum(out)
        let length = out.count
        out.writeInteger(UInt64(offset))
        out.writeInteger(UInt32(length))
        out.writeInteger(crc)
        out.append(contentsOf: group ? SegmentLayout.groupMagic : SegmentLayout.magic)
        return out
    }
}

/// Reads a whole segment held in memory (usually an mmap): validates header, trailer and
/// footer checksum, and decodes blocks on demand (each block's checksum verified).
public struct SegmentReader: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer
    public let footer: SegmentFooter
    /// A group image (magic `STRATGRP`): rows of many series, blocks in no time order.
    public let group: Bool

    /// `bytes` must stay valid while the reader is used. `group`: read a group image
    /// (`STRATGRP`) instead of a segment.
    public init(_ bytes: UnsafeRawBufferPointer, group: Bool = false) throws(FormatError) {
        self.bytes = bytes
        self.group = group
        let magic = group ? SegmentLayout.groupMagic : SegmentLayout.magic
        let kind = group ? "group image" : "segment"
        let size = bytes.count
        guard size >= 8 else { throw FormatError(.truncated, "file of \(size) bytes is too short to be a Strata \(kind)", offset: 0) }
        guard Array(bytes[0..<8]) == magic else {
            throw FormatError(.badMagic, "not a Strata \(kind) (no \(String(decoding: magic, as: UTF8.self)) magic at the start)", offset: 0)
        }
        guard size >= SegmentLayout.headerSize + SegmentLayout.trailerSize else {
            throw FormatError(.truncated, "segment of \(size) bytes is shorter than header and trailer", offset: size)
        }
        let headerCRC = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<12])) == headerCRC else {
            // Checksum errors name the first byte the checksum covers.
            throw FormatError(.checksumMismatch, "segment header checksum mismatch", offset: 0)
        }
        let version = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        guard version == SegmentLayout.version else {
            throw FormatError(.unsupported, "segment format version \(version); this reader knows \(SegmentLayout.version)", offset: 8)
        }
        let flags = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
        guard flags == 0 else {
            throw FormatError(.unsupported, "segment header flags 0x\(String(flags, radix: 16)); this reader knows none", offset: 10)
        }
        let t = size - SegmentLayout.trailerSize
        guard Array(bytes[(size - 8)..<size]) == magic else {
            throw FormatError(.truncated, "\(kind) has no trailer magic: the file is truncated or was not finished", offset: size - 8)
        }
        let footerOffset = Int(clamping: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: t, as: UInt64.self)))
        let footerLength = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: t + 8, as: UInt32.self)))
        let footerCRC = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: t + 12, as: UInt32.self))
        guard footerOffset >= SegmentLayout.headerSize, footerOffset <= t, footerLength == t - footerOffset else {
            throw FormatError(.malformed, "trailer points to a footer at \(footerOffset)+\(footerLength) in a file of \(size) bytes", offset: t)
        }
        let footerBytes = UnsafeRawBufferPointer(rebasing: bytes[footerOffset..<t])
        guard CRC32C.checksum(footerBytes) == footerCRC else {
            throw FormatError(.checksumMismatch, "segment footer checksum mismatch", offset: footerOffset)
        }
        var reader = ByteReader(footerBytes, baseOffset: footerOffset)
        self.footer = try SegmentFooter.decode(&reader, fileSize: footerOffset, ordered: !group)
        // A group image names no series: its slices' symbols are in the pack manifest.
        guard !group || footer.symbol.isEmpty else {
            // Named at the symbol's first byte, after the measurement's length and bytes.
            var measurement: [UInt8] = []
            measurement.writeString(footer.measurement)
            throw FormatError(.malformed, "a group image's footer names the symbol '\(footer.symbol)'", offset: footerOffset + measurement.count)
        }
    }

    public func blockBytes(_ index: Int) -> UnsafeRawBufferPointer {
        let b = footer.blocks[index]
        return UnsafeRawBufferPointer(rebasing: bytes[b.offset..<(b.offset + b.length)])
    }

    public func decodeBlock(_ index: Int, fields: Set<Int>? = nil) throws(FormatError) -> RowBlock {
        let entry = footer.blocks[index]
        let block = try BlockCodec.decode(blockBytes(index), schema: footer.schema, fields: fields, baseOffset: entry.offset)
        // A segment's block starts at its min time and ends at its max; a group image's
        // block holds both somewhere.
        let first = group ? block.timestamps.min() : block.timestamps.first
        let last = group ? block.timestamps.max() : block.timestamps.last
        guard block.rowCount == entry.statistics.rowCount, first == entry.statistics.minTime, last == entry.statistics.maxTime else {
            throw FormatError(.malformed, "block holds \(block.rowCount) rows; the footer says \(entry.statistics.rowCount) rows and another time range",
                              offset: entry.offset)
        }
        return block
    }

    public func verifyBlock(_ index: Int) throws(FormatError) {
        try BlockCodec.verify(blockBytes(index), baseOffset: footer.blocks[index].offset)
    }

    /// Indexes of blocks whose time range meets [from, to] (inclusive).
    public func blocks(overlapping from: Int64, _ to: Int64) -> [Int] {
        footer.blocks(overlapping: from, to)
    }
}
