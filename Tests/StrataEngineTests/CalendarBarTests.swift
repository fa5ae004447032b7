import Glibc
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataTestSupport
import Testing

/// Time zones read from the system's zoneinfo, checked against glibc's own reading of the
/// same files (`zdump`), and bars that follow calendars, zones and sessions.
@Suite struct CalendarBarTests {
    /// Every transition `zdump -v` lists for `zone` between 1850 and 2200 (the second
    /// before and the second of each): the UTC second and the offset glibc says is in force.
    func zdump(_ zone: String) -> [(second: Int64, offset: Int64)] {
        guard let pipe = popen("zdump -v -c 1850,2200 \(zone)", "r") else { return [] }
        defer { pclose(pipe) }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        var out: [(Int64, Int64)] = []
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, 512, pipe) != nil {
            let text = String(cString: line)
            // "Zone  Sun Mar 12 06:59:59 2023 UT = Sun Mar 12 01:59:59 2023 EST isdst=0 gmtoff=-18000"
            guard let eq = text.range(of: " UT = "), let g = text.range(of: "gmtoff=") else { continue }
            let ut = text[..<eq.lowerBound].split(separator: " ").suffix(4).map(String.init)
            guard ut.count == 4, let month = months.firstIndex(of: ut[0]), let day = Int64(ut[1]), let year = Int64(ut[3]) else { continue }
            let hms = ut[2].split(separator: ":").compactMap { Int64($0) }
            guard hms.count == 3, let offset = Int64(text[g.upperBound...].prefix { $0 == "-" || $0.isNumber }) else { continue }
            let second = CivilTime.days(fromCivil: year, Int64(month + 1), day) * 86_400 + hms[0] * 3_600 + hms[1] * 60 + hms[2]
            out.append((second, offset))
        }
        return out
    }

    @Test(arguments: ["America/New_York", "Europe/London", "Australia/Sydney", "Australia/Lord_Howe", "Asia/Seoul",
                      "Asia/Kolkata", "America/Sao_Paulo", "Pacific/Chatham", "America/Santiago", "Europe/Dublin", "America/Chicago"])
    func offsetsAgreeWithGlibcAtEveryTransition(_ zone: String) throws {
        let rules = try TimeZoneRules(named: zone)
        let expected = zdump(zone)
        #expect(expected.count >= 2, "zdump listed nothing for \(zone)")
        var wrong: [String] = []
        for (second, offset) in expected where rules.offset(atSecond: second) != offset {
            wrong.append("\(CivilTime.format(second * 1_000_000_000)): \(rules.offset(atSecond: second)) s, glibc \(offset) s")
        }
        #expect(wrong.isEmpty, "\(zone): \(wrong.prefix(5))")
    }

    @Test func zoneNamesThatLeaveTheDirectoryOrDoNotExistAreRefused() {
        for name in ["../etc/passwd", "America/../../etc", "", "/etc/passwd", "Asia//Seoul"] {
            #expect(throws: StrataError.self) { try TimeZoneRules(named: name) }
        }
        do {
            _ = try TimeZoneRules(named: "Mars/Olympus_Mons")
            Issue.record("a missing zone opened")
        } catch {
            #expect(error.code == .notFound && error.message.contains("Mars/Olympus_Mons"))
        }
        let dir = TemporaryDirectory()
        writeFile(dir.path + "/Bad", Array("TZif2 but not really".utf8))
        #expect(throws: StrataError.self) { try TimeZoneRules(named: "Bad", directory: dir.path) }
    }

    @Test func lengthsAndSessionStartsParse() throws {
        #expect(try BarInterval.parseLength("1m") == .fixed(60_000_000_000))
        #expect(try BarInterval.parseLength("250ms") == .fixed(250_000_000))
        #expect(try BarInterval.parseLength("1d") == .fixed(86_400_000_000_000))
        #expect(try BarInterval.parseLength("1w") == .weeks(1))
        #expect(try BarInterval.parseLength("1mo") == .months(1))
        #expect(try BarInterval.parseLength("2q") == .months(6))
        #expect(try BarInterval.parseLength("1y") == .months(12))
        for bad in ["0m", "-1d", "1x", "mo", "1.5h", "9999999999999y", "99999999999d"] {
            #expect(throws: StrataError.self, "\(bad)") { try BarInterval.parseLength(bad) }
        }
        #expect(try BarInterval.parseSessionStart("17:00") == 17 * 3_600_000_000_000)
        #expect(try BarInterval.parseSessionStart("09:30") == 570 * 60_000_000_000)
        #expect(try BarInterval.parseSessionStart("17h") == 17 * 3_600_000_000_000)
        for bad in ["24:00", "9:30", "25h", "1d", "12:60", "x"] {
            #expect(throws: StrataError.self, "\(bad)") { try BarInterval.parseSessionStart(bad) }
        }
    }

    func bounds(_ length: BarInterval.Length, zone: String? = nil, session: String? = nil, _ t: String) throws -> (String, String?) {
        let interval = BarInterval(length, zone: try zone.map { try TimeZoneRules(named: $0) } ?? .utc,
                                   sessionStart: try session.map(BarInterval.parseSessionStart) ?? 0)
        let (start, end) = interval.bounds(ns(t))
        return (CivilTime.format(start), end.map(CivilTime.format))
    }

    @Test func calendarPeriodsInUTC() throws {
        #expect(try bounds(.months(1), "2024-02-15T12:00:00Z") == ("2024-02-01T00:00:00.000000000Z", "2024-03-01T00:00:00.000000000Z"))
        #expect(try bounds(.months(3), "2024-05-10T00:00:00Z") == ("2024-04-01T00:00:00.000000000Z", "2024-07-01T00:00:00.000000000Z"))
        #expect(try bounds(.months(12), "2024-12-31T23:59:59.999999999Z") == ("2024-01-01T00:00:00.000000000Z", "2025-01-01T00:00:00.000000000Z"))
        #expect(try bounds(.months(1), "1969-12-31T23:59:59Z") == ("1969-12-01T00:00:00.000000000Z", "1970-01-01T00:00:00.000000000Z"))
        // ISO weeks start on Monday: 2024-01-04 was a Thursday, 2024-01-01 a Monday.
        #expect(try bounds(.weeks(1), "2024-01-04T10:00:00Z") == ("2024-01-01T00:00:00.000000000Z", "2024-01-08T00:00:00.000000000Z"))
        #expect(try bounds(.weeks(1), "2024-01-07T23:59:59Z") == ("2024-01-01T00:00:00.000000000Z", "2024-01-08T00:00:00.000000000Z"))
        #expect(try bounds(.weeks(1), "1970-01-01T00:00:00Z") == ("1969-12-29T00:00:00.000000000Z", "1970-01-05T00:00:00.000000000Z"))
        // Fixed lengths in UTC are what they always were: multiples since the epoch.
        #expect(try bounds(.fixed(3_600_000_000_000), "2024-01-04T10:30:00Z") == ("2024-01-04T10:00:00.000000000Z", "2024-01-04T11:00:00.000000000Z"))
    }

    @Test func daysFollowTheZoneAndItsClockChanges() throws {
        let day = BarInterval.Length.fixed(86_400_000_000_000)
        // 01:00 in Seoul on 6 March is still the 6th there: the day began at 15:00 UTC the day before.
        #expect(try bounds(day, zone: "Asia/Seoul", "2024-03-05T16:00:00Z") == ("2024-03-05T15:00:00.000000000Z", "2024-03-06T15:00:00.000000000Z"))
        // New York springs forward on 10 March 2024 (a 23-hour day) and falls back on 3 November (25 hours).
        #expect(try bounds(day, zone: "America/New_York", "2024-03-10T12:00:00Z") == ("2024-03-10T05:00:00.000000000Z", "2024-03-11T04:00:00.000000000Z"))
        #expect(try bounds(day, zone: "America/New_York", "2024-11-03T12:00:00Z") == ("2024-11-03T04:00:00.000000000Z", "2024-11-04T05:00:00.000000000Z"))
        // A month in New York starts at local midnight.
        #expect(try bounds(.months(1), zone: "America/New_York", "2024-07-01T03:00:00Z") == ("2024-06-01T04:00:00.000000000Z", "2024-07-01T04:00:00.000000000Z"))
        // CME's trading day opens at 17:00 in Chicago the evening before.
        #expect(try bounds(day, zone: "America/Chicago", session: "17:00", "2024-03-05T23:30:00Z") == ("2024-03-05T23:00:00.000000000Z", "2024-03-06T23:00:00.000000000Z"))
        #expect(try bounds(day, zone: "America/Chicago", session: "17:00", "2024-03-05T22:59:59Z") == ("2024-03-04T23:00:00.000000000Z", "2024-03-05T23:00:00.000000000Z"))
        // Sao Paulo's clocks once jumped at midnight: 2018-11-04 began at 01:00 local, 03:00 UTC.
        #expect(try bounds(day, zone: "America/Sao_Paulo", "2018-11-04T12:00:00Z") == ("2018-11-04T03:00:00.000000000Z", "2018-11-05T02:00:00.000000000Z"))
    }

    @Test func hoursFollowTheWallClockAndARepeatedHourIsTwoBars() throws {
        let hour = BarInterval.Length.fixed(3_600_000_000_000)
        // India is 5:30 ahead: hours start at half past on the UTC clock.
        #expect(try bounds(hour, zone: "Asia/Kolkata", "2024-01-01T00:10:00Z") == ("2023-12-31T23:30:00.000000000Z", "2024-01-01T00:30:00.000000000Z"))
        // 01:30 happens twice in New York on 3 November 2024: two hours, two bars.
        #expect(try bounds(hour, zone: "America/New_York", "2024-11-03T05:30:00Z") == ("2024-11-03T05:00:00.000000000Z", "2024-11-03T06:00:00.000000000Z"))
        #expect(try bounds(hour, zone: "America/New_York", "2024-11-03T06:30:00Z") == ("2024-11-03T06:00:00.000000000Z", "2024-11-03T07:00:00.000000000Z"))
        // A 4-hour bar ends where the clocks go back (06:00 UTC): the rows after it are read
        // with the new offset and make the bar of their own bucket, wherever the blocks cut.
        let four = BarInterval.Length.fixed(4 * 3_600_000_000_000)
        #expect(try bounds(four, zone: "America/New_York", "2024-11-03T05:30:00Z") == ("2024-11-03T04:00:00.000000000Z", "2024-11-03T06:00:00.000000000Z"))
        #expect(try bounds(four, zone: "America/New_York", "2024-11-03T06:30:00Z") == ("2024-11-03T05:00:00.000000000Z", "2024-11-03T09:00:00.000000000Z"))
    }

    @Test func eveningSessionsCountInTheWeekAndMonthOfTheDateTheyTradeFor() throws {
        // CME's Monday session opens on Sunday 7 January 2024 at 17:00 in Chicago (23:00 UTC):
        // it belongs to the ISO week of Monday the 8th, and that week's bar starts then.
        let week = try bounds(.weeks(1), zone: "America/Chicago", session: "17:00", "2024-01-08T00:00:00Z")
        #expect(week == ("2024-01-07T23:00:00.000000000Z", "2024-01-14T23:00:00.000000000Z"))
        // The session opening on 31 January trades for 1 February: February's bar.
        let month = try bounds(.months(1), zone: "America/Chicago", session: "17:00", "2024-02-01T00:30:00Z")
        #expect(month == ("2024-01-31T23:00:00.000000000Z", "2024-02-29T23:00:00.000000000Z"))
        // A morning session trades on the date it opens.
        #expect(try bounds(.months(1), zone: "Asia/Seoul", session: "09:00", "2024-02-01T00:30:00Z") == ("2024-02-01T00:00:00.000000000Z", "2024-03-01T00:00:00.000000000Z"))
    }

    @Test func everyBarHoldsItsTimesOverAllOfInt64() throws {
        let zones: [TimeZoneRules] = [.utc, try TimeZoneRules(named: "America/New_York"), try TimeZoneRules(named: "Australia/Lord_Howe")]
        let lengths: [BarInterval.Length] = [.fixed(60_000_000_000), .fixed(86_400_000_000_000), .fixed(7 * 86_400_000_000_000), .weeks(1), .months(1), .months(3), .months(12)]
        var random = SystemRandomNumberGenerator()
        var times: [Int64] = [.min, .min + 1, -1, 0, 1, .max - 1, .max]
        for _ in 0..<400 { times.append(Int64.random(in: .min ... .max, using: &random)) }
        for zone in zones {
            for length in lengths {
                for session: Int64 in [0, 17 * 3_600_000_000_000] {
                    let interval = BarInterval(length, zone: zone, sessionStart: session)
                    for t in times {
                        let (start, end) = interval.bounds(t)
                        #expect(start <= t && (end.map { t < $0 } ?? true), "\(interval) at \(t): \(start) … \(end.map(String.init) ?? "end")")
                        // The bar's first instant lies in the same bar.
                        if start != .min { #expect(interval.bounds(start).start == start, "\(interval) at \(t)") }
                    }
                }
            }
        }
    }

    @Test func monthlyBarsOfDailyRowsPickOpenAndCloseByArrivalAtEqualTimes() throws {
        let dir = TemporaryDirectory()
        let store = try Store(directory: dir.path, configuration: StoreConfiguration(rowsPerBlock: 16), create: true)
        let series = try SeriesKey(measurement: "bar", symbol: "005930")
        let schema = [Field("close", .float64), Field("volume", .int64)]
        // One row a day at 06:30 UTC (15:30 in Seoul) from 2024-01-01 to 2024-03-31, and two
        // rows at the same instant on the last day of February: the later one closes the month.
        var times: [Int64] = [], closes: [Double] = [], volumes: [Int64] = []
        let first = CivilTime.days(fromCivil: 2024, 1, 1)
        for d in first..<CivilTime.days(fromCivil: 2024, 4, 1) {
            let t = d * 86_400_000_000_000 + 23_400_000_000_000
            times.append(t); closes.append(Double(d - first + 100)); volumes.append(10)
            if d == CivilTime.days(fromCivil: 2024, 2, 29) { times.append(t); closes.append(1.5); volumes.append(1) }
        }
        let rows = RowBlock(timestamps: times, columns: [Column(.float64(closes)), Column(.int64(volumes))])
        _ = try store.write(series, schema: schema, rows: rows)
        let spec = BarSpec(interval: BarInterval(.months(1), zone: try TimeZoneRules(named: "Asia/Seoul")), source: .ticks(price: "close", volume: "volume"))
        let bars = try store.bars(series, spec: spec)
        #expect(bars.map { CivilTime.format($0.start) } == ["2023-12-31T15:00:00.000000000Z", "2024-01-31T15:00:00.000000000Z", "2024-02-29T15:00:00.000000000Z"])
        #expect(bars.map(\.count) == [31, 30, 31] && bars.map(\.open) == [100, 131, 160] && bars.map(\.close) == [130, 1.5, 190])
        #expect(bars.map(\.volume) == [310, 291, 310])
    }
}
