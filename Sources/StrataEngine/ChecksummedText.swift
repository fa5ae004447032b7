import StrataFormat
import StrataPlatform

/// Small text files that end in `crc32c <8 hex digits>` of every byte before that line
/// (`_schema`, `_id`): the one place that writes and checks that line.
public enum ChecksummedText {
    /// The file's bytes: `body` (which ends in a line feed) and the checksum line.
    public static func encode(_ body: String) -> [UInt8] {
        Array((body + "crc32c " + paddedHex(CRC32C.checksum(body), digits: 8) + "\n").utf8)
    }

    /// The lines before the checksum line, after checking it; `kind` names the file in errors.
    /// The checksum is checked on the bytes before they are read as text, so damage is
    /// reported as damage (naming the checksum line) rather than as bad text.
    public static func decode(_ bytes: [UInt8], path: String, kind: String) throws(StrataError) -> [Substring] {
        guard bytes.last == UInt8(ascii: "\n") else { throw StrataError(.corrupt, "\(kind) does not end with a line feed", path: path, offset: bytes.count) }
        // The checksum line is the last one: after the line feed before the final one.
        let lastLine = (bytes.dropLast().lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? 0
        let crcLine = bytes[..<lastLine].reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        let line = bytes[lastLine...].dropLast()
        let digits = line.dropFirst(7)
        // Lower-case hex only, as written and as Format.md's grammar says: one spelling per
        // checksum, and readers built from the grammar agree with this one.
        guard line.starts(with: "crc32c ".utf8), digits.count == 8,
              digits.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }),
              let stored = UInt32(String(decoding: digits, as: UTF8.self), radix: 16) else {
            throw StrataError(.corrupt, "\(kind) has no checksum line (the last line is not crc32c and 8 lower-case hex digits)", path: path, offset: lastLine, line: crcLine)
        }
        let actual = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[..<lastLine])) }
        guard actual == stored else {
            throw StrataError(.corrupt, "\(kind) checksum mismatch: the \(lastLine) bytes before the checksum line have crc32c \(paddedHex(actual, digits: 8)), the line says \(paddedHex(stored, digits: 8))",
                              path: path, offset: lastLine, line: crcLine)
        }
        guard let text = String(validating: bytes[..<lastLine], as: UTF8.self) else {
            throw StrataError(.corrupt, "\(kind) is not UTF-8", path: path)
        }
        // Split at every LF byte: as Characters, CR LF is one, and a line ending in it would
        // run into the next (or, last, be dropped with the empty tail below).
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map(Substring.init)
        lines.removeLast()
        return lines
    }
}

/// `value` in lower-case hex, zero-padded to `digits`.
package func paddedHex<T: BinaryInteger>(_ value: T, digits: Int) -> String {
    let hex = String(value, radix: 16)
    return String(repeating: "0", count: max(0, digits - hex.count)) + hex
}

/// Bytes as lower-case hex, two digits each.
package func hexString<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    bytes.map { paddedHex($0, digits: 2) }.joined()
}
