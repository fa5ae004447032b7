import StrataFormat

/// How to read InfluxDB line protocol.
public struct LineProtocolOptions: Sendable {
    /// The unit of the lines' timestamps (`precision=` of the write API).
    public var precision: TimeUnit = .ns
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

/// The rows of a body of line protocol, one entry per series in the order series first
/// appear, rows in the order of their lines; and what was wrong with the lines left out.
public struct LineProtocolBatch: Sendable {
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
    public static func parse(_ body: UnsafeRawBufferPointer, options: LineProtocolOptions) -> LineProtocolBatch {
        var parser = Parser(options: options)
        var start = 0
        let n = body.count
        var number = 0
        while start < n {
            var end = start
            while end < n && body[end] != 10 { end += 1 }
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

    /// One series' rows as they arrive.
    struct SeriesBuilder {
        var key: SeriesKey
        var names: [String] = []
        var types: [FieldType] = []
        var index: [String: Int] = [:]
        var times: [Int64] = []
        var columns: [ColumnBuilder] = []

        mutating func add(time: Int64, _ fields: [(String, Value)]) {
            let row = times.count
            times.append(time)
            for (name, value) in fields {
                let c: Int
                if let i = index[name] {
                    c = i
                } else {
                    c = names.count
                    index[name] = c
                    names.append(name)
                    types.append(value.type)
                    columns.append(ColumnBuilder(type: value.type, absentRows: row))
                }
                columns[c].append(value, row: row)
            }
            for c in columns.indices where columns[c].count <= row { columns[c].appendAbsent() }
        }

        var rows: Store.SeriesRows {
            Store.SeriesRows(series: key, schema: zip(names, types).map { Field($0, $1) },
                             rows: RowBlock(timestamps: times, columns: columns.map(\.column)))
        }
    }

    struct ColumnBuilder {
        var type: FieldType
        var floats: [Double] = []
        var ints: [Int64] = []
        var bools: [Bool] = []
        var strings: [String] = []
        var presence: [Bool] = []
        var allPresent = true
        var count: Int { presence.count }

        init(type: FieldType, absentRows: Int) {
            self.type = type
            for _ in 0..<absentRows { appendAbsent() }
        }

        mutating func append(_ value: Value, row: Int) {
            presence.append(true)
            switch value {
            case .float(let v): floats.append(v)
            case .int(let v): ints.append(v)
            case .bool(let v): bools.append(v)
            case .string(let v): strings.append(v)
            }
        }

        mutating func appendAbsent() {
            presence.append(false)
            allPresent = false
            switch type {
            case .float64: floats.append(0)
            case .int64: ints.append(0)
            case .bool: bools.append(false)
            case .string: strings.append("")
            }
        }

        var column: Column {
            let values: ColumnValues = switch type {
            case .float64: .float64(floats)
            case .int64: .int64(ints)
            case .bool: .bool(bools)
            case .string: .string(strings)
            }
            return Column(values, presence: allPresent ? nil : presence)
        }
    }

    struct Parser {
        let options: LineProtocolOptions
        var builders: [SeriesKey: Int] = [:]
        var series: [SeriesBuilder] = []
        var batch = LineProtocolBatch()
        /// Field types fixed in this body or in the store, per measurement.
        var types: [String: [String: FieldType]] = [:]

        init(options: LineProtocolOptions) { self.options = options }

        mutating func line(_ line: UnsafeRawBufferPointer, number: Int) {
            var i = 0
            while i < line.count && (line[i] == 32 || line[i] == 9) { i += 1 }
            if i == line.count || line[i] == UInt8(ascii: "#") { return }
            guard line.count <= options.maxLineBytes else {
                return refuse(number, Failure(message: "the line is \(line.count) bytes long; the limit is \(options.maxLineBytes)"))
            }
            do throws(Failure) {
                try parse(line, from: i, number: number)
            } catch {
                refuse(number, error)
            }
        }

        mutating func refuse(_ number: Int, _ failure: Failure) {
            batch.badLines += 1
            if batch.issues.count < 100 { batch.issues.append(IngestIssue(line: number, field: failure.field, message: failure.message)) }
        }

        mutating func parse(_ line: UnsafeRawBufferPointer, from start: Int, number: Int) throws(Failure) {
            var cursor = Cursor(bytes: line, at: start)
            let measurement = try cursor.token(until: [UInt8(ascii: ","), 32], escapable: [UInt8(ascii: ","), 32], what: "measurement")
            guard !measurement.isEmpty else { throw Failure(message: "no measurement") }
            var symbol: String?
            var fields: [(String, Value)] = []
            while cursor.peek == UInt8(ascii: ",") {
                cursor.advance()
                let key = try cursor.token(until: [UInt8(ascii: "="), UInt8(ascii: ","), 32], escapable: [UInt8(ascii: ","), UInt8(ascii: "="), 32], what: "tag key")
                guard cursor.peek == UInt8(ascii: "=") else { throw Failure(message: "tag '\(key)' has no '='") }
                cursor.advance()
                let value = try cursor.token(until: [UInt8(ascii: ","), 32], escapable: [UInt8(ascii: ","), UInt8(ascii: "="), 32], what: "tag value")
                guard !key.isEmpty, !value.isEmpty else { throw Failure(message: "an empty tag key or value (tag '\(key)')") }
                if key == options.symbolTag {
                    symbol = value
                } else {
                    fields.append((key, .string(value)))
                }
            }
            guard cursor.peek == 32 else { throw Failure(message: "no fields (a space must follow the measurement and tags)") }
            while cursor.peek == 32 { cursor.advance() }
            repeat {
                if cursor.peek == UInt8(ascii: ",") { cursor.advance() }
                let key = try cursor.token(until: [UInt8(ascii: "="), UInt8(ascii: ","), 32], escapable: [UInt8(ascii: ","), UInt8(ascii: "="), 32], what: "field key")
                guard !key.isEmpty else { throw Failure(message: "an empty field key") }
                guard cursor.peek == UInt8(ascii: "=") else { throw Failure(message: "field '\(key)' has no '='", field: key) }
                cursor.advance()
                fields.append((key, try value(&cursor, field: key)))
            } while cursor.peek == UInt8(ascii: ",")
            var time = options.now
            if cursor.peek == 32 {
                while cursor.peek == 32 { cursor.advance() }
                let digits = cursor.rest(until: [32, 9])
                if !digits.isEmpty {
                    guard let t = digits.withMemoryRebound(to: UInt8.self, { NumberParsing.int64($0) }) else {
                        throw Failure(message: "the timestamp '\(Self.preview(digits))' is not an integer")
                    }
                    let (scaled, overflow) = t.multipliedReportingOverflow(by: options.precision.nanoseconds)
                    guard !overflow else { throw Failure(message: "the timestamp \(t) in \(options.precision.rawValue) is out of range (years 1677–2262)") }
                    time = scaled
                }
                while cursor.peek == 32 || cursor.peek == 9 { cursor.advance() }
            }
            guard cursor.atEnd else {
                throw Failure(message: "unexpected '\(Self.preview(cursor.rest(until: [])))' after the fields and timestamp")
            }
            guard let symbol else { throw Failure(message: "no '\(options.symbolTag)' tag: it names the series") }
            let key: SeriesKey
            do throws(StrataError) {
                key = try SeriesKey(measurement: measurement, symbol: symbol)
            } catch {
                throw Failure(message: error.message, field: error.field)
            }
            var seen = Set<String>()
            for (name, _) in fields where !seen.insert(name).inserted {
                throw Failure(message: "field '\(name)' appears twice (as a tag or a field)", field: name)
            }
            for (name, value) in fields {
                do throws(StrataError) {
                    try Names.validate(name, what: "field name")
                } catch {
                    throw Failure(message: error.message, field: name)
                }
                if case .string(let s) = value, s.utf8.count > Store.maxStringBytes {
                    throw Failure(message: "field '\(name)' is \(s.utf8.count) bytes; the limit is \(Store.maxStringBytes)", field: name)
                }
            }
            // Types: as this body or the store fixed them; exact conversions only.
            var known = types[measurement] ?? [:]
            for k in fields.indices {
                let (name, value) = fields[k]
                let type = known[name] ?? options.knownType(measurement, name) ?? value.type
                guard let v = value.converted(to: type) else {
                    throw Failure(message: "field '\(name)' is \(type) in measurement '\(measurement)', not \(value.type)", field: name)
                }
                fields[k].1 = v
                known[name] = type
            }
            types[measurement] = known
            let b: Int
            if let existing = builders[key] {
                b = existing
            } else {
                b = series.count
                builders[key] = b
                series.append(SeriesBuilder(key: key))
            }
            series[b].add(time: time, fields)
            batch.rows += 1
        }

        func value(_ cursor: inout Cursor, field: String) throws(Failure) -> Value {
            if cursor.peek == UInt8(ascii: "\"") {
                return .string(try cursor.quoted(field: field))
            }
            let raw = cursor.rest(until: [UInt8(ascii: ","), 32])
            guard let last = raw.last else { throw Failure(message: "field '\(field)' has no value", field: field) }
            switch String(decoding: raw, as: UTF8.self) {
            case "t", "T", "true", "True", "TRUE": return .bool(true)
            case "f", "F", "false", "False", "FALSE": return .bool(false)
            default: break
            }
            if last == UInt8(ascii: "i") || last == UInt8(ascii: "u") {
                let digits = UnsafeRawBufferPointer(rebasing: raw.dropLast())
                guard let v = digits.withMemoryRebound(to: UInt8.self, { NumberParsing.int64($0) }), last == UInt8(ascii: "i") || v >= 0 else {
                    throw Failure(message: "field '\(field)': '\(Self.preview(raw))' is not \(last == UInt8(ascii: "i") ? "an integer (64-bit)" : "an unsigned integer up to 2⁶³−1")", field: field)
                }
                return .int(v)
            }
            switch raw.withMemoryRebound(to: UInt8.self, { NumberParsing.float64($0) }) {
            case .value(let v): return .float(v)
            case .nonFinite(let v):
                guard options.allowNonFinite else { throw Failure(message: "field '\(field)' is \(v), which is refused (allow it with the non-finite option)", field: field) }
                return .float(v)
            case .invalid:
                throw Failure(message: "field '\(field)': '\(Self.preview(raw))' is not a number, boolean or quoted string", field: field)
            }
        }

        static func preview(_ bytes: UnsafeRawBufferPointer) -> String {
            let text = String(decoding: bytes.prefix(40), as: UTF8.self)
            return bytes.count > 40 ? text + "…" : text
        }

        mutating func finish(lines: Int) -> LineProtocolBatch {
            batch.series = series.map(\.rows)
            batch.lines = lines
            return batch
        }
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
