import StrataEngine
import StrataFormat
import StrataPlatform
import StrataTestSupport
import Testing

/// A segment is read only as what its directory and manifest say it is (Format.md, "Day
/// manifest", "Footer" and "Schema file"): the footer is checked against them when the
/// segment is opened, and a mismatch is an error naming the file, never rows.
@Suite struct SegmentListingTests {
    let schema = [Field("price", .float64), Field("size", .int64)]
    let base = ns("2024-01-02T14:30:00Z")

    func rows(_ n: Int, from start: Int64) -> RowBlock {
        RowBlock(timestamps: (0..<n).map { start + Int64($0) * 1_000_000 }, columns: [
            Column(.float64((0..<n).map { 4500 + Double($0) * 0.25 })),
            Column(.int64((0..<n).map { Int64($0 + 1) })),
        ])
    }

    /// Lists `segment` (a file copied in) as a new segment of `key`'s manifest.
    func list(_ store: Store, copy segment: String, into key: SeriesDay, rows: UInt64) throws -> String {
        let manifestPath = store.dayPath(key.series, key.day) + "/_manifest"
        var manifest = try store.manifest(key)
        let id = SegmentID(manifest.addSegment(rows: rows))
        let target = store.segmentPath(key.series, key.day, id)
        writeFile(target, try readFile(segment))
        writeFile(manifestPath, manifest.encode())
        return target
    }

    func expectError(_ code: StrataError.Code, path: String, saying words: [String], _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("read without an error")
        } catch let error as StrataError {
            #expect(error.code == code && error.path == path, "\(error)")
            for w in words { #expect(error.message.contains(w), "\(error)") }
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func aSegmentCopiedIntoAnotherSymbolIsAnErrorNamingTheFile() throws {
        let dir = TemporaryDirectory()
        let store = try Store(directory: dir.path, create: true)
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let nq = try SeriesKey(measurement: "trade", symbol: "NQH4")
        try store.write(es, schema: schema, rows: rows(10, from: base))
        try store.write(nq, schema: schema, rows: rows(5, from: base + 1))
        let day = Day(containing: base)
        let copied = try list(store, copy: store.segmentPath(es, day, SegmentID(1)), into: SeriesDay(nq, day), rows: 10)
        expectError(.corrupt, path: copied, saying: ["ESH4", "NQH4"]) { _ = try store.query(nq) }
        expectError(.corrupt, path: copied, saying: ["ESH4"]) { _ = try store.bars(nq, spec: BarSpec(interval: 60_000_000_000, source: .ticks(price: "price", volume: "size"))) }
        // The symbol whose segment it is reads as before.
        #expect(try store.query(es).rows.rowCount == 10)

        // The command says the same and prints no rows.
        let r = runStrata(["query", "--data-dir", dir.path, "--measurement", "trade", "--symbol", "NQH4"])
        #expect(r.status != 0 && r.stderr.contains(copied) && r.stdout.isEmpty, "\(r)")
    }

    @Test func aSegmentCopiedIntoAnotherDayIsAnError() throws {
        let dir = TemporaryDirectory()
        let store = try Store(directory: dir.path, create: true)
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let nextDay = base + Day.nanosecondsPerDay
        try store.write(es, schema: schema, rows: rows(10, from: base))
        try store.write(es, schema: schema, rows: rows(3, from: nextDay))
        let copied = try list(store, copy: store.segmentPath(es, Day(containing: base), SegmentID(1)),
                              into: SeriesDay(es, Day(containing: nextDay)), rows: 10)
        expectError(.corrupt, path: copied, saying: ["2024-01-02", "2024-01-03"]) { _ = try store.query(es, from: nextDay) }
    }

    @Test func aManifestRowCountOtherThanTheBlocksIsAnError() throws {
        let dir = TemporaryDirectory()
        let store = try Store(directory: dir.path, create: true)
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        try store.write(es, schema: schema, rows: rows(10, from: base))
        let key = SeriesDay(es, Day(containing: base))
        var manifest = try store.manifest(key)
        manifest.segments[0].rows = 11
        writeFile(store.dayPath(es, key.day) + "/_manifest", manifest.encode())
        expectError(.corrupt, path: store.segmentPath(es, key.day, SegmentID(1)), saying: ["10 rows", "11"]) { _ = try store.query(es) }
    }

    @Test func aSegmentCutWithAnotherDayOffsetIsRefused() throws {
        let dir = TemporaryDirectory()
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let newYork = try Store(directory: dir.path, configuration: StoreConfiguration(dayOffsetSeconds: -18_000), create: true)
        try newYork.write(es, schema: schema, rows: rows(10, from: base))
        #expect(try newYork.query(es).rows.rowCount == 10)
        let utc = try Store(directory: dir.path)
        expectError(.conflict, path: utc.segmentPath(es, Day(containing: base), SegmentID(1)), saying: ["-18000", "0 s"]) { _ = try utc.query(es) }
    }

    @Test func aFieldOfAnotherTypeThanTheSchemaIsAnErrorNotAConversion() throws {
        let dir = TemporaryDirectory()
        let store = try Store(directory: dir.path, create: true)
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        try store.write(es, schema: schema, rows: rows(4, from: base))
        try store.write(es, schema: schema, rows: rows(2, from: base + 7))
        // Segment 1 again, the same series, day and rows, but with price written as Int64
        // where _schema says float.
        let day = Day(containing: base)
        var builder = SegmentBuilder(measurement: "trade", symbol: "ESH4", day: day.daysSinceEpoch,
                                     schema: [Field("price", .int64), Field("size", .int64)])
        var bytes = builder.header()
        let input = rows(4, from: base)
        bytes += builder.block(RowBlock(timestamps: input.timestamps, columns: [Column(.int64([4500, 4501, 4502, 4503])), input.columns[1]])).bytes
        bytes += builder.finish()
        let path = store.segmentPath(es, day, SegmentID(1))
        writeFile(path, bytes)
        expectError(.corrupt, path: path, saying: ["price", "int", "float"]) { _ = try store.query(es) }
        expectError(.corrupt, path: path, saying: ["price"]) { _ = try store.bars(es, spec: BarSpec(interval: 60_000_000_000, source: .ticks(price: "price", volume: nil))) }
        // A compaction (the day has two segments) does not drop the column either.
        let database = try Database(directory: dir.path)
        defer { try? database.close() }
        var compacted: StrataError?
        do { _ = try database.compact() } catch { compacted = error }
        #expect(compacted?.code == .corrupt && compacted?.path == path, "\(String(describing: compacted))")
    }
}
