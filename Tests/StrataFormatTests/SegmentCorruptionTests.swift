import StrataFormat
import Testing

/// The error a reader of `bytes` throws on opening, or nil if it opens.
func openError(_ bytes: [UInt8]) -> FormatError? {
    bytes.withUnsafeBytes { raw in formatError { _ = try SegmentReader(raw) } }
}

/// A trailer for a footer at `offset` (the file's bytes before the trailer end with it).
func trailer(footer: [UInt8], at offset: Int) -> [UInt8] {
    var t: [UInt8] = []
    t.writeInteger(UInt64(offset))
    t.writeInteger(UInt32(footer.count))
    t.writeInteger(CRC32C.checksum(footer))
    return t + SegmentLayout.magic
}

/// Byte offset of the footer in a well-formed segment.
func footerOffset(_ file: [UInt8]) -> Int {
    Int(file.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: file.count - 24, as: UInt64.self) }.littleEndian)
}

struct FlipSite: Sendable, CustomTestStringConvertible {
    enum Place: Sendable { case fromStart(Int), inBlock(Int, Int), inFooter(Int), fromEnd(Int) }
    var name: String
    var place: Place
    var bit: UInt8
    /// The error the reader throws on opening; nil when it opens and block `place` fails.
    var openCode: FormatError.Code?
    var testDescription: String { name }
}

@Suite("Segment corruption")
struct SegmentCorruptionTests {
    static let sites: [FlipSite] = [
        FlipSite(name: "header magic", place: .fromStart(0), bit: 0, openCode: .badMagic),
        FlipSite(name: "header version", place: .fromStart(8), bit: 1, openCode: .checksumMismatch),
        FlipSite(name: "header flags", place: .fromStart(11), bit: 7, openCode: .checksumMismatch),
        FlipSite(name: "header crc", place: .fromStart(13), bit: 3, openCode: .checksumMismatch),
        FlipSite(name: "first block, row count", place: .inBlock(0, 0), bit: 0, openCode: nil),
        FlipSite(name: "second block, time chunk", place: .inBlock(1, 5), bit: 6, openCode: nil),
        FlipSite(name: "third block, middle", place: .inBlock(2, 200), bit: 2, openCode: nil),
        FlipSite(name: "last block, its crc", place: .inBlock(3, -1), bit: 7, openCode: nil),
        FlipSite(name: "footer measurement", place: .inFooter(1), bit: 5, openCode: .checksumMismatch),
        FlipSite(name: "footer block statistics", place: .inFooter(100), bit: 0, openCode: .checksumMismatch),
        FlipSite(name: "footer last byte", place: .inFooter(-1), bit: 4, openCode: .checksumMismatch),
        FlipSite(name: "trailer footer offset", place: .fromEnd(24), bit: 0, openCode: .malformed),
        FlipSite(name: "trailer footer offset, byte 6", place: .fromEnd(18), bit: 7, openCode: .malformed),
        FlipSite(name: "trailer footer length", place: .fromEnd(16), bit: 2, openCode: .malformed),
        FlipSite(name: "trailer footer crc", place: .fromEnd(12), bit: 0, openCode: .checksumMismatch),
        FlipSite(name: "trailer magic", place: .fromEnd(1), bit: 1, openCode: .truncated),
    ]

