import StrataPlatform

/// How bars divide time: a fixed length (`1m`, `4h`, `1d`), ISO weeks (`1w`, from Monday),
/// or calendar months (`1mo`, `1q`, `1y`), read on a zone's wall clock (UTC unless given)
/// with days that start at `sessionStart` (midnight unless given). A session that opens at
/// noon or later trades on the next date (`17:00`: CME's Monday opens on Sunday evening and
/// counts in Monday's week and month); one that opens in the morning on its own date. Each
/// bar is labelled with its first instant, in UTC.
///
/// - Fixed lengths in UTC with no session start: bars start at multiples of the length since
///   the epoch (what Strata has always done).
/// - Fixed lengths below a day in a zone: bars start at multiples of the length on the zone's
///   wall clock, each instant read with the offset in force at it (an hour repeated when the
///   clocks go back makes two bars, as it is two hours); a bar ends where the clocks change.
/// - Whole days, weeks and months: bars hold the wall-clock dates of their period (a day
///   when the clocks change lasts 23 or 25 hours); a bar starts at the first instant of its
///   first date's session.
public struct BarInterval: Sendable, Equatable, CustomStringConvertible {
    public enum Length: Sendable, Equatable {
        /// Nanoseconds.
        case fixed(Int64)
        /// ISO 8601 weeks, Monday to Sunday.
        case weeks(Int64)
        /// Calendar months: 3 is a quarter (January, April, July, October), 12 a year.
        case months(Int64)
    }

    public let length: Length
    public let zone: TimeZoneRules
    /// Where the day starts on the zone's wall clock, in nanoseconds after midnight.
    public let sessionStart: Int64
    /// UTC bars of a fixed length since the epoch: no calendar to consult.
    private let plain: Bool

    static let day: Int64 = 86_400_000_000_000

    /// `length` on `zone`'s wall clock, days starting at `sessionStart` (0 ≤ it < 1 day).
    public init(_ length: Length, zone: TimeZoneRules = .utc, sessionStart: Int64 = 0) {
        switch length {
        case .fixed(let n), .weeks(let n), .months(let n): precondition(n > 0, "a bar's length must be positive")
        }
        precondition(sessionStart >= 0 && sessionStart < Self.day, "a session starts within the day")
        self.length = length
        self.zone = zone
        self.sessionStart = sessionStart
        if case .fixed = length { plain = zone.name == "UTC" && sessionStart == 0 } else { plain = false }
    }

    /// Bars of `nanoseconds` each, from the epoch, in UTC.
    public init(nanoseconds: Int64) { self.init(.fixed(nanoseconds)) }

    /// A length as a user writes it: a whole number and a unit, ns, us, ms, s, m, h, d (fixed),
    /// w (ISO weeks), mo (months), q (quarters) or y (years): `1m`, `15m`, `1d`, `1w`, `1mo`, `1q`, `1y`.
    public static func parseLength(_ text: String) throws(StrataError) -> Length {
        let units: [(String, Int64?, (Int64) -> Length)] = [
            ("ns", 1, { .fixed($0) }), ("us", 1_000, { .fixed($0) }), ("µs", 1_000, { .fixed($0) }), ("ms", 1_000_000, { .fixed($0) }),
            ("mo", nil, { .months($0) }), ("s", 1_000_000_000, { .fixed($0) }), ("m", 60_000_000_000, { .fixed($0) }),
            ("h", 3_600_000_000_000, { .fixed($0) }), ("d", day, { .fixed($0) }), ("w", nil, { .weeks($0) }),
            ("q", nil, { .months(3 * $0) }), ("y", nil, { .months(12 * $0) }),
        ]
        for (suffix, scale, make) in units where text.hasSuffix(suffix) {
            guard let n = Int64(text.dropLast(suffix.count)), n > 0 else { break }
            // Weeks, months and years: up to the span of Int64 nanoseconds (292 years).
            let (v, overflow) = n.multipliedReportingOverflow(by: scale ?? 1)
            guard !overflow, scale != nil || n <= 12 * 300 else { break }
            return make(v)
        }
        throw StrataError(.invalidInput, "'\(text)' is not a bar length: a positive whole number with a unit ns, us, ms, s, m, h, d, w (ISO weeks), mo (months), q (quarters) or y (years), e.g. 1m, 1d, 1mo", field: "interval")
    }

