import Glibc

/// A system error number as a value (as swift-system's `Errno`): code decides on it, people
/// read its description.
public struct Errno: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's last error.
    public static var current: Errno { Errno(rawValue: errno) }

    public static let noSuchFile = Errno(rawValue: ENOENT)
    public static let fileExists = Errno(rawValue: EEXIST)
    public static let noSpace = Errno(rawValue: ENOSPC)
    public static let diskQuota = Errno(rawValue: EDQUOT)
    public static let interrupted = Errno(rawValue: EINTR)
    public static let wouldBlock = Errno(rawValue: EWOULDBLOCK)
    public static let notPermitted = Errno(rawValue: EPERM)
    public static let ioError = Errno(rawValue: EIO)

    /// The system's words for it ("No space left on device").
    public var description: String { String(cString: strerror(rawValue)) }
}
