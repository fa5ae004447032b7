import StrataEngine
import StrataFormat

/// Rows in PostgreSQL's COPY text format: tab-separated, `\N` for NULL, backslash escapes
/// in text; `time` as a UTC `timestamptz` (microseconds, rounded down as PostgreSQL keeps
/// them), `time_ns` with the nanoseconds.
enum CopyText {
    /// Appends one line per row of `range`: time, time_ns, seq, symbol, then `fields` in
    /// order (a field the block lacks is NULL). `columnOf[i]` is the block's column for
    /// field i, or nil. The row at `range.lowerBound` gets `firstSeq`.
    static func append(_ rows: RowBlock, range: Range<Int>? = nil, symbol: String, firstSeq: Int64, columnOf: [Int?], into out: inout [UInt8]) {
        var escapedSymbol: [UInt8] = []
        appendText(symbol, into: &escapedSymbol)
        let range = range ?? 0..<rows.rowCount
        var dayCache: (day: Int64, text: [UInt8]) = (.min, [])
        for r in range {
            let ns = rows.timestamps[r]
            appendTimestamp(ns, cache: &dayCache, into: &out)
            out.append(9)
            appendInteger(ns, into: &out)
            out.append(9)
            appendInteger(firstSeq + Int64(r - range.lowerBound), into: &out)
            out.append(9)
            out += escapedSymbol
            for c in columnOf {
                out.append(9)
                guard let c, rows.columns[c].isPresent(r) else { out += [92, 78]; continue }  // \N
                switch rows.columns[c].values {
                case .float64(let v): appendDouble(v[r], into: &out)
                case .int64(let v): appendInteger(v[r], into: &out)
                case .bool(let v): out.append(v[r] ? 116 : 102)  // t / f
                case .string(let v): appendText(v[r], into: &out)
                }
            }
            out.append(10)
        }
    }

    static func appendInteger(_ value: Int64, into out: inout [UInt8]) {
        if value == 0 { out.append(48); return }
        if value < 0 { out.append(45) }
        var v = value.magnitude
        // Digits written backwards into a fixed buffer: no allocation per number.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            var i = 20
            while v > 0 {
                i -= 1
                buffer[i] = UInt8(48 + v % 10)
                v /= 10
            }
            out.append(contentsOf: buffer[i..<20])
        }
    }

    static func appendDouble(_ value: Double, into out: inout [UInt8]) {
        if value.isNaN { out += Array("NaN".utf8); return }
        if value.isInfinite { out += Array((value < 0 ? "-Infinity" : "Infinity").utf8); return }
        // Swift prints the shortest decimal that reads back to the same double.
        out += Array(value.description.utf8)
    }

    /// Backslash, tab, newline and carriage return escaped as COPY's text format needs.
    static func appendText(_ text: String, into out: inout [UInt8]) {
        for b in text.utf8 {
            switch b {
            case 92: out += [92, 92]
            case 9: out += [92, 116]
            case 10: out += [92, 110]
            case 13: out += [92, 114]
            default: out.append(b)
            }
        }
    }

    /// `YYYY-MM-DD HH:MM:SS.ffffff+00` (ISO 8601 with microseconds, floor of the ns); the
    /// date part is kept in `cache` while rows stay within one day.
    static func appendTimestamp(_ ns: Int64, cache: inout (day: Int64, text: [UInt8]), into out: inout [UInt8]) {
        let micros = ns >= 0 ? ns / 1000 : (ns - 999) / 1000
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = micros - seconds * 1_000_000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        if days != cache.day {
            let (y, m, d) = CivilTime.civil(fromDays: days)
            var text: [UInt8] = []
            pad(y, 4, &text); text.append(45); pad(m, 2, &text); text.append(45); pad(d, 2, &text); text.append(32)
            cache = (days, text)
        }
        out += cache.text
        pad(secondOfDay / 3600, 2, &out); out.append(58); pad(secondOfDay / 60 % 60, 2, &out); out.append(58); pad(secondOfDay % 60, 2, &out)
        out.append(46); pad(fraction, 6, &out)
        out.append(43); out.append(48); out.append(48)  // +00
    }

    /// `v` in exactly `width` decimal digits.
    static func pad(_ v: Int64, _ width: Int, _ out: inout [UInt8]) {
        var divisor: Int64 = 1
        for _ in 1..<width { divisor *= 10 }
        var x = v
        while divisor > 0 {
            out.append(UInt8(48 + (x / divisor) % 10))
            x %= divisor
            divisor /= 10
        }
    }
}
