import StrataFormat
import StrataPlatform

/// Validates measurement and symbol names and maps them to directory names.
///
/// A name is 1…128 bytes of UTF-8 with no NUL or other control character. Any such name
/// is stored: bytes outside `A–Z a–z 0–9 _ - . + = @ ,` are percent-encoded in the
/// directory name (`BTC/USD` → `BTC%2FUSD`), as is a leading `.` or `_`, so a name can
/// never escape its directory (`..` → `%2E.`) nor collide with Strata's own files, whose
/// names start with `_` (schema) or `.` (temporary files).
public enum Names {
    public static let maxBytes = 128

    /// Throws an error naming `what` (e.g. "symbol") and the problem.
    public static func validate(_ name: String, what: String) throws(StrataError) {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { throw StrataError(.invalidInput, "\(what) is empty", field: what) }
        guard bytes.count <= maxBytes else {
            throw StrataError(.invalidInput, "\(what) is \(bytes.count) bytes long; the limit is \(maxBytes): '\(preview(name))'", field: what)
        }
        if let bad = bytes.firstIndex(where: { $0 < 0x20 || $0 == 0x7F }) {
            let c = bytes[bad]
            let label = c == 0 ? "NUL" : "control character 0x\(String(c, radix: 16, uppercase: true))"
            throw StrataError(.invalidInput, "\(what) '\(preview(name))' contains \(label) at byte \(bad)", field: what)
        }
    }

    /// Longest directory name file systems take (ext4, XFS, btrfs: 255 bytes).
    public static let maxDirectoryBytes = 255

    /// `validate`, and the name's directory name must fit a file system's 255 bytes: bytes
    /// written as `%XX` take three, so a name of 128 bytes may not fit.
    public static func validateDirectory(_ name: String, what: String) throws(StrataError) {
        try validate(name, what: what)
        let encoded = directoryName(name).utf8.count
        guard encoded <= maxDirectoryBytes else {
            throw StrataError(.invalidInput, "\(what) '\(preview(name))' takes \(encoded) bytes as a directory name (bytes other than A–Z a–z 0–9 _ - . + = @ , take three, as %XX); the limit is \(maxDirectoryBytes)", field: what)
        }
    }

    package static func preview(_ name: String) -> String {
        let clean = String(String.UnicodeScalarView(name.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
        return clean.count > 40 ? String(clean.prefix(40)) + "…" : clean
    }

    static func isPlain(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "="),
             UInt8(ascii: "@"), UInt8(ascii: ","):
            return true
        default:
            return false
        }
    }

    /// The directory name for a validated name.
    public static func directoryName(_ name: String) -> String {
        var out = ""
        for (i, b) in name.utf8.enumerated() {
            if isPlain(b) && !(i == 0 && (b == UInt8(ascii: ".") || b == UInt8(ascii: "_"))) {
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                out += "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }
        }
        return out
    }

    /// The name a directory stands for, or nil if it is not one Strata wrote (only the
    /// canonical escaping is accepted, so two directories never stand for one name).
    public static func name(fromDirectory dir: String) -> String? {
        var bytes: [UInt8] = []
        var it = Array(dir.utf8)[...]
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%") {
                guard let h = it.popFirst().flatMap(hex), let l = it.popFirst().flatMap(hex) else { return nil }
                bytes.append(h << 4 | l)
            } else {
                bytes.append(b)
            }
        }
        guard let name = String(validating: bytes, as: UTF8.self), directoryName(name) == dir else { return nil }
        return name
    }
}

/// A series: one symbol of one measurement.
public struct SeriesKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let measurement: String
    public let symbol: String

    public init(measurement: String, symbol: String) throws(StrataError) {
        try Names.validateDirectory(measurement, what: "measurement")
        try Names.validateDirectory(symbol, what: "symbol")
        self.measurement = measurement
        self.symbol = symbol
    }

    public static func < (a: SeriesKey, b: SeriesKey) -> Bool {
        (a.measurement, a.symbol) < (b.measurement, b.symbol)
    }

    public var description: String { "\(measurement)/\(symbol)" }
}

