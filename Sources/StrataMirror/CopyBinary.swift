import StrataEngine
import StrataFormat

/// Rows in PostgreSQL's binary COPY format, which the server reads without parsing text:
/// a signature and header, then per row a field count and each field as a big-endian
/// length (−1 for NULL) and its bytes, then a −1 trailer.
///
///     time      timestamptz: microseconds since 2000-01-01 UTC (the nanoseconds rounded down)
///     time_ns   int8
///     seq       int8
///     symbol    text (UTF-8)
///     fields    float8 (IEEE 754), int8, bool (one byte), text
enum CopyBinary {
    static let header: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]
    static let trailer: [UInt8] = [0xFF, 0xFF]
    /// Microseconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
    static let postgresEpochMicros: Int64 = 946_684_800_000_000

    /// Microseconds since 1970, rounded down (never overflows).
    static func floorMicros(_ ns: Int64) -> Int64 {
        let (q, r) = ns.quotientAndRemainder(dividingBy: 1000)
        return r < 0 ? q - 1 : q
    }

    static func appendInt16(_ v: Int16, _ out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: v >> 8))
        out.append(UInt8(truncatingIfNeeded: v))
    }

    static func appendInt32(_ v: Int32, _ out: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
    }

    static func appendInt64Field(_ v: Int64, _ out: inout [UInt8]) {
        out += [0, 0, 0, 8]
        withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
    }

    /// Appends one row per row of `range`: time, time_ns, seq, symbol, then `fields` in
    /// order (a field the block lacks is NULL). `columnOf[i]` is the block's column for
    /// field i, or nil. The row at `range.lowerBound` gets `firstSeq`.
    static func append(_ rows: RowBlock, range: Range<Int>, symbol: String, firstSeq: Int64, columnOf: [Int?], into out: inout [UInt8]) {
        let symbolBytes = Array(symbol.utf8)
        let fieldCount = Int16(4 + columnOf.count)
        for r in range {
            let ns = rows.timestamps[r]
            appendInt16(fieldCount, &out)
            appendInt64Field(floorMicros(ns) - postgresEpochMicros, &out)
            appendInt64Field(ns, &out)
            appendInt64Field(firstSeq + Int64(r - range.lowerBound), &out)
            appendInt32(Int32(symbolBytes.count), &out)
            out += symbolBytes
            for c in columnOf {
                guard let c, rows.columns[c].isPresent(r) else { out += [0xFF, 0xFF, 0xFF, 0xFF]; continue }  // NULL
                switch rows.columns[c].values {
                case .float64(let v): appendInt64Field(Int64(bitPattern: v[r].bitPattern), &out)
                case .int64(let v): appendInt64Field(v[r], &out)
                case .bool(let v): out += [0, 0, 0, 1, v[r] ? 1 : 0]
                case .string(let v):
                    // PostgreSQL's text holds no NUL: it becomes U+FFFD.
                    let text = v[r].utf8.contains(0) ? String(v[r].map { $0 == "\0" ? "\u{FFFD}" : $0 }) : v[r]
                    let bytes = text.utf8
                    appendInt32(Int32(bytes.count), &out)
                    out.append(contentsOf: bytes)
                }
            }
        }
    }
}
