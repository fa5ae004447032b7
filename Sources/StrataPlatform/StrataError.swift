import Glibc

/// An error from Strata: a code, a message, and where it happened (file, byte offset, line,
/// field), with the system's error number when a system call reported it.
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
        /// The input is larger than a configured limit (a body that inflates past the bound).
        case tooLarge
    }

    public var code: Code
    public var message: String
    public var path: String?
    public var offset: Int?
    public var line: Int?
    public var field: String?
    /// Index of the damaged block in a segment.
    public var block: Int?
    /// The code a remote service gave the error in its own scheme (PostgreSQL's SQLSTATE),
    /// for deciding by code rather than by message.
    public var serviceCode: ServiceCode?
    /// The system's error number, for errors a system call reported (ENOSPC, EIO, …).
    public var systemError: Errno?

    /// The file system was full (or over quota).
    public var isOutOfSpace: Bool { systemError == .noSpace || systemError == .diskQuota }

    public init(_ code: Code, _ message: String, path: String? = nil, offset: Int? = nil,
                line: Int? = nil, field: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.offset = offset
        self.line = line
        self.field = field
    }

    public var description: String {
        var place: [String] = []
        if let path { place.append(path) }
        if let line { place.append("line \(line)") }
        if let field { place.append("field '\(field)'") }
        if let block { place.append("block \(block)") }
        if let offset { place.append("byte \(offset)") }
        let prefix = place.isEmpty ? "" : place.joined(separator: ", ") + ": "
        return "\(prefix)\(message)" + (serviceCode.map { " (\($0.scheme) \($0.value))" } ?? "")
    }
}

/// An error code in a remote service's own scheme: `SQLSTATE` `28P01`.
public struct ServiceCode: Sendable, Equatable {
    public var scheme: String
    public var value: String

    public init(scheme: String, value: String) {
        self.scheme = scheme
        self.value = value
    }
}
