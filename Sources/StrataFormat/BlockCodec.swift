/// One block of rows: the unit of compression, checksumming and skipping.
///
///     │ row count <varint> │ field chunk count <varint> │ time chunk │ field chunk* │ crc32c <4b> │
///
///     time chunk:  │ encoding <1b> │ payload length <varint> │ payload │
///     field chunk: │ field index <varint> │ presence <1b> │ bitmap? │ encoding <1b>? │ length <varint>? │ payload? │
///
/// Presence 0: every row present; 1: a bitmap of ceil(n/8) bytes follows (bit r%8 of byte
/// r/8 set when row r is present); 2: no row present (nothing else follows). Only present
/// values are encoded. The CRC32C covers every byte of the block before it.
public enum BlockCodec {
    public enum Presence: UInt8, Sendable {
        case all = 0
        case bitmap = 1
        case none = 2
    }

    /// What the encoder chose for each column, for `inspect`.
    public struct ChunkInfo: Sendable, Equatable {
        /// nil for the time column.
        public var fieldIndex: Int?
        public var encoding: Encoding?
        public var presence: Presence
        public var presentCount: Int
        /// Bytes of the chunk, headers included.
        public var byteCount: Int
    }

    /// Appends the block's bytes to `out` and returns what each chunk used.
    @discardableResult
    public static func encode(_ block: RowBlock, into out: inout [UInt8]) -> [ChunkInfo] {
        precondition(block.rowCount > 0, "a block has at least one row")
        let start = out.count
        var infos: [ChunkInfo] = []
        out.writeVarUInt(UInt64(block.rowCount))
        out.writeVarUInt(UInt64(block.columns.count))
        var payload: [UInt8] = []
        payload.reserveCapacity(block.rowCount * 2)
        block.timestamps.withUnsafeBufferPointer { TimestampCodec.encode($0, into: &payload) }
        let timeStart = out.count
        out.append(Encoding.timestampDeltaOfDelta.rawValue)
        out.writeVarUInt(UInt64(payload.count))
        out.append(contentsOf: payload)
        infos.append(ChunkInfo(fieldIndex: nil, encoding: .timestampDeltaOfDelta, presence: .all,
                               presentCount: block.rowCount, byteCount: out.count - timeStart))
        for (index, column) in block.columns.enumerated() {
            let chunkStart = out.count
            out.writeVarUInt(UInt64(index))
            let present = column.presentCount
            var rows: [Int]? = nil
            if present == 0 {
                out.append(Presence.none.rawValue)
                infos.append(ChunkInfo(fieldIndex: index, encoding: nil, presence: .none, presentCount: 0,
                                       byteCount: out.count - chunkStart))
                continue
            } else if let p = column.presence {
                out.append(Presence.bitmap.rawValue)
                var bitmap = [UInt8](repeating: 0, count: (p.count + 7) / 8)
                for (r, isPresent) in p.enumerated() where isPresent { bitmap[r >> 3] |= 1 << UInt8(r & 7) }
                out.append(contentsOf: bitmap)
                rows = p.indices.filter { p[$0] }
            } else {
                out.append(Presence.all.rawValue)
            }
            payload.removeAll(keepingCapacity: true)
            let values = rows.map { column.values.gather($0) } ?? column.values
            let encoding = encodeValues(values, into: &payload)
            out.append(encoding.rawValue)
            out.writeVarUInt(UInt64(payload.count))
            out.append(contentsOf: payload)
            infos.append(ChunkInfo(fieldIndex: index, encoding: encoding, presence: column.presence == nil ? .all : .bitmap,
                                   presentCount: present, byteCount: out.count - chunkStart))
        }
        let crc = out.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        out.writeInteger(crc)
        return infos
    }

    /// Encodes dense values with the best encoding for their type.
    static func encodeValues(_ values: ColumnValues, into out: inout [UInt8]) -> Encoding {
        switch values {
        case .float64(let v):
            return v.withUnsafeBufferPointer { FloatCodec.encode($0, into: &out) }
        case .int64(let v):
            return IntegerCodec.encode(v, into: &out)
        case .bool(let v):
            return IntegerCodec.encode(v.map { $0 ? 1 : 0 }, into: &out)
        case .string(let v):
            StringDictionaryCodec.encode(v, into: &out)
            return .stringDictionary
        }
    }

