import StrataEngine
import StrataPlatform
import StrataSystem
import StrataTestSupport
import Testing

@Suite struct NamesTests {
    @Test(arguments: ["ESH4", "005930", "BTC-USD", "a.b", "x_y"])
    func plainNamesStayReadable(_ name: String) throws {
        try Names.validate(name, what: "symbol")
        #expect(Names.directoryName(name) == name)
        #expect(Names.name(fromDirectory: Names.directoryName(name)) == name)
    }

    @Test(arguments: [("BTC/USD", "BTC%2FUSD"), ("..", "%2E."), (".hidden", "%2Ehidden"), ("_schema", "%5Fschema"),
                      ("a%b", "a%25b"), ("a b", "a%20b"), ("삼성", "%EC%82%BC%EC%84%B1")])
    func unsafeBytesArePercentEncoded(_ name: String, _ directory: String) throws {
        try Names.validate(name, what: "symbol")
        #expect(Names.directoryName(name) == directory)
        #expect(Names.name(fromDirectory: directory) == name)
        #expect(!directory.contains("/"))
    }

    @Test func rejectsEmptyControlAndLongNames() {
        #expect(throws: StrataError.self) { try Names.validate("", what: "symbol") }
        let nul = #expect(throws: StrataError.self) { try Names.validate("AB\u{0}C", what: "symbol") }
        #expect(nul?.message.contains("NUL at byte 2") == true)
        let ctl = #expect(throws: StrataError.self) { try Names.validate("A\nB", what: "measurement") }
        #expect(ctl?.message.contains("control character 0xA") == true)
        #expect(ctl?.message.hasPrefix("measurement") == true)
        let long = #expect(throws: StrataError.self) { try Names.validate(String(repeating: "x", count: 2048), what: "symbol") }
        #expect(long?.message.contains("2048 bytes long; the limit is 128") == true)
        #expect((try? Names.validate(String(repeating: "x", count: 128), what: "symbol")) != nil)
    }

    @Test func segmentIDsAreSixteenHexDigits() {
        let id = SegmentID(42)
        #expect(id.fileName == "000000000000002a.seg")
        #expect(SegmentID(fileName: id.fileName) == id)
        #expect(SegmentID(fileName: "2a.seg") == nil)
        #expect(SegmentID(fileName: ".000000000000002a.seg.tmp") == nil)
    }
}

@Suite struct CivilTimeTests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", Int64(0)),
        ("2024-01-02T14:30:00.123456789Z", Int64(1_704_205_800_123_456_789)),
        ("2024-01-02 14:30:00.5", Int64(1_704_205_800_500_000_000)),
        ("2024-01-02T23:30:00+09:00", Int64(1_704_205_800_000_000_000)),
        ("2024-01-02T09:30:00-0500", Int64(1_704_205_800_000_000_000)),
        ("2024-02-29", Int64(1_709_164_800_000_000_000)),
        ("1969-12-31T23:59:59.999999999Z", Int64(-1)),
        ("2262-04-11T23:47:16.854775807Z", Int64.max),
        ("1677-09-21T00:12:43.145224192Z", Int64.min),
    ])
    func parses(_ text: String, _ expected: Int64) {
        #expect(CivilTime.parse(text) == .success(expected))
    }

    @Test(arguments: ["2023-02-29", "2024-13-01", "2024-01-02T25:00", "20240102", "2024-01-02T10:00:00Zjunk", "2024-01-02T10:00:00.",
                      "2024-01-02T10:00:00.1234567891"])
    func rejectsMalformed(_ text: String) {
        guard case .failure(.syntax) = CivilTime.parse(text) else {
            Issue.record("accepted \(text)")
            return
        }
    }

    @Test func aDateAloneEndingARangeIsItsLastNanosecond() throws {
        #expect(try CivilTime.parseRangeEnd("2024-01-02", what: "to") == 1_704_239_999_999_999_999)
        #expect(try CivilTime.parseRangeEnd("2024-01-02T00:00:00Z", what: "to") == 1_704_153_600_000_000_000)
        #expect(try CivilTime.parseRangeEnd("1704153600", what: "to") == 1_704_153_600_000_000_000)
        #expect(try CivilTime.parseRangeEnd("2262-04-11", what: "to") == Int64.max)
    }

    @Test func outOfRangeIsNamed() {
        #expect(CivilTime.parse("2262-04-12T00:00:00Z") == .failure(.outOfRange))
        #expect(CivilTime.parse("1600-01-01") == .failure(.outOfRange))
    }

    @Test func formatsWithNanoseconds() {
        #expect(CivilTime.format(1_704_205_800_123_456_789) == "2024-01-02T14:30:00.123456789Z")
        #expect(CivilTime.format(-1) == "1969-12-31T23:59:59.999999999Z")
        #expect(CivilTime.format(Int64.min) == "1677-09-21T00:12:43.145224192Z")
    }

    @Test func roundTripsRandomTimes() {
        var rng = SyntheticTicks.Random(seed: 7)
        for _ in 0..<2000 {
            let t = Int64(bitPattern: rng.next())
            #expect(CivilTime.parse(CivilTime.format(t)) == .success(t))
        }
    }

    @Test func daysCutAtMidnight() {
        #expect(Day(containing: 0).description == "1970-01-01")
        #expect(Day(containing: -1).description == "1969-12-31")
        #expect(Day(containing: ns("2024-01-02T23:59:59.999999999Z")).description == "2024-01-02")
        #expect(Day(containing: ns("2024-01-03T00:00:00Z")).description == "2024-01-03")
        // A day zone five hours behind UTC: 03:00Z belongs to the previous day.
        #expect(Day(containing: ns("2024-01-03T03:00:00Z"), offsetSeconds: -5 * 3600).description == "2024-01-02")
        #expect(Day("2024-01-02")?.startNanoseconds == ns("2024-01-02T00:00:00Z"))
        #expect(Day("2024-02-30") == nil)
    }
}

/// The symbol lists of `--symbol` and `symbol=`: commas separate, `\,` and `\\` escape.
@Test(arguments: [
    ("ESH4", ["ESH4"]), ("ESH4,NQH4", ["ESH4", "NQH4"]), ("BRK A\\,B,ESH4", ["BRK A,B", "ESH4"]),
    ("a\\\\,b", ["a\\", "b"]), ("a\\b", ["a\\b"]), ("a\\", ["a\\"]), (",x,", ["", "x", ""]), ("", [""]),
])
func symbolListsSplitOnUnescapedCommas(_ text: String, _ names: [String]) {
    #expect(Names.splitList(text) == names)
}
