import StrataFormat
import Testing

/// Where an error is (Format.md, "Reading a segment": error offsets): the first byte of the
/// item found wrong, the first left-over byte, or for a checksum the first byte it covers.
@Suite("Error offsets")
struct ErrorOffsetTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        /// The block's bytes before its checksum.
        var body: String
        var code: FormatError.Code
        /// Offset from the block's first byte.
        var offset: Int
        var testDescription: String { name }
    }

    /// Two rows at 1000 and 2000 (14 bytes, block bytes 2…15); a field chunk starts at 16.
    static let time = "01 0c e8 03 00 00 00 00 00 00 e8 07 80 80"
    static let schema = [Field("volume", .int64), Field("venue", .string), Field("price", .float64)]

    static let cases: [Case] = [
        Case(name: "zero rows: the row count", body: "00 00", code: .malformed, offset: 0),
        Case(name: "more chunks than fields: the chunk count", body: "02 04 " + time, code: .malformed, offset: 1),
        Case(name: "unknown time encoding: its byte", body: "02 00 7f 00", code: .unsupported, offset: 2),
        Case(name: "ts-dod unit 0: the unit", body: "02 00 01 0b e8 03 00 00 00 00 00 00 00 80 80", code: .malformed, offset: 12),
        Case(name: "field index out of range: the index", body: "02 01 " + time + " 03 02", code: .malformed, offset: 16),
        Case(name: "a field twice: the second index", body: "02 02 " + time + " 02 02 02 02", code: .malformed, offset: 18),
        Case(name: "presence 3: the presence byte", body: "02 01 " + time + " 02 03", code: .malformed, offset: 17),
        Case(name: "presence 1 with no bit set: the presence byte", body: "02 01 " + time + " 00 01 00 20 04 00 01 00 00",
             code: .malformed, offset: 17),
        Case(name: "unknown field encoding: the encoding byte, not the length after it", body: "02 01 " + time + " 00 00 7f 00",
             code: .unsupported, offset: 18),
        Case(name: "encoding of another type: the encoding byte", body: "02 01 " + time + " 00 00 30 02 01 00",
             code: .malformed, offset: 18),
        Case(name: "payload length beyond the block: the length", body: "02 01 " + time + " 00 00 20 09 0a 01 00 00",
             code: .malformed, offset: 19),
        Case(name: "int-for divisor 0: the divisor", body: "02 01 " + time + " 00 00 20 04 0a 00 00 00", code: .malformed, offset: 21),
        Case(name: "int-for width 65: the width", body: "02 01 " + time + " 00 00 20 04 0a 01 41 00", code: .malformed, offset: 22),
        Case(name: "f64-decimal exponent 19: the exponent", body: "02 01 " + time + " 02 00 12 07 13 20 00 01 00 00 00",
             code: .malformed, offset: 20),
        Case(name: "str-dict index outside the dictionary: the byte holding it", body: "02 01 " + time + " 01 00 30 05 01 01 62 01 02",
             code: .malformed, offset: 24),
        Case(name: "bytes left in a payload: the first of them", body: "02 01 " + time + " 00 00 20 05 0a 01 00 00 00",
             code: .malformed, offset: 24),
        Case(name: "bytes after the last chunk: the first of them", body: "02 00 " + time + " 00", code: .malformed, offset: 16),
    ]

    @Test(arguments: cases)
    func blockErrors(_ c: Case) {
        var block = bytes(hex: c.body)
        block.writeInteger(CRC32C.checksum(block))
        // At offset 100 of a file, as a block is.
        let file = [UInt8](repeating: 0, count: 100) + block
        let error = formatError { _ = try decodeBlock(file, from: 100, schema: Self.schema) }
        #expect(error?.code == c.code, "\(String(describing: error))")
        #expect(error?.offset == 100 + c.offset, "\(String(describing: error))")
    }

    @Test func checksumErrorsNameTheFirstByteCovered() {
        let (file, _) = Fixtures.segment()
        var header = file
        header[9] ^= 1
        #expect(openError(header)?.offset == 0)
        var footer = file
        footer[footerOffset(file) + 3] ^= 1
        #expect(openError(footer)?.offset == footerOffset(file))
        let entry = file.withUnsafeBytes { raw in (try? SegmentReader(raw))?.footer.blocks[1] }!
        var block = file
        block[entry.offset + 5] ^= 1
        let error = block.withUnsafeBytes { raw in formatError { _ = try SegmentReader(raw).decodeBlock(1) } }
        #expect(error?.code == .checksumMismatch && error?.offset == entry.offset)

        var manifest = DayManifest()
        _ = manifest.addSegment(rows: 3)
        var damaged = manifest.encode()
        damaged[30] ^= 1
        let m = damaged.withUnsafeBytes { raw in formatError { _ = try DayManifest.decode(raw) } }
        #expect(m?.code == .checksumMismatch && m?.offset == 0)
    }

    @Test func footerErrors() {
        // Bytes between the last block (none: the header's end) and the footer: the first of them.
        let empty = SegmentFooter(measurement: "m", symbol: "s", day: 0, schema: [], blocks: [])
        var body: [UInt8] = []
        empty.encode(into: &body)
        let gap = SegmentLayout.header() + [0, 0, 0] + body + trailer(footer: body, at: 19)
        #expect(openError(gap)?.code == .malformed && openError(gap)?.offset == 16)
        // A field name twice: the second name (footer bytes: 01 6d, 01 73, day, offset, count, 01 78 02, 01 78 …).
        let twice = SegmentFooter(measurement: "m", symbol: "s", day: 0, schema: [Field("x", .int64), Field("x", .float64)], blocks: [])
        body = []
        twice.encode(into: &body)
        let file = SegmentLayout.header() + body + trailer(footer: body, at: 16)
        #expect(openError(file)?.code == .malformed && openError(file)?.offset == 16 + 10)
    }

    @Test func manifestErrors() {
        var m = DayManifest()
        m.nextSegmentID = 3
        m.segments = [DayManifest.Entry(id: 2, rows: 1), DayManifest.Entry(id: 1, rows: 1)]
        let bytes = m.encode()
        // Header 16, next id 8, two positions 32, segment count 4: entries at 60 and 76.
        let error = bytes.withUnsafeBytes { raw in formatError { _ = try DayManifest.decode(raw) } }
        #expect(error?.code == .malformed && error?.offset == 76, "\(String(describing: error))")
    }
}
