import StrataArchive
import StrataEngine
import StrataFormat
import StrataPlatform
import Testing

/// Inputs the cold-object fuzz target (`scripts/fuzz cold`) found to break a property.
@Suite struct ColdObjectFuzzFindingsTests {
    /// A segment of one block of random float bits: zstd stores it as a raw block, so a byte
    /// of the frame is a byte of the segment block.
    func segment() -> [UInt8] {
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {  // xorshift64: the same bits on every run
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        let rows = 64
        let block = RowBlock(timestamps: (0..<rows).map { 1_704_186_000_000_000_000 + Int64($0) },
                             columns: [Column(.float64((0..<rows).map { _ in Double(bitPattern: next()) }))])
        var builder = SegmentBuilder(measurement: "trade", symbol: "ESH4", day: 19_724, schema: [Field("bits", .float64)])
        var file = builder.header()
        file += builder.block(block).bytes
        return file + builder.finish()
    }

    /// `scripts/fuzz cold`: a frame damaged under a crc32c that matches it (the damage came
    /// before the checksum was taken, or the frame and its checksum were rewritten) still
    /// decompressed, and the object gave back a segment whose block fails its own CRC32C:
    /// damage returned as data. The block's own checksum is now checked too.
    @Test func aFrameThatDecompressesToADamagedBlockIsAnError() throws {
        let segment = segment()
        var cold = try segment.withUnsafeBytes { raw throws in try ColdObject.make(fromSegment: raw) }
        let trailer = try cold.withUnsafeBytes { raw throws in try ColdObject.trailer(tail: raw, objectSize: raw.count) }
        let index = try cold.withUnsafeBytes { raw throws in
            try ColdObject.index(UnsafeRawBufferPointer(rebasing: raw[trailer.index]), trailer: trailer, cipher: nil)
        }
        let frame = index.extents[0]
        // A byte of the block's values, inside the raw zstd block, near the frame's end.
        cold[frame.offset + frame.length - 20] ^= 0x5A
        // Reseal: the frame's crc32c in the index (the first entry, 16 bytes from the index's
        // end), then the index's in the trailer.
        cold.setInteger(CRC32C.checksum(cold[frame.offset..<(frame.offset + frame.length)]), at: trailer.index.upperBound - 16 + 12)
        cold.setInteger(CRC32C.checksum(cold[trailer.index]), at: cold.count - 12)
        let resealed = try cold.withUnsafeBytes { raw throws in
            try ColdObject.index(UnsafeRawBufferPointer(rebasing: raw[trailer.index]), trailer: ColdObject.trailer(tail: raw, objectSize: raw.count), cipher: nil)
        }
        // The frame passes its checksum and decompresses to the right length; the block it
        // holds fails its own CRC32C ("block checksum is …", not a zstd or frame error), for
        // the whole-object reader (restore, inspect) and the ranged one (queries) alike.
        do {
            let back = try cold.withUnsafeBytes { raw throws in try ColdObject.segmentBytes(raw, keyring: nil, location: "test object") }
            Issue.record("a damaged block came back as \(back.count) bytes of segment")
        } catch let error as StrataError {
            #expect(error.code == .corrupt && error.message.contains("cold block 0: block checksum is"), "\(error)")
        }
        do {
            let block = try cold.withUnsafeBytes { raw throws in try ColdObject.block(0, of: resealed, span: raw, spanStart: 0) }
            Issue.record("a damaged block came back as \(block.count) bytes")
        } catch let error as FormatError {
            #expect(error.code == .checksumMismatch && error.message.contains("cold block 0: block checksum is"), "\(error)")
        }
    }

    /// `scripts/fuzz cold`: `ColdReader` returned a block's rows when they were not the rows
    /// its footer entry describes (another last time), where a segment's reader refuses the
    /// same block as malformed (Format.md, "Reading a segment", step 10). A query over cold
    /// data would have planned with one time range and got rows of another.
    @Test func coldReaderRefusesABlockTheFooterDoesNotDescribe() throws {
        let good = segment()
        let reader = try good.withUnsafeBytes { raw throws in try SegmentReader(raw) }
        var footer = reader.footer
        footer.blocks[0].statistics.maxTime += 1
        // The segment again, with that footer under a right checksum.
        let footerOffset = footer.blocks[0].offset + footer.blocks[0].length
        var encoded: [UInt8] = []
        footer.encode(into: &encoded)
        var bad = Array(good[..<footerOffset]) + encoded
        bad.writeInteger(UInt64(footerOffset))
        bad.writeInteger(UInt32(encoded.count))
        bad.writeInteger(CRC32C.checksum(encoded))
        bad += SegmentLayout.magic
        #expect(throws: FormatError.self) { try bad.withUnsafeBytes { raw throws in try SegmentReader(raw).decodeBlock(0) } }

        let dir = TemporaryDirectory()
        let store = try LocalObjectStore(directory: dir.path)
        try store.put("trade/ESH4/2024/01/02/0000000000000001.strata", try bad.withUnsafeBytes { raw throws in try ColdObject.make(fromSegment: raw) })
        let cold = ColdReader(store: store, key: "trade/ESH4/2024/01/02/0000000000000001.strata")
        do {
            let rows = try cold.decodeBlocks(0..<1)
            Issue.record("read \(rows[0].rowCount) rows the footer does not describe")
        } catch {
            #expect(error.code == .corrupt && error.block == 0 && error.message.contains("the footer says"), "\(error)")
        }
    }
}
