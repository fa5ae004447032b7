@testable import StrataEngine
import StrataFormat
import StrataTestSupport
import StrataText
import Testing

/// The output text README's "Output" paragraph of `strata query` promises, pinned.
@Suite struct ResultWriterTests {
    @Test(arguments: [
        (Double.nan, "NaN"), (-Double.nan, "NaN"), (Double(bitPattern: 0x7FF0_0000_0000_0001), "NaN"),
        (Double.infinity, "Inf"), (-Double.infinity, "-Inf"),
        (0.0, "0"), (-0.0, "-0.0"),
        (4500, "4500"), (-3, "-3"), (999_999_999_999_999, "999999999999999"),
        (1e15, "1000000000000000.0"), (-1e15, "-1000000000000000.0"),
        (9_007_199_254_740_992, "9007199254740992.0"), (9_007_199_254_740_994, "9.007199254740994e+15"),
        (1e16, "1e+16"), (1.5e300, "1.5e+300"),
        (4512.25, "4512.25"), (0.1, "0.1"), (-2.5, "-2.5"), (1_000_000_000_000_000.5, "1000000000000000.5"),
        (0.0001, "0.0001"), (0.00012, "0.00012"), (0.00001, "1e-05"), (-0.00009, "-9e-05"),
        (Double.leastNonzeroMagnitude, "5e-324"), (Double.greatestFiniteMagnitude, "1.7976931348623157e+308"),
    ])
    func floats(_ value: Double, _ text: String) {
        #expect(TextFormat.double(value) == text)
    }

    @Test(arguments: [
        ("ESH4", "ESH4"), ("", ""), (" padded ", " padded "), ("a,b", "\"a,b\""), ("say \"hi\"", "\"say \"\"hi\"\"\""),
        ("two\nlines", "\"two\nlines\""), ("cr\rhere", "\"cr\rhere\""),
        // CR LF is a single Character in Swift, and so are a quote or a comma followed by a
        // combining mark: the text is still quoted, and the quote still doubled.
        ("windows\r\nline", "\"windows\r\nline\""), ("\"\u{301}", "\"\"\"\u{301}\""), (",\u{301}", "\",\u{301}\""),
    ])
    func csvFields(_ value: String, _ text: String) {
        #expect(TextFormat.csvQuoted(value) == text)
    }

    @Test func jsonStrings() {
        #expect(TextFormat.jsonString("a\"b\\c\n\r\t\u{1}\u{1F}\u{7F}é\u{2028}") == "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f\u{7F}é\u{2028}\"")
    }

    func result() throws -> QueryResult {
        let schema = [Field("price", .float64), Field("size", .int64), Field("ok", .bool), Field("note,1", .string)]
        let rows = RowBlock(timestamps: [-1, 1_704_205_800_000_000_000], columns: [
            Column(.float64([.nan, 4512.25])),
            Column(.int64([-7, 0]), presence: [true, false]),
            Column(.bool([true, false])),
            Column(.string(["", "x\"y"])),
        ])
        return QueryResult(series: try SeriesKey(measurement: "trade", symbol: "BRK A,B"), schema: schema, rows: rows)
    }

    @Test func csvRows() throws {
        let r = try result()
        for (format, expected) in [
            (ResultWriter.TimeFormat.rfc3339, "time,symbol,price,size,ok,\"note,1\"\n"
                + "1969-12-31T23:59:59.999999999Z,\"BRK A,B\",NaN,-7,true,\n"
                + "2024-01-02T14:30:00.000000000Z,\"BRK A,B\",4512.25,,false,\"x\"\"y\"\n"),
            (.ns, "time,symbol,price,size,ok,\"note,1\"\n-1,\"BRK A,B\",NaN,-7,true,\n"
                + "1704205800000000000,\"BRK A,B\",4512.25,,false,\"x\"\"y\"\n"),
        ] {
            var writer = ResultWriter(format: .csv, timeFormat: format)
            var out = ""
            writer.beginRows(r.schema, into: &out)
            writer.rows(r, into: &out)
            writer.end(into: &out)
            #expect(out == expected)
        }
    }

    @Test func jsonRows() throws {
        let r = try result()
        var writer = ResultWriter(format: .json, timeFormat: .ns)
        var out = ""
        writer.beginRows(r.schema, into: &out)
        writer.rows(r, into: &out)
        writer.end(into: &out)
        #expect(out == "[\n{\"time\":-1,\"symbol\":\"BRK A,B\",\"price\":null,\"size\":-7,\"ok\":true,\"note,1\":\"\"},\n"
            + "{\"time\":1704205800000000000,\"symbol\":\"BRK A,B\",\"price\":4512.25,\"size\":null,\"ok\":false,\"note,1\":\"x\\\"y\"}\n]\n")
        var empty = ResultWriter(format: .json, timeFormat: .rfc3339)
        var none = ""
        empty.beginRows(r.schema, into: &none)
        empty.end(into: &none)
        #expect(none == "[]\n")
    }

    @Test func bars() {
        let bar = Bar(start: 0, open: 1, high: 2.5, low: -0.0, close: .infinity, volume: nil, count: 3, vwap: nil)
        var csv = ResultWriter(format: .csv, timeFormat: .rfc3339)
        var out = ""
        csv.beginBars(into: &out)
        csv.bars([bar], symbol: "ESH4", into: &out)
        csv.end(into: &out)
        #expect(out == "time,symbol,open,high,low,close,volume,count,vwap\n1970-01-01T00:00:00.000000000Z,ESH4,1,2.5,-0.0,Inf,,3,\n")
        var json = ResultWriter(format: .json, timeFormat: .rfc3339)
        out = ""
        json.beginBars(into: &out)
        json.bars([bar], symbol: "ESH4", into: &out)
        json.end(into: &out)
        #expect(out == "[\n{\"time\":\"1970-01-01T00:00:00.000000000Z\",\"symbol\":\"ESH4\",\"open\":1,\"high\":2.5,\"low\":-0.0,\"close\":null,\"volume\":null,\"count\":3,\"vwap\":null}\n]\n")
    }
}
