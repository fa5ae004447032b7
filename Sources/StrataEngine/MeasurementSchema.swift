import StrataFormat
import StrataPlatform

/// The fields of a measurement and their types, in the order they were first seen.
///
/// Kept in `<measurement>/_schema` (see Format.md): a field's type never changes, new
/// fields are appended. Writing a field with another type is an error naming the field.
public struct MeasurementSchema: Sendable, Equatable {
    public var fields: [Field]

    public init(fields: [Field] = []) { self.fields = fields }

    /// Fields a measurement may have (tags other than the symbol count as fields). A write
    /// that would give it more is refused before it is acknowledged.
    public static let maxFields = 1_024

    public func index(of name: String) -> Int? { fields.firstIndex { $0.name == name } }

    public func type(of name: String) -> FieldType? { fields.first { $0.name == name }?.type }

    /// Adds the fields of `other` that are new; throws if one has a different type, or if
    /// the measurement would have more than `maxFields` (then nothing is added). Linear in
    /// the fields of both.
    public mutating func merge(_ other: [Field], measurement: String) throws(StrataError) -> Bool {
        var known: [String: FieldType] = [:]
        known.reserveCapacity(fields.count + other.count)
        for f in fields { known[f.name] = f.type }
        var added: [Field] = []
        for f in other {
            if let existing = known[f.name] {
                guard existing == f.type else {
                    throw StrataError(.conflict, "field '\(f.name)' of measurement '\(measurement)' is \(existing), not \(f.type)",
                                      field: f.name)
                }
            } else {
                known[f.name] = f.type
                added.append(f)
            }
        }
        // (A store written before the limit may hold more; it only may not grow.)
        guard added.isEmpty || fields.count + added.count <= Self.maxFields else {
            throw StrataError(.invalidInput, "measurement '\(measurement)' would have \(fields.count + added.count) fields; the limit is \(Self.maxFields) (tags other than the symbol count as fields)")
        }
        fields += added
        return !added.isEmpty
    }

    static let header = "strata-schema 1"

    /// Text form: a header line, one `name<TAB>type` line per field (names percent-encoded
    /// like directory names), then `crc32c <8 hex digits>` of everything before it.
    public func encoded() -> [UInt8] {
        var text = MeasurementSchema.header + "\n"
        for f in fields { text += Names.directoryName(f.name) + "\t" + f.type.description + "\n" }
        return ChecksummedText.encode(text)
    }

    public static func decode(_ bytes: [UInt8], path: String) throws(StrataError) -> MeasurementSchema {
        let lines = try ChecksummedText.decode(bytes, path: path, kind: "schema file")
        guard lines.first == Substring(header) else {
            throw StrataError(.corrupt, "not a Strata schema file", path: path)
        }
        var schema = MeasurementSchema()
        for (n, line) in lines.dropFirst().enumerated() {
            // Exactly `name<TAB>type`: one spelling per schema (no doubled or trailing tab).
            let parts = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, let name = Names.name(fromDirectory: String(parts[0])),
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
