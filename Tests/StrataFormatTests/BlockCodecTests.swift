import StrataFormat
import Testing

func encodeBlock(_ block: RowBlock, prefix: [UInt8] = []) -> (bytes: [UInt8], chunks: [BlockCodec.ChunkInfo]) {
    var out = prefix
    let chunks = BlockCodec.encode(block, into: &out)
    return (out, chunks)
}

func decodeBlock(_ data: [UInt8], from offset: Int = 0, schema: [Field], fields: Set<Int>? = nil) throws -> RowBlock {
    try data.withUnsafeBytes { raw in
        try BlockCodec.decode(UnsafeRawBufferPointer(rebasing: raw[offset...]), schema: schema, fields: fields, baseOffset: offset)
    }
}

@Suite("BlockCodec")
struct BlockCodecTests {
    static let tinySchema = [Field("volume", .int64), Field("venue", .string), Field("price", .float64)]
    static let tiny = RowBlock(timestamps: [1000, 2000], columns: [
        Column(.int64([5, 5])),
        Column(.string(["", "b"]), presence: [false, true]),
        Column.null(.float64, count: 2),
    ])

    /// │ rows │ chunks │ time chunk │ field chunk* │ crc32c │, every presence kind:
    ///   02 03                                  2 rows, 3 field chunks
    ///   01 0c | e8 03 00×6 | e8 07 | 80 80     ts-dod, 12 bytes: first 1000, unit 1000, D = 1
    ///   00 00 20 04 | 0a 01 00 00              volume: presence all, int-for constant 5
    ///   01 01 02 30 04 | 01 01 62 00           venue: bitmap 0b10, str-dict ["b"], width 0
    ///   02 02                                  price: presence none, nothing follows
    ///   65 0d 06 90                            CRC32C of all of the above, little-endian
    static let tinyHex = "02 03  01 0c e8 03 00 00 00 00 00 00 e8 07 80 80  00 00 20 04 0a 01 00 00  01 01 02 30 04 01 01 62 00  02 02  65 0d 06 90"

    @Test func goldenBlock() throws {
        let (out, chunks) = encodeBlock(Self.tiny)
        #expect(hex(out) == normalized(Self.tinyHex))
        #expect(try decodeBlock(bytes(hex: Self.tinyHex), schema: Self.tinySchema) == Self.tiny)
        #expect(chunks.map(\.encoding) == [.timestampDeltaOfDelta, .int64FrameOfReference, .stringDictionary, nil])
        #expect(chunks.map(\.presence) == [.all, .all, .bitmap, BlockCodec.Presence.none])
        #expect(chunks.map(\.presentCount) == [2, 2, 1, 0])
        #expect(chunks.map(\.byteCount) == [14, 8, 9, 2])
    }

    @Test func encoderAppendsAfterPrefix() throws {
        let (out, _) = encodeBlock(Self.tiny, prefix: foobar)
        #expect(Array(out.prefix(6)) == foobar)
        #expect(hex(out.dropFirst(6)) == normalized(Self.tinyHex))
        #expect(try decodeBlock(out, from: 6, schema: Self.tinySchema) == Self.tiny)
    }

    @Test(arguments: blockSizes)
    func roundTripWithEveryTypeAndPresence(rows: Int) throws {
        let block = Fixtures.trades(count: rows, start: Fixtures.dayStart, seed: UInt64(rows))
        let (out, chunks) = encodeBlock(block, prefix: foobar)
        #expect(try decodeBlock(out, from: 6, schema: Fixtures.schema) == block)
        #expect(chunks.count == 1 + Fixtures.schema.count)
        #expect(chunks[5].presence == .none)
        #expect(chunks.map(\.byteCount).reduce(0, +) + varintSize(rows) + 1 + 4 == out.count - 6, "counts, chunks and crc")
        // The time chunk alone decodes too.
        let timestamps = try out.withUnsafeBytes { raw in
            try BlockCodec.decodeTimestamps(UnsafeRawBufferPointer(rebasing: raw[6...]), baseOffset: 6)
        }
        #expect(timestamps == block.timestamps)
        // describe() sees the same chunks without decoding values.
        let described = try out.withUnsafeBytes { raw in
            try BlockCodec.describe(UnsafeRawBufferPointer(rebasing: raw[6...]), schema: Fixtures.schema)
        }
        #expect(described == chunks)
    }

