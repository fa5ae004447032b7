import StrataArchive
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem
import Testing

/// Tiering against the local-directory store and against the real S3 server.
struct TieringScenario {
    let root = TemporaryDirectory()
    let objects: any ObjectStore
    let archive: Archive
    let schema = [Field("price", .float64), Field("size", .int64)]
    let symbols = ["ESH4", "BTC/USD"]
    let base = Int64(1_704_153_600) * 1_000_000_000  // 2024-01-02T00:00:00Z

    /// The layout of the measurement: series directories, or packed partitions.
    var layout = MeasurementLayout.series

    init(objects: any ObjectStore, keyring: Keyring? = nil, layout: MeasurementLayout = .series) {
        self.objects = objects
        self.layout = layout
        archive = Archive(objects: objects, keyring: keyring, cacheBytes: 1 << 20)
    }

    func configuration(withArchive: Bool = true) -> DatabaseConfiguration {
        var c = DatabaseConfiguration()
        c.fsync = .none
        c.compactAfterSegments = 0
        c.store.layouts["trade"] = .layout(layout)
        if withArchive { c.store.coldStorage = archive }
        return c
    }

    /// Three days of trades per symbol, each day in two segments.
    func fill(_ db: Database) async throws {
        for (k, symbol) in symbols.enumerated() {
            let series = try SeriesKey(measurement: "trade", symbol: symbol)
            let ticks = SyntheticTicks(seed: UInt64(k + 1)).trades(count: 30_000)
            for day in 0..<3 {
                for half in 0..<2 {
                    let part = ticks.slice((half * 15_000)..<((half + 1) * 15_000))
                    let shift = base + Int64(day) * Day.nanosecondsPerDay + 3_600_000_000_000 - ticks.timestamps[0]
                    let rows = RowBlock(timestamps: part.timestamps.map { $0 + shift }, columns: part.columns)
                    try await db.append(series, schema: schema, rows: rows)
                    try db.flush()
                }
            }
        }
    }

    func answers(_ db: Database) throws -> [String] {
        var out: [String] = []
        for symbol in symbols {
            let series = try SeriesKey(measurement: "trade", symbol: symbol)
            let raw = try db.query(series)
            let hour = try db.query(series, from: base + Day.nanosecondsPerDay + 3_700_000_000_000, to: base + Day.nanosecondsPerDay + 7_300_000_000_000)
            let bars = try db.bars(series, spec: BarSpec(interval: 60_000_000_000, source: .ticks(price: "price", volume: "size")))
            out.append("\(raw.rows.rowCount) \(raw.rows.timestamps.reduce(0, &+)) \(hour.rows.rowCount) \(bars.count) \(bars.map(\.close).reduce(0, +)) \(bars.compactMap(\.vwap).reduce(0, +))")
            #expect(raw.rows == (try db.query(series).rows))
        }
        return out
    }

    func run() async throws {
        let data = root.path + "/data"
        let db = try Database(directory: data, configuration: configuration())
        try await fill(db)
        let before = try answers(db)
        let rawBefore = try db.query(try SeriesKey(measurement: "trade", symbol: "ESH4")).rows
        let localBytes = segmentBytes(data)
        #expect(localBytes > 0)

        // Everything older than now goes (the days are in 2024).
        let pushed = try archive.push(db, olderThan: 0)
        #expect(pushed.seriesDays == 6 && pushed.rows == 6 * 30_000)
        let storeID = try db.store.identity()
        #expect(pushed.keys.contains("trade/BTC%2FUSD/2024/01/03/\(storeID)-0000000000000003.strata"))
        #expect(segmentBytes(data) == 0)
        #expect(try answers(db) == before)
        #expect(try db.query(try SeriesKey(measurement: "trade", symbol: "ESH4")).rows == rawBefore)
        let listed = try archive.list(measurement: "trade", symbol: "ESH4")
        #expect(listed.map(\.day.description) == ["2024-01-02", "2024-01-03", "2024-01-04"])
        #expect(listed.allSatisfy { $0.size > 0 })
        try db.close()

        // A reader without the archive is told where the data went.
        let blind = try Database(directory: data, configuration: configuration(withArchive: false))
        #expect { try blind.query(try SeriesKey(measurement: "trade", symbol: "ESH4")) } throws: {
            ($0 as? StrataError)?.message.contains("in the archive") == true
        }
        try blind.close()