    /// A time of day at which sessions start: `HH:MM[:SS]`, or a duration under a day
    /// (`17h`, `9h30m` is not one: write `09:30`).
    public static func parseSessionStart(_ text: String) throws(StrataError) -> Int64 {
        let bad = StrataError(.invalidInput, "'\(text)' is not a time of day: HH:MM[:SS] or a duration under a day (17h, 30m)", field: "offset")
        if text.contains(":") {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard (2...3).contains(parts.count), parts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isASCII) }),
                  let h = Int64(parts[0]), let m = Int64(parts[1]), let s = parts.count == 3 ? Int64(parts[2]) : 0,
                  (0..<24).contains(h), (0..<60).contains(m), (0..<60).contains(s) else { throw bad }
            return ((h * 60 + m) * 60 + s) * 1_000_000_000
        }
        guard case .fixed(let n)? = try? parseLength(text), n < day else {
            if text == "0" { return 0 }
            throw bad
        }
        return n
    }

    public var description: String {
        var text: String
        switch length {
        case .fixed(let n): text = Self.fixedText(n)
        case .weeks(let n): text = "\(n)w"
        case .months(let n): text = n % 12 == 0 ? "\(n / 12)y" : n % 3 == 0 ? "\(n / 3)q" : "\(n)mo"
        }
        if zone.name != "UTC" { text += " in \(zone.name)" }
        if sessionStart != 0 { text += " from \(Self.fixedText(sessionStart)) of the day" }
        return text
    }

    static func fixedText(_ n: Int64) -> String {
        for (unit, scale) in [("d", day), ("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)]
        where n % scale == 0 {
            return "\(n / scale)\(unit)"
        }
        return "\(n)ns"
    }

    /// The bar holding `t`: its first instant, and the first instant after it (nil: the bar
    /// runs to the last time there is). A first bar that would begin before the first time
    /// there is begins at Int64.min.
    @inline(__always)
    public func bounds(_ t: Int64) -> (start: Int64, end: Int64?) {
        if plain, case .fixed(let n) = length { return barBounds(t, interval: n) }
        return calendarBounds(t)
    }

    /// Where day D's session starts, relative to D's midnight: `sessionStart` for a session
    /// that opens in the morning (it trades on the date it opens), `sessionStart` − 1 day for
    /// one that opens at noon or later (CME's 17:00: the session of Monday opens on Sunday
    /// evening, and so belongs to Monday's week and month).
    var sessionShift: Int64 { sessionStart >= Self.day / 2 ? sessionStart - Self.day : sessionStart }

    func calendarBounds(_ t: Int64) -> (start: Int64, end: Int64?) {
        let offset = zone.offset(at: t)
        // Wall-clock time with the session's start moved to midnight.
        let local = t.addingSaturating(offset).subtractingSaturating(sessionShift)
        let days: (first: Int64, next: Int64)
        switch length {
        case .fixed(let n) where n % Self.day != 0:
            // Below a day (or not whole days): on the wall clock, with the offset at `t`. The
            // remainder is taken piecewise so that no sum can leave the range of times.
            let a = t.floorModulo(n), b = (offset - sessionShift).floorModulo(n)
            let r = a >= n - b ? a - (n - b) : a + b
            let (start, under) = t.subtractingReportingOverflow(r)
            // Near the earliest time: the bar starts before it, and ends n − r after t.
            let (end, over) = under ? (t + (n - r), false) : start.addingReportingOverflow(n)
            // A bar ends where the clocks change: the rows after it are read with the new
            // offset and fall into bars of their own (the hour repeated when clocks go back),
            // so a bar holds exactly the rows whose own bucket it is.
            let change = zone.nextChange(after: t)
            let capped = over ? change : min(end, change ?? end)
            return (under ? .min : start, capped)
        case .fixed(let n):
            let k = n / Self.day
            let first = local.floorDividing(Self.day).floorDividing(k) * k
            days = (first, first + k)
        case .weeks(let n):
            // 1969-12-29, day −3, was a Monday.
            let span = 7 * n
            let first = (local.floorDividing(Self.day) + 3).floorDividing(span) * span - 3
            days = (first, first + span)
        case .months(let n):
            let c = CivilTime.civil(fromDays: local.floorDividing(Self.day))
            let index = (c.year * 12 + c.month - 1).floorDividing(n) * n
            func firstDay(_ i: Int64) -> Int64 { CivilTime.days(fromCivil: i.floorDividing(12), i.floorModulo(12) + 1, 1) }
            days = (firstDay(index), firstDay(index + n))
        }
        return (instant(ofDay: days.first) ?? .min, instant(ofDay: days.next))
    }

    /// The first instant of the session of local day `day`; nil beyond the range of times.
    func instant(ofDay day: Int64) -> Int64? {
        let (wall, overflow) = day.multipliedReportingOverflow(by: Self.day)
        if overflow { return nil }
        let first = zone.firstInstant(atLocal: wall.addingSaturating(sessionShift))
        return first == .max ? nil : first
    }
}
