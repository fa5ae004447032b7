/// What a WAL record holds: rows appended to one series, or a deleted time range.
///
///     rows:   │ kind = 1 <1b> │ measurement <string> │ symbol <string> │ field count <varint> │
///             │ (name <string>, type <1b>)* │ block <BlockCodec bytes, CRC32C included> │
///     delete: │ kind = 2 <1b> │ measurement <string> │ symbol <string> │ from <8b> │ to <8b> │
///
/// Rows are kept in arrival order (they need not be sorted) and encoded as one block, with
/// the same encodings and checksum as a segment's blocks.
public enum WALRecord: Equatable, Sendable {
    case rows(measurement: String, symbol: String, schema: [Field], rows: RowBlock)
    case delete(measurement: String, symbol: String, from: Int64, to: Int64)

    enum Kind: UInt8 {
        case rows = 1
        case delete = 2
    }

    public func encode() -> [UInt8] {
        var out: [UInt8] = []
        switch self {
        case .rows(let measurement, let symbol, let schema, let rows):
            precondition(rows.rowCount > 0 && schema.count == rows.columns.count, "a rows record has rows matching its schema")
            out.append(Kind.rows.rawValue)
            out.writeString(measurement)
            out.writeString(symbol)
            FieldListCodec.write(schema, into: &out)
            out.reserveCapacity(out.count + rows.rowCount * 4)
            BlockCodec.encode(rows, into: &out)
        case .delete(let measurement, let symbol, let from, let to):
            out.append(Kind.delete.rawValue)
            out.writeString(measurement)
            out.writeString(symbol)
            out.writeInteger(from)
            out.writeInteger(to)
        }
        return out
    }

    /// The number of rows a record holds (0 for a delete), read from its header without
    /// decoding or checking the block: for counting a log's rows cheaply.
    public static func rowCount(_ payload: UnsafeRawBufferPointer, baseOffset: Int = 0) throws(FormatError) -> Int {
        var reader = ByteReader(payload, baseOffset: baseOffset)
        let kindByte = try reader.readInteger(as: UInt8.self, "WAL record kind")
        guard let kind = Kind(rawValue: kindByte) else {
            throw FormatError(.unsupported, "unknown WAL record kind \(kindByte)", offset: baseOffset)
        }
        guard kind == .rows else { return 0 }
        for what in ["measurement", "symbol"] {
            try reader.skip(try reader.readCount("\(what) length", limit: 1024), what)
        }
        _ = try FieldListCodec.read(&reader)
        return try reader.readCount("row count", limit: Int(Int32.max))
    }

    public static func decode(_ payload: UnsafeRawBufferPointer, baseOffset: Int = 0) throws(FormatError) -> WALRecord {
        var reader = ByteReader(payload, baseOffset: baseOffset)
        let kindByte = try reader.readInteger(as: UInt8.self, "WAL record kind")
        guard let kind = Kind(rawValue: kindByte) else {
            throw FormatError(.unsupported, "unknown WAL record kind \(kindByte)", offset: baseOffset)
        }
        let measurement = try reader.readString("measurement", maxBytes: 1024)
        let symbol = try reader.readString("symbol", maxBytes: 1024)
        switch kind {
        case .rows:
            let schema = try FieldListCodec.read(&reader)
            let blockOffset = reader.baseOffset + reader.readerIndex
            let block = try reader.readBytes(count: reader.readableBytes, "rows block")
            let rows = try BlockCodec.decode(block, schema: schema, baseOffset: blockOffset)
            return .rows(measurement: measurement, symbol: symbol, schema: schema, rows: rows)
        case .delete:
            let from = try reader.readInteger(as: Int64.self, "delete from")
            let to = try reader.readInteger(as: Int64.self, "delete to")
            guard reader.readableBytes == 0 else { throw reader.malformed("\(reader.readableBytes) unused bytes after a delete record") }
            return .delete(measurement: measurement, symbol: symbol, from: from, to: to)
        }
    }
}
