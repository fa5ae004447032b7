import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem
import StrataTestSupport
import Testing

@Suite struct StoreTests {
    let schema = [Field("price", .float64), Field("size", .int64), Field("venue", .string), Field("odd", .bool)]

    func rows(_ times: [Int64], seed: UInt64 = 1) -> RowBlock {
        var rng = SyntheticTicks.Random(seed: seed)
        let n = times.count
        var presence = [Bool](repeating: true, count: n)
        for i in stride(from: 3, to: n, by: 7) { presence[i] = false }
        return RowBlock(timestamps: times, columns: [
            Column(.float64((0..<n).map { _ in Double(Int(rng.next() % 20_000)) * 0.25 })),
            Column(.int64((0..<n).map { _ in Int64(rng.next() % 10) }), presence: presence),
            Column(.string((0..<n).map { _ in ["XCME", "XEUR", "BATS"][Int(rng.next() % 3)] })),
            Column(.bool((0..<n).map { $0 % 2 == 1 })),
        ])
    }

    @Test func writesAndReadsBackEveryValueAndNull() throws {
        let dir = TemporaryDirectory()
        let store = try Store(directory: dir.path, configuration: StoreConfiguration(rowsPerBlock: 100), create: true)
        let series = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let base = ns("2024-01-02T14:30:00Z")
        let input = rows((0..<1000).map { base + Int64($0 / 10) * 1_000_000 })
        let summary = try store.write(series, schema: schema, rows: input)
        #expect(summary.rows == 1000)
        #expect(summary.segments.count == 1)
        let result = try store.query(series)
        #expect(result.schema == schema)
        #expect(firstDifference(result.rows, input) == nil)
        let segment = try store.openSegments(series, Day(containing: base))[0]
        #expect(segment.footer.blocks.count == 10)
        try segment.verify()
    }

    @Test func outOfOrderRowsAreSortedStably() throws {
        let dir = TemporaryDirectory()
        let store = try Store(directory: dir.path, create: true)
        let series = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let base = ns("2024-01-02T14:30:00Z")
        // Times go 5,5,1,5,1,3: sorted, the three 5s and the two 1s keep their order.
        let times = [5, 5, 1, 5, 1, 3].map { base + Int64($0) }
        let sizes: [Int64] = [50, 51, 10, 52, 11, 30]
        let input = RowBlock(timestamps: times, columns: [Column(.int64(sizes))])
        try store.write(series, schema: [Field("size", .int64)], rows: input)
        let out = try store.query(series).rows
        #expect(out.timestamps == [1, 1, 3, 5, 5, 5].map { base + Int64($0) })
        #expect(out.columns[0].values == .int64([10, 11, 30, 50, 51, 52]))
    }

    @Test func segmentsOfOneDayMergeInTimeThenArrivalOrder() throws {
        let dir = TemporaryDirectory()
        let store = try Store(directory: dir.path, create: true)
        let series = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let base = ns("2024-01-02T14:30:00Z")
        let f = [Field("size", .int64)]
        try store.write(series, schema: f, rows: RowBlock(timestamps: [0, 10, 20].map { base + $0 }, columns: [Column(.int64([1, 2, 3]))]))
        // Late data: earlier and equal timestamps arrive in a second batch.
        try store.write(series, schema: f, rows: RowBlock(timestamps: [5, 10, 30].map { base + $0 }, columns: [Column(.int64([4, 5, 6]))]))
        #expect(try store.segmentIDs(series, Day(containing: base)).count == 2)
        let out = try store.query(series).rows
        #expect(out.timestamps == [0, 5, 10, 10, 20, 30].map { base + $0 })
        #expect(out.columns[0].values == .int64([1, 4, 2, 5, 3, 6]))
        // A range that cuts through both segments.
        let mid = try store.query(series, from: base + 5, to: base + 10).rows
        #expect(mid.columns[0].values == .int64([4, 2, 5]))
    }

