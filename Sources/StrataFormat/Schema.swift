/// The type of a field (a column besides time).
public enum FieldType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case float64 = 1
    case int64 = 2
    case bool = 3
    case string = 4

    public var description: String {
        switch self {
        case .float64: "float"
        case .int64: "int"
        case .bool: "bool"
        case .string: "string"
        }
    }

    public init?(name: String) {
        switch name.lowercased() {
        case "float", "float64", "double", "f64": self = .float64
        case "int", "int64", "integer", "i64": self = .int64
        case "bool", "boolean": self = .bool
        case "string", "str", "text": self = .string
        default: return nil
        }
    }

    /// Float and int fields carry numeric statistics and take part in product sums.
    public var isNumeric: Bool { self == .float64 || self == .int64 }
}

/// A named, typed field of a measurement.
public struct Field: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var type: FieldType

    public init(_ name: String, _ type: FieldType) {
        self.name = name
        self.type = type
    }

    public var description: String { "\(name):\(type)" }
}

/// The values of one column, one slot per row. Null rows hold a placeholder
/// (0, false or "") and are marked absent in the column's presence.
public enum ColumnValues: Sendable, Equatable {
    case float64([Double])
    case int64([Int64])
    case bool([Bool])
    case string([String])

    public var type: FieldType {
        switch self {
        case .float64: .float64
        case .int64: .int64
        case .bool: .bool
        case .string: .string
        }
    }

    public var count: Int {
        switch self {
        case .float64(let v): v.count
        case .int64(let v): v.count
        case .bool(let v): v.count
        case .string(let v): v.count
        }
    }

    /// The values at `indexes`, in that order.
    public func gather(_ indexes: some Collection<Int>) -> ColumnValues {
        switch self {
        case .float64(let v): .float64(indexes.map { v[$0] })
        case .int64(let v): .int64(indexes.map { v[$0] })
        case .bool(let v): .bool(indexes.map { v[$0] })
        case .string(let v): .string(indexes.map { v[$0] })
        }
    }

    public func slice(_ range: Range<Int>) -> ColumnValues {
        switch self {
        case .float64(let v): .float64(Array(v[range]))
        case .int64(let v): .int64(Array(v[range]))
        case .bool(let v): .bool(Array(v[range]))
        case .string(let v): .string(Array(v[range]))
        }
    }
}

/// A column: values plus which rows are present (`nil` means every row).
public struct Column: Sendable, Equatable {
    public var values: ColumnValues
    public var presence: [Bool]?

    public init(_ values: ColumnValues, presence: [Bool]? = nil) {
        if let presence { precondition(presence.count == values.count, "presence and values differ in length") }
        self.values = values
        self.presence = presence?.allSatisfy { $0 } == true ? nil : presence
    }

    public var count: Int { values.count }

    @inlinable
    public func isPresent(_ row: Int) -> Bool { presence?[row] ?? true }

    public var presentCount: Int { presence.map { $0.reduce(0) { $0 + ($1 ? 1 : 0) } } ?? values.count }

    public func gather(_ indexes: some Collection<Int>) -> Column {
        Column(values.gather(indexes), presence: presence.map { p in indexes.map { p[$0] } })
    }

    public func slice(_ range: Range<Int>) -> Column {
        Column(values.slice(range), presence: presence.map { Array($0[range]) })
    }

    /// A column of `count` nulls.
    public static func null(_ type: FieldType, count: Int) -> Column {
        let values: ColumnValues = switch type {
        case .float64: .float64(Array(repeating: 0, count: count))
        case .int64: .int64(Array(repeating: 0, count: count))
        case .bool: .bool(Array(repeating: false, count: count))
        case .string: .string(Array(repeating: "", count: count))
        }
        return Column(values, presence: Array(repeating: false, count: count))
    }
}

/// Rows of one series in columnar form: timestamps and one column per schema field.
public struct RowBlock: Sendable, Equatable {
    public var timestamps: [Int64]
    public var columns: [Column]

    public init(timestamps: [Int64], columns: [Column]) {
        for c in columns { precondition(c.count == timestamps.count, "column length differs from row count") }
        self.timestamps = timestamps
        self.columns = columns
    }

    public var rowCount: Int { timestamps.count }

