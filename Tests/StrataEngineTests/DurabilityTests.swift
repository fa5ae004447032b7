import Dispatch
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataTestSupport
import Testing

@Suite struct DurabilityTests {
    let root = TemporaryDirectory()

    @Test func aLargeBatchIsWrittenWithGroupDurability() throws {
        var configuration = StoreConfiguration()
        configuration.defaultPartition = .period(.day)
        let store = try Store(directory: root.path, configuration: configuration, create: true)
        // 30 days of one row each: more than the group threshold, so the syncfs path runs.
        let base = ns("2024-01-01T12:00:00Z")
        let times = (0..<30).map { base + Int64($0) * Day.nanosecondsPerDay }
        let series = try SeriesKey(measurement: "bar", symbol: "SPY")
        let summary = try store.write(series, schema: [Field("close", .float64)],
                                      rows: RowBlock(timestamps: times, columns: [Column(.float64((0..<30).map(Double.init)))]))
        #expect(summary.segments.count == 30)
        #expect(segmentFiles(root.path).count == 30)
        // No temporary file is left behind.
        let leftovers = try store.days(series).flatMap { day in
            try FileSystem.list(store.dayPath(series, day)).filter { $0.hasSuffix(".tmp") }
        }
        #expect(leftovers.isEmpty)
        #expect(try store.query(series).rows.columns[0].values == .float64((0..<30).map(Double.init)))
    }

    @Test func leftoversOfACrashedWriterAreRemovedAndIgnored() throws {
        let store = try Store(directory: root.path, create: true)
        let series = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let t = ns("2024-01-02T14:30:00Z")
        try store.write(series, schema: [Field("size", .int64)], rows: RowBlock(timestamps: [t], columns: [Column(.int64([1]))]))
        let dir = store.dayPath(series, Day(containing: t))
        // What a writer killed between write and rename leaves.
        writeText("\(dir)/.0000000000000002.seg.tmp", "half a segment")
        // What a writer killed between renaming a segment and switching the manifest leaves.
        writeText("\(dir)/0000000000000009.seg", "a segment no manifest names")
        #expect(try store.query(series).rows.rowCount == 1)
        try store.write(series, schema: [Field("size", .int64)], rows: RowBlock(timestamps: [t + 1], columns: [Column(.int64([2]))]))
        #expect(try FileSystem.list(dir) == ["0000000000000001.seg", "0000000000000002.seg", "_manifest"])
        #expect(try store.query(series).rows.columns[0].values == .int64([1, 2]))
    }

    @Test func concurrentWritersNeverLoseASegment() throws {
        let series = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let t = ns("2024-01-02T14:30:00Z")
        let path = root.path
        // Eight writers, each with its own Store value (as separate processes would have),
        // all writing to the same series-day at once.
        DispatchQueue.concurrentPerform(iterations: 8) { w in
            do {
                let store = try Store(directory: path, create: true)
                for k in 0..<5 {
                    try store.write(series, schema: [Field("writer", .int64)],
                                    rows: RowBlock(timestamps: [t + Int64(w * 100 + k)], columns: [Column(.int64([Int64(w)]))]))
                }
            } catch {
                Issue.record("writer \(w): \(error)")
            }
        }
        let store = try Store(directory: path)
        #expect(try store.segmentIDs(series, Day(containing: t)).count == 40)
        #expect(try store.query(series).rows.rowCount == 40)
    }

    @Test func nonCanonicalDirectoriesAreNotNames() {
        #expect(Names.name(fromDirectory: "%41") == nil)   // "A" is written plain
        #expect(Names.name(fromDirectory: "BTC%2fUSD") == nil)
        #expect(Names.name(fromDirectory: "%+F") == nil)
        #expect(Names.name(fromDirectory: "BTC%2FUSD") == "BTC/USD")
        #expect(SegmentID(fileName: "000000000000002A.seg") == nil)
    }
}
