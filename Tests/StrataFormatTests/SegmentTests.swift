import StrataFormat
import Testing

/// Opens a reader over `bytes` and runs `body` while the memory is valid.
func withSegment<R>(_ bytes: [UInt8], _ body: (SegmentReader) throws -> R) throws -> R {
    try bytes.withUnsafeBytes { raw in try body(try SegmentReader(raw)) }
}

@Suite("SegmentBuilder and SegmentReader")
struct SegmentTests {
    @Test func headerGolden() {
        // "STRATSEG", version 1 (01 00), flags 0 (00 00), CRC32C of those 12 bytes
        // (0x8b7a71c0, little-endian).
        let header = SegmentLayout.header()
        #expect(header.count == SegmentLayout.headerSize)
        #expect(hex(header) == "53 54 52 41 54 53 45 47 01 00 00 00 c0 71 7a 8b")
    }

    @Test func segmentRoundTrip() throws {
        let (file, blocks) = Fixtures.segment()
        try withSegment(file) { reader throws in
            let footer = reader.footer
            #expect(footer.measurement == "trades")
            #expect(footer.symbol == "ESH6")
            #expect(footer.day == Fixtures.day)
            #expect(footer.schema == Fixtures.schema)
            #expect(footer.blocks.count == blocks.count)
            #expect(footer.rowCount == blocks.reduce(0) { $0 + $1.rowCount })
            #expect(footer.minTime == blocks.first!.timestamps.first)
            #expect(footer.maxTime == blocks.last!.timestamps.last)
            // Blocks lie back to back after the header; the footer follows the last one.
            var offset = SegmentLayout.headerSize
            for (i, entry) in footer.blocks.enumerated() {
                #expect(entry.offset == offset)
                offset += entry.length
                #expect(entry.statistics == BlockStatistics.of(blocks[i], schema: Fixtures.schema))
                #expect(try reader.decodeBlock(i).bits == blocks[i].bits)
                try reader.verifyBlock(i)
            }
            let trailer = file.suffix(SegmentLayout.trailerSize)
            #expect(Int(trailer.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian) == offset)
            #expect(Array(file.suffix(8)) == SegmentLayout.magic)
        }
    }

    /// Footer statistics checked against values worked out by hand on a small block.
    @Test func footerStatisticsByHand() throws {
        let schema = [Field("price", .float64), Field("volume", .int64), Field("venue", .string)]
        let rows = RowBlock(timestamps: [5_000, 5_000, 7_000, 9_000], columns: [
            Column(.float64([4512.25, 4512.5, 0, 4512.0]), presence: [true, true, false, true]),
            Column(.int64([10, 20, 30, 40])),
            Column(.string(["A", "B", "A", ""]), presence: [true, true, true, false]),
        ])
        var builder = SegmentBuilder(measurement: "m", symbol: "s", day: -1, schema: schema)
        var file = builder.header()
        file += builder.block(rows).bytes
        file += builder.finish()
        try withSegment(file) { reader throws in
            let s = reader.footer.blocks[0].statistics
            #expect(reader.footer.day == -1)
            #expect(s.rowCount == 4 && s.minTime == 5_000 && s.maxTime == 9_000)
            let price = s.fields[0]
            #expect(price.count == 3)
            #expect(FieldStatistics.double(price.min) == 4512.0)
            #expect(FieldStatistics.double(price.max) == 4512.5)
            #expect(FieldStatistics.double(price.first) == 4512.25)
            #expect(FieldStatistics.double(price.last) == 4512.0)
            #expect(FieldStatistics.double(price.sum) == 13536.75)
            let volume = s.fields[1]
            #expect(volume.count == 4)
            #expect(FieldStatistics.int(volume.min) == 10 && FieldStatistics.int(volume.max) == 40)
            #expect(FieldStatistics.int(volume.first) == 10 && FieldStatistics.int(volume.last) == 40)
            #expect(FieldStatistics.int(volume.sum) == 100)
            #expect(s.fields[2] == FieldStatistics(count: 3))
            // Σ price·volume where both present: 4512.25·10 + 4512.5·20 + 4512·40
            // = 45_122.5 + 90_250 + 180_480 = 315_852.5
            #expect(s.productSums == [315_852.5])
            #expect(BlockStatistics.productIndex(schema, 0, 1) == 0)
        }
    }

    @Test func blocksOverlapping() throws {
        // Four blocks with time ranges [100, 200], [200, 300], [400, 400], [500, 900].
        let schema = [Field("x", .int64)]
        var builder = SegmentBuilder(measurement: "m", symbol: "s", day: 0, schema: schema)
        var file = builder.header()
        for ts in [[100, 150, 200], [200, 300], [400], [500, 600, 900]] as [[Int64]] {
            file += builder.block(RowBlock(timestamps: ts, columns: [Column(.int64(ts))])).bytes
        }
        file += builder.finish()
        try withSegment(file) { reader throws in
            #expect(reader.blocks(overlapping: Int64.min, Int64.max) == [0, 1, 2, 3])
            #expect(reader.blocks(overlapping: 0, 99) == [])
            #expect(reader.blocks(overlapping: 0, 100) == [0])  // inclusive at both ends
            #expect(reader.blocks(overlapping: 200, 200) == [0, 1])
            #expect(reader.blocks(overlapping: 301, 399) == [])
            #expect(reader.blocks(overlapping: 350, 450) == [2])
            #expect(reader.blocks(overlapping: 900, 1000) == [3])
            #expect(reader.blocks(overlapping: 901, 1000) == [])
            #expect(try reader.decodeBlock(3).timestamps == [500, 600, 900])
        }
    }

    /// [from, to] with from > to is an empty interval, which no block meets; the reader
    /// returns every block whose range contains both ends' neighbourhood instead.
    @Test
    func blocksOverlappingAnEmptyInterval() throws {
        let schema = [Field("x", .int64)]
        var builder = SegmentBuilder(measurement: "m", symbol: "s", day: 0, schema: schema)
        var file = builder.header()
        file += builder.block(RowBlock(timestamps: [500, 900], columns: [Column(.int64([1, 2]))])).bytes
        file += builder.finish()
        try withSegment(file) { reader throws in
            #expect(reader.blocks(overlapping: 600, 550) == [])
        }
    }

    @Test func projectionThroughTheReader() throws {
        let (file, blocks) = Fixtures.segment()
        try withSegment(file) { reader throws in
            let b = try reader.decodeBlock(2, fields: [1])
            #expect(b.timestamps == blocks[2].timestamps)
            #expect(b.columns[1] == blocks[2].columns[1])
            #expect(b.columns[0] == Column.null(.float64, count: blocks[2].rowCount))
        }
    }

    @Test func segmentWithNoBlocks() throws {
        var builder = SegmentBuilder(measurement: "quotes", symbol: "€STR", day: 0, schema: [])
        let file = builder.header() + builder.finish()
        try withSegment(file) { reader throws in
            #expect(reader.footer.blocks.isEmpty)
            #expect(reader.footer.symbol == "€STR")
            #expect(reader.footer.rowCount == 0 && reader.footer.minTime == nil)
            #expect(reader.blocks(overlapping: .min, .max) == [])
        }
    }

    @Test func largeSegmentRoundTrip() throws {
        let (file, blocks) = Fixtures.segment(blockCount: 6, rowCounts: [8192, 1000, 1], seed: 0xB16)
        try withSegment(file) { reader throws in
            #expect(reader.footer.rowCount == 2 * (8192 + 1000 + 1))
            for i in blocks.indices { #expect(try reader.decodeBlock(i).bits == blocks[i].bits) }
        }
    }
}
