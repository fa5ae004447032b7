import StrataArchive
import StrataEngine
import StrataFormat
import Testing

/// Format.md's error offsets for a cold object's own structure: each damage is reported with
/// the code and the byte the rule names, counted from the object's start.
@Suite struct ColdObjectErrorOffsetTests {
    /// A cold object of a two-block segment, and where its index, footer and entries are.
    struct Layout {
        var object: [UInt8]
        var index: Range<Int>
        var footerLength: Int
        var countAt: Int { index.lowerBound + 12 + footerLength }
        func entryAt(_ i: Int) -> Int { countAt + 4 + 16 * i }

        init() throws {
            var builder = SegmentBuilder(measurement: "trade", symbol: "ESH4", day: 19_724, schema: [Field("price", .float64)])
            var segment = builder.header()
            for b in 0..<2 {
                let times = (0..<100).map { 1_704_186_000_000_000_000 + Int64(b * 100 + $0) }
                segment += builder.block(RowBlock(timestamps: times, columns: [Column(.float64(times.map { Double($0 % 977) }))])).bytes
            }
            segment += builder.finish()
            object = try segment.withUnsafeBytes { raw throws in try ColdObject.make(fromSegment: raw) }
            let trailer = try object.withUnsafeBytes { raw throws in try ColdObject.trailer(tail: raw, objectSize: raw.count) }
            index = trailer.index
            footerLength = Int(Self.u32(object, at: index.lowerBound + 8))
        }

        static func u32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
            (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
        }

        /// Puts the index's checksum right again after the index was changed.
        mutating func reseal() {
            object.setInteger(CRC32C.checksum(object[index]), at: object.count - 12)
        }

        /// The error reading the trailer and then the index gives, if any.
        func error() -> FormatError? {
            object.withUnsafeBytes { raw in
                do throws(FormatError) {
                    let trailer = try ColdObject.trailer(tail: raw, objectSize: raw.count)
                    _ = try ColdObject.index(UnsafeRawBufferPointer(rebasing: raw[trailer.index]), trailer: trailer, cipher: nil)
                    return nil
                } catch { return error }
            }
        }
    }

    static let cases: [(String, @Sendable (inout Layout) -> Int, FormatError.Code)] = [
        ("too short for a header and trailer", { l in l.object = Array(l.object.prefix(30)); return 0 }, .truncated),
        ("no magic at the end", { l in l.object[l.object.count - 8] ^= 1; return l.object.count - 8 }, .badMagic),
        ("index offset past the trailer", { l in
            l.object.setInteger(UInt64(l.object.count), at: l.object.count - 24); return l.object.count - 24 }, .malformed),
        ("a flipped bit in the index", { l in l.object[l.index.lowerBound + 3] ^= 0x10; return l.index.lowerBound }, .checksumMismatch),
        ("segment footer offset over 2^63 - 1", { l in
            l.object.setInteger(UInt64.max, at: l.index.lowerBound); l.reseal(); return l.index.lowerBound }, .malformed),
        ("block count unlike the footer's", { l in
            l.object.setInteger(UInt32(3), at: l.countAt); l.reseal(); return l.countAt }, .malformed),
        ("first frame not at byte 16", { l in
            l.object.setInteger(UInt64(17), at: l.entryAt(0)); l.reseal(); return l.entryAt(0) }, .malformed),
        ("second frame not where the first ends", { l in
            l.object.setInteger(UInt64(16), at: l.entryAt(1)); l.reseal(); return l.entryAt(1) }, .malformed),
        ("a frame of length 0", { l in
            l.object.setInteger(UInt32(0), at: l.entryAt(1) + 8); l.reseal(); return l.entryAt(1) + 8 }, .malformed),
        ("frames that end before the index", { l in
            let length = Layout.u32(l.object, at: l.entryAt(1) + 8)
            l.object.setInteger(length - 1, at: l.entryAt(1) + 8); l.reseal(); return l.entryAt(1) + 8 }, .malformed),
    ]

    @Test(arguments: cases.indices)
    func damageIsNamedWhereTheRuleSays(_ i: Int) throws {
        let (name, damage, code) = Self.cases[i]
        var layout = try Layout()
        let offset = damage(&layout)
        let error = layout.error()
        #expect(error?.code == code && error?.offset == offset, "\(name): \(String(describing: error)), expected \(code) at \(offset)")
    }

    /// A frame is named by its offset in the object, whatever inside it is wrong.
    @Test func aDamagedFrameIsNamedByItsOffset() throws {
        var layout = try Layout()
        let index = try layout.object.withUnsafeBytes { raw throws in
            try ColdObject.index(UnsafeRawBufferPointer(rebasing: raw[layout.index]),
                                 trailer: ColdObject.trailer(tail: raw, objectSize: raw.count), cipher: nil)
        }
        let second = index.extents[1]
        layout.object[second.offset + 2] ^= 0x40
        do {
            _ = try layout.object.withUnsafeBytes { raw throws in try ColdObject.block(1, of: index, span: raw, spanStart: 0) }
            Issue.record("a damaged frame was read")
        } catch let error as FormatError {
            #expect(error.code == .checksumMismatch && error.offset == second.offset, "\(error)")
        }
    }
}
