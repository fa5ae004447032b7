import StrataEngine
import StrataPlatform

/// When a job of `strata serve` runs: every so often, or once a day at a time of day (UTC),
/// as cron's `M H * * *` would.
public enum JobSchedule: Sendable, Equatable, CustomStringConvertible {
    case every(seconds: Double)
    /// Each day at this many minutes after midnight UTC.
    case daily(minute: Int)

    /// "30m", "1h" (at least 1s), "daily 02:30" (UTC), or "never" (nil).
    public static func parse(_ text: String) throws(StrataError) -> JobSchedule? {
        if text == "never" { return nil }
        if text.hasPrefix("daily ") {
            let clock = text.dropFirst("daily ".count).split(separator: ":", omittingEmptySubsequences: false)
            guard clock.count == 2, clock[0].count == 2, clock[1].count == 2, let h = Int(clock[0]), let m = Int(clock[1]), (0..<24).contains(h),
                  (0..<60).contains(m) else {
                throw StrataError(.invalidInput, "'\(text)' is not a daily time: daily HH:MM (UTC), e.g. daily 02:30")
            }
            return .daily(minute: h * 60 + m)
        }
        let ns: Int64
        do throws(StrataError) {
            ns = try parseDuration(text)
        } catch {
            throw StrataError(.invalidInput, "'\(text)' is not a schedule: a duration of at least 1s (30m, 1h, 1d), daily HH:MM (UTC), or never")
        }
        guard ns >= 1_000_000_000 else { throw StrataError(.invalidInput, "must be at least 1s, daily HH:MM, or never") }
        guard ns <= 366 * Day.nanosecondsPerDay else { throw StrataError(.invalidInput, "must be at most 366d, daily HH:MM, or never") }
        return .every(seconds: Double(ns) / 1e9)
    }

    /// Seconds from `now` (wall clock, ns) until the next run.
    public func delay(from now: Int64) -> Double {
        switch self {
        case .every(let seconds): return seconds
        case .daily(let minute):
            let day = Day.nanosecondsPerDay
            let today = Day(containing: now).daysSinceEpoch * day + Int64(minute) * 60_000_000_000
            let next = today > now ? today : today + day
            return Double(next - now) / 1e9
        }
    }

    public var description: String {
        switch self {
        case .every(let seconds): return "every \(QualityScanner.duration(Int64(seconds * 1e9)))"
        case .daily(let minute): return "daily at \(minute / 60 < 10 ? "0" : "")\(minute / 60):\(minute % 60 < 10 ? "0" : "")\(minute % 60) UTC"
        }
    }
}