    @Test(arguments: sites)
    func flippedBit(_ site: FlipSite) throws {
        let (file, blocks) = Fixtures.segment()
        let footerAt = footerOffset(file)
        let entries = try withSegment(file) { $0.footer.blocks }
        let index: Int = switch site.place {
        case .fromStart(let i): i
        case .inBlock(let b, let i): entries[b].offset + (i >= 0 ? i : entries[b].length + i)
        case .inFooter(let i): i >= 0 ? footerAt + i : file.count - 24 + i
        case .fromEnd(let i): file.count - i
        }
        var damaged = file
        damaged[index] ^= 1 << site.bit
        if let code = site.openCode {
            #expect(openError(damaged)?.code == code)
            return
        }
        guard case .inBlock(let hit, _) = site.place else { return }
        try withSegment(damaged) { reader throws in
            #expect(reader.footer.blocks == entries)
            for i in blocks.indices where i != hit { #expect(try reader.decodeBlock(i).bits == blocks[i].bits) }
            #expect(formatError { _ = try reader.decodeBlock(hit) }?.code == .checksumMismatch)
            #expect(formatError { _ = try reader.decodeBlock(hit, fields: []) }?.code == .checksumMismatch)
            #expect(formatError { try reader.verifyBlock(hit) }?.code == .checksumMismatch)
        }
    }

    /// Every bit of a small segment, flipped one at a time: either the reader refuses to
    /// open, or it opens with the very same footer and every block either decodes to the
    /// very same rows or throws checksumMismatch, with at least one block throwing.
    @Test func flippedBitAnywhereNeverYieldsDifferentData() throws {
        let (file, blocks) = Fixtures.segment()
        let footer = try withSegment(file) { $0.footer }
        var damaged = file
        for bit in 0..<(file.count * 8) {
            damaged[bit / 8] ^= 1 << UInt8(bit % 8)
            defer { damaged[bit / 8] ^= 1 << UInt8(bit % 8) }
            guard openError(damaged) == nil else { continue }
            try withSegment(damaged) { reader throws in
                #expect(reader.footer == footer, "bit \(bit) changed the footer silently")
                var mismatches = 0
                for i in blocks.indices {
                    do {
                        let decoded = try reader.decodeBlock(i)
                        #expect(decoded.bits == blocks[i].bits, "bit \(bit) changed block \(i) silently")
                    } catch let error as FormatError {
                        #expect(error.code == .checksumMismatch, "bit \(bit): \(error)")
                        mismatches += 1
                    }
                }
                #expect(mismatches == 1, "bit \(bit) went unnoticed")
            }
        }
    }

    /// Bit 63 of the trailer's footer offset. The trailer has no checksum, so this is one
    /// flipped bit on disk; a plain `Int(UInt64)` would trap on it. Run in a child process
    /// so that a regression fails this test instead of killing the whole run.
    @Test func footerOffsetTopBitThrows() async {
        await #expect(processExitsWith: .success) {
            var (file, _) = Fixtures.segment()
            file[file.count - 24 + 7] ^= 0x80
            precondition(openError(file)?.code == .malformed)
        }
    }

