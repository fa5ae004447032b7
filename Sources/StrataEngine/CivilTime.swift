import Glibc
import StrataPlatform
/// Proleptic Gregorian calendar arithmetic (Howard Hinnant's days_from_civil), with
/// RFC 3339 parsing and formatting at nanosecond precision. No Foundation: this runs
/// per row on the ingest path.
public enum CivilTime {
    /// The current UTC time in nanoseconds since the epoch (the wall clock).
    public static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    public static func days(fromCivil y: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y - 1 : y
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func civil(fromDays z: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = z + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    public static func daysInMonth(_ y: Int64, _ m: Int64) -> Int64 {
        switch m {
        case 2: return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// Formats nanoseconds since the epoch as RFC 3339 UTC with nine fractional digits:
    /// `2024-01-02T14:30:00.123456789Z`.
    public static func format(_ ns: Int64) -> String {
        var secs = ns / 1_000_000_000
        var frac = ns % 1_000_000_000
        if frac < 0 { frac += 1_000_000_000; secs -= 1 }
        var days = secs / 86_400
        var sod = secs % 86_400
        if sod < 0 { sod += 86_400; days -= 1 }
        let c = civil(fromDays: days)
        // Int64 nanoseconds span the years 1677 to 2262: always four year digits, so the
        // text is always 30 bytes, written digit by digit into one string (this runs once
        // per row or bar of a query's output).
        return String(unsafeUninitializedCapacity: 30) { out in
            func put(_ value: Int64, _ width: Int, at start: Int) {
                var v = value
                for i in stride(from: start + width - 1, through: start, by: -1) {
                    out[i] = UInt8(truncatingIfNeeded: 48 + v % 10)
                    v /= 10
                }
            }
            put(c.year, 4, at: 0); out[4] = UInt8(ascii: "-")
            put(c.month, 2, at: 5); out[7] = UInt8(ascii: "-")
            put(c.day, 2, at: 8); out[10] = UInt8(ascii: "T")
            put(sod / 3600, 2, at: 11); out[13] = UInt8(ascii: ":")
            put(sod / 60 % 60, 2, at: 14); out[16] = UInt8(ascii: ":")
            put(sod % 60, 2, at: 17); out[19] = UInt8(ascii: ".")
            put(frac, 9, at: 20); out[29] = UInt8(ascii: "Z")
            return 30
        }
    }

    public enum ParseError: Error, Equatable {
        case syntax(String)
        case outOfRange
    }

    /// Parses RFC 3339 / ISO 8601 date-times: `YYYY-MM-DD`, then optionally `T` or a space,
    /// `hh:mm[:ss[.fraction]]` (up to 9 fractional digits), and an optional zone `Z`,
    /// `±hh:mm` or `±hhmm`; no zone means UTC. Returns nanoseconds since the epoch.
    @inline(__always)
    static func digits(_ bytes: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ count: Int) -> Int64? {
        guard i + count <= bytes.count else { return nil }
        var v: Int64 = 0
        for k in 0..<count {
            let d = bytes[i + k] &- 48
            guard d < 10 else { return nil }
            v = v * 10 + Int64(d)
        }
        i += count
        return v
    }

    @inline(__always)
    static func expect(_ bytes: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ c: UInt8) -> Bool {
        guard i < bytes.count, bytes[i] == c else { return false }
        i += 1
        return true
    }

    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<Int64, ParseError> {
        var i = 0
        let n = bytes.count
        guard let year = digits(bytes, &i, 4), expect(bytes, &i, 45), let month = digits(bytes, &i, 2),
              expect(bytes, &i, 45), let day = digits(bytes, &i, 2) else {
            return .failure(.syntax("expected YYYY-MM-DD"))
        }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year, month) else {
            return .failure(.syntax("no such date \(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"))
        }
        var seconds = days(fromCivil: year, month, day) * 86_400
        var fraction: Int64 = 0
        if i < n && (bytes[i] == 84 || bytes[i] == 116 || bytes[i] == 32) {  // T, t, space
            i += 1
            guard let hh = digits(bytes, &i, 2), expect(bytes, &i, 58), let mm = digits(bytes, &i, 2) else {
                return .failure(.syntax("expected hh:mm after the date"))
            }
            var ss: Int64 = 0
            if expect(bytes, &i, 58) {
                guard let s = digits(bytes, &i, 2) else { return .failure(.syntax("expected two digits of seconds")) }
                ss = s
                if i < n && (bytes[i] == 46 || bytes[i] == 44) {  // . or ,
                    i += 1
                    var count = 0
                    while i < n, bytes[i] >= 48, bytes[i] <= 57 {
                        if count < 9 { fraction = fraction * 10 + Int64(bytes[i] - 48) } else if bytes[i] != 48 {
                            return .failure(.syntax("more than nanosecond precision"))
                        }
                        count += 1
                        i += 1
                    }
                    guard count > 0 else { return .failure(.syntax("expected digits after the decimal point")) }
                    for _ in count..<max(count, 9) { fraction *= 10 }
                }
            }
            guard hh <= 23, mm <= 59, ss <= 60 else { return .failure(.syntax("time of day out of range")) }
            seconds += hh * 3600 + mm * 60 + ss
            if i < n {
                let c = bytes[i]
                if c == 90 || c == 122 {  // Z
                    i += 1
                } else if c == 43 || c == 45 {  // + -
                    i += 1
                    guard let oh = digits(bytes, &i, 2) else { return .failure(.syntax("expected zone hours")) }
                    _ = expect(bytes, &i, 58)
                    guard let om = digits(bytes, &i, 2), oh <= 23, om <= 59 else { return .failure(.syntax("expected zone minutes")) }
                    let offset = oh * 3600 + om * 60
                    seconds += c == 43 ? -offset : offset
                }
            }
        }
        guard i == n else { return .failure(.syntax("unexpected text after the time")) }
        // For times before the epoch, borrow a second so that the product stays in range
        // down to Int64.min (1677-09-21T00:12:43.145224192Z).
        if seconds < 0 && fraction > 0 {
            seconds += 1
            fraction -= 1_000_000_000
        }
        let (a, o1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (b, o2) = a.addingReportingOverflow(fraction)
        if o1 || o2 { return .failure(.outOfRange) }
        return .success(b)
    }

    /// A time given by a person: RFC 3339, a date, or an epoch integer whose unit its
    /// magnitude tells (seconds, milliseconds, microseconds or nanoseconds). `what` names
    /// it in errors (`--from`, `'from'`).
    public static func parseInstant(_ text: String, what: String) throws(StrataError) -> Int64 {
        if let v = Int64(text) {
            let (t, overflow) = v.multipliedReportingOverflow(by: TimeUnit.guess(v).nanoseconds)
            guard !overflow else { throw StrataError(.invalidInput, "\(what) \(text) is out of range") }
            return t
        }
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        if !digits.isEmpty && digits.allSatisfy({ $0.isASCII && $0.isNumber }) {
            throw StrataError(.invalidInput, "\(what) \(text) is out of range (an epoch integer must fit in 64 bits)")
        }
        switch parse(text) {
        case .success(let t): return t
        case .failure(.outOfRange): throw StrataError(.invalidInput, "\(what) '\(text)' is outside 1677-09-21…2262-04-11")
        case .failure(.syntax(let why)):
            throw StrataError(.invalidInput, "\(what) '\(text)' is not a time (RFC 3339, a date or an epoch integer): \(why)")
        }
    }

    /// Parses the end of an inclusive time range: as `parseInstant`, except that a date
    /// alone (`2024-01-02`) stands for the whole day and so ends at its last nanosecond
    /// (for the last representable day, at the last representable time).
    public static func parseRangeEnd(_ text: String, what: String) throws(StrataError) -> Int64 {
        let t = try parseInstant(text, what: what)
        guard Int64(text) == nil, text.utf8.count == 10 else { return t }
        let (end, overflow) = t.addingReportingOverflow(Day.nanosecondsPerDay - 1)
        return overflow ? .max : end
    }

    public static func parse(_ text: String) -> Result<Int64, ParseError> {
        var t = text
        return t.withUTF8 { parse($0) }
    }
}

/// Units for epoch-integer timestamps.
public enum TimeUnit: String, Sendable, CaseIterable {
    case s, ms, us, ns

    public var nanoseconds: Int64 {
        switch self {
        case .s: 1_000_000_000
        case .ms: 1_000_000
        case .us: 1_000
        case .ns: 1
        }
    }

    /// The unit an epoch integer of this magnitude most likely has: seconds below 10^11
    /// (year 5138), milliseconds below 10^14, microseconds below 10^17, else nanoseconds.
    public static func guess(_ v: Int64) -> TimeUnit {
        let m = v.magnitude
        if m < 100_000_000_000 { return .s }
        if m < 100_000_000_000_000 { return .ms }
        if m < 100_000_000_000_000_000 { return .us }
        return .ns
    }
}
