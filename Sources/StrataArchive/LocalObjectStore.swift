import Glibc
import StrataEngine
import StrataPlatform

/// Objects as files under a directory (`file:///path`): the embedded default, so that
/// archiving works with no S3 at all. A key's segments are directories; objects are
/// written crash-safely (temporary file, fdatasync, rename, fsync of the directory).
public struct LocalObjectStore: ObjectStore {
    public let directory: String

    /// The directory is created with the first object written into it. A relative path is
    /// taken from the working directory now, so that `location` names it wherever it is read.
    public init(directory: String) throws(StrataError) {
        guard !directory.isEmpty else { throw StrataError(.invalidInput, "the archive directory is empty") }
        var dir = FileSystem.absolutePath(directory)
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        self.directory = dir
    }

    public var location: String { "file://\(directory)" }

    func path(_ key: String) throws(StrataError) -> String {
        try validateObjectKey(key)
        if key.split(separator: "/").contains(where: { $0.hasPrefix(".") && $0.hasSuffix(".tmp") }) {
            throw StrataError(.invalidInput, "object key '\(key)' has a segment that looks like a temporary file")
        }
        return "\(directory)/\(key)"
    }

    public func put(_ key: String, _ bytes: [UInt8]) throws(StrataError) {
        let path = try path(key)
        try FileSystem.makeDirectories(FileSystem.parentDirectory(path))
        try FileSystem.writeAtomically(path, [bytes])
    }

    /// The object's file, mapped.
    func map(_ key: String) throws(StrataError) -> MappedFile {
        do {
            return try MappedFile(path: try path(key))
        } catch where error.code == .notFound {
            throw StrataError(.notFound, "no object '\(key)' in \(location)")
        }
    }

    public func get(_ key: String, range: Range<Int>?) throws(StrataError) -> [UInt8] {
        try map(key).withUnsafeBytes { raw in
            guard let range else { return Array(raw) }
            let lower = min(max(range.lowerBound, 0), raw.count), upper = min(max(range.upperBound, lower), raw.count)
            return Array(raw[lower..<upper])
        }
    }

    public func getTail(_ key: String, count: Int) throws(StrataError) -> (bytes: [UInt8], objectSize: Int) {
        try map(key).withUnsafeBytes { raw in (Array(raw[max(0, raw.count - count)...]), raw.count) }
    }

    public func head(_ key: String) throws(StrataError) -> ObjectInfo? {
        let path = try path(key)
        guard FileSystem.exists(path), !FileSystem.isDirectory(path) else { return nil }
        return ObjectInfo(key: key, size: try FileSystem.fileSize(path))
    }

    public func list(prefix: String) throws(StrataError) -> [ObjectInfo] {
        var out: [ObjectInfo] = []
        func walk(_ dir: String, _ keyPrefix: String) throws(StrataError) {
            for name in try FileSystem.list(dir) where !(name.hasPrefix(".") && name.hasSuffix(".tmp")) {
                let key = keyPrefix.isEmpty ? name : "\(keyPrefix)/\(name)"
                let path = "\(dir)/\(name)"
                if FileSystem.isDirectory(path) {
                    // Only descend where keys can still start with the prefix.
                    if prefix.hasPrefix(key + "/") || (key + "/").hasPrefix(prefix) || key.hasPrefix(prefix) {
                        try walk(path, key)
                    }
                } else if key.hasPrefix(prefix) {
                    out.append(ObjectInfo(key: key, size: try FileSystem.fileSize(path)))
                }
            }
        }
        try walk(directory, "")
        return out.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
    }

    public func delete(_ key: String) throws(StrataError) {
        let path = try path(key)
        try FileSystem.remove(path)
        // Empty directories left behind are removed up to the store's root.
        var dir = FileSystem.parentDirectory(path)
        while dir.count > directory.count && dir.hasPrefix(directory + "/") && rmdir(dir) == 0 {
            dir = FileSystem.parentDirectory(dir)
        }
    }
}
