/// The period one directory of a series holds: a day (ticks), an ISO week, a calendar month
/// or a calendar year (bars and other sparse data), chosen per measurement when it is made
/// and recorded in `<measurement-dir>/_partition`. Periods are made of the store's days (UTC
/// unless it has a day offset). A partition is named by its directory:
///
///     day    YYYY-MM-DD   2024-03-05
///     week   YYYY-Www     2024-W10    (ISO 8601: Monday to Sunday; the year is the ISO year)
///     month  YYYY-MM      2024-03
///     year   YYYY         2024
public enum PartitionPeriod: String, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case day, week, month, year

    public var description: String { rawValue }

    public static func < (a: PartitionPeriod, b: PartitionPeriod) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The first day of the partition holding day number `day`.
    public func firstDay(of day: Int64) -> Int64 {
        switch self {
        case .day: return day
        // 1969-12-29, day −3, was a Monday.
        case .week: return (day + 3).floorDividing(7) * 7 - 3
        case .month:
            let c = CivilTime.civil(fromDays: day)
            return CivilTime.days(fromCivil: c.year, c.month, 1)
        case .year: return CivilTime.days(fromCivil: CivilTime.civil(fromDays: day).year, 1, 1)
        }
    }

    /// The first day of the partition after the one that starts on `first`.
    public func nextFirstDay(after first: Int64) -> Int64 {
        switch self {
        case .day: return first + 1
        case .week: return first + 7
        case .month:
            let c = CivilTime.civil(fromDays: first)
            return c.month == 12 ? CivilTime.days(fromCivil: c.year + 1, 1, 1) : CivilTime.days(fromCivil: c.year, c.month + 1, 1)
        case .year: return CivilTime.days(fromCivil: CivilTime.civil(fromDays: first).year + 1, 1, 1)
        }
    }

    /// The directory name of the partition that starts on day `first`.
    public func name(firstDay first: Int64) -> String {
        let c = CivilTime.civil(fromDays: first)
        switch self {
        case .day: return CivilTime.pad(c.year, 4) + "-" + CivilTime.pad(c.month, 2) + "-" + CivilTime.pad(c.day, 2)
        case .week:
            // The ISO year is the year of the week's Thursday.
            let thursday = CivilTime.civil(fromDays: first + 3)
            let week = (first + 3 - CivilTime.days(fromCivil: thursday.year, 1, 1)) / 7 + 1
            return CivilTime.pad(thursday.year, 4) + "-W" + CivilTime.pad(week, 2)
        case .month: return CivilTime.pad(c.year, 4) + "-" + CivilTime.pad(c.month, 2)
        case .year: return CivilTime.pad(c.year, 4)
        }
    }

    /// The period and first day a directory name stands for; nil for any other name
    /// (canonical spellings only, so that two names never stand for one partition).
    public static func parse(_ name: String) -> (period: PartitionPeriod, firstDay: Int64)? {
        let bytes = Array(name.utf8)
        func number(_ r: Range<Int>) -> Int64? {
            guard r.upperBound <= bytes.count, bytes[r].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return bytes[r].reduce(0) { $0 * 10 + Int64($1 - 0x30) }
        }
        guard bytes.count >= 4, let year = number(0..<4) else { return nil }
        let found: (PartitionPeriod, Int64)
        switch bytes.count {
        case 4: found = (.year, CivilTime.days(fromCivil: year, 1, 1))
        case 7:
            guard bytes[4] == 0x2D, let month = number(5..<7), (1...12).contains(month) else { return nil }
            found = (.month, CivilTime.days(fromCivil: year, month, 1))
        case 8:
            guard bytes[4] == 0x2D, bytes[5] == 0x57, let week = number(6..<8), week >= 1 else { return nil }
            // Week 1 holds 4 January.
            let jan4 = CivilTime.days(fromCivil: year, 1, 4)
            found = (.week, PartitionPeriod.week.firstDay(of: jan4) + (week - 1) * 7)
        case 10:
            guard bytes[4] == 0x2D, bytes[7] == 0x2D, let month = number(5..<7), let day = number(8..<10),
                  (1...12).contains(month), day >= 1, day <= CivilTime.daysInMonth(year, month) else { return nil }
            found = (.day, CivilTime.days(fromCivil: year, month, day))
        default: return nil
        }
        // A week past the year's last (W53 of a 52-week year) spells another week's name.
        guard found.0.name(firstDay: found.1) == name else { return nil }
        return found
    }
}
