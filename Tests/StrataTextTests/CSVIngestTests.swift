import StrataEngine
import StrataFormat
import StrataPlatform
import StrataTestSupport
import StrataText
import Testing

@Suite struct CSVIngestTests {
    /// Lives as long as the test: each ingest gets its own store below it.
    let root = TemporaryDirectory()

    func ingest(_ csv: String, _ configure: (inout CSVIngestOptions) -> Void = { _ in }) throws(StrataError) -> (Store, IngestReport, String) {
        let path = "\(root.path)/\(UInt64.random(in: 0...UInt64.max))"
        let store = try Store(directory: path, create: true)
        var options = CSVIngestOptions(measurement: "trade")
        configure(&options)
        let bytes = Array(csv.utf8)
        let report = try bytes.withUnsafeBufferPointer { (b) throws(StrataError) in
            try CSVIngester(store: store, options: options).ingest(b, source: "t.csv")
        }
        return (store, report, path)
    }

    /// Ingests into a sink (as `ingest --live` does): the batches it got, each as its last
    /// line and its series' row counts.
    func ingestToSink(_ csv: String, _ configure: (inout CSVIngestOptions) -> Void = { _ in })
        throws(StrataError) -> (IngestReport, [(line: Int, rows: [String: Int], schema: [Field])]) {
        let store = try Store(directory: "\(root.path)/\(UInt64.random(in: 0...UInt64.max))", create: true)
        var options = CSVIngestOptions(measurement: "trade")
        configure(&options)
        var batches: [(line: Int, rows: [String: Int], schema: [Field])] = []
        let sink: CSVIngester.Sink = { (batch, line) throws(StrataError) in
            let rows = Dictionary(uniqueKeysWithValues: batch.map { ($0.series.symbol, $0.rows.rowCount) })
            batches.append((line, rows, batch[0].schema))
        }
        let report = try Array(csv.utf8).withUnsafeBufferPointer { (b) throws(StrataError) in
            try CSVIngester(store: store, options: options).ingest(b, source: "t.csv", sink: sink)
        }
        return (report, batches)
    }

    @Test func infersTypesAndKeepsEveryRow() throws {
        let csv = """
        time,symbol,price,size,venue,odd
        2024-01-02T14:30:00.001Z,ESH4,4512.25,1,XCME,true
        2024-01-02T14:30:00.001Z,ESH4,4512.5,2,"X,EUR",false
        2024-01-02T14:30:00.002Z,NQH4,16800,10,XCME,true

        """
        let (store, report, _) = try ingest(csv)
        #expect(report.rowsWritten == 3 && report.badRowCount == 0 && report.series == 2)
        #expect(report.schema == [Field("price", .float64), Field("size", .int64), Field("venue", .string), Field("odd", .bool)])
        let es = try store.query(SeriesKey(measurement: "trade", symbol: "ESH4")).rows
        #expect(es.timestamps == [ns("2024-01-02T14:30:00.001Z"), ns("2024-01-02T14:30:00.001Z")])
        #expect(es.columns[0].values == .float64([4512.25, 4512.5]))
        #expect(es.columns[2].values == .string(["XCME", "X,EUR"]))
        #expect(es.columns[3].values == .bool([true, false]))
    }

