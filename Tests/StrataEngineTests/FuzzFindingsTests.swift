import StrataEngine
import StrataFormat
import StrataTestSupport
import Testing

/// Inputs the fuzz targets (Fuzz/, scripts/fuzz) found to break a property, kept as tests so
/// that what was fixed stays fixed.
@Suite struct FuzzFindingsTests {
    /// `scripts/fuzz schema`: a field line with a doubled tab (`%5Fhidde<TAB><TAB>float`) was
    /// read as `%5Fhidde<TAB>float`, so one schema had several spellings and Strata read files
    /// the conformance reader refuses. Format.md: `field-line = escaped-name HTAB type LF`.
    @Test(arguments: ["%5Fhidde\t\tfloat", "price\tfloat\t", "\tfloat", "price\tfloat\tint", "\t\tfloat"])
    func aSchemaLineIsExactlyNameTabType(_ line: String) throws {
        let good = ChecksummedText.encode("strata-schema 1\nprice\tfloat\n")
        #expect(try MeasurementSchema.decode(good, path: "m/_schema").fields == [Field("price", .float64)])
        let bad = ChecksummedText.encode("strata-schema 1\n\(line)\n")
        do {
            let schema = try MeasurementSchema.decode(bad, path: "m/_schema")
            Issue.record("'\(line)' read as \(schema.fields)")
        } catch {
            #expect(error.code == .corrupt && error.line == 2 && error.message.contains("bad schema line"), "\(error)")
        }
    }

    /// `scripts/fuzz schema`: lines were split as Characters, and CR LF is one Character, so
    /// a line ending in CR LF ran into the next, and a last one was dropped: a `_schema` whose
    /// last field line ended in CR LF read as a schema without that field.
    @Test func aLineEndingInCRLFIsNotDroppedOrJoined() throws {
        let lines = try ChecksummedText.decode(ChecksummedText.encode("strata-schema 1\r\nprice\tfloat\r\n\nid 7\n"),
                                               path: "_id", kind: "checksummed text file")
        #expect(lines == ["strata-schema 1\r", "price\tfloat\r", "", "id 7"])
        let schema = ChecksummedText.encode("strata-schema 1\nprice\tfloat\nsize\tint\r\n")
        do {
            let read = try MeasurementSchema.decode(schema, path: "m/_schema")
            Issue.record("read as \(read.fields)")
        } catch {
            #expect(error.code == .corrupt && error.line == 3, "\(error)")
        }
    }

    /// `scripts/fuzz packmanifest`: a segment location of length 2^63 or more trapped on an
    /// overflow (`Int64.max - length`) instead of being *malformed*.
    @Test func aPackLocationBeyondInt64IsMalformedNotATrap() throws {
        var m = DayManifest()
        _ = m.addSegment(rows: 3)
        for length in [UInt64(Int64.max) + 1, .max, UInt64(Int64.max)] {
            let pack = PackManifest(nextPackID: 2, entries: [
                PackManifest.Entry(symbol: "SPX", manifest: m, locations: [PackManifest.Location(pack: 1, offset: 16, length: length)]),
            ])
            let error = #expect(throws: FormatError.self) { try pack.encode().withUnsafeBytes { try PackManifest.decode($0) } }
            #expect(error?.code == .malformed && error?.message.contains("not a place in a pack") == true, "\(String(describing: error))")
        }
    }

    /// `scripts/fuzz packmanifest`: a manifest without entries accepted bytes between its
    /// count and its checksum, so two byte strings read as one manifest.
    @Test func aPackManifestWithoutEntriesHasNothingBeforeItsChecksum() throws {
        let empty = PackManifest().encode()
        #expect(try empty.withUnsafeBytes { try PackManifest.decode($0) } == PackManifest())
        var padded = Array(empty.dropLast(4)) + [0, 0, 0, 0]
        padded += withUnsafeBytes(of: CRC32C.checksum(padded).littleEndian) { Array($0) }
        let error = #expect(throws: FormatError.self) { try padded.withUnsafeBytes { try PackManifest.decode($0) } }
        // Named at the first stray byte, after the counts.
        #expect(error?.code == .malformed && error?.offset == 32, "\(String(describing: error))")
    }
}