        // Late rows for an archived day, and a delete across it: both apply over the tiers.
        let again = try Database(directory: data, configuration: configuration())
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let late = base + Day.nanosecondsPerDay + 3_600_000_000_000 + 17
        try await again.append(es, schema: schema, rows: RowBlock(timestamps: [late], columns: [Column(.float64([1.25])), Column(.int64([7]))]))
        #expect(try again.query(es).rows.rowCount == 90_001)
        try await again.delete(es, from: base, to: base + Day.nanosecondsPerDay - 1)
        #expect(try again.query(es).rows.rowCount == 60_001)
        try again.flush()
        _ = try again.compact()
        #expect(try again.query(es).rows.rowCount == 60_001)
        // Bring ESH4's days back; the archive keeps its copies.
        let restored = try archive.restore(again, series: es, from: base, to: base + 3 * Day.nanosecondsPerDay)
        #expect(restored == 3)
        #expect(try again.query(es).rows.rowCount == 60_001)
        #expect(try archive.list(measurement: "trade", symbol: "ESH4").count == 3)
        try again.close()
    }

    func segmentBytes(_ dir: String) -> Int {
        var total = 0
        func walk(_ d: String) {
            for name in (try? FileSystem.list(d)) ?? [] {
                let p = "\(d)/\(name)"
                if FileSystem.isDirectory(p) {
                    walk(p)
                } else if name.hasSuffix(".seg") || name.hasSuffix(".pack") {
                    total += (try? FileSystem.fileSize(p)) ?? 0
                }
            }
        }
        walk(dir)
        return total
    }
}

@Suite struct ArchiveTests {
    @Test func twoStoresArchivingIntoOneDirectoryNeverShareAKey() async throws {
        let objects = TemporaryDirectory()
        let shared = try LocalObjectStore(directory: objects.path)
        let a = TieringScenario(objects: shared), b = TieringScenario(objects: shared)
        let dbA = try Database(directory: a.root.path + "/data", configuration: a.configuration())
        let dbB = try Database(directory: b.root.path + "/data", configuration: b.configuration())
        try await a.fill(dbA)
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        try await dbB.append(es, schema: b.schema, rows: RowBlock(timestamps: [a.base + 3_600_000_000_000],
                                                                 columns: [Column(.float64([1.5])), Column(.int64([1]))]))
        let answersA = try a.answers(dbA)
        let pushedA = try a.archive.push(dbA, olderThan: 0), pushedB = try b.archive.push(dbB, olderThan: 0)
        #expect(Set(pushedA.keys).isDisjoint(with: pushedB.keys))
        #expect(try dbB.query(es).rows.rowCount == 1)
        #expect(try a.answers(dbA) == answersA)
        try dbA.close()
        try dbB.close()
    }

    /// Uploads run without the writer lock: rows flushed into the day being uploaded stay
    /// local beside the archived segment; if a compaction replaces the segment meanwhile,
    /// the day is not switched and the stale object is removed.
    @Test(arguments: [false, true])
    func writesDuringAnUploadAreKept(compactMeanwhile: Bool) async throws {
        let root = TemporaryDirectory()
        let bucket = try LocalObjectStore(directory: root.path + "/bucket")
        let hook = UploadHook(bucket)
        let scenario = TieringScenario(objects: hook)
        let db = try Database(directory: scenario.root.path + "/data", configuration: scenario.configuration())
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let t0 = scenario.base + 3_600_000_000_000
        try db.appendBlocking([Store.SeriesRows(series: es, schema: scenario.schema, rows: RowBlock(
            timestamps: [t0, t0 + 1], columns: [Column(.float64([1, 2])), Column(.int64([1, 2]))]))])
        try db.flush()
        hook.during = {
            // Before the change that released the lock here, these calls deadlocked.
            try db.appendBlocking([Store.SeriesRows(series: es, schema: scenario.schema, rows: RowBlock(
                timestamps: [t0 + 2], columns: [Column(.float64([3])), Column(.int64([3]))]))])
            try db.flush()
            if compactMeanwhile { _ = try db.compact() }
        }
        let pushed = try scenario.archive.push(db, olderThan: 0)
        let manifest = try db.store.manifest(SeriesDay(es, Day(containing: t0)))
        if compactMeanwhile {
            #expect(pushed.seriesDays == 0 && manifest.cold.isEmpty && manifest.segments.count == 1)
            #expect(try bucket.list(prefix: "").isEmpty)
        } else {
            #expect(pushed.seriesDays == 1 && manifest.cold.count == 1 && manifest.segments.count == 1)
            #expect(try bucket.list(prefix: "").count == 1)
        }
        #expect(try db.query(es).rows.timestamps == [t0, t0 + 1, t0 + 2])
        // The next push archives what is left.
        hook.during = nil
        _ = try scenario.archive.push(db, olderThan: 0)
        #expect(try db.query(es).rows.timestamps == [t0, t0 + 1, t0 + 2])
        try db.close()
    }

