import Glibc

/// Thin wrappers over the system calls the engine needs, in one place: each retries on
/// EINTR and throws a `StrataError` naming the call and the path
/// ("fdatasync /data/trade/ES/2024-01-02/…: Input/output error").
public enum FileSystem {
    static func failure(_ call: String, _ path: String, _ err: Int32 = errno) -> StrataError {
        StrataError(.io, "\(call): \(String(cString: strerror(err)))", path: path)
    }

    @discardableResult
    static func retrying(_ body: () -> Int) -> (Int, Int32) {
        while true {
            let r = body()
            if r == -1 && errno == EINTR { continue }
            return (r, r == -1 ? errno : 0)
        }
    }

    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public static func fileSize(_ path: String) throws(StrataError) -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { throw failure("stat", path) }
        return Int(st.st_size)
    }

    /// Creates a directory and its parents; fsyncs each parent whose entries changed.
    public static func makeDirectories(_ path: String) throws(StrataError) {
        if isDirectory(path) { return }
        let parent = parentDirectory(path)
        if parent != path && !parent.isEmpty { try makeDirectories(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw failure("mkdir", path) }
        if !parent.isEmpty { try syncDirectory(parent) }
    }

    public static func parentDirectory(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// Names in a directory, without "." and "..", sorted. Missing directory → [].
    public static func list(_ path: String) throws(StrataError) -> [String] {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return [] }
            throw failure("opendir", path)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public static func remove(_ path: String) throws(StrataError) {
        if unlink(path) != 0 && errno != ENOENT { throw failure("unlink", path) }
    }

    public static func rename(_ from: String, _ to: String) throws(StrataError) {
        if Glibc.rename(from, to) != 0 { throw failure("rename to \(to)", from) }
    }

    public static func syncDirectory(_ path: String) throws(StrataError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open directory", path) }
        defer { close(fd) }
        let (r, err) = retrying { Int(fsync(fd)) }
        if r != 0 { throw failure("fsync directory", path, err) }
    }

    /// Writes `pieces` to `path` crash-safely: a temporary file in the same directory,
    /// fdatasync, rename over `path`, fsync the directory. A crash leaves either no file
    /// or the whole file, never a part of one under the final name.
    public static func writeAtomically(_ path: String, _ pieces: [[UInt8]]) throws(StrataError) {
        let directory = parentDirectory(path)
        let name = String(path[path.index(after: path.lastIndex(of: "/") ?? path.startIndex)...])
        let temporary = "\(directory)/.\(name).tmp"
        let file = try WritableFile(creating: temporary)
        do {
            for p in pieces { try file.write(p) }
            try file.dataSync()
            try file.close()
        } catch {
            try? file.close()
            try? remove(temporary)
            throw error
        }
        try rename(temporary, path)
        try syncDirectory(directory)
    }
}

/// A file open for writing, owned by one value and closed exactly once.
public final class WritableFile {
    public let path: String
    private var fd: Int32

    /// Creates (or truncates) the file.
    public init(creating path: String) throws(StrataError) {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystem.failure("open for writing", path) }
        self.fd = fd
    }

    public func write(_ bytes: [UInt8]) throws(StrataError) {
        var done = 0
        let total = bytes.count
        while done < total {
            let (n, err) = bytes.withUnsafeBytes { raw in
                FileSystem.retrying { Glibc.write(fd, raw.baseAddress! + done, total - done) }
            }
            if n < 0 { throw FileSystem.failure("write", path, err) }
            done += n
        }
    }

    /// Makes the written data durable (fdatasync).
    public func dataSync() throws(StrataError) {
        let (r, err) = FileSystem.retrying { Int(fdatasync(fd)) }
        if r != 0 { throw FileSystem.failure("fdatasync", path, err) }
    }

    public func close() throws(StrataError) {
        guard fd >= 0 else { return }
        let r = Glibc.close(fd)
        fd = -1
        if r != 0 { throw FileSystem.failure("close", path) }
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }
}

/// A read-only memory mapping of a whole file, unmapped in deinit. Bytes are lent out
/// only inside `withUnsafeBytes`.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    private let base: UnsafeMutableRawPointer?

    public init(path: String) throws(StrataError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw StrataError(errno == ENOENT ? .notFound : .io, "open: \(String(cString: strerror(errno)))", path: path)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileSystem.failure("fstat", path) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw StrataError(.invalidInput, "not a regular file", path: path) }
        size = Int(st.st_size)
        if size == 0 {
            base = nil
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw FileSystem.failure("mmap", path) }
        base = p
    }

    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base.map { UnsafeRawPointer($0) }, count: size))
    }

    /// Tells the kernel the whole file will be read soon.
    public func adviseWillNeed() {
        if let base { madvise(base, size, MADV_WILLNEED) }
    }

    deinit {
        if let base { munmap(base, size) }
    }
}
