import StrataFormat
import Testing

@Suite("Day manifests")
struct DayManifestTests {
    func sample() -> DayManifest {
        var m = DayManifest()
        _ = m.addSegment(rows: 10)
        _ = m.addSegment(rows: 3)
        m.rowsFlushedThrough = WALPosition(file: 2, offset: 4096)
        m.deletesAppliedThrough = WALPosition(file: 1, offset: 16)
        m.tombstones = [Tombstone(from: -5, to: 7, throughSegment: 2)]
        return m
    }

    func decode(_ bytes: [UInt8]) throws -> DayManifest {
        try bytes.withUnsafeBytes { raw throws in try DayManifest.decode(raw) }
    }

    @Test func goldenBytes() throws {
        var m = DayManifest()
        _ = m.addSegment(rows: 2)
        let bytes = m.encode()
        // header, next id 2, two zero positions, 1 segment (id 1, 2 rows), 0 tombstones, crc.
        #expect(hex(bytes.prefix(12)) == "53 54 52 41 54 4d 41 4e 01 00 00 00")
        #expect(hex(Array(bytes[16..<24])) == "02 00 00 00 00 00 00 00")
        #expect(bytes[24..<56].allSatisfy { $0 == 0 })
        #expect(hex(Array(bytes[56..<80])) == "01 00 00 00 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 00 00 00 00")
        #expect(bytes.count == 84)
        #expect(Array(bytes[80...]) == { var c: [UInt8] = []; c.writeInteger(CRC32C.checksum(Array(bytes[..<80]))); return c }())
    }

    @Test func roundTrip() throws {
        let m = sample()
        #expect(try decode(m.encode()) == m)
        #expect(try decode(DayManifest().encode()) == DayManifest())
    }

    @Test func everyFlippedBitIsRejected() {
        let bytes = sample().encode()
        for bit in 0..<(bytes.count * 8) {
            var damaged = bytes
            damaged[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(throws: FormatError.self, "bit \(bit)") { try decode(damaged) }
        }
    }

    @Test func truncatedAndForeignFilesAreRejected() {
        let bytes = sample().encode()
        for n in [0, 7, 15, 16, 20, bytes.count - 1] {
            #expect(throws: FormatError.self, "\(n) bytes") { try decode(Array(bytes.prefix(n))) }
        }
        #expect(throws: FormatError.self) { try decode(WALLayout.header() + [0, 0, 0, 0]) }
    }

    @Test func positionsOrderByFileThenOffset() {
        #expect(WALPosition(file: 1, offset: 900) < WALPosition(file: 2, offset: 16))
        #expect(WALPosition(file: 2, offset: 16) < WALPosition(file: 2, offset: 17))
        let t = Tombstone(from: 10, to: 20, throughSegment: 3)
        #expect(t.covers(segment: 3, time: 10) && t.covers(segment: 1, time: 20))
        #expect(!t.covers(segment: 4, time: 15) && !t.covers(segment: 1, time: 21))
    }
}

@Suite("Day manifests with archived segments")
struct ArchivedManifestTests {
    func decode(_ bytes: [UInt8]) throws -> DayManifest {
        try bytes.withUnsafeBytes { raw throws in try DayManifest.decode(raw) }
    }

    func sample() -> DayManifest {
        var m = DayManifest()
        _ = m.addSegment(rows: 10)
        _ = m.addSegment(rows: 3)
        m.segments.removeFirst()
        m.cold = [DayManifest.ColdEntry(id: 1, rows: 10, bytes: 777, key: "trade/ESH4/2024/01/02/0000000000000001.strata")]
        m.tombstones = [Tombstone(from: 1, to: 2, throughSegment: 2)]
        return m
    }

    @Test func versionTwoOnlyWhenSomethingIsArchived() throws {
        let m = sample()
        let bytes = m.encode()
        #expect(bytes[8] == 2)
        #expect(try decode(bytes) == m)
        #expect(m.rowCount == 13)
        var plain = m
        plain.cold = []
        #expect(plain.encode()[8] == 1)
    }

    @Test func damageInTheArchivedPartIsFound() {
        let bytes = sample().encode()
        for bit in 0..<(bytes.count * 8) {
            var damaged = bytes
            damaged[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(throws: (any Error).self, "bit \(bit)") { try decode(damaged) }
        }
        // An archived id that is also a local segment's is malformed even with a good checksum.
        var twice = sample()
        twice.cold[0].id = 2
        #expect(throws: FormatError.self) { try decode(twice.encode()) }
    }
}