    @Test func badRowsAreNamedAndValidRowsKept() throws {
        let csv = """
        time,symbol,price,size
        2024-01-02T14:30:00Z,ESH4,4512.25,1
        2024-13-02T14:30:00Z,ESH4,4512.25,1
        2024-01-02T14:30:01Z,ESH4,abc,1
        2024-01-02T14:30:02Z,ESH4,4512.5
        2024-01-02T14:30:03Z,ES\u{1}H4,4512.5,1
        2024-01-02T14:30:04Z,ESH4,NaN,1
        2024-01-02T14:30:05Z,ESH4,4513,2.5
        2300-01-01T00:00:00Z,ESH4,4513,2
        2024-01-02T14:30:06Z,ESH4,4513.25,3
        """
        let (store, report, _) = try ingest(csv)
        #expect(report.rowsWritten == 3)
        #expect(report.badRowCount == 6)
        let messages = report.issues.map(\.description)
        #expect(messages[0].hasPrefix("line 3, field 'time': time '2024-13-02T14:30:00Z' is not RFC 3339"))
        #expect(messages[1] == "line 4, field 'price': 'abc' is not a number")
        #expect(messages[2] == "line 5: has 3 fields; the header has 4")
        #expect(messages[3].hasPrefix("line 6, field 'symbol': symbol 'ES?H4' contains control character 0x1"))
        #expect(messages[4].hasPrefix("line 7, field 'price': 'NaN' is not a finite number"))
        #expect(messages[5] == "line 9, field 'time': time '2300-01-01T00:00:00Z' is outside 1677-09-21…2262-04-11")
        // "2.5" among integers in the sample makes the column float.
        #expect(report.schema == [Field("price", .float64), Field("size", .float64)])
        let rows = try store.query(SeriesKey(measurement: "trade", symbol: "ESH4")).rows
        #expect(rows.columns[1].values == .float64([1, 2.5, 3]))
    }

    @Test func anIntColumnBecomesFloatAfterTheSample() throws {
        var csv = "time,symbol,size\n"
        for i in 0..<1500 { csv += "2024-01-02T00:00:\(String(i % 60).count == 1 ? "0" : "")\(i % 60)Z,X,\(i)\n" }
        csv += "2024-01-02T00:01:00Z,X,0.5\n"
        let (store, report, _) = try ingest(csv)
        #expect(report.rowsWritten == 1501)
        #expect(report.schema == [Field("size", .float64)])
        #expect(report.notes == ["field 'size' became float at line 1502 (earlier values were integers)"])
        let rows = try store.query(SeriesKey(measurement: "trade", symbol: "X")).rows
        guard case .float64(let v) = rows.columns[0].values else { Issue.record("not float"); return }
        #expect(v.reduce(0, +) == Double(1499 * 1500 / 2) + 0.5)
    }

    @Test func strictWritesNothingWhenARowIsBad() throws {
        let (store, report, _) = try ingest("time,symbol,price\n2024-01-02T14:30:00Z,ESH4,1\n2024-01-02T14:30:01Z,ESH4,x\n") { $0.strict = true }
        #expect(report.badRowCount == 1 && report.rowsWritten == 0)
        #expect(try store.measurements().isEmpty)
    }

    @Test func aStoredTypeIsKeptAndMismatchesAreBadRows() throws {
        let dir = TemporaryDirectory()
        let store = try Store(directory: dir.path, create: true)
        let options = CSVIngestOptions(measurement: "trade")
        for csv in ["time,symbol,size\n2024-01-02T14:30:00Z,ESH4,1\n", "time,symbol,size\n2024-01-02T14:30:01Z,ESH4,2.5\n2024-01-02T14:30:02Z,ESH4,3\n"] {
            let report = try Array(csv.utf8).withUnsafeBufferPointer { (b) throws(StrataError) in
                try CSVIngester(store: store, options: options).ingest(b, source: "t.csv")
            }
            if report.badRowCount > 0 {
                #expect(report.issues[0].description == "line 2, field 'size': '2.5' is not an integer (the field is int)")
                #expect(report.rowsWritten == 1)
            }
        }
        #expect(try store.schema("trade").fields == [Field("size", .int64)])
    }

    @Test func epochTimesWithGuessedAndGivenUnits() throws {
        let (store, report, _) = try ingest("ts,symbol,price\n1704205800123,ESH4,1\n1704205800124,ESH4,2\n")
        #expect(report.timeUnit == .ms)
        let rows = try store.query(SeriesKey(measurement: "trade", symbol: "ESH4")).rows
        #expect(rows.timestamps == [1_704_205_800_123_000_000, 1_704_205_800_124_000_000])
        let (store2, _, _) = try ingest("time,price\n1704205800,1\n") { $0.symbol = "ESH4"; $0.timeUnit = .s }
        #expect(try store2.query(SeriesKey(measurement: "trade", symbol: "ESH4")).rows.timestamps == [1_704_205_800_000_000_000])
    }

