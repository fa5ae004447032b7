import StrataFormat

/// The fields of a measurement and their types, in the order they were first seen.
///
/// Kept in `<measurement>/_schema` (see Format.md): a field's type never changes, new
/// fields are appended. Writing a field with another type is an error naming the field.
public struct MeasurementSchema: Sendable, Equatable {
    public var fields: [Field]

    public init(fields: [Field] = []) { self.fields = fields }

    public func index(of name: String) -> Int? { fields.firstIndex { $0.name == name } }

    public func type(of name: String) -> FieldType? { fields.first { $0.name == name }?.type }

    /// Adds the fields of `other` that are new; throws if one has a different type.
    public mutating func merge(_ other: [Field], measurement: String) throws(StrataError) -> Bool {
        var changed = false
        for f in other {
            if let existing = type(of: f.name) {
                guard existing == f.type else {
                    throw StrataError(.conflict, "field '\(f.name)' of measurement '\(measurement)' is \(existing), not \(f.type)",
                                      field: f.name)
                }
            } else {
                fields.append(f)
                changed = true
            }
        }
        return changed
    }

    static let header = "strata-schema 1"

    /// Text form: a header line, one `name<TAB>type` line per field (names percent-encoded
    /// like directory names), then `crc32c <8 hex digits>` of everything before it.
    public func encoded() -> [UInt8] {
        var text = MeasurementSchema.header + "\n"
        for f in fields { text += Names.directoryName(f.name) + "\t" + f.type.description + "\n" }
        let crc = CRC32C.checksum(text)
        let hex = String(crc, radix: 16)
        text += "crc32c " + String(repeating: "0", count: 8 - hex.count) + hex + "\n"
        return Array(text.utf8)
    }

    public static func decode(_ bytes: [UInt8], path: String) throws(StrataError) -> MeasurementSchema {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw StrataError(.corrupt, "schema file is not UTF-8", path: path)
        }
        guard text.hasSuffix("\n") else { throw StrataError(.corrupt, "schema file does not end with a line feed", path: path) }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()
        guard lines.first == Substring(header), let last = lines.last, last.hasPrefix("crc32c ") else {
            throw StrataError(.corrupt, "not a Strata schema file", path: path)
        }
        let body = lines.dropLast().joined(separator: "\n") + "\n"
        guard UInt32(last.dropFirst(7), radix: 16) == CRC32C.checksum(body) else {
            throw StrataError(.corrupt, "schema file checksum mismatch", path: path)
        }
        var schema = MeasurementSchema()
        for (n, line) in lines.dropFirst().dropLast().enumerated() {
            let parts = line.split(separator: "\t")
            guard parts.count == 2, let name = Names.name(fromDirectory: String(parts[0])),
                  let type = FieldType.allCases.first(where: { $0.description == parts[1] }) else {
                throw StrataError(.corrupt, "bad schema line '\(line)'", path: path, line: n + 2)
            }
            guard schema.type(of: name) == nil else {
                throw StrataError(.corrupt, "field '\(name)' appears twice", path: path, line: n + 2)
            }
            schema.fields.append(Field(name, type))
        }
        return schema
    }
}
