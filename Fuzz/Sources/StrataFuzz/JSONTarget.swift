import StrataEngine
import StrataFormat
import StrataText

/// `JSONRecords.parse`, the body of `/api/v1/records` requests (and `JSONValue` under it).
enum JSONTarget {
    static let options: [JSONRecords.Options] = {
        var withDefault = JSONRecords.Options()
        withDefault.measurement = "trade"
        withDefault.maxValues = 20_000
        var strict = JSONRecords.Options()
        strict.maxValues = 200
        strict.knownType = { _, field in field.hasPrefix("i") ? .int64 : field.hasPrefix("s") ? .string : nil }
        return [withDefault, strict]
    }()

    static func run(_ body: UnsafeRawBufferPointer) {
        let bytes = Array(body)
        for (k, o) in options.enumerated() {
            let batch = JSONRecords.parse(bytes, options: o)
            checkBatch(batch, "JSON records (options \(k))")
            // Every record is a row or refused; only a broken array is refused as a whole.
            require(batch.rows <= batch.lines, "JSON records (options \(k)): \(batch.rows) rows from \(batch.lines) records")
        }
    }

    static func seeds() -> [(String, [UInt8])] {
        [
            ("array.json", """
            [{"symbol": "005930", "timestamp": "2024-01-02T09:00:00.120Z", "data_type": "trade", "price": 71500, "volume": 120},
             {"symbol": "005930", "timestamp": 1704186000, "data_type": "bar", "open_price": 71000, "high_price": 71900,
              "low_price": 70800, "close_price": 71500, "volume": 1.2e6},
             {"symbol": "ESH4", "timestamp": 1704186000.5, "price": -0.0, "side": "buy", "odd": true, "gone": null,
              "text": "tab\\t \\u00e9 \\ud83d\\ude00 \\"q\\""}]
            """),
            ("lines.ndjson", """
            {"symbol": "A", "timestamp": 1704186000123, "price": 1.5, "ivol": 3}
            {"symbol": "A", "timestamp": "2024-01-02", "price": 2, "ivol": 4.0}

            {"symbol": "B", "timestamp": 1704186000123456789, "data_type": "quote", "bid": 1e-3, "ask": 12345678901234567890}
            {"symbol": "B", "timestamp": [1], "bid": 1}
            not json
            {"symbol": 7, "timestamp": 1}
            """),
            ("one.json", #"{"symbol":"X/Y","timestamp":"2262-04-11T23:47:16.854775807Z","data_type":"t","s":"a","b":false}"#),
        ].map { ($0.0, Array($0.1.utf8)) }
    }
}
