import StrataEngine
import StrataPlatform

/// What a listing or a HEAD says about an object.
public struct ObjectInfo: Sendable, Equatable {
    public var key: String
    public var size: Int
    /// The store's entity tag, without quotes (for S3, the MD5 of a single-part object).
    public var etag: String?

    public init(key: String, size: Int, etag: String? = nil) {
        self.key = key
        self.size = size
        self.etag = etag
    }
}

/// A flat namespace of immutable objects named by keys such as
/// `trade/ESH4/2024/01/02/0000000000000001.strata`: S3, or a directory on local disk.
/// Everything above this protocol is the same code for both.
///
/// Calls block the calling thread (they do I/O); a store is safe to use from several
/// threads at once.
public protocol ObjectStore: Sendable {
    /// A description for messages, with no secret in it (`s3://bucket/prefix`, `file:///dir`).
    var location: String { get }
    /// Writes an object whole; once this returns, a `get` sees all of it.
    func put(_ key: String, _ bytes: [UInt8]) throws(StrataError)
    /// The bytes of an object, or of `range` of it (clipped to the object's end).
    func get(_ key: String, range: Range<Int>?) throws(StrataError) -> [UInt8]
    /// The last `count` bytes of an object (all of it if it is smaller) and its total size,
    /// in one request.
    func getTail(_ key: String, count: Int) throws(StrataError) -> (bytes: [UInt8], objectSize: Int)
    /// Size and entity tag, or nil if there is no such object.
    func head(_ key: String) throws(StrataError) -> ObjectInfo?
    /// Every object whose key starts with `prefix`, in key order.
    func list(prefix: String) throws(StrataError) -> [ObjectInfo]
    /// Removes an object; removing one that does not exist is not an error.
    func delete(_ key: String) throws(StrataError)
    /// Requests sent and failed so far, for a store reached over a network (nil otherwise).
    var requestStatistics: ObjectStoreStatistics? { get }
    /// Makes what writes need and the store may lack (an S3 bucket), before work that
    /// reads the store and then writes to it (a backup lists the earlier ones first).
    func prepareForWrites() throws(StrataError)
}

/// What a networked object store has sent since it was made, by HTTP method.
public struct ObjectStoreStatistics: Sendable, Equatable {
    /// Attempts, retries included.
    public var requests: [String: Int] = [:]
    /// Attempts that failed (an error status or no answer), retried or not.
    public var errors: [String: Int] = [:]
    public var retries = 0
    public var bytesSent = 0
    public var bytesReceived = 0
    /// The last request that failed for good (after its retries), and when (ns since the epoch).
    public var lastError: String?
    public var lastErrorAt: Int64?

    public init() {}
}

extension ObjectStore {
    public var requestStatistics: ObjectStoreStatistics? { nil }
    public func prepareForWrites() throws(StrataError) {}
}

extension ObjectStore {
    public func get(_ key: String) throws(StrataError) -> [UInt8] {
        try get(key, range: nil)
    }

    /// Writes an object and reads its size back: a copy that is verified before anything
    /// that depends on it (a local file's removal, a catalog) goes ahead. `what` is said
    /// in the error if the sizes differ.
    public func putVerified(_ key: String, _ bytes: [UInt8], what: String = "") throws(StrataError) {
        try put(key, bytes)
        guard let info = try head(key), info.size == bytes.count else {
            throw StrataError(.io, "uploaded \(key) but the store reports another size\(what)", path: location)
        }
    }
}

/// Checks an object key: 1…1024 bytes of UTF-8, no control characters, no empty path
/// segment and no `.` or `..` segment (so a key always maps to one file below a
/// directory and reads the same in a bucket listing).
public func validateObjectKey(_ key: String) throws(StrataError) {
    let bytes = Array(key.utf8)
    guard !bytes.isEmpty, bytes.count <= 1024 else {
        throw StrataError(.invalidInput, "object key must be 1 to 1024 bytes, not \(bytes.count)")
    }
    guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7f }) else {
        throw StrataError(.invalidInput, "object key contains a control character")
    }
    for segment in key.split(separator: "/", omittingEmptySubsequences: false) {
        if segment.isEmpty || segment == "." || segment == ".." {
            throw StrataError(.invalidInput, "object key '\(key)' has an empty, '.' or '..' segment")
        }
    }
}
