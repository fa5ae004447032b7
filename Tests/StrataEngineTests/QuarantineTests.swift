@testable import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem
import StrataTestSupport
import Testing

/// A damaged or lost manifest, or a damaged `_schema`, is isolated when the store opens:
/// moved to `_damaged/`, reported, and the rest of the store (other series, rows still in
/// the log) serves. Nothing is deleted.
@Suite struct QuarantineTests {
    let root = TemporaryDirectory()
    let a = try! SeriesKey(measurement: "trade", symbol: "A")
    let b = try! SeriesKey(measurement: "trade", symbol: "B")
    let day = Day(containing: 1_704_205_800_000_000_000)

    func rows(_ times: [Int64]) -> RowBlock {
        RowBlock(timestamps: times, columns: [Column(.float64(times.map { Double($0 % 1000) })), Column(.int64(times.map { $0 % 7 }))])
    }

    /// A and B flushed on one day, then two more rows each only in the log, then a crash.
    func storeWithRowsInTheLog() async throws {
        let db = try Database(directory: root.path)
        for s in [a, b] { try await db.append(s, schema: SyntheticTicks.tradeSchema, rows: rows([1_704_205_800_000_000_000, 1_704_205_801_000_000_000])) }
        try db.flush()
        for s in [a, b] { try await db.append(s, schema: SyntheticTicks.tradeSchema, rows: rows([1_704_205_802_000_000_000, 1_704_205_803_000_000_000])) }
        db.simulateCrash()
    }

    @Test func aDamagedManifestIsMovedAsideAndTheRestServes() async throws {
        try await storeWithRowsInTheLog()
        let manifest = root.path + "/trade/A/\(day)/_manifest"
        var bytes = try readFile(manifest)
        bytes[bytes.count - 2] ^= 0x10
        writeFile(manifest, bytes)
        let db = try Database(directory: root.path)
        defer { try? db.close() }
        #expect(db.recovery.damage.contains { $0.path == manifest && $0.message.contains("moved to \(root.path)/_damaged/trade/A/\(day)") }, "\(db.recovery.damage)")
        #expect(db.recovery.quarantined.contains("\(root.path)/_damaged/trade/A/\(day)"))
        // B whole; A's rows come back from the log, which still holds all four (the day's
        // segments, with the first two, are kept aside, not served twice).
        #expect(try db.query(b).rows.rowCount == 4)
        #expect(try db.query(a).rows.timestamps == [1_704_205_800_000_000_000, 1_704_205_801_000_000_000, 1_704_205_802_000_000_000, 1_704_205_803_000_000_000])
        #expect(FileSystem.exists("\(root.path)/_damaged/trade/A/\(day)/_manifest"))
        #expect(try db.store.quarantined() == ["trade/A/\(day)"])
    }

    @Test func segmentsThatLostTheirManifestAreKeptNotRemoved() async throws {
        try await storeWithRowsInTheLog()
        let dir = root.path + "/trade/A/\(day)"
        let segments = try FileSystem.list(dir).filter { $0.hasSuffix(".seg") }
        #expect(!segments.isEmpty)
        try FileSystem.remove(dir + "/_manifest")
        let db = try Database(directory: root.path)
        defer { try? db.close() }
        #expect(db.recovery.damage.contains { $0.message.contains("segment files without a manifest") }, "\(db.recovery.damage)")
        for s in segments { #expect(FileSystem.exists("\(root.path)/_damaged/trade/A/\(day)/\(s)"), "\(s) was removed") }
        #expect(try db.query(b).rows.rowCount == 4)
    }

    @Test func aDamagedSchemaIsRebuiltFromTheSegments() async throws {
        try await storeWithRowsInTheLog()
        let schema = root.path + "/trade/_schema"
        var bytes = try readFile(schema)
        bytes[20] ^= 0x01
        writeFile(schema, bytes)
        let db = try Database(directory: root.path)
        defer { try? db.close() }
        #expect(db.recovery.damage.contains { $0.path == schema && $0.message.contains("schema rebuilt") }, "\(db.recovery.damage)")
        #expect(try db.store.schema("trade").fields == SyntheticTicks.tradeSchema)
        #expect(try db.query(a).rows.rowCount == 4 && db.query(b).rows.rowCount == 4)
        #expect(FileSystem.exists("\(root.path)/_damaged/trade/_schema"))
    }
}