    @Test func emptyFilesAndBadHeaders() throws {
        let empty = #expect(throws: StrataError.self) { try ingest("") }
        #expect(empty?.description == "t.csv, line 1: empty file: expected a header row naming the columns")
        let (_, headerOnly, _) = try ingest("time,symbol,price\n")
        #expect(headerOnly.rowsWritten == 0 && headerOnly.badRowCount == 0)
        let noSymbol = #expect(throws: StrataError.self) { try ingest("time,price\n2024-01-02,1\n") }
        #expect(noSymbol?.message.contains("no symbol column") == true)
        let dup = #expect(throws: StrataError.self) { try ingest("time,symbol,price,price\n") }
        #expect(dup?.message == "column 'price' appears twice in the header")
    }

    @Test func crlfQuotesBomAndBlankLines() throws {
        let csv = "\u{FEFF}time,symbol,note\r\n2024-01-02T00:00:00Z,ESH4,\"say \"\"hi\"\"\"\r\n\r\n2024-01-02T00:00:01Z,ESH4,\"two\nlines\"\r\n2024-01-02T00:00:02Z,ESH4,\"open\n"
        let (store, report, _) = try ingest(csv)
        #expect(report.rowsWritten == 2)
        #expect(report.issues.map(\.description) == ["line 6: a quoted field is never closed"])
        let rows = try store.query(SeriesKey(measurement: "trade", symbol: "ESH4")).rows
        #expect(rows.columns[0].values == .string(["say \"hi\"", "two\nlines"]))
    }

    @Test func emptyValuesAreNulls() throws {
        let (store, report, _) = try ingest("time,symbol,bid,ask\n2024-01-02T00:00:00Z,X,1.5,\n2024-01-02T00:00:01Z,X,,2.5\n")
        #expect(report.rowsWritten == 2)
        let rows = try store.query(SeriesKey(measurement: "trade", symbol: "X")).rows
        #expect(rows.columns[0].presence == [true, false])
        #expect(rows.columns[1].presence == [false, true])
    }

    @Test func symbolsWithSlashesAreStoredSafely() throws {
        let (store, _, dir) = try ingest("time,symbol,price\n2024-01-02T00:00:00Z,BTC/USD,42000.5\n2024-01-02T00:00:00Z,..,1\n")
        #expect(try store.symbols("trade") == ["..", "BTC/USD"])
        #expect(segmentFiles(dir).allSatisfy { $0.hasPrefix(dir + "/trade/") })
        #expect(try store.query(SeriesKey(measurement: "trade", symbol: "BTC/USD")).rows.rowCount == 1)
    }

    @Test func aSinkGetsBatchesThroughTheirLastLineAndTheFirstBatchFixesTheTypes() throws {
        var csv = "time,symbol,size,late\n"
        for i in 0..<1200 { csv += "2024-01-02T00:00:00Z,\(i % 2 == 0 ? "X" : "Y"),\(i),\n" }
        csv += "2024-01-02T00:01:00Z,X,0.5,\n"  // line 1202: after a batch was handed on, int stays int
        csv += "2024-01-02T00:01:01Z,Y,7,2.5\n"
        let (report, batches) = try ingestToSink(csv) { $0.batchRows = 1000 }
        #expect(batches.map(\.line) == [1001, 1203])
        #expect(batches[0].rows == ["X": 500, "Y": 500] && batches[1].rows == ["X": 100, "Y": 101])
        // "late" had no value when the first batch went: float from then on.
        #expect(batches.allSatisfy { $0.schema == [Field("size", .int64), Field("late", .float64)] })
        #expect(report.rowsRead == 1202 && report.rowsWritten == 1201 && report.badRowCount == 1)
        #expect(report.issues.map(\.description) == ["line 1202, field 'size': '0.5' is not an integer (the field is int)"])
        #expect(report.notes.isEmpty)
    }
}
