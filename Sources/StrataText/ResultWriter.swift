import StrataEngine
import StrataFormat

/// Query results as CSV or JSON text, shared by `strata query` and the HTTP query API.
///
/// Raw rows: `time,symbol,<fields in schema order>` (CSV with a header; JSON an array of
/// objects). Bars: `time,symbol,open,high,low,close,volume,count,vwap`. Times are RFC 3339
/// UTC with nanoseconds, or integers of nanoseconds. Absent values are empty in CSV and
/// `null` in JSON; JSON has no NaN or infinity, so those are `null` there. Output is
/// appended piece by piece, so a large result can be streamed.
public struct ResultWriter: Sendable {
    public enum Format: String, Sendable, CaseIterable { case csv, json }
    public enum TimeFormat: String, Sendable, CaseIterable { case rfc3339, ns }

    public let format: Format
    public let timeFormat: TimeFormat
    private var records = 0

    public init(format: Format, timeFormat: TimeFormat) {
        self.format = format
        self.timeFormat = timeFormat
    }

    /// The start of a raw-row result with these fields.
    public func beginRows(_ schema: [Field], into out: inout String) {
        if format == .csv {
            out += (["time", "symbol"] + schema.map { TextFormat.csvQuoted($0.name) }).joined(separator: ",") + "\n"
        } else {
            out += "["
        }
    }

    /// The start of a bar result.
    public func beginBars(into out: inout String) {
        out += format == .csv ? "time,symbol,open,high,low,close,volume,count,vwap\n" : "["
    }

    /// Rows `range` of one series' result.
    public mutating func rows(_ result: QueryResult, range: Range<Int>? = nil, into out: inout String) {
        let rows = result.rows
        let names = result.schema.map { TextFormat.jsonString($0.name) }
        let symbol = format == .csv ? TextFormat.csvQuoted(result.series.symbol) : TextFormat.jsonString(result.series.symbol)
        for i in range ?? 0..<rows.rowCount {
            if format == .csv {
                out += time(rows.timestamps[i]) + "," + symbol
                for c in rows.columns {
                    out += ","
                    if c.isPresent(i) { out += TextFormat.csvText(c.values, i) }
                }
                out += "\n"
            } else {
                out += (records == 0 ? "\n" : ",\n") + "{\"time\":" + jsonTime(rows.timestamps[i]) + ",\"symbol\":" + symbol
                for (k, c) in rows.columns.enumerated() {
                    out += "," + names[k] + ":" + (c.isPresent(i) ? TextFormat.jsonValue(c.values, i) : "null")
                }
                out += "}"
            }
            records += 1
        }
    }

    /// One series' bars.
    public mutating func bars(_ bars: [Bar], symbol: String, into out: inout String) {
        func number(_ v: Double?) -> String {
            guard let v else { return format == .csv ? "" : "null" }
            if format == .json && !v.isFinite { return "null" }
            return TextFormat.double(v)
        }
        // Pieces are appended to `out` one by one (no line-sized temporary string per bar),
        // and the symbol is quoted once.
        out.reserveCapacity(out.utf8.count + bars.count * 200)
        if format == .csv {
            let quoted = TextFormat.csvQuoted(symbol)
            for b in bars {
                out += time(b.start); out += ","; out += quoted
                out += ","; out += number(b.open); out += ","; out += number(b.high)
                out += ","; out += number(b.low); out += ","; out += number(b.close)
                out += ","; out += number(b.volume); out += ","; out += String(b.count)
                out += ","; out += number(b.vwap); out += "\n"
                records += 1
            }
        } else {
            let quoted = TextFormat.jsonString(symbol)
            for b in bars {
                out += records == 0 ? "\n" : ",\n"
                out += "{\"time\":"; out += jsonTime(b.start); out += ",\"symbol\":"; out += quoted
                out += ",\"open\":"; out += number(b.open); out += ",\"high\":"; out += number(b.high)
                out += ",\"low\":"; out += number(b.low); out += ",\"close\":"; out += number(b.close)
                out += ",\"volume\":"; out += number(b.volume); out += ",\"count\":"; out += String(b.count)
                out += ",\"vwap\":"; out += number(b.vwap); out += "}"
                records += 1
            }
        }
    }

    /// The end of the result.
    public func end(into out: inout String) {
        if format == .json { out += records == 0 ? "]\n" : "\n]\n" }
    }

    func time(_ t: Int64) -> String { timeFormat == .ns ? String(t) : CivilTime.format(t) }
    func jsonTime(_ t: Int64) -> String { timeFormat == .ns ? String(t) : "\"" + CivilTime.format(t) + "\"" }
}

/// Values as CSV and JSON text.
public enum TextFormat {
    /// A float as README's "Output" describes it: `NaN`, `Inf`, `-Inf`; `0` and `-0.0`;
    /// whole numbers of magnitude below 10¹⁵ as integers; anything else in Swift's
    /// `description` (the shortest digits that read back to the same double, positional
    /// with a fractional digit for 10⁻⁴ ≤ |v| ≤ 2⁵³, else `d.ddde±XX`).
    public static func double(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v < 0 ? "-Inf" : "Inf" }
        if v == 0 { return v.sign == .minus ? "-0.0" : "0" }
        if v == v.rounded(), v.magnitude < 1e15 { return String(Int64(v)) }
        return v.description
    }

    /// A CSV field, quoted when it holds a comma, a double quote, CR or LF (RFC 4180).
    /// Looked for byte by byte: as Characters, CR LF is one grapheme that is neither CR
    /// nor LF, and a quote or comma followed by a combining mark is another grapheme.
    public static func csvQuoted(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }) else { return s }
        var out = "\""
        for u in s.unicodeScalars {
            if u == "\"" { out += "\"\"" } else { out.unicodeScalars.append(u) }
        }
        return out + "\""
    }

    public static func csvText(_ values: ColumnValues, _ i: Int) -> String {
        switch values {
        case .float64(let v): double(v[i])
        case .int64(let v): String(v[i])
        case .bool(let v): v[i] ? "true" : "false"
        case .string(let v): csvQuoted(v[i])
        }
    }

    public static func jsonValue(_ values: ColumnValues, _ i: Int) -> String {
        switch values {
        case .float64(let v): v[i].isFinite ? double(v[i]) : "null"
        case .int64(let v): String(v[i])
        case .bool(let v): v[i] ? "true" : "false"
        case .string(let v): jsonString(v[i])
        }
    }

    public static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
