import StrataEngine
import StrataFormat

/// `MeasurementSchema.decode` and the `ChecksummedText` under it (`_schema`; `_id`, the
/// archive location, WAL retention and backup catalogs share the checksum line).
enum SchemaTarget {
    static func run(_ body: UnsafeRawBufferPointer) {
        let bytes = Array(body)
        if !check(bytes), let repaired = Repair.checksummedText(bytes) { _ = check(repaired) }
    }

    static func decode(_ bytes: [UInt8]) -> MeasurementSchema? {
        try? MeasurementSchema.decode(bytes, path: "_schema")
    }

    static func lines(_ bytes: [UInt8]) -> [Substring]? {
        try? ChecksummedText.decode(bytes, path: "_id", kind: "checksummed text file")
    }

    /// Returns whether the checksum line was right.
    static func check(_ bytes: [UInt8]) -> Bool {
        guard let text = lines(bytes) else {
            require(decode(bytes) == nil, "a schema decodes where its checksummed text does not")
            return false
        }
        // Format.md: the checksum line has one spelling (8 lower-case hex digits), so the
        // text re-encodes to the same bytes.
        let again = ChecksummedText.encode(text.map { $0 + "\n" }.joined())
        require(again == bytes, "checksummed text re-encodes to other bytes: '\(String(decoding: bytes, as: UTF8.self))'")
        for flip in flips(of: bytes, count: 8) {
            require(lines(flipped(bytes, flip)) == nil,
                    "byte \(flip.offset) of \(bytes.count) bytes of checksummed text flipped (xor \(flip.mask)) and it still reads")
        }
        if let schema = decode(bytes) {
            // A schema has one spelling (names escaped canonically, one tab, a known type):
            // it re-encodes to the bytes it came from.
            require(schema.encoded() == bytes, "a decoded schema re-encodes to other bytes: '\(String(decoding: bytes, as: UTF8.self))'")
            require(decode(schema.encoded()) == schema, "a re-encoded schema decodes to another value")
        }
        return true
    }

    static func seeds() -> [(String, [UInt8])] {
        let trade = MeasurementSchema(fields: [Field("price", .float64), Field("size", .int64), Field("side", .string), Field("odd", .bool)])
        let escaped = MeasurementSchema(fields: [Field("_hidden", .float64), Field("a/b c%", .string), Field(".dot", .int64), Field("é", .bool)])
        return [
            ("trade.schema", trade.encoded()),
            ("escaped.schema", escaped.encoded()),
            ("empty.schema", MeasurementSchema().encoded()),
            ("id.text", ChecksummedText.encode("strata-store 1\nid 0123456789abcdef\n")),
        ]
    }
}
