import Glibc
import StrataEngine
import StrataFormat

/// How to read InfluxDB line protocol.
public struct LineProtocolOptions: Sendable {
    /// The unit of the lines' timestamps (`precision=` of the write API).
    public var precision: TimeUnit = .ns
    /// Instead of `precision`, each timestamp's unit is guessed from its magnitude
    /// (`TimeUnit.guess`), as InfluxDB 3's `precision=auto` does.
    public var guessesPrecision = false
    /// The tag naming the series; the line's other tags become string fields.
    public var symbolTag = "symbol"
    /// The time of lines written without one (nanoseconds since the epoch).
    public var now: Int64 = 0
    /// Accept NaN and infinities in float fields.
    public var allowNonFinite = false
    /// Longer lines are refused (with their number).
    public var maxLineBytes = 64 << 10
    /// A field's type as the store already has it, so that a line changing it is refused
    /// on its own instead of failing its whole batch.
    public var knownType: @Sendable (_ measurement: String, _ field: String) -> FieldType? = { _, _ in nil }

    public init() {}
}

/// The rows of a body of line protocol or JSON records, one entry per series in the order
/// series first appear, rows in the order of their lines; and what was wrong with the lines
/// (records) left out.
public struct IngestBatch: Sendable {
    public var series: [Store.SeriesRows] = []
    public var rows = 0
    public var lines = 0
    /// The first 100 problems, each naming its line; `badLines` counts them all.
    public var issues: [IngestIssue] = []
    public var badLines = 0
}

/// InfluxDB line protocol: `measurement[,tag=value…] field=value[,field=value…] [time]`.
///
/// The measurement is Strata's measurement; the `symbol` tag (configurable) names the
/// series; other tags become string fields; fields keep their types (`1.5` and `1` float,
/// `1i` integer, `1u` unsigned integer up to 2⁶³−1, `"…"` string, `t`/`true`/`f`/`false`…
/// boolean). A float written for an integer field, or an integer for a float field, is
/// accepted when the value converts exactly; other type changes are refused. Escapes as
/// InfluxDB's: `\,` `\ ` in measurements, also `\=` in tag keys and values and field keys,
/// `\"` and `\\` in string values. Empty lines and `#` comments are skipped. A bad line is
/// refused with its number and reason; the others are kept.
public enum LineProtocol {
    public static func parse(_ body: UnsafeRawBufferPointer, options: LineProtocolOptions) -> IngestBatch {
        var parser = Parser(options: options)
        var start = 0
        let n = body.count
        var number = 0
        while start < n {
            let end = memchr(body.baseAddress! + start, 10, n - start).map { body.baseAddress!.distance(to: UnsafeRawPointer($0)) } ?? n
            number += 1
            var line = UnsafeRawBufferPointer(rebasing: body[start..<end])
            if let last = line.last, last == 13 { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
            parser.line(line, number: number)
            start = end + 1
        }
        return parser.finish(lines: number)
    }

    /// A parsed field value.
    enum Value {
        case float(Double), int(Int64), bool(Bool), string(String)

        var type: FieldType {
            switch self {
            case .float: .float64
            case .int: .int64
            case .bool: .bool
            case .string: .string
            }
        }

        /// The value as `type`, when it converts exactly.
        func converted(to type: FieldType) -> Value? {
            switch (self, type) {
            case (.float, .float64), (.int, .int64), (.bool, .bool), (.string, .string): return self
            case (.float(let v), .int64):
                guard v.isFinite, v == v.rounded(), v >= -9.223372036854775808e18, v < 9.223372036854775808e18 else { return nil }
                return .int(Int64(v))
            case (.int(let v), .float64):
                guard v.magnitude <= 1 << 53 else { return nil }
                return .float(Double(v))
            default: return nil
            }
        }
    }

    struct Failure: Error {
        var message: String
        var field: String?
    }

    /// Reads tokens from a line.
    struct Cursor {
        let bytes: UnsafeRawBufferPointer
        var at: Int

        init(bytes: UnsafeRawBufferPointer, at: Int) {
            self.bytes = bytes
            self.at = at
        }

        var atEnd: Bool { at >= bytes.count }
        var peek: UInt8? { at < bytes.count ? bytes[at] : nil }
        mutating func advance() { at += 1 }

        /// Bytes up to (not including) the first of `stops`, or to the end.
        mutating func rest(until stops: [UInt8]) -> UnsafeRawBufferPointer {
            let start = at
            while at < bytes.count && !stops.contains(bytes[at]) { at += 1 }
            return UnsafeRawBufferPointer(rebasing: bytes[start..<at])
        }

        /// A token up to the first unescaped byte of `stops`; a backslash before a byte of
        /// `escapable` stands for that byte (before any other byte it is itself).
        mutating func token(until stops: [UInt8], escapable: [UInt8], what: String) throws(LineProtocol.Failure) -> String {
            var out: [UInt8] = []
            var plain = true
            let start = at
            while at < bytes.count {
                let b = bytes[at]
                if b == 92, at + 1 < bytes.count, escapable.contains(bytes[at + 1]) {
                    if plain { out.append(contentsOf: bytes[start..<at]); plain = false }
                    out.append(bytes[at + 1])
                    at += 2
                    continue
                }
                if stops.contains(b) { break }
                if !plain { out.append(b) }
                at += 1
            }
            let raw = plain ? Array(bytes[start..<at]) : out
            guard let s = String(validating: raw, as: UTF8.self) else { throw LineProtocol.Failure(message: "the \(what) is not valid UTF-8") }
            return s
        }

        /// A double-quoted string value, `\"` and `\\` unescaped.
        mutating func quoted(field: String) throws(LineProtocol.Failure) -> String {
            at += 1
            var out: [UInt8] = []
            while at < bytes.count {
                let b = bytes[at]
                if b == 92, at + 1 < bytes.count, bytes[at + 1] == 34 || bytes[at + 1] == 92 {
                    out.append(bytes[at + 1])
                    at += 2
                    continue
                }
                if b == 34 {
                    at += 1
                    guard let s = String(validating: out, as: UTF8.self) else {
                        throw LineProtocol.Failure(message: "field '\(field)' is not valid UTF-8", field: field)
                    }
                    return s
                }
                out.append(b)
                at += 1
            }
            throw LineProtocol.Failure(message: "field '\(field)': the string has no closing quote", field: field)
        }
    }
}
