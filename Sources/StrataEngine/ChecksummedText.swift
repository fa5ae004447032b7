import StrataFormat

/// Small text files that end in `crc32c <8 hex digits>` of every byte before that line
/// (`_schema`, `_id`): the one place that writes and checks that line.
public enum ChecksummedText {
    /// The file's bytes: `body` (which ends in a line feed) and the checksum line.
    public static func encode(_ body: String) -> [UInt8] {
        Array((body + "crc32c " + paddedHex(CRC32C.checksum(body), digits: 8) + "\n").utf8)
    }

    /// The lines before the checksum line, after checking it; `kind` names the file in errors.
    public static func decode(_ bytes: [UInt8], path: String, kind: String) throws(StrataError) -> [Substring] {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw StrataError(.corrupt, "\(kind) is not UTF-8", path: path)
        }
        guard text.hasSuffix("\n") else { throw StrataError(.corrupt, "\(kind) does not end with a line feed", path: path) }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()
        guard let last = lines.last, last.hasPrefix("crc32c ") else {
            throw StrataError(.corrupt, "\(kind) has no checksum line", path: path)
        }
        let body = lines.dropLast().map { $0 + "\n" }.joined()
        guard UInt32(last.dropFirst(7), radix: 16) == CRC32C.checksum(body) else {
            throw StrataError(.corrupt, "\(kind) checksum mismatch", path: path)
        }
        return Array(lines.dropLast())
    }
}

/// `value` in lower-case hex, zero-padded to `digits`.
public func paddedHex<T: BinaryInteger>(_ value: T, digits: Int) -> String {
    let hex = String(value, radix: 16)
    return String(repeating: "0", count: max(0, digits - hex.count)) + hex
}
