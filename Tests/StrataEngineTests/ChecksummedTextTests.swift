import StrataEngine
import StrataFormat
import StrataPlatform
import Testing

/// `_schema`, `_id`, `_archive_url` and the other checksummed text files (Format.md,
/// "Schema file"): `crc32c` and 8 lower-case hex digits, checked before the text is read.
@Suite struct ChecksummedTextTests {
    /// A schema file whose checksum has letters among its digits.
    func schemaFile() -> [UInt8] {
        for n in 0..<100 {
            let bytes = ChecksummedText.encode("strata-schema 1\nf\(n)\tfloat\n")
            let digits = bytes.suffix(9).prefix(8)
            if digits.contains(where: { (0x61...0x66).contains($0) }) { return bytes }
        }
        fatalError("no checksum with a letter")
    }

    func error(_ bytes: [UInt8]) -> StrataError? {
        do {
            _ = try MeasurementSchema.decode(bytes, path: "m/_schema")
            return nil
        } catch {
            return error
        }
    }

    @Test func upperCaseChecksumDigitsAreRefused() throws {
        let good = schemaFile()
        #expect(try MeasurementSchema.decode(good, path: "m/_schema").fields.count == 1)
        var upper = good
        for i in (upper.count - 9)..<(upper.count - 1) where (0x61...0x66).contains(upper[i]) { upper[i] -= 0x20 }
        let e = error(upper)
        #expect(e?.code == .corrupt && e?.line == 3 && e?.message.contains("lower-case") == true, "\(String(describing: e))")
    }

    @Test func theChecksumIsCheckedBeforeTheText() throws {
        // A byte that is not UTF-8, where the checksum does not cover it: damage, and said so.
        var damaged = schemaFile()
        damaged[17] = 0xFF
        let e = error(damaged)
        #expect(e?.code == .corrupt && e?.message.contains("checksum mismatch") == true, "\(String(describing: e))")
        // The same byte under a checksum that covers it: the text itself is wrong.
        let notText = ChecksummedText.encode("strata-schema 1\nf\u{1}\tfloat\n").enumerated().map { $0.offset == 17 ? 0xFF : $0.element }
        let body = Array(notText.prefix(notText.count - 16))
        let resealed = body + Array("crc32c \(paddedHex(CRC32C.checksum(body), digits: 8))\n".utf8)
        let f = error(resealed)
        #expect(f?.code == .corrupt && f?.message.contains("not UTF-8") == true, "\(String(describing: f))")
    }
}