    /// Checks the block's CRC32C. `bytes` is exactly the block, checksum included.
    public static func verify(_ bytes: UnsafeRawBufferPointer, baseOffset: Int = 0) throws(FormatError) {
        guard bytes.count >= 4 else {
            throw FormatError(.truncated, "block of \(bytes.count) bytes has no room for its checksum", offset: baseOffset)
        }
        let body = UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 4)])
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self))
        let actual = CRC32C.checksum(body)
        guard stored == actual else {
            throw FormatError(.checksumMismatch,
                              "block checksum is 0x\(String(actual, radix: 16)), stored 0x\(String(stored, radix: 16))",
                              offset: baseOffset)
        }
    }

    /// Decodes a block (checksum verified first). Only the fields in `fields` (schema
    /// indexes) are decoded; the others come back as all-null columns. `nil` means all.
    public static func decode(_ bytes: UnsafeRawBufferPointer, schema: [Field], fields wanted: Set<Int>? = nil,
                              baseOffset: Int = 0) throws(FormatError) -> RowBlock {
        try verify(bytes, baseOffset: baseOffset)
        var reader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 4)]), baseOffset: baseOffset)
        let rows = try reader.readCount("block row count", limit: 1 << 30)
        guard rows > 0 else { throw reader.malformed("block with zero rows", at: 0) }
        let chunkCount = try reader.readCount("block field chunk count", limit: schema.count)
        let timestamps = try decodeTimeChunk(&reader, rows: rows)
        var columns: [Column?] = Array(repeating: nil, count: schema.count)
        for _ in 0..<chunkCount {
            let indexAt = reader.readerIndex
            let index = try reader.readCount("field index", limit: schema.count - 1)
            guard columns[index] == nil else { throw reader.malformed("field \(index) appears twice in a block", at: indexAt) }
            let field = schema[index]
            let presenceAt = reader.readerIndex
            let presenceByte = try reader.readInteger(as: UInt8.self, "presence of \(field.name)")
            guard let presence = Presence(rawValue: presenceByte) else {
                throw reader.malformed("presence \(presenceByte) of field \(field.name)", at: presenceAt)
            }
            var bitmap: [Bool]? = nil
            var present = rows
            switch presence {
            case .none:
                columns[index] = .null(field.type, count: rows)
                continue
            case .bitmap:
                let raw = try reader.readBytes(count: (rows + 7) / 8, "presence bitmap of \(field.name)")
                var b = [Bool](repeating: false, count: rows)
                present = 0
                for r in 0..<rows where raw[r >> 3] & (1 << UInt8(r & 7)) != 0 {
                    b[r] = true
                    present += 1
                }
                // Writers say "no row" with presence 2; Format.md makes this form malformed
                // so that readers cannot disagree on it.
                guard present > 0 else {
                    throw reader.malformed("presence 1 of field \(field.name) with no row present", at: presenceAt)
                }
                bitmap = b
            case .all:
                break
            }
            let encodingAt = reader.baseOffset + reader.readerIndex
            let idByte = try reader.readInteger(as: UInt8.self, "encoding of \(field.name)")
            let length = try reader.readCount("payload length of \(field.name)", limit: reader.readableBytes)
            let payloadOffset = reader.baseOffset + reader.readerIndex
            let payload = try reader.readBytes(count: length, "payload of \(field.name)")
            if let wanted, !wanted.contains(index) { continue }
            guard let encoding = Encoding(rawValue: idByte) else {
                throw FormatError(.unsupported, "unknown encoding 0x\(String(idByte, radix: 16)) for field \(field.name)",
                                  offset: encodingAt)
            }
            var sub = ByteReader(payload, baseOffset: payloadOffset)
            let dense = try decodeValues(encoding, type: field.type, &sub, count: present, field: field.name, encodingAt: encodingAt)
            guard sub.readableBytes == 0 else {
                throw sub.malformed("\(sub.readableBytes) unused bytes after the values of field \(field.name)")
            }
            columns[index] = Column(scatter(dense, presence: bitmap), presence: bitmap)
        }
        guard reader.readableBytes == 0 else { throw reader.malformed("\(reader.readableBytes) unused bytes after the last chunk") }
        let filled = columns.enumerated().map { i, c in c ?? .null(schema[i].type, count: rows) }
        return RowBlock(timestamps: timestamps, columns: filled)
    }

    /// Decodes only the timestamps of a block (checksum verified first).
    public static func decodeTimestamps(_ bytes: UnsafeRawBufferPointer, baseOffset: Int = 0) throws(FormatError) -> [Int64] {
        try verify(bytes, baseOffset: baseOffset)
        var reader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 4)]), baseOffset: baseOffset)
        let rows = try reader.readCount("block row count", limit: 1 << 30)
        _ = try reader.readVarUInt("block field chunk count")
        return try decodeTimeChunk(&reader, rows: rows)
    }

    static func decodeTimeChunk(_ reader: inout ByteReader, rows: Int) throws(FormatError) -> [Int64] {
        let idByte = try reader.readInteger(as: UInt8.self, "time encoding")
        guard idByte == Encoding.timestampDeltaOfDelta.rawValue else {
            throw FormatError(.unsupported, "unknown time encoding 0x\(String(idByte, radix: 16))",
                              offset: reader.baseOffset + reader.readerIndex - 1)
        }
        let lengthAt = reader.readerIndex
        let length = try reader.readCount("time payload length", limit: reader.readableBytes)
        guard rows - 1 <= max(length - 9, 0) * 8 else {
            throw reader.malformed("block claims \(rows) rows but its time payload of \(length) bytes holds fewer", at: lengthAt)
        }
        var sub = ByteReader(try reader.readBytes(count: length, "time payload"),
                             baseOffset: reader.baseOffset + reader.readerIndex - length)
        let timestamps = try TimestampCodec.decode(&sub, count: rows)
        guard sub.readableBytes == 0 else { throw sub.malformed("\(sub.readableBytes) unused bytes after the timestamps") }
        return timestamps
    }

    /// Lists a block's chunks without decoding values (for `inspect`).
    public static func describe(_ bytes: UnsafeRawBufferPointer, schema: [Field], baseOffset: Int = 0) throws(FormatError) -> [ChunkInfo] {
        var reader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[..<max(bytes.count - 4, 0)]), baseOffset: baseOffset)
        let rows = try reader.readCount("block row count", limit: 1 << 30)
        let chunkCount = try reader.readCount("block field chunk count", limit: schema.count)
        var infos: [ChunkInfo] = []
        var start = reader.readerIndex
        let idByte = try reader.readInteger(as: UInt8.self, "time encoding")
        let length = try reader.readCount("time payload length", limit: reader.readableBytes)
        try reader.skip(length, "time payload")
        infos.append(ChunkInfo(fieldIndex: nil, encoding: Encoding(rawValue: idByte), presence: .all,
                               presentCount: rows, byteCount: reader.readerIndex - start))
        for _ in 0..<chunkCount {
            start = reader.readerIndex
            let index = try reader.readCount("field index", limit: schema.count - 1)
            let presenceAt = reader.readerIndex
            let presenceByte = try reader.readInteger(as: UInt8.self, "presence")
            guard let presence = Presence(rawValue: presenceByte) else { throw reader.malformed("presence \(presenceByte)", at: presenceAt) }
            var present = rows
            if presence == .none {
                infos.append(ChunkInfo(fieldIndex: index, encoding: nil, presence: .none, presentCount: 0,
                                       byteCount: reader.readerIndex - start))
                continue
            }
            if presence == .bitmap {
                let raw = try reader.readBytes(count: (rows + 7) / 8, "presence bitmap")
                present = (0..<rows).reduce(0) { $0 + (raw[$1 >> 3] & (1 << UInt8($1 & 7)) != 0 ? 1 : 0) }
                guard present > 0 else { throw reader.malformed("presence 1 with no row present", at: presenceAt) }
            }
            let id = try reader.readInteger(as: UInt8.self, "encoding")
            let len = try reader.readCount("payload length", limit: reader.readableBytes)
            try reader.skip(len, "payload")
            infos.append(ChunkInfo(fieldIndex: index, encoding: Encoding(rawValue: id), presence: presence,
                                   presentCount: present, byteCount: reader.readerIndex - start))
        }
        return infos
    }

    static func decodeValues(_ encoding: Encoding, type: FieldType, _ reader: inout ByteReader, count: Int,
                             field: String, encodingAt: Int) throws(FormatError) -> ColumnValues {
        func mismatch() -> FormatError {
            FormatError(.malformed, "encoding \(encoding) cannot hold \(type) field \(field)", offset: encodingAt)
        }
        switch type {
        case .float64:
            switch encoding {
            case .float64Plain, .float64Gorilla, .float64Decimal:
                return .float64(try FloatCodec.decode(encoding, &reader, count: count))
            default: throw mismatch()
            }
        case .int64, .bool:
            guard encoding == .int64FrameOfReference || encoding == .int64DeltaFrameOfReference else { throw mismatch() }
            let ints = try IntegerCodec.decode(encoding, &reader, count: count)
            if type == .int64 { return .int64(ints) }
            return .bool(ints.map { $0 != 0 })
        case .string:
            guard encoding == .stringDictionary else { throw mismatch() }
            return .string(try StringDictionaryCodec.decode(&reader, count: count))
        }
    }

    /// Spreads dense values over the present rows; absent rows get a placeholder.
    static func scatter(_ dense: ColumnValues, presence: [Bool]?) -> ColumnValues {
        guard let presence else { return dense }
        func spread<T>(_ v: [T], _ zero: T) -> [T] {
            var out = [T](repeating: zero, count: presence.count)
            var k = 0
            for r in presence.indices where presence[r] {
                out[r] = v[k]
                k += 1
            }
            return out
        }
        switch dense {
        case .float64(let v): return .float64(spread(v, 0))
        case .int64(let v): return .int64(spread(v, 0))
        case .bool(let v): return .bool(spread(v, false))
        case .string(let v): return .string(spread(v, ""))
        }
    }
}
