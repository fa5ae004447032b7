import StrataFormat
import Testing

@Suite("WAL framing and records")
struct WALTests {
    func file(_ payloads: [[UInt8]]) -> [UInt8] {
        var out = WALLayout.header()
        for p in payloads { WALLayout.frame(p, into: &out) }
        return out
    }

    func scan(_ bytes: [UInt8]) -> (offsets: [Int], payloads: [[UInt8]], end: WALLayout.End) {
        var offsets: [Int] = [], payloads: [[UInt8]] = []
        let end = bytes.withUnsafeBytes { raw in
            WALLayout.scan(raw) { offset, payload in
                offsets.append(offset)
                payloads.append(Array(payload))
            }
        }
        return (offsets, payloads, end)
    }

    @Test func headerAndFrameGoldenBytes() {
        // "STRATWAL", version 1, flags 0, CRC32C of those 12 bytes.
        let header = WALLayout.header()
        #expect(hex(header.prefix(12)) == "53 54 52 41 54 57 41 4c 01 00 00 00")
        #expect(header.count == 16)
        var out: [UInt8] = Array("foobar".utf8)
        WALLayout.frame([0x01, 0x02], into: &out)
        // length 2, its complement, CRC32C over those 8 bytes and the payload, the payload.
        let crc = CRC32C.checksum([0x02, 0x00, 0x00, 0x00, 0xfd, 0xff, 0xff, 0xff, 0x01, 0x02])
        var expected: [UInt8] = [0x02, 0x00, 0x00, 0x00, 0xfd, 0xff, 0xff, 0xff]
        expected.writeInteger(crc)
        expected += [0x01, 0x02]
        #expect(Array(out.dropFirst(6)) == expected)
        #expect(hex(Array(out.prefix(6))) == hex(Array("foobar".utf8)))
    }

    @Test func aCleanFileYieldsEveryRecord() {
        let payloads: [[UInt8]] = [[1], [2, 2], Array(repeating: 3, count: 1000)]
        let s = scan(file(payloads))
        #expect(s.payloads == payloads)
        #expect(s.offsets == [16, 16 + 13, 16 + 13 + 14])
        #expect(s.end == .clean)
    }

    @Test func everyCutOfTheLastRecordIsATornTail() {
        let payloads: [[UInt8]] = [[1, 1, 1], [2, 2, 2, 2, 2]]
        let whole = file(payloads)
        let lastStart = 16 + 12 + 3
        for cut in (lastStart + 1)..<whole.count {
            let s = scan(Array(whole.prefix(cut)))
            #expect(s.payloads == [[1, 1, 1]])
            #expect(s.end == .torn(offset: lastStart), "cut at \(cut)")
        }
        #expect(scan(Array(whole.prefix(lastStart))).end == .clean)
    }

    @Test func aFlippedBitInTheMiddleIsCorruptionAndStopsTheScan() {
        let payloads: [[UInt8]] = [[1, 1, 1], [2, 2, 2], [3, 3, 3]]
        let whole = file(payloads)
        let second = 16 + 15
        for bit in (second * 8)..<((second + 15) * 8) {
            var damaged = whole
            damaged[bit / 8] ^= 1 << UInt8(bit % 8)
            let s = scan(damaged)
            #expect(s.payloads == [[1, 1, 1]], "bit \(bit)")
            guard case .corrupt(let offset, _) = s.end else {
                Issue.record("bit \(bit): \(s.end)")
                continue
            }
            #expect(offset == second)
        }
    }

    @Test func aZeroFilledTailIsTorn() {
        let whole = file([[7, 7]]) + Array(repeating: 0, count: 100)
        let s = scan(whole)
        #expect(s.payloads == [[7, 7]])
        #expect(s.end == .torn(offset: 16 + 14))
    }

    @Test func headersAreChecked() {
        var bad = WALLayout.header()
        bad[9] = 1  // version 257
        bad.withUnsafeBytes { raw in
            #expect(throws: FormatError.self) { try WALLayout.verifyHeader(raw) }
        }
        Array("time,price\n1,2\n12345".utf8).withUnsafeBytes { raw in
            #expect(throws: FormatError.self) { try WALLayout.verifyHeader(raw) }
        }
        WALLayout.header().withUnsafeBytes { raw in
            #expect(throws: Never.self) { try WALLayout.verifyHeader(raw) }
        }
    }

    @Test func rowsAndDeletesRoundTrip() throws {
        let schema = [Field("price", .float64), Field("size", .int64), Field("venue", .string)]
        let rows = RowBlock(timestamps: [30, 10, 10, 20], columns: [
            Column(.float64([4512.25, 4512.5, .nan, -0.0])),
            Column(.int64([1, 0, 3, 4]), presence: [true, false, true, true]),
            Column(.string(["A", "B", "A", "C"])),
        ])
        let record = WALRecord.rows(measurement: "trade", symbol: "BTC/USD", schema: schema, rows: rows)
        let bytes = record.encode()
        let decoded = try bytes.withUnsafeBytes { (raw) throws(FormatError) in try WALRecord.decode(raw) }
        guard case .rows(let m, let s, let f, let r) = decoded else { Issue.record("not rows"); return }
        #expect(m == "trade" && s == "BTC/USD" && f == schema)
        #expect(r.timestamps == [30, 10, 10, 20])  // arrival order kept
        guard case .float64(let prices) = r.columns[0].values else { Issue.record("prices"); return }
        #expect(prices.map(\.bitPattern) == [4512.25, 4512.5, .nan, -0.0].map(\.bitPattern))
        #expect(r.columns[1].presence == [true, false, true, true])
        #expect(r.columns[2].values == .string(["A", "B", "A", "C"]))

        let delete = WALRecord.delete(measurement: "trade", symbol: "ESH4", from: -5, to: Int64.max)
        #expect(try delete.encode().withUnsafeBytes { (raw) throws(FormatError) in try WALRecord.decode(raw) } == delete)
    }

    @Test func theRowCountIsReadFromTheHeaderAlone() throws {
        let schema = [Field("price", .float64), Field("venue", .string)]
        let rows = RowBlock(timestamps: [3, 1, 2], columns: [Column(.float64([1, 2, 3])), Column(.string(["A", "B", "C"]))])
        let bytes = WALRecord.rows(measurement: "quote", symbol: "005930", schema: schema, rows: rows).encode()
        #expect(try bytes.withUnsafeBytes { (raw) throws(FormatError) in try WALRecord.rowCount(raw) } == 3)
        let delete = WALRecord.delete(measurement: "trade", symbol: "ESH4", from: 1, to: 2).encode()
        #expect(try delete.withUnsafeBytes { (raw) throws(FormatError) in try WALRecord.rowCount(raw) } == 0)
        // Cut before the row count: truncated, never a guess.
        let cut = Array(bytes.prefix(1 + 1 + 5 + 1 + 6 + 1))
        let outcome = cut.withUnsafeBytes { raw in Result { () throws(FormatError) in try WALRecord.rowCount(raw) } }
        switch outcome {
        case .success(let n): Issue.record("counted \(n) rows in a cut record")
        case .failure(let error): #expect(error.code == .truncated)
        }
    }

    @Test func unknownRecordKindsAreUnsupported() {
        let outcome = [UInt8]([9, 0, 0]).withUnsafeBytes { raw in
            Result { () throws(FormatError) in try WALRecord.decode(raw) }
        }
        switch outcome {
        case .success: Issue.record("decoded an unknown kind")
        case .failure(let error): #expect(error.code == .unsupported)
        }
    }
}
