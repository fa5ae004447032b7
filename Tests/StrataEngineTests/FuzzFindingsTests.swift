import StrataEngine
import StrataFormat
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
}