    /// Random blocks of random types and presence, reopened midway: two blocks encoded one
    /// after the other into the same buffer decode independently.
    @Test(arguments: blockSizes)
    func randomTypedBlocksBackToBack(rows: Int) throws {
        var rng = SplitMix64(seed: 0xB10C &+ UInt64(rows))
        let schema = FieldType.allCases.flatMap { t in (0..<2).map { Field("\(t)\($0)", t) } }
        func randomBlock() -> RowBlock {
            var t = Int64.random(in: -1 << 62 ... 1 << 62, using: &rng)
            let timestamps = (0..<rows).map { _ in
                t &+= Int64.random(in: 0...1_000_000, using: &rng)
                return t
            }
            let columns = schema.map { field -> Column in
                let mode = Int.random(in: 0..<3, using: &rng)  // all, bitmap, none
                let presence: [Bool]? = switch mode {
                case 0: nil
                case 1: (0..<rows).map { _ in Bool.random(using: &rng) }
                default: [Bool](repeating: false, count: rows)
                }
                let present = { (r: Int) in presence?[r] ?? true }
                let values: ColumnValues = switch field.type {
                case .float64: .float64((0..<rows).map { present($0) ? FloatSamples.generate("mixed", count: 1, rng: &rng)[0] : 0 })
                case .int64: .int64((0..<rows).map { present($0) ? Int64(bitPattern: rng.next()) >> Int.random(in: 0...63, using: &rng) : 0 })
                case .bool: .bool((0..<rows).map { present($0) ? Bool.random(using: &rng) : false })
                case .string: .string((0..<rows).map { present($0) ? "s\(Int.random(in: 0..<20, using: &rng))" : "" })
                }
                return Column(values, presence: presence)
            }
            return RowBlock(timestamps: timestamps, columns: columns)
        }
        let a = randomBlock(), b = randomBlock()
        var out = foobar
        BlockCodec.encode(a, into: &out)
        let middle = out.count
        BlockCodec.encode(b, into: &out)
        #expect(try decodeBlock(Array(out[..<middle]), from: 6, schema: schema).bits == a.bits)
        #expect(try decodeBlock(out, from: middle, schema: schema).bits == b.bits)
    }

    @Test func projectionReturnsOtherFieldsAsNull() throws {
        let block = Fixtures.trades(count: 100, start: Fixtures.dayStart, seed: 7)
        let (out, _) = encodeBlock(block)
        let wanted: Set<Int> = [0, 3]
        let projected = try decodeBlock(out, schema: Fixtures.schema, fields: wanted)
        #expect(projected.timestamps == block.timestamps)
        for (i, field) in Fixtures.schema.enumerated() {
            if wanted.contains(i) {
                #expect(projected.columns[i] == block.columns[i], "\(field)")
            } else {
                #expect(projected.columns[i] == Column.null(field.type, count: 100), "\(field)")
            }
        }
        // An empty projection is timestamps only.
        let none = try decodeBlock(out, schema: Fixtures.schema, fields: [])
        #expect(none.columns.allSatisfy { $0.presentCount == 0 })
    }

    @Test func everyFlippedBitIsAChecksumMismatch() {
        let (out, _) = encodeBlock(Fixtures.trades(count: 20, start: Fixtures.dayStart, seed: 3))
        var damaged = out
        for bit in 0..<(out.count * 8) {
            damaged[bit / 8] ^= 1 << UInt8(bit % 8)
            let error = formatError { _ = try decodeBlock(damaged, schema: Fixtures.schema) }
            #expect(error?.code == .checksumMismatch, "bit \(bit)")
            #expect(formatError { _ = try decodeBlock(damaged, schema: Fixtures.schema, fields: [1]) }?.code == .checksumMismatch)
            damaged[bit / 8] ^= 1 << UInt8(bit % 8)
        }
        #expect(damaged == out)
    }