    public func slice(_ range: Range<Int>) -> RowBlock {
        RowBlock(timestamps: Array(timestamps[range]), columns: columns.map { $0.slice(range) })
    }

    public func gather(_ indexes: [Int]) -> RowBlock {
        RowBlock(timestamps: indexes.map { timestamps[$0] }, columns: columns.map { $0.gather(indexes) })
    }

    /// Row indexes in time order; equal timestamps keep their original order.
    public func stableTimeOrder() -> [Int]? {
        var sorted = true
        for i in 1..<max(timestamps.count, 1) where timestamps[i] < timestamps[i - 1] {
            sorted = false
            break
        }
        if sorted { return nil }
        return timestamps.indices.sorted { a, b in
            timestamps[a] != timestamps[b] ? timestamps[a] < timestamps[b] : a < b
        }
    }
}

/// The field list as segment footers and WAL records store it:
/// │ field count <varint> │ (name <string>, type <1b>)* │
public enum FieldListCodec {
    public static func write(_ fields: [Field], into out: inout [UInt8]) {
        out.writeVarUInt(UInt64(fields.count))
        for f in fields {
            out.writeString(f.name)
            out.append(f.type.rawValue)
        }
    }

    /// Reads a field list; names must be unique.
    public static func read(_ reader: inout ByteReader) throws(FormatError) -> [Field] {
        let count = try reader.readCount("field count", limit: 65_535)
        var fields: [Field] = []
        var names = Set<String>()
        for _ in 0..<count {
            let nameAt = reader.readerIndex
            let name = try reader.readString("field name", maxBytes: 1024)
            let typeByte = try reader.readInteger(as: UInt8.self, "type of field \(name)")
            guard let type = FieldType(rawValue: typeByte) else {
                throw FormatError(.unsupported, "field \(name) has unknown type \(typeByte)", offset: reader.baseOffset + reader.readerIndex - 1)
            }
            guard names.insert(name).inserted else { throw reader.malformed("field \(name) appears twice", at: nameAt) }
            fields.append(Field(name, type))
        }
        return fields
    }
}

/// The 16-byte header every Strata file kind starts with:
/// │ magic <8b> │ version <2b> │ flags <2b> │ crc32c of the 12 bytes before <4b> │
public enum FileHeader {
    public static let size = 16

    public static func encode(magic: [UInt8], version: UInt16, flags: UInt16 = 0) -> [UInt8] {
        precondition(magic.count == 8)
        var h = magic
        h.writeInteger(version)
        h.writeInteger(flags)
        h.writeInteger(CRC32C.checksum(h))
        return h
    }

    /// Checks magic, checksum, version and flags (only those in `knownFlags` may be set),
    /// naming the file kind in errors; returns the flags.
    @discardableResult
    public static func verify(_ bytes: UnsafeRawBufferPointer, magic: [UInt8], version: UInt16, kind: String, knownFlags: UInt16 = 0) throws(FormatError) -> UInt16 {
        guard bytes.count >= 8 else { throw FormatError(.truncated, "file of \(bytes.count) bytes is too short to be a Strata \(kind)", offset: 0) }
        guard Array(bytes[0..<8]) == magic else {
            throw FormatError(.badMagic, "not a Strata \(kind) (no \(String(decoding: magic, as: UTF8.self)) magic at the start)", offset: 0)
        }
        guard bytes.count >= size else { throw FormatError(.truncated, "\(kind) of \(bytes.count) bytes has no complete header", offset: bytes.count) }
        let crc = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<12])) == crc else {
            // Named at the first byte the checksum covers, as every checksum error is.
            throw FormatError(.checksumMismatch, "\(kind) header checksum mismatch", offset: 0)
        }
        let fileVersion = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        guard fileVersion == version else {
            throw FormatError(.unsupported, "\(kind) format version \(fileVersion); this reader knows \(version)", offset: 8)
        }
        let flags = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
        guard flags & ~knownFlags == 0 else {
            throw FormatError(.unsupported, "\(kind) header flags 0x\(String(flags, radix: 16)); this reader knows \(knownFlags == 0 ? "none" : "0x" + String(knownFlags, radix: 16))", offset: 10)
        }
        return flags
    }
}