    /// A day archived, restored and pushed again keeps its object as it was (backups may
    /// refer to it, and readers may have its index cached): no second upload.
    @Test func pushingARestoredDayAgainReusesItsObject() async throws {
        let root = TemporaryDirectory()
        let objects = try LocalObjectStore(directory: root.path + "/bucket")
        let scenario = TieringScenario(objects: objects, keyring: Keyring(keys: [EncryptionKey.random()], source: "test keys"))
        let db = try Database(directory: scenario.root.path + "/data", configuration: scenario.configuration())
        try await scenario.fill(db)
        let answers = try scenario.answers(db)
        let first = try scenario.archive.push(db, olderThan: 0)
        let before = try first.keys.map { try objects.get($0) }
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        #expect(try scenario.archive.restore(db, series: es, from: scenario.base, to: scenario.base + 3 * Day.nanosecondsPerDay) == 3)
        let second = try scenario.archive.push(db, olderThan: 0)
        #expect(second.seriesDays == 3 && Set(second.keys).isSubset(of: first.keys))
        // Sealed with fresh salt, a rewritten object would differ byte for byte.
        #expect(try first.keys.map { try objects.get($0) } == before)
        #expect(try scenario.answers(db) == answers)
        try db.close()
    }

    @Test func tieringToADirectoryKeepsEveryAnswer() async throws {
        let objects = TemporaryDirectory()
        try await TieringScenario(objects: try LocalObjectStore(directory: objects.path)).run()
    }

    /// The same with packed partitions: their series go to the archive together, and come
    /// back into a new pack.
    @Test func tieringAPackedMeasurementKeepsEveryAnswer() async throws {
        let objects = TemporaryDirectory()
        let scenario = TieringScenario(objects: try LocalObjectStore(directory: objects.path), layout: .packed)
        try await scenario.run()
        #expect(FileSystem.isDirectory(scenario.root.path + "/data/trade/_packed"))
    }

    @Test(.enabled(if: S3TestServer.enabled, "needs the S3 server scripts/test starts"))
    func tieringToS3KeepsEveryAnswer() async throws {
        try await TieringScenario(objects: try S3TestServer.store(bucket: S3TestServer.bucket("tier"))).run()
    }

    @Test(.enabled(if: S3TestServer.enabled, "needs the S3 server scripts/test starts"))
    func aWrongSecretKeyStopsThePushAndDeletesNothing() async throws {
        let right = try S3TestServer.store(bucket: S3TestServer.bucket("tier-denied"))
        var c = right.configuration
        c.secretKey = "wrong-secret"
        c.maxAttempts = 1
        let scenario = TieringScenario(objects: try S3ObjectStore(c))
        let data = scenario.root.path + "/data"
        let db = try Database(directory: data, configuration: scenario.configuration())
        try await scenario.fill(db)
        let before = scenario.segmentBytes(data)
        #expect { try scenario.archive.push(db, olderThan: 0) } throws: { ($0 as? StrataError)?.code == .denied }
        // Compaction may have merged segments, but every row is still local.
        #expect(scenario.segmentBytes(data) > before / 2)
        #expect(try db.query(try SeriesKey(measurement: "trade", symbol: "ESH4")).rows.rowCount == 90_000)
        try db.close()
    }
}

/// An object store that runs `during` once, inside the first `put`, as another writer
/// would while an upload is in flight.
final class UploadHook: ObjectStore, @unchecked Sendable {
    let inner: any ObjectStore
    var during: (() throws -> Void)?
    init(_ inner: any ObjectStore) { self.inner = inner }
    var location: String { inner.location }
    func put(_ key: String, _ bytes: [UInt8]) throws(StrataError) {
        if let run = during {
            during = nil
            do { try run() } catch { throw StrataError(.io, "hook: \(error)") }
        }
        try inner.put(key, bytes)
    }
    func get(_ key: String, range: Range<Int>?) throws(StrataError) -> [UInt8] { try inner.get(key, range: range) }
    func getTail(_ key: String, count: Int) throws(StrataError) -> (bytes: [UInt8], objectSize: Int) { try inner.getTail(key, count: count) }
    func head(_ key: String) throws(StrataError) -> ObjectInfo? { try inner.head(key) }
    func list(prefix: String) throws(StrataError) -> [ObjectInfo] { try inner.list(prefix: prefix) }
    func delete(_ key: String) throws(StrataError) { try inner.delete(key) }
}
