import StrataEngine
import StrataFormat
import StrataTestSupport
import StrataText
import Testing

@Suite struct JSONRecordsTests {
    func parse(_ text: String, measurement: String? = nil, known: [String: FieldType] = [:]) -> IngestBatch {
        var options = JSONRecords.Options()
        options.measurement = measurement
        options.knownType = { _, field in known[field] }
        return JSONRecords.parse(Array(text.utf8), options: options)
    }

    @Test func theSeedRecordShapeBecomesRowsPerSeries() throws {
        let batch = parse("""
            [{"symbol": "005930", "timestamp": "2024-01-02T00:00:00.5Z", "price": 71500, "volume": 120, "data_type": "trade"},
             {"symbol": "005930", "timestamp": 1704153600, "data_type": "bar", "open_price": 1, "high_price": 2, "low_price": 0.5, "close_price": 1.5, "volume": 10},
             {"symbol": "005930", "timestamp": 1704153600001, "price": 71600, "volume": null, "data_type": "trade", "venue": "KRX", "auction": true}]
            """)
        #expect(batch.rows == 3 && batch.badLines == 0 && batch.lines == 3)
        #expect(batch.series.map(\.series.measurement) == ["trade", "bar"])
        let trade = batch.series[0]
        #expect(trade.series == (try SeriesKey(measurement: "trade", symbol: "005930")))
        #expect(trade.rows.timestamps == [1_704_153_600_500_000_000, 1_704_153_600_001_000_000])
        #expect(trade.schema == [Field("price", .float64), Field("volume", .float64), Field("auction", .bool), Field("venue", .string)])
        #expect(trade.rows.columns[0] == Column(.float64([71_500, 71_600])))
        #expect(trade.rows.columns[1] == Column(.float64([120, 0]), presence: [true, false]))
        #expect(trade.rows.columns[3] == Column(.string(["", "KRX"]), presence: [false, true]))
        let bar = batch.series[1]
        #expect(bar.rows.timestamps == [1_704_153_600_000_000_000] && bar.schema.map(\.name) == ["close_price", "high_price", "low_price", "open_price", "volume"])
    }

    @Test func newlineDelimitedRecordsAndTheDefaultMeasurement() {
        let batch = parse("{\"symbol\": \"A\", \"timestamp\": 1.5, \"price\": 1}\n\n{\"symbol\": \"A\", \"timestamp\": 2, \"price\": 2}\n", measurement: "quote")
        #expect(batch.rows == 2 && batch.badLines == 0)
        #expect(batch.series.first?.series.measurement == "quote" && batch.series.first?.rows.timestamps == [1_500_000_000, 2_000_000_000])
    }

