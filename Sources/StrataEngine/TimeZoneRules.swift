import StrataPlatform

/// A time zone's offsets from UTC over time, read from the system's zoneinfo (TZif files,
/// RFC 8536: the 64-bit transitions of version 2 and later, then the footer's POSIX TZ rule
/// for times after the last transition). What calendar bars need: the offset in force at
/// an instant, and the first instant of a local wall-clock time.
public struct TimeZoneRules: Sendable, Equatable, CustomStringConvertible {
    /// The zone's IANA name (`Asia/Seoul`), or `UTC`.
    public let name: String
    /// Seconds of each transition, ascending, and the offset (seconds east of UTC) from it on.
    let transitions: [Int64]
    let offsets: [Int64]
    /// The offset before the first transition.
    let initialOffset: Int64
    /// The rule after the last transition (nil: the last offset stays).
    let rule: PosixRule?

    public var description: String { name }

    /// UTC: no offset ever.
    public static let utc = TimeZoneRules(name: "UTC", transitions: [], offsets: [], initialOffset: 0, rule: nil)

    /// The zone `name` (an IANA name such as `America/New_York`) from `directory`.
    public init(named name: String, directory: String = "/usr/share/zoneinfo") throws(StrataError) {
        guard Self.isZoneName(name) else {
            throw StrataError(.invalidInput, "'\(name)' is not a time zone name (an IANA name such as Asia/Seoul or America/New_York)", field: "tz")
        }
        let path = directory + "/" + name
        guard FileSystem.exists(path), !FileSystem.isDirectory(path) else {
            throw StrataError(.notFound, "no time zone '\(name)' in \(directory) (IANA names such as Asia/Seoul or America/New_York; Debian's tzdata package holds them)", field: "tz")
        }
        let bytes = try MappedFile(path: path).withUnsafeBytes { Array($0) }
        try self.init(name: name, tzif: bytes, location: path)
    }

    /// A zone from the bytes of its TZif file; `location` names the file in errors.
    public init(name: String, tzif bytes: [UInt8], location: String) throws(StrataError) {
        var r = TZifReader(bytes: bytes)
        guard let parsed = r.read() else {
            throw StrataError(.corrupt, "not a TZif time zone file (version 2 or later)", path: location, offset: r.failedAt)
        }
        self.init(name: name, transitions: parsed.transitions, offsets: parsed.offsets, initialOffset: parsed.initialOffset, rule: parsed.rule)
    }

    init(name: String, transitions: [Int64], offsets: [Int64], initialOffset: Int64, rule: PosixRule?) {
        self.name = name
        self.transitions = transitions
        self.offsets = offsets
        self.initialOffset = initialOffset
        self.rule = rule
    }

    /// Letters, digits and `/_-+` in parts that are neither empty nor `.` or `..`: a name
    /// that stays inside the zoneinfo directory.
    static func isZoneName(_ name: String) -> Bool {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        return !name.isEmpty && name.utf8.count <= 255 && parts.allSatisfy { part in
            !part.isEmpty && part != "." && part != ".." && part.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A) || c == 0x5F || c == 0x2D || c == 0x2B
            }
        }
    }

    /// The offset east of UTC, in seconds, in force at `seconds` since the epoch (UTC).
    public func offset(atSecond seconds: Int64) -> Int64 {
        guard let last = transitions.last else { return rule?.offset(atSecond: seconds) ?? initialOffset }
        if seconds >= last, let rule { return rule.offset(atSecond: seconds) }
        // The last transition at or before `seconds`.
        var lo = 0, hi = transitions.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if transitions[mid] <= seconds { lo = mid + 1 } else { hi = mid }
        }
        return lo == 0 ? initialOffset : offsets[lo - 1]
    }

    /// The offset in nanoseconds in force at `t` (nanoseconds since the epoch).
    public func offset(at t: Int64) -> Int64 {
        offset(atSecond: t.floorDividing(1_000_000_000)) * 1_000_000_000
    }

    /// The first instant after `t` (nanoseconds) at which the offset changes; nil when it
    /// never does again.
    public func nextChange(after t: Int64) -> Int64? {
        let second = t.floorDividing(1_000_000_000)
        // The first table transition after `second`.
        var lo = 0, hi = transitions.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if transitions[mid] <= second { lo = mid + 1 } else { hi = mid }
        }
        let next: Int64?
        if lo < transitions.count {
            next = transitions[lo]
        } else {
            next = rule?.nextChange(afterSecond: second)
        }
        guard let next else { return nil }
        let (ns, overflow) = next.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? nil : ns
    }

    /// The first instant whose local wall-clock time is `local` or later (both nanoseconds
    /// since the epoch; `local` counts as if the zone's wall clock were UTC). A time that
    /// occurs twice (clocks set back) gives its first occurrence; one that does not occur
    /// (clocks set forward) gives the moment the clocks jumped past it.
    public func firstInstant(atLocal local: Int64) -> Int64 {
        let day: Int64 = 86_400_000_000_000
        // The offsets in force a day either side cover every zone's single transition near it.
        let early = offset(at: local.subtractingSaturating(day)), late = offset(at: local.addingSaturating(day))
        let candidates = [local.subtractingSaturating(early), local.subtractingSaturating(late)].filter { u in
            u.addingSaturating(offset(at: u)) == local
        }
        if let first = candidates.min() { return first }
        // In a gap: the transition lies between the two readings; find it.
        var lo = min(local.subtractingSaturating(early), local.subtractingSaturating(late))
        var hi = max(local.subtractingSaturating(early), local.subtractingSaturating(late))
        // The smallest instant in (lo, hi] whose local time reaches `local`.
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2
            if mid.addingSaturating(offset(at: mid)) >= local { hi = mid } else { lo = mid }
        }
        return hi
    }
}

