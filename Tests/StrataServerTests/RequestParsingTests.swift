import HTTPTypes
import StrataEngine
import StrataPlatform
@testable import StrataServer
import Testing

/// What the server decides from a request's line and headers alone, in process: query
/// parameters, byte ranges, API key schemes and the role each route needs.
@Suite struct RequestParsingTests {
    func parameters(_ pairs: [(String, String)]) -> [(name: String, value: String)] { pairs.map { (name: $0.0, value: $0.1) } }

    @Test func queryParametersAreReadAndCheckedByName() throws {
        let q = try StrataServer.queryRequest(parameters([("measurement", "trade"), ("symbol", "ESH4,BRK\\,A"), ("symbol", "ESH4"),
                                                         ("interval", "1m"), ("ohlcv", "price,size"), ("format", "csv")]))
        #expect(q.series.map(\.symbol) == ["ESH4", "BRK,A"])
        #expect(q.bars?.interval == BarInterval(nanoseconds: 60_000_000_000) && q.format == .csv)
        let calendar = try StrataServer.queryRequest(parameters([("measurement", "bar"), ("symbol", "005930"), ("interval", "1mo"),
                                                                ("ohlcv", "open,high,low,close"), ("tz", "Asia/Seoul"), ("offset", "09:00")]))
        #expect(calendar.bars?.interval == BarInterval(.months(1), zone: try TimeZoneRules(named: "Asia/Seoul"), sessionStart: 9 * 3_600_000_000_000))
        let cases: [([(String, String)], String, String)] = [
            ([("measurement", "trade"), ("symbol", "A"), ("form", "csv")], "form", "unknown parameter 'form'"),
            ([("measurement", "trade"), ("measurement", "quote"), ("symbol", "A")], "measurement", "given more than once"),
            ([("symbol", "A")], "measurement", "'measurement' is required"),
            ([("measurement", "trade")], "symbol", "'symbol' is required"),
            ([("measurement", "trade"), ("symbol", "A"), ("interval", "1m")], "interval", "go together"),
            ([("measurement", "trade"), ("symbol", "A"), ("interval", "0s"), ("ohlcv", "price")], "interval", "a positive whole number"),
            ([("measurement", "trade"), ("symbol", "A"), ("interval", "1d"), ("ohlcv", "price"), ("tz", "Mars/Olympus_Mons")], "tz", "no time zone 'Mars/Olympus_Mons'"),
            ([("measurement", "trade"), ("symbol", "A"), ("interval", "1d"), ("ohlcv", "price"), ("tz", "../../etc/passwd")], "tz", "not a time zone name"),
            ([("measurement", "trade"), ("symbol", "A"), ("interval", "1d"), ("ohlcv", "price"), ("offset", "25:00")], "offset", "not a time of day"),
            ([("measurement", "trade"), ("symbol", "A"), ("tz", "Asia/Seoul")], "tz", "it needs 'interval' and 'ohlcv'"),
            ([("measurement", "trade"), ("symbol", "A"), ("from", "2024-01-03"), ("to", "2024-01-02")], "from", "'from' is after 'to'"),
            ([("measurement", "trade"), ("symbol", "A"), ("time_format", "s")], "time_format", "rfc3339 or ns"),
            ([("measurement", "trade"), ("symbol", (0...1_000).map { "S\($0)" }.joined(separator: ","))], "symbol", "the limit is 1000"),
        ]
        for (given, field, words) in cases {
            #expect {
                _ = try StrataServer.queryRequest(parameters(given))
            } throws: { error in
                guard let e = error as? StrataError else { return false }
                return e.code == .invalidInput && e.field == field && e.message.contains(words)
            }
        }
    }

    @Test func byteRangesFollowRFC9110() {
        #expect(StrataServer.byteRange("bytes=0-9", size: 20)! == (0, 9))
        #expect(StrataServer.byteRange("bytes=10-", size: 20)! == (10, 19))
        #expect(StrataServer.byteRange("bytes=-5", size: 20)! == (15, 19))
        #expect(StrataServer.byteRange("bytes=-50", size: 20)! == (0, 19))
        #expect(StrataServer.byteRange("bytes=5-500", size: 20)! == (5, 19))
        for unsatisfiable in ["bytes=20-", "bytes=9-3", "bytes=0-1,4-5", "bytes=-0", "items=0-1", "bytes=x-1"] {
            #expect(StrataServer.byteRange(unsatisfiable, size: 20) == nil, "\(unsatisfiable)")
        }
    }

    @Test func keysComeAsBearerOrTokenInAnyCase() {
        #expect(AuthMiddleware.token("Bearer abc") == "abc")
        #expect(AuthMiddleware.token("bearer  abc ") == "abc")
        #expect(AuthMiddleware.token("TOKEN abc") == "abc")
        #expect(AuthMiddleware.token("Basic abc") == nil)
        #expect(AuthMiddleware.token("Bearer ") == nil)
    }

    @Test func eachRouteNeedsItsRole() {
        #expect(AuthMiddleware.required(.get, "/health") == nil && AuthMiddleware.required(.head, "/ready") == nil && AuthMiddleware.required(.get, "/ping") == nil)
        #expect(AuthMiddleware.required(.post, "/api/v2/write") == .write && AuthMiddleware.required(.post, "/api/v3/write_lp") == .write)
        #expect(AuthMiddleware.required(.get, "/api/v1/query") == .read && AuthMiddleware.required(.get, "/metrics") == .read)
        #expect(AuthMiddleware.required(.get, "/status") == .admin && AuthMiddleware.required(.delete, "/api/v1/query") == .admin)
    }
}