    @Test func aFieldTheStoreHoldsAsAnIntegerStaysOne() {
        let batch = parse(#"{"symbol": "A", "timestamp": 1, "size": 3, "data_type": "trade"}"#, known: ["size": .int64])
        #expect(batch.series.first?.rows.columns.first == Column(.int64([3])))
        let refused = parse(#"{"symbol": "A", "timestamp": 1, "size": 3.5, "data_type": "trade"}"#, known: ["size": .int64])
        #expect(refused.rows == 0 && refused.issues.first?.message.contains("'size' is int in trade, not float") == true)
    }

    @Test(arguments: [
        (#"[{"timestamp": 1, "price": 1, "data_type": "t"}]"#, 1, "symbol", "'symbol' (a string) is required"),
        (#"[{"symbol": "A", "price": 1, "data_type": "t"}]"#, 1, "timestamp", "'timestamp' is required"),
        (#"[{"symbol": "A", "timestamp": "soon", "price": 1, "data_type": "t"}]"#, 1, "timestamp", "is not a time"),
        (#"[{"symbol": "A", "timestamp": 1, "price": 1}]"#, 1, "data_type", "'data_type' (the measurement"),
        ("[{\"symbol\": \"A\", \"timestamp\": 1, \"data_type\": \"t\"}]", 1, nil, "at least one field"),
        ("[1]", 1, nil, "a record is a JSON object, not a number"),
        ("[{\"symbol\": \"A\",\n \"timestamp\": 1, \"data_type\": \"t\", \"price\": {}}]", 2, "price", "not an object"),
        ("[{\"symbol\": \"A\\u0000\", \"timestamp\": 1, \"data_type\": \"t\", \"p\": 1}]", 1, "symbol", "contains NUL"),
        ("[{\"symbol\": \"A\", \"timestamp\": 1e300, \"data_type\": \"t\", \"p\": 1}]", 1, "timestamp", "is not a time"),
        ("{\"symbol\": \"A\", \"timestamp\": 1, \"data_type\": \"t\", \"p\": 1}\n{\"symbol\": \"A\", \"timestamp\": 1, \"data_type\": \"t\", \"p\": \"x\"}", 2, "p", "'p' is float in t, not string"),
        ("{\"symbol\": \"A\", \"timestamp\": 1, \"data_type\": \"t\", \"p\": 1}\n{\"symbol\": ", 2, nil, "JSON:"),
        ("[{\"symbol\": \"A\", \"timestamp\": 9300000000.5, \"data_type\": \"t\", \"p\": 1}]", 1, "timestamp", "is not a time"),
        ("[{\"symbol\": \"A\", \"timestamp\": 1, \"data_type\": \"t\", \"\": 1}]", 1, "field name", "field name is empty"),
        ("{\"symbol\": \"A\", \"timestamp\": 1, \"data_type\": \"t\", \"p\": 1}\n{\"symbol\": \"B\", \"timestamp\": 1, \"data_type\": \"t\", \"p\": \"x\"}", 2, "p", "'p' is float in t, not string"),
    ] as [(String, Int, String?, String)])
    func badRecordsAreNamedAndTheRestKept(text: String, line: Int, field: String?, message: String) {
        let good = "{\"symbol\": \"G\", \"timestamp\": 5, \"data_type\": \"t\", \"p\": 1.5}"
        let batch = parse(text)
        #expect(batch.badLines == 1)
        // The same bad record beside a good one (as an array element or a line): the good one stays.
        let both = text.hasPrefix("[") && !text.hasPrefix("[1]") ? parse("[" + good + ",\n" + text.dropFirst()) : parse(good + "\n" + text)
        #expect(both.badLines == 1 && both.rows == batch.rows + 1 && both.series.contains { $0.series.symbol == "G" }, "\(both.issues)")
        let issue = batch.issues.first
        #expect(issue?.line == line && issue?.field == field && issue?.message.contains(message) == true, "\(String(describing: issue))")
    }

    @Test func aBodyOfTooManyValuesIsRefused() {
        var options = JSONRecords.Options()
        options.maxValues = 100
        let records = (0..<30).map { "{\"symbol\": \"A\", \"timestamp\": \($0), \"data_type\": \"t\", \"p\": 1}" }
        let array = JSONRecords.parse(Array(("[" + records.joined(separator: ",") + "]").utf8), options: options)
        #expect(array.rows == 0 && array.issues.first?.message.contains("more than 100 values") == true)
        // One per line: the records within the budget are kept, the rest refused.
        let lines = JSONRecords.parse(Array(records.joined(separator: "\n").utf8), options: options)
        #expect(lines.rows == 20 && lines.badLines >= 1, "\(lines.rows) \(lines.issues)")
    }

    @Test func aMalformedArrayRefusesTheBody() {
        let batch = parse("[{\"symbol\": \"A\", \"timestamp\": 1, \"data_type\": \"t\", \"p\": 1},\n {\"symbol\" \"B\"}]")
        #expect(batch.rows == 0 && batch.badLines == 1 && batch.issues.first?.line == 2 && batch.issues.first?.message.contains("expected ':'") == true)
    }
}