/// A partition of a series: the day `daysSinceEpoch` (in the store's day zone, UTC unless
/// configured), or the week, month or year that starts on it (`period`). Most stores hold
/// days, hence the name; `description` is the partition's directory name.
public struct Day: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The partition's first day, in days since 1970-01-01.
    public let daysSinceEpoch: Int64
    public let period: PartitionPeriod

    /// The partition of `period` that holds day number `day`.
    public init(daysSinceEpoch day: Int64, period: PartitionPeriod = .day) {
        self.daysSinceEpoch = period.firstDay(of: day)
        self.period = period
    }

    public static let nanosecondsPerDay: Int64 = 86_400_000_000_000

    /// The partition holding `nanoseconds`, whose days are UTC days shifted by `offsetSeconds`.
    public init(containing nanoseconds: Int64, offsetSeconds: Int64 = 0, period: PartitionPeriod = .day) {
        let shifted = nanoseconds.addingReportingOverflow(offsetSeconds * 1_000_000_000)
        let t = shifted.overflow ? nanoseconds : shifted.partialValue
        self.init(daysSinceEpoch: t.floorDividing(Day.nanosecondsPerDay), period: period)
    }

    public static func < (a: Day, b: Day) -> Bool { (a.daysSinceEpoch, a.period) < (b.daysSinceEpoch, b.period) }

    /// The directory name: "YYYY-MM-DD", "YYYY-Www", "YYYY-MM" or "YYYY".
    public var description: String { period.name(firstDay: daysSinceEpoch) }

    /// The partition a directory name stands for (any period); nil for any other text.
    public init?(_ text: String) {
        guard let (period, first) = PartitionPeriod.parse(text) else { return nil }
        self.init(daysSinceEpoch: first, period: period)
    }

    /// The first day after the partition, in days since 1970-01-01.
    public var nextDay: Int64 { period.nextFirstDay(after: daysSinceEpoch) }

    /// The first and last nanosecond of the partition in a store whose days are shifted by
    /// `offsetSeconds` (exchange days), clamped to Int64: the partitions at the ends of the
    /// range are cut short by it, never overflow.
    public func bounds(offsetSeconds: Int64 = 0) -> ClosedRange<Int64> {
        let shift = Int128(offsetSeconds) * 1_000_000_000
        let start = Int128(daysSinceEpoch) * Int128(Day.nanosecondsPerDay) - shift
        let end = Int128(nextDay) * Int128(Day.nanosecondsPerDay) - shift - 1
        func clamped(_ v: Int128) -> Int64 { v < Int128(Int64.min) ? .min : v > Int128(Int64.max) ? .max : Int64(v) }
        return clamped(start)...clamped(end)
    }

    /// First nanosecond of the partition (UTC), clamped to Int64.
    public var startNanoseconds: Int64 { bounds().lowerBound }
}

/// Identifies a segment within its series-day directory: 16 lowercase hex digits,
/// increasing in creation order, so that file order is arrival order.
public struct SegmentID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let value: UInt64
    public init(_ value: UInt64) { self.value = value }
    public static func < (a: SegmentID, b: SegmentID) -> Bool { a.value < b.value }

    public static let fileExtension = ".seg"

    /// 16 lower-case hex digits.
    public var hex: String { paddedHex(value, digits: 16) }

    public var fileName: String { hex + SegmentID.fileExtension }

    public init?(fileName: String) {
        guard fileName.hasSuffix(SegmentID.fileExtension) else { return nil }
        let hex = fileName.dropLast(SegmentID.fileExtension.count)
        guard hex.count == 16, let v = UInt64(hex, radix: 16) else { return nil }
        value = v
        guard self.fileName == fileName else { return nil }  // canonical: lower-case, no sign
    }

    public var description: String { fileName }
}

extension Names {
    /// The names of every comma-separated list in `texts` (see `splitList`), each once, in the
    /// order first named.
    public static func distinctNames(_ texts: [String]) -> [String] {
        var seen = Set<String>()
        return texts.flatMap(splitList).filter { seen.insert($0).inserted }
    }

    /// A list of names separated by commas, as `--symbol` and the query API's `symbol=`
    /// take it: `\,` is a comma within a name and `\\` a backslash (`BRK\,A,ESH4` is
    /// `BRK,A` and `ESH4`); a backslash before anything else stands for itself. Empty names
    /// are kept (the caller refuses them by name).
    public static func splitList(_ text: String) -> [String] {
        var names: [String] = []
        var current = ""
        var escaped = false
        for c in text {
            if escaped {
                if c != "," && c != "\\" { current.append("\\") }
                current.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "," {
                names.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        if escaped { current.append("\\") }
        names.append(current)
        return names
    }
}
