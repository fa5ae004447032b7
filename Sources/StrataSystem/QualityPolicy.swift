import StrataEngine
import StrataPlatform

/// What the data-quality scan counts as a problem (the `quality` section).
public struct QualityPolicy: Sendable, Equatable {
    /// A gap is a silence, within trading hours, longer than `gapFactor` times the series'
    /// median interval between rows and longer than `minGap`.
    public var gapFactor = 20.0
    public var minGap: Int64 = 5 * 60 * 1_000_000_000
    /// Trading hours as minutes after local midnight (`end` < `start`: the session crosses
    /// midnight, and belongs to the day it starts on); nil: all day.
    public var session: (start: Int, end: Int)? {
        get { sessionMinutes.map { ($0[0], $0[1]) } }
        set { sessionMinutes = newValue.map { [$0.start, $0.end] } }
    }
    var sessionMinutes: [Int]?
    /// Trading days, 1 = Monday … 7 = Sunday (of the local day a session starts on).
    public var tradingDays: Set<Int> = Set(1...7)
    /// Local time = UTC + this, for trading hours and days.
    public var utcOffsetSeconds = 0
    /// A price that moves by more than this fraction from the series' previous price is an
    /// outlier (0.1: a 10% jump).
    public var maxJump = 0.1
    /// The scheduled scan looks at each series' rows of this last stretch of time.
    public var lookback: Int64 = Day.nanosecondsPerDay
    /// Fields holding prices (checked for jumps and non-positive values) and volumes.
    public var priceFields: Set<String> = ["price", "bid", "ask", "open", "high", "low", "close",
                                           "open_price", "high_price", "low_price", "close_price"]
    public var volumeFields: Set<String> = ["volume", "size", "qty", "quantity"]

    public init() {}

    /// Nanoseconds of [from, to] that fall within trading hours on trading days.
    public func tradingTime(from: Int64, to: Int64) -> Int64 {
        guard to > from else { return 0 }
        let (whole, overflow) = to.subtractingReportingOverflow(from)
        if session == nil && tradingDays.count == 7 { return overflow ? .max : whole }
        // More than ten years: count it as long (a gap by any measure), not day by day.
        if overflow || whole > 3_653 * Day.nanosecondsPerDay { return overflow ? .max : whole }
        let (start, end) = session ?? (0, 1_440)
        let minute: Int64 = 60_000_000_000
        let day = Day.nanosecondsPerDay
        let offset = Int64(utcOffsetSeconds) * 1_000_000_000
        // Local days whose session can overlap [from, to]: from the day before `from`'s.
        func add(_ a: Int64, _ b: Int64) -> Int64 {
            let (r, overflow) = a.addingReportingOverflow(b)
            return overflow ? (b > 0 ? .max : .min) : r
        }
        let first = Day(containing: add(from, offset)).daysSinceEpoch - 1
        let last = Day(containing: add(to, offset)).daysSinceEpoch
        var total: Int64 = 0
        var d = first
        while d <= last {
            // 1970-01-01 was a Thursday (4).
            let weekday = Int(((d % 7) + 7 + 3) % 7) + 1
            let (midnight, overflow) = d.multipliedReportingOverflow(by: day)
            if tradingDays.contains(weekday), !overflow {
                let open = add(add(midnight, Int64(start) * minute), -offset)
                let close = add(add(midnight, (end > start ? 0 : day) + Int64(end) * minute), -offset)
                total += max(0, min(close, to) - max(open, from))
            }
            d += 1
        }
        return total
    }

    mutating func read(_ file: ConfigurationFile) {
        if let v = file.real("quality", "gap_factor", in: 1...1_000_000) { gapFactor = v }
        if let v = file.duration("quality", "min_gap") { minGap = v }
        if let v = file.parsed("quality", "trading_hours", Self.parseSession) { session = v }
        if let v = file.parsed("quality", "trading_days", Self.parseDays) { tradingDays = v }
        if let v = file.parsed("quality", "utc_offset", Self.parseOffset) { utcOffsetSeconds = v }
        if let v = file.real("quality", "max_jump", in: 0.000_001...1_000_000) { maxJump = v }
        if let v = file.duration("quality", "lookback") {
            if v > 0 { lookback = v } else { file.problem("quality", "lookback", "must be more than zero") }
        }
        if let v = file.parsed("quality", "price_fields", Self.parseNames) { priceFields = v }
        if let v = file.parsed("quality", "volume_fields", Self.parseNames) { volumeFields = v }
    }

    /// "09:00-15:30", or "all" (nil).
    public static func parseSession(_ text: String) throws(StrataError) -> (start: Int, end: Int)? {
        if text == "all" { return nil }
        func minutes(_ s: Substring) -> Int? {
            let p = s.split(separator: ":", omittingEmptySubsequences: false)
            guard p.count == 2, p[0].count == 2, p[1].count == 2, let h = Int(p[0]), let m = Int(p[1]), (0...24).contains(h), (0..<60).contains(m),
                  h * 60 + m <= 1_440 else { return nil }
            return h * 60 + m
        }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let start = minutes(parts[0]), let end = minutes(parts[1]), start != end else {
            throw StrataError(.invalidInput, "trading hours are HH:MM-HH:MM (e.g. 09:00-15:30; 17:00-16:00 crosses midnight) or \"all\", not '\(text)'")
        }
        return (start, end)
    }

    /// "mon-fri", "mon,wed,fri", "all".
    public static func parseDays(_ text: String) throws(StrataError) -> Set<Int> {
        let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        if text == "all" { return Set(1...7) }
        var out: Set<Int> = []
        for item in text.lowercased().split(separator: ",") {
            let ends = item.split(separator: "-", omittingEmptySubsequences: false).map { names.firstIndex(of: String($0.trimmingSpaces())).map { $0 + 1 } }
            switch ends.count {
            case 1 where ends[0] != nil: out.insert(ends[0]!)
            case 2 where ends[0] != nil && ends[1] != nil:
                var d = ends[0]!
                while true {
                    out.insert(d)
                    if d == ends[1]! { break }
                    d = d % 7 + 1
                }
            default:
                throw StrataError(.invalidInput, "trading days are names mon…sun, ranges (mon-fri) and commas, or \"all\", not '\(text)'")
            }
        }
        guard !out.isEmpty else { throw StrataError(.invalidInput, "trading days must name at least one day") }
        return out
    }

    /// "UTC", "+09:00", "-05:00".
    public static func parseOffset(_ text: String) throws(StrataError) -> Int {
        if text == "UTC" || text == "Z" { return 0 }
        let sign = text.first == "-" ? -1 : 1
        let body = text.dropFirst()
        let p = body.split(separator: ":", omittingEmptySubsequences: false)
        guard text.first == "+" || text.first == "-", p.count == 2, p[0].count == 2, p[1].count == 2, let h = Int(p[0]), let m = Int(p[1]),
              h <= 14, m < 60 else {
            throw StrataError(.invalidInput, "a UTC offset is UTC or ±HH:MM (e.g. +09:00), not '\(text)'")
        }
        return sign * (h * 3_600 + m * 60)
    }

    static func parseNames(_ text: String) throws(StrataError) -> Set<String> {
        let names = text.split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw StrataError(.invalidInput, "a list of field names separated by commas, e.g. price,bid,ask") }
        return Set(names)
    }
}