    @Test func rowsSpanningDaysGoToOneSegmentPerDay() throws {
        let dir = TemporaryDirectory()
        let store = try Store(directory: dir.path, create: true)
        let series = try SeriesKey(measurement: "bar", symbol: "BTC/USD")
        let times = [ns("2024-01-01T23:00:00Z"), ns("2024-01-02T00:00:00Z"), ns("2024-01-02T23:59:59.999999999Z"), ns("2024-01-03T00:00:00Z")]
        let summary = try store.write(series, schema: [Field("close", .float64)],
                                      rows: RowBlock(timestamps: times, columns: [Column(.float64([1, 2, 3, 4]))]))
        #expect(summary.segments.count == 3)
        #expect(try store.days(series).map(\.description) == ["2024-01-01", "2024-01-02", "2024-01-03"])
        #expect(summary.segments[0].contains("/bar/BTC%2FUSD/2024-01-01/0000000000000001.seg"))
        #expect(try store.symbols("bar") == ["BTC/USD"])
        let day2 = try store.query(series, from: ns("2024-01-02T00:00:00Z"), to: ns("2024-01-02T23:59:59.999999999Z")).rows
        #expect(day2.columns[0].values == .float64([2, 3]))
    }

    @Test func aFieldCannotChangeType() throws {
        let dir = TemporaryDirectory()
        let store = try Store(directory: dir.path, create: true)
        let series = try SeriesKey(measurement: "trade", symbol: "ESH4")
        try store.write(series, schema: [Field("size", .int64)], rows: RowBlock(timestamps: [1], columns: [Column(.int64([1]))]))
        let error = #expect(throws: StrataError.self) {
            try store.write(series, schema: [Field("size", .string)], rows: RowBlock(timestamps: [2], columns: [Column(.string(["x"]))]))
        }
        #expect(error?.code == .conflict)
        #expect(error?.message == "field 'size' of measurement 'trade' is int, not string")
    }

    @Test func newFieldsReadAsNullInOlderSegments() throws {
        let dir = TemporaryDirectory()
        let store = try Store(directory: dir.path, create: true)
        let series = try SeriesKey(measurement: "trade", symbol: "ESH4")
        try store.write(series, schema: [Field("price", .float64)], rows: RowBlock(timestamps: [1, 2], columns: [Column(.float64([1, 2]))]))
        try store.write(series, schema: [Field("price", .float64), Field("size", .int64)],
                        rows: RowBlock(timestamps: [3], columns: [Column(.float64([3])), Column(.int64([30]))]))
        let out = try store.query(series).rows
        #expect(out.columns[1].presence == [false, false, true])
        #expect(out.columns[1].values == .int64([0, 0, 30]))
    }

    @Test func aFlippedBitIsReportedNotReturned() throws {
        let dir = TemporaryDirectory()
        let store = try Store(directory: dir.path, create: true)
        let series = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let base = ns("2024-01-02T14:30:00Z")
        let summary = try store.write(series, schema: schema, rows: rows((0..<500).map { base + Int64($0) * 1_000_000 }))
        let path = summary.segments[0]
        let original = try readFile(path)
        var checked = 0
        // Every 53rd bit across the whole file: header, blocks, footer and trailer.
        for bit in stride(from: 0, to: original.count * 8, by: 53) {
            var damaged = original
            damaged[bit / 8] ^= 1 << UInt8(bit % 8)
            writeFile(path, damaged)
            let outcome = Result { () throws(StrataError) in try store.query(series) }
            switch outcome {
            case .success(let result):
                Issue.record("flipped bit \(bit) of \(original.count * 8) was not detected; \(result.rows.rowCount) rows returned")
            case .failure(let e):
                #expect(e.code == .corrupt)
                #expect(e.path == path)
                checked += 1
            }
        }
        #expect(checked > 100)
        writeFile(path, original)
        #expect(try store.query(series).rows.rowCount == 500)
    }
}
