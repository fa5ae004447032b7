import StrataArchive
import StrataEngine
import StrataFormat
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
}