/// The POSIX TZ rule of a TZif footer (`EST5EDT,M3.2.0,M11.1.0`, `<+09>-9`): a standard
/// offset and, optionally, a daylight-saving offset with the rules for when it starts and ends.
struct PosixRule: Sendable, Equatable {
    /// Seconds east of UTC.
    var standard: Int64
    var daylight: Int64?
    /// When daylight time starts (in standard local time) and ends (in daylight local time).
    var start = DateRule.julian(0, time: 0), end = DateRule.julian(0, time: 0)

    enum DateRule: Sendable, Equatable {
        /// `Jn`: day n of the year (1–365), February 29 never counted.
        case julian(Int64, time: Int64)
        /// `n`: day n of the year (0–365), February 29 counted.
        case zeroBased(Int64, time: Int64)
        /// `Mm.w.d`: weekday d (0 Sunday) of week w (5: the last) of month m.
        case monthWeekDay(Int64, Int64, Int64, time: Int64)

        /// The local second (since the epoch) at which the rule falls in `year`.
        func localSecond(in year: Int64) -> Int64 {
            let jan1 = CivilTime.days(fromCivil: year, 1, 1)
            let leap = CivilTime.daysInMonth(year, 2) == 29
            switch self {
            case .julian(let n, let time):
                return (jan1 + n - 1 + (leap && n >= 60 ? 1 : 0)) * 86_400 + time
            case .zeroBased(let n, let time):
                return (jan1 + n) * 86_400 + time
            case .monthWeekDay(let m, let w, let d, let time):
                let first = CivilTime.days(fromCivil: year, m, 1)
                // 1970-01-01 was a Thursday (weekday 4).
                let firstWeekday = (first + 4).floorModulo(7)
                var day = first + (d - firstWeekday).floorModulo(7) + (w - 1) * 7
                let length = CivilTime.daysInMonth(year, m)
                while day >= first + length { day -= 7 }
                return day * 86_400 + time
            }
        }
    }

    /// The first second after `seconds` at which the rule changes the offset, or nil.
    func nextChange(afterSecond seconds: Int64) -> Int64? {
        guard let daylight else { return nil }
        let year = CivilTime.civil(fromDays: seconds.addingSaturating(standard).floorDividing(86_400)).year
        var candidates: [Int64] = []
        for y in [year - 1, year, year + 1] {
            candidates.append(start.localSecond(in: y) - standard)
            candidates.append(end.localSecond(in: y) - daylight)
        }
        return candidates.filter { $0 > seconds }.min()
    }

    func offset(atSecond seconds: Int64) -> Int64 {
        guard let daylight else { return standard }
        let year = CivilTime.civil(fromDays: seconds.addingSaturating(standard).floorDividing(86_400)).year
        let starts = start.localSecond(in: year) - standard
        let ends = end.localSecond(in: year) - daylight
        let inDaylight = starts < ends ? (seconds >= starts && seconds < ends) : !(seconds >= ends && seconds < starts)
        return inDaylight ? daylight : standard
    }

    /// Parses a rule; nil when it is not one.
    init?(_ text: String) {
        var s = Substring(text)
        guard Self.skipName(&s), let std = Self.time(&s) else { return nil }
        standard = -std
        if s.isEmpty { return }
        guard Self.skipName(&s) else { return nil }
        if let first = s.first, first != "," {
            guard let dst = Self.time(&s) else { return nil }
            daylight = -dst
        } else {
            daylight = standard + 3_600
        }
        // A daylight time without rules for it: left to each implementation, so refused.
        guard s.first == "," else { return nil }
        s = s.dropFirst()
        guard let a = Self.date(&s), s.first == "," else { return nil }
        s = s.dropFirst()
        guard let b = Self.date(&s), s.isEmpty else { return nil }
        start = a
        end = b
    }

    /// A zone abbreviation: letters, or anything between `<` and `>`.
    static func skipName(_ s: inout Substring) -> Bool {
        if s.first == "<" {
            guard let close = s.firstIndex(of: ">") else { return false }
            s = s[s.index(after: close)...]
            return true
        }
        let letters = s.prefix { $0.isLetter }
        guard letters.count >= 3 else { return false }
        s = s.dropFirst(letters.count)
        return true
    }

