import Glibc
import StrataFormat

/// An error from the storage engine: a code, a message, and where it happened (file,
/// byte offset, line, field), with the underlying cause when there is one.
public struct StrataError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// A system call failed (the message names the call and the path).
        case io
        /// Stored bytes are damaged or not a Strata file.
        case corrupt
        /// The caller passed something invalid (a name, a time, a row).
        case invalidInput
        /// Something that should exist does not.
        case notFound
        /// Data does not match what the store already holds (e.g. a field's type).
        case conflict
        /// A service refused the request: wrong credentials, or no permission.
        case denied
        /// The store cannot take this now (its memory bound is reached); retry later.
        case busy
    }

    public var code: Code
    public var message: String
    public var path: String?
    public var offset: Int?
    public var line: Int?
    public var field: String?
    /// Index of the damaged block in a segment.
    public var block: Int?
    /// PostgreSQL's five-character SQLSTATE, for errors the mirror's database reported.
    public var sqlState: String?
    public var cause: FormatError?
    /// The system's error number, for errors a system call reported (ENOSPC, EIO, …).
    public var systemError: Int32?

    /// The file system was full (or over quota).
    public var isOutOfSpace: Bool { systemError == ENOSPC || systemError == EDQUOT }

    public init(_ code: Code, _ message: String, path: String? = nil, offset: Int? = nil,
                line: Int? = nil, field: String? = nil, cause: FormatError? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.offset = offset
        self.line = line
        self.field = field
        self.cause = cause
    }

    /// Wraps a format error found while reading `path`.
    public static func corrupt(_ error: FormatError, path: String, block: Int? = nil) -> StrataError {
        var e = StrataError(.corrupt, error.message, path: path, offset: error.offset, cause: error)
        e.block = block
        return e
    }

    public var description: String {
        var place: [String] = []
        if let path { place.append(path) }
        if let line { place.append("line \(line)") }
        if let field { place.append("field '\(field)'") }
        if let block { place.append("block \(block)") }
        if let offset { place.append("byte \(offset)") }
        let prefix = place.isEmpty ? "" : place.joined(separator: ", ") + ": "
        return "\(prefix)\(message)" + (sqlState.map { " (SQLSTATE \($0))" } ?? "")
    }
}
