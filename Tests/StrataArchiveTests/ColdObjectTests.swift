import StrataArchive
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem
import Synchronization
import Testing

/// An object store that counts the requests that reach another one.
final class CountingStore: ObjectStore {
    let inner: any ObjectStore
    let gets = Mutex(0)
    init(_ inner: any ObjectStore) { self.inner = inner }
    var location: String { inner.location }
    func put(_ key: String, _ bytes: [UInt8]) throws(StrataError) { try inner.put(key, bytes) }
    func get(_ key: String, range: Range<Int>?) throws(StrataError) -> [UInt8] {
        gets.withLock { $0 += 1 }
        return try inner.get(key, range: range)
    }
    func getTail(_ key: String, count: Int) throws(StrataError) -> (bytes: [UInt8], objectSize: Int) {
        gets.withLock { $0 += 1 }
        return try inner.getTail(key, count: count)
    }
    func head(_ key: String) throws(StrataError) -> ObjectInfo? { try inner.head(key) }
    func list(prefix: String) throws(StrataError) -> [ObjectInfo] { try inner.list(prefix: prefix) }
    func delete(_ key: String) throws(StrataError) { try inner.delete(key) }
}

/// A day of synthetic trades written as one segment; its bytes and the store.
struct TradeDay {
    let root = TemporaryDirectory()
    let store: Store
    let series: SeriesKey
    let segmentPath: String
    let segment: [UInt8]

    init(rows: Int = 450_000) throws {
        store = try Store(directory: root.path + "/data", create: true)
        series = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let trades = SyntheticTicks(seed: 1).trades(count: rows)
        let summary = try store.write(series, schema: [Field("price", .float64), Field("size", .int64)], rows: trades)
        segmentPath = summary.segments[0]
        let file = try MappedFile(path: segmentPath)
        segment = file.withUnsafeBytes { Array($0) }
    }

    func cold(_ cipher: ObjectCipher? = nil) throws -> [UInt8] {
        try segment.withUnsafeBytes { raw throws in try ColdObject.make(fromSegment: raw, cipher: cipher) }
    }
}

/// The segment a whole cold object gives back.
func rebuild(_ cold: [UInt8], keyring: Keyring? = nil) throws -> [UInt8] {
    try cold.withUnsafeBytes { raw throws in try ColdObject.segmentBytes(raw, keyring: keyring, location: "test object") }
}

@Suite struct ColdObjectTests {
    @Test func aColdObjectGivesBackTheSegmentByteForByteAndIsSmaller() throws {
        let day = try TradeDay()
        let cold = try day.cold()
        #expect(Array(cold.prefix(8)) == Array("STRATCLD".utf8) && Array(cold.suffix(8)) == Array("STRATCLD".utf8))
        let back = try rebuild(cold)
        #expect(back == day.segment)
        // zstd over already encoded columns still finds something; never worse than 1.02×.
        #expect(Double(cold.count) <= Double(day.segment.count) * 1.02)
    }

    @Test func everyFlippedBitIsFoundNeverReturned() throws {
        let day = try TradeDay(rows: 20_000)
        let cold = try day.cold()
        var checked = 0
        for bit in stride(from: 0, to: cold.count * 8, by: 61) {
            var damaged = cold
            damaged[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(throws: StrataError.self, "bit \(bit)") { try rebuild(damaged) }
            checked += 1
        }
        #expect(checked > 1000)
        // Every bit of the trailer (its numbers are not under a checksum): an error, never a trap.
        for bit in ((cold.count - ColdObject.trailerSize) * 8)..<(cold.count * 8) {
            var damaged = cold
            damaged[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(throws: StrataError.self, "trailer bit \(bit)") { try rebuild(damaged) }
        }
        // Cut short, or not a cold object at all.
        #expect(throws: StrataError.self) { try rebuild(Array(cold.dropLast(1))) }
        #expect(throws: StrataError.self) { try rebuild(day.segment) }
    }

    /// One hour inside a cold day: one GET for the index, one for the blocks; the index is
    /// kept, so the next query needs one GET.
    func checkRangedReads(_ objects: any ObjectStore, keyring: Keyring? = nil) throws {
        let day = try TradeDay()
        let counting = CountingStore(objects)
        try counting.put("trade/ESH4/2024/01/02/0000000000000001.strata", try day.cold(keyring.map { ObjectCipher.new($0.current) }))
        let reader = ColdReader(store: counting, key: "trade/ESH4/2024/01/02/0000000000000001.strata", keyring: keyring)
        let from = try day.store.query(day.series).rows.timestamps[0] + 600_000_000_000
        let to = from + 3_600_000_000_000 - 1
        let blocks = try reader.blocks(overlapping: from, to)
        #expect(counting.gets.withLock { $0 } == 1)
        let total = try reader.index().footer.blocks.count
        #expect(!blocks.isEmpty && blocks.count < total)
        let decoded = try reader.decodeBlocks(blocks.first!..<(blocks.last! + 1))
        #expect(counting.gets.withLock { $0 } == 2)
        let rows = RowBlock.concatenate(decoded, schema: try reader.index().footer.schema)
        let keep = rows.timestamps.indices.filter { rows.timestamps[$0] >= from && rows.timestamps[$0] <= to }
        #expect(rows.gather(keep) == (try day.store.query(day.series, from: from, to: to).rows))
        _ = try reader.decodeBlocks(blocks.first!..<(blocks.first! + 1))
        #expect(counting.gets.withLock { $0 } == 3)
    }

    @Test func anHourOfAColdDayTakesTwoRangedReadsFromADirectory() throws {
        let root = TemporaryDirectory()
        try checkRangedReads(try LocalObjectStore(directory: root.path))
    }

    @Test(.enabled(if: S3TestServer.enabled, "needs the S3 server scripts/test starts"))
    func anHourOfAColdDayTakesTwoRangedReadsFromS3() throws {
        try checkRangedReads(try S3TestServer.store(bucket: S3TestServer.bucket("cold")))
    }

    @Test func anHourOfAnEncryptedColdDayTakesTwoRangedReadsToo() throws {
        let root = TemporaryDirectory()
        try checkRangedReads(try LocalObjectStore(directory: root.path), keyring: Keyring(keys: [EncryptionKey.random()], source: "test keys"))
    }
}