    /// `[+-]hh[:mm[:ss]]` in seconds.
    static func time(_ s: inout Substring) -> Int64? {
        var sign: Int64 = 1
        if let c = s.first, c == "+" || c == "-" {
            sign = c == "-" ? -1 : 1
            s = s.dropFirst()
        }
        var total: Int64 = 0
        for (i, scale) in [Int64(3_600), 60, 1].enumerated() {
            if i > 0 {
                guard s.first == ":" else { break }
                s = s.dropFirst()
            }
            let digits = s.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count <= 3, let v = Int64(digits) else { return nil }
            total += v * scale
            s = s.dropFirst(digits.count)
        }
        return sign * total
    }

    /// `Jn`, `n` or `Mm.w.d`, then `/time` (default 02:00).
    static func date(_ s: inout Substring) -> DateRule? {
        func number(_ s: inout Substring) -> Int64? {
            let digits = s.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count <= 3 else { return nil }
            s = s.dropFirst(digits.count)
            return Int64(digits)
        }
        func at(_ s: inout Substring) -> Int64? {
            guard s.first == "/" else { return 7_200 }
            s = s.dropFirst()
            return time(&s)
        }
        switch s.first {
        case "J":
            s = s.dropFirst()
            guard let n = number(&s), (1...365).contains(n), let t = at(&s) else { return nil }
            return .julian(n, time: t)
        case "M":
            s = s.dropFirst()
            guard let m = number(&s), (1...12).contains(m), s.first == "." else { return nil }
            s = s.dropFirst()
            guard let w = number(&s), (1...5).contains(w), s.first == "." else { return nil }
            s = s.dropFirst()
            guard let d = number(&s), (0...6).contains(d), let t = at(&s) else { return nil }
            return .monthWeekDay(m, w, d, time: t)
        default:
            guard let n = number(&s), (0...365).contains(n), let t = at(&s) else { return nil }
            return .zeroBased(n, time: t)
        }
    }
}

/// Reads the version-2 (64-bit) part of a TZif file.
struct TZifReader {
    let bytes: [UInt8]
    var position = 0
    /// Where reading failed, for the error.
    var failedAt = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func read() -> (transitions: [Int64], offsets: [Int64], initialOffset: Int64, rule: PosixRule?)? {
        // The version-1 header and data, skipped: its counts size its 32-bit data.
        guard let v1 = header(), v1.version >= 0x32 else { return nil }
        position += v1.timeCount * 5 + v1.typeCount * 6 + v1.charCount + v1.leapCount * 8 + v1.isStdCount + v1.isUTCount
        guard let h = header() else { return nil }
        let start = position
        guard position + h.timeCount * 9 + h.typeCount * 6 + h.charCount + h.leapCount * 12 + h.isStdCount + h.isUTCount <= bytes.count,
              h.typeCount > 0 else {
            failedAt = start
            return nil
        }
        var transitions: [Int64] = []
        for _ in 0..<h.timeCount { transitions.append(Int64(bitPattern: integer(8))) }
        var indices: [Int] = []
        for _ in 0..<h.timeCount { indices.append(Int(bytes[position])); position += 1 }
        var types: [Int64] = []
        for _ in 0..<h.typeCount {
            types.append(Int64(Int32(bitPattern: UInt32(integer(4)))))
            position += 2
        }
        guard indices.allSatisfy({ $0 < types.count }) else {
            failedAt = start
            return nil
        }
        position += h.charCount + h.leapCount * 12 + h.isStdCount + h.isUTCount
        var rule: PosixRule?
        if position < bytes.count, bytes[position] == 0x0A, let close = bytes[(position + 1)...].firstIndex(of: 0x0A) {
            let text = String(decoding: bytes[(position + 1)..<close], as: UTF8.self)
            if !text.isEmpty {
                guard let parsed = PosixRule(text) else {
                    failedAt = position + 1
                    return nil
                }
                rule = parsed
            }
        }
        return (transitions, indices.map { types[$0] }, types[0], rule)
    }

    mutating func header() -> (version: UInt8, isUTCount: Int, isStdCount: Int, leapCount: Int, timeCount: Int, typeCount: Int, charCount: Int)? {
        guard position + 44 <= bytes.count, Array(bytes[position..<(position + 4)]) == Array("TZif".utf8) else {
            failedAt = position
            return nil
        }
        let version = bytes[position + 4]
        position += 20
        var counts: [Int] = []
        for _ in 0..<6 { counts.append(Int(integer(4))) }
        return (version, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5])
    }

    /// A big-endian unsigned integer of `width` bytes.
    mutating func integer(_ width: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<width { v = v << 8 | UInt64(bytes[position + i]) }
        position += width
        return v
    }
}