    /// A block offset ≥ 2^63 in a footer whose checksum matches (a crafted or buggy file)
    /// is malformed, not a trap. In a child process for the same reason as above.
    @Test func blockOffsetTopBitThrows() async {
        await #expect(processExitsWith: .success) {
            var (file, _) = Fixtures.segment()
            let footerAt = footerOffset(file)
            var footer = Array(file[footerAt..<(file.count - 24)])
            // The first block entry follows the block count, which follows the schema:
            // re-encode the footer without blocks to find where it starts.
            let empty = SegmentFooter(measurement: "trades", symbol: "ESH6", day: Fixtures.day,
                                      schema: Fixtures.schema, blocks: [])
            var prefix: [UInt8] = []
            empty.encode(into: &prefix)
            footer[prefix.count + 7] |= 0x80
            file = Array(file[..<footerAt]) + footer + trailer(footer: footer, at: footerAt)
            precondition(openError(file)?.code == .malformed)
        }
    }

    @Test func truncatedFileAtEveryLength() {
        let (file, _) = Fixtures.segment()
        for cut in 0..<file.count {
            let error = openError(Array(file[..<cut]))
            #expect(error?.code == .truncated, "cut at \(cut): \(String(describing: error))")
        }
    }

    /// A writer that died before the trailer: header and blocks, or header, blocks and
    /// footer, but no trailer.
    @Test func tornTail() {
        let (file, _) = Fixtures.segment()
        let footerAt = footerOffset(file)
        #expect(openError(Array(file[..<footerAt]))?.code == .truncated)
        #expect(openError(Array(file[..<(file.count - 24)]))?.code == .truncated)
        #expect(openError(Array(file[..<(file.count - 1)]))?.code == .truncated)
        #expect(openError(SegmentLayout.header())?.code == .truncated)
    }

    @Test func trailingGarbage() {
        let (file, _) = Fixtures.segment()
        #expect(openError(file + [0])?.code == .truncated)
        #expect(openError(file + file)?.code == .malformed)
    }

    static let foreignFiles: [(String, [UInt8])] = [
        ("PNG", bytes(hex: "89 50 4e 47 0d 0a 1a 0a 00 00 00 0d 49 48 44 52 00 00 00 01 00 00 00 01 08 06 00 00 00 1f 15 c4 89 00 00 00 0a 49 44 41 54 78 9c 63 00 01")),
        ("CSV", Array("time,price,volume\n2026-01-02T09:30:00.000Z,4512.25,3\n2026-01-02T09:30:00.001Z,4512.5,1\n".utf8)),
        ("other Strata magic", Array("STRATWAL".utf8) + [UInt8](repeating: 0, count: 40)),
        ("zeros", [UInt8](repeating: 0, count: 4096)),
    ]

    @Test(arguments: foreignFiles)
    func foreignFile(_ name: String, _ bytes: [UInt8]) {
        #expect(openError(bytes)?.code == .badMagic, "\(name)")
    }

    @Test func emptyFile() {
        #expect(openError([])?.code == .truncated)
        // Shorter than the magic: too short to tell, reported as truncated.
        #expect(openError(Array("t,p\n".utf8))?.code == .truncated)
    }

    @Test func unknownVersion() {
        var (file, _) = Fixtures.segment()
        file[8] = 2
        file.setInteger(CRC32C.checksum(Array(file[0..<12])), at: 12)
        let error = openError(file)
        #expect(error?.code == .unsupported)
        #expect(error?.offset == 8)
    }

    /// Footers with a valid checksum that describe impossible files.
    @Test(arguments: [
        ("block beyond the footer", 16, 10_000, FormatError.Code.malformed),
        ("block inside the header", 8, 20, .malformed),
        ("block shorter than a checksum", 16, 4, .malformed),
    ] as [(String, Int, Int, FormatError.Code)])
    func inconsistentFooter(_ name: String, offset: Int, length: Int, code: FormatError.Code) {
        let stats = BlockStatistics(rowCount: 1, minTime: 0, maxTime: 0, fields: [FieldStatistics()], productSums: [])
        let footer = SegmentFooter(measurement: "m", symbol: "s", day: 0, schema: [Field("x", .int64)],
                                   blocks: [BlockEntry(offset: offset, length: length, statistics: stats)])
        var body: [UInt8] = []
        footer.encode(into: &body)
        let filler = [UInt8](repeating: 0, count: 40)
        let file = SegmentLayout.header() + filler + body + trailer(footer: body, at: 16 + filler.count)
        #expect(openError(file)?.code == code, "\(name)")
    }

    @Test func footerWithExtraBytes() {
        let footer = SegmentFooter(measurement: "m", symbol: "s", day: 0, schema: [], blocks: [])
        var body: [UInt8] = []
        footer.encode(into: &body)
        body.append(0)
        let file = SegmentLayout.header() + body + trailer(footer: body, at: 16)
        #expect(openError(file)?.code == .malformed)
        body.removeLast()
        #expect(openError(SegmentLayout.header() + body + trailer(footer: body, at: 16)) == nil)
    }

    @Test func duplicateFieldNameInFooter() {
        let footer = SegmentFooter(measurement: "m", symbol: "s", day: 0,
                                   schema: [Field("x", .int64), Field("x", .float64)], blocks: [])
        var body: [UInt8] = []
        footer.encode(into: &body)
        #expect(openError(SegmentLayout.header() + body + trailer(footer: body, at: 16))?.code == .malformed)
    }
}
