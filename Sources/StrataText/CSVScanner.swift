import StrataEngine

/// Splits CSV bytes (RFC 4180: comma separated, optional double quotes, `""` inside
/// quotes, CRLF or LF line ends) into records of field ranges, without copying.
public struct CSVScanner {
    public struct FieldRange {
        public var start: Int
        public var end: Int
        /// The field was quoted and holds `""` pairs that must be collapsed.
        public var escaped: Bool
    }

    public enum ScanError: Error, Equatable {
        case unterminatedQuote
        case textAfterQuote
    }

    let bytes: UnsafeBufferPointer<UInt8>
    public private(set) var position = 0
    /// 1-based line number where the next record starts.
    public private(set) var line = 1

    public init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        // Skip a UTF-8 byte order mark.
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { position = 3 }
    }

    public var atEnd: Bool { position >= bytes.count }

    /// Reads the next record into `fields`. Returns the record's first line number, or
    /// nil at the end. Blank lines are skipped. On a malformed record the rest of its
    /// line is skipped and the error returned with the line.
    public mutating func next(into fields: inout [FieldRange]) -> (line: Int, error: ScanError?)? {
        fields.removeAll(keepingCapacity: true)
        let n = bytes.count
        // Skip blank lines.
        while position < n && (bytes[position] == 10 || bytes[position] == 13) {
            if bytes[position] == 10 { line += 1 }
            position += 1
        }
        guard position < n else { return nil }
        let recordLine = line
        var i = position
        while true {
            if i < n && bytes[i] == 34 {  // quoted field
                var j = i + 1
                var escaped = false
                while true {
                    guard j < n else {
                        position = n
                        return (recordLine, .unterminatedQuote)
                    }
                    let c = bytes[j]
                    if c == 34 {
                        if j + 1 < n && bytes[j + 1] == 34 { escaped = true; j += 2; continue }
                        break
                    }
                    if c == 10 { line += 1 }
                    j += 1
                }
                fields.append(FieldRange(start: i + 1, end: j, escaped: escaped))
                i = j + 1
                if i < n && bytes[i] == 13 && i + 1 < n && bytes[i + 1] == 10 { i += 1 }
                if i >= n || bytes[i] == 10 {
                    position = i + 1
                    line += 1
                    return (recordLine, nil)
                }
                if bytes[i] == 44 { i += 1; continue }
                // Garbage after a closing quote: skip to the end of the line.
                while i < n && bytes[i] != 10 { i += 1 }
                position = i + 1
                line += 1
                return (recordLine, .textAfterQuote)
            }
            var j = i
            while j < n {
                let c = bytes[j]
                if c == 44 || c == 10 { break }
                j += 1
            }
            var end = j
            if end > i && bytes[end - 1] == 13 && (j >= n || bytes[j] == 10) { end -= 1 }
            fields.append(FieldRange(start: i, end: end, escaped: false))
            if j < n && bytes[j] == 44 {
                i = j + 1
                continue
            }
            position = j + 1
            line += 1
            return (recordLine, nil)
        }
    }

    /// The bytes of a field, with `""` collapsed when needed (into `scratch`).
    public func withField<R>(_ f: FieldRange, scratch: inout [UInt8], _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if !f.escaped { return body(UnsafeBufferPointer(rebasing: bytes[f.start..<f.end])) }
        scratch.removeAll(keepingCapacity: true)
        var k = f.start
        while k < f.end {
            scratch.append(bytes[k])
            k += bytes[k] == 34 ? 2 : 1
        }
        return scratch.withUnsafeBufferPointer(body)
    }

    public func string(_ f: FieldRange) -> String {
        var scratch: [UInt8] = []
        return withField(f, scratch: &scratch) { String(decoding: $0, as: UTF8.self) }
    }
}
