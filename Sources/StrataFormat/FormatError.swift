/// An error found while decoding Strata bytes.
///
/// Decoders are cursors over read-only memory: when bytes are missing or wrong they
/// throw a `FormatError` that says what was being read and where (a byte offset
/// relative to the buffer the decoder was given). Callers that know the file add the
/// path (see `StrataError` in StrataEngine).
public struct FormatError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The input ended before the structure did.
        case truncated
        /// A checksum did not match: the bytes were damaged after they were written.
        case checksumMismatch
        /// Magic bytes were wrong: this is not a Strata file.
        case badMagic
        /// A version or encoding id this reader does not know.
        case unsupported
        /// A structure is internally inconsistent (a length, count or width out of range).
        case malformed
    }

    public var code: Code
    public var message: String
    /// Byte offset (in the buffer handed to the decoder) where the problem was found.
    public var offset: Int?

    public init(_ code: Code, _ message: String, offset: Int? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    public var description: String {
        if let offset { return "\(code.rawValue) at byte \(offset): \(message)" }
        return "\(code.rawValue): \(message)"
    }
}

extension Array where Element: BitwiseCopyable {
    /// An array of `count` elements filled by `body`, which must write all of them (or
    /// throw). The storage is not zeroed first: decoders overwrite every element.
    @inlinable
    static func decoding(count: Int, _ body: (UnsafeMutablePointer<Element>) throws(FormatError) -> Void) throws(FormatError) -> [Element] {
        var failure: FormatError?
        let result = [Element](unsafeUninitializedCapacity: Swift.max(count, 1)) { buffer, initialized in
            do throws(FormatError) {
                try body(buffer.baseAddress!)
                initialized = count
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return result
    }
}