    @Test func truncatedBlockThrowsAtEveryLength() {
        let (out, _) = encodeBlock(Fixtures.trades(count: 20, start: Fixtures.dayStart, seed: 4))
        for cut in 0..<out.count {
            let error = formatError { _ = try decodeBlock(Array(out[..<cut]), schema: Fixtures.schema) }
            #expect(error?.code == (cut < 4 ? .truncated : .checksumMismatch), "cut at \(cut)")
        }
    }

    /// A block cut short whose checksum was recomputed over what is left (a buggy writer,
    /// not a damaged disk): structure checks must still throw, never trap.
    @Test func truncatedBodyWithValidChecksumThrows() {
        let (out, _) = encodeBlock(Fixtures.trades(count: 20, start: Fixtures.dayStart, seed: 5))
        let body = Array(out.dropLast(4))
        for cut in 0..<body.count {
            var block = Array(body[..<cut])
            block.writeInteger(CRC32C.checksum(block))
            #expect(formatError { _ = try decodeBlock(block, schema: Fixtures.schema) } != nil, "cut at \(cut)")
        }
    }

    /// Every byte of a block overwritten with a few values, checksum recomputed: decoding
    /// throws a FormatError or returns a block; it never traps.
    @Test func mutatedBodyWithValidChecksumNeverTraps() {
        let (out, _) = encodeBlock(Fixtures.trades(count: 20, start: Fixtures.dayStart, seed: 6))
        let body = Array(out.dropLast(4))
        for i in body.indices {
            for value: UInt8 in [0x00, 0x01, 0x7F, 0x80, 0xFF, body[i] ^ 0x10] where value != body[i] {
                var block = body
                block[i] = value
                block.writeInteger(CRC32C.checksum(block))
                _ = formatError { _ = try decodeBlock(block, schema: Fixtures.schema) }
                _ = formatError { _ = try decodeBlock(block, schema: Fixtures.schema, fields: [2]) }
            }
        }
    }

    @Test func structuralErrorsAreReported() {
        func sealed(_ hexBody: String) -> [UInt8] {
            var b = bytes(hex: hexBody)
            b.writeInteger(CRC32C.checksum(b))
            return b
        }
        let schema = Self.tinySchema
        let time = "01 0c e8 03 00 00 00 00 00 00 e8 07 80 80"
        // Zero rows.
        #expect(formatError { _ = try decodeBlock(sealed("00 00"), schema: schema) }?.code == .malformed)
        // More field chunks than the schema has fields.
        #expect(formatError { _ = try decodeBlock(sealed("02 04 " + time), schema: schema) }?.code == .malformed)
        // Unknown time encoding.
        #expect(formatError { _ = try decodeBlock(sealed("02 00 7f 00"), schema: schema) }?.code == .unsupported)
        // Field index 3 in a schema of 3.
        #expect(formatError { _ = try decodeBlock(sealed("02 01 " + time + " 03 02"), schema: schema) }?.code == .malformed)
        // The same field twice.
        #expect(formatError { _ = try decodeBlock(sealed("02 02 " + time + " 02 02 02 02"), schema: schema) }?.code == .malformed)
        // Presence 3.
        #expect(formatError { _ = try decodeBlock(sealed("02 01 " + time + " 02 03"), schema: schema) }?.code == .malformed)
        // Unknown value encoding 0x7f for volume.
        #expect(formatError { _ = try decodeBlock(sealed("02 01 " + time + " 00 00 7f 00"), schema: schema) }?.code == .unsupported)
        // A string encoding for the int field.
        #expect(formatError { _ = try decodeBlock(sealed("02 01 " + time + " 00 00 30 02 01 00"), schema: schema) }?.code == .malformed)
        // Payload length beyond the block.
        #expect(formatError { _ = try decodeBlock(sealed("02 01 " + time + " 00 00 20 09 0a 01 00 00"), schema: schema) }?.code == .malformed)
    }
}
