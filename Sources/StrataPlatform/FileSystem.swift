import CStrataSystem
import Glibc
import Synchronization

/// Thin wrappers over the system calls the engine needs, in one place: each retries on
/// EINTR and throws a `StrataError` naming the call and the path
/// ("fdatasync /data/trade/ES/2024-01-02/…: Input/output error").
package enum FileSystem {
    package static func failure(_ call: String, _ path: String, _ err: Int32 = errno) -> StrataError {
        let number = Errno(rawValue: err)
        var e = StrataError(.io, "\(call): \(number)", path: path)
        e.systemError = number
        return e
    }

    @discardableResult
    package static func retrying(_ body: () -> Int) -> (Int, Int32) {
        while true {
            let r = body()
            if r == -1 && errno == EINTR { continue }
            return (r, r == -1 ? errno : 0)
        }
    }

    /// Writes all of `bytes` to `fd` (short writes continue).
    package static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(StrataError) {
        var done = 0
        let total = bytes.count
        while done < total {
            let (n, err) = bytes.withUnsafeBytes { raw in retrying { Glibc.write(fd, raw.baseAddress! + done, total - done) } }
            if n < 0 { throw failure("write", path, err) }
            done += n
        }
    }

    /// fdatasync of `fd`, the file at `path`.
    package static func dataSync(_ fd: Int32, path: String) throws(StrataError) {
        let (r, err) = retrying { Int(fdatasync(fd)) }
        if r != 0 { throw failure("fdatasync", path, err) }
    }

    package static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Whether users other than the owner and the group may read the file at `path`.
    package static func isReadableByOthers(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_mode & S_IROTH != 0
    }

    package static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// What tells one file from another at a path: a file replaced by a rename (as Strata
    /// replaces every file) has another inode, and one rewritten in place another change time.
    package struct Identity: Equatable, Sendable {
        var device: UInt64, inode: UInt64, size: Int64
        var changed: Int64, changedNanoseconds: Int64, modified: Int64, modifiedNanoseconds: Int64

        init(_ st: stat) {
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
            size = Int64(st.st_size)
            changed = Int64(st.st_ctim.tv_sec)
            changedNanoseconds = Int64(st.st_ctim.tv_nsec)
            modified = Int64(st.st_mtim.tv_sec)
            modifiedNanoseconds = Int64(st.st_mtim.tv_nsec)
        }
    }

    /// The identity of the file at `path` now, or nil if there is none.
    package static func identity(_ path: String) -> Identity? {
        var st = stat()
        return stat(path, &st) == 0 ? Identity(st) : nil
    }

    package static func fileSize(_ path: String) throws(StrataError) -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { throw failure("stat", path) }
        return Int(st.st_size)
    }

    /// Creates a directory and its parents; fsyncs each parent whose entries changed
    /// unless `sync` is false (the caller then syncs the file system itself).
    package static func makeDirectories(_ path: String, sync: Bool = true) throws(StrataError) {
        if isDirectory(path) { return }
        let parent = parentDirectory(path)
        if parent != path && !parent.isEmpty { try makeDirectories(parent, sync: sync) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw failure("mkdir", path) }
        if sync && !parent.isEmpty { try syncDirectory(parent) }
    }

    /// The temporary name a file is written under before it is renamed to `path`:
    /// `.<name>.tmp` in the same directory.
    package static func temporaryPath(for path: String) -> String {
        let directory = parentDirectory(path)
        let name = String(path[path.index(after: path.lastIndex(of: "/") ?? path.startIndex)...])
        return "\(directory)/.\(name).tmp"
    }

    /// Writes `pieces` to a new file at `path` (which must not exist), fdatasync'd if `sync`.
    package static func writeFile(_ path: String, _ pieces: [[UInt8]], sync: Bool) throws(StrataError) {
        let file = try WritableFile(creatingNew: path)
        do {
            for p in pieces { try file.write(p) }
            if sync { try file.dataSync() }
            try file.close()
        } catch {
            try? file.close()
            try? remove(path)
            throw error
        }
    }

    /// Flushes every dirty page and inode of the file system holding `path` (syncfs):
    /// one call instead of an fsync per file for large batches.
    package static func syncFileSystem(_ path: String) throws(StrataError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open", path) }
        defer { close(fd) }
        let (r, err) = retrying { Int(strata_syncfs(fd)) }
        if r != 0 { throw failure("syncfs", path, err) }
    }

    package static func parentDirectory(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// Names in a directory, without "." and "..", sorted. Missing directory → [].
    package static func list(_ path: String) throws(StrataError) -> [String] {
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

    package static func remove(_ path: String) throws(StrataError) {
        if unlink(path) != 0 && errno != ENOENT { throw failure("unlink", path) }
    }

    /// `path` made absolute against the working directory (lexically: `.` and `..` are
    /// kept, links are not resolved). An absolute path comes back as it is.
    package static func absolutePath(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var relative = Substring(path)
        while relative.hasPrefix("./") { relative = relative.dropFirst(2) }
        if relative == "." || relative.isEmpty { return cwd }
        return (cwd == "/" ? "" : cwd) + "/" + relative
    }

    package static func rename(_ from: String, _ to: String) throws(StrataError) {
        if Glibc.rename(from, to) != 0 { throw failure("rename to \(to)", from) }
    }

    /// Removes a file or a directory and everything below it; a symbolic link is removed,
    /// never followed. A path that does not exist is not an error.
    package static func removeTree(_ path: String) throws(StrataError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw failure("lstat", path)
        }
        if info.st_mode & S_IFMT == S_IFDIR {
            for name in try list(path) { try removeTree("\(path)/\(name)") }
            if rmdir(path) != 0 && errno != ENOENT { throw failure("rmdir", path) }
        } else {
            try remove(path)
        }
    }

    /// Makes a new, empty directory under `$TMPDIR` (else /tmp) named `<prefix>XXXXXX`.
    package static func makeTemporaryDirectory(prefix: String) throws(StrataError) -> String {
        let base = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/\(prefix)XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        guard made else { throw failure("mkdtemp", "\(base)/\(prefix)XXXXXX") }
        return String(cString: template.map { UInt8(bitPattern: $0) })
    }

    /// Gives the file at `existing` a second name (a hard link).
    package static func link(_ existing: String, _ new: String) throws(StrataError) {
        if Glibc.link(existing, new) != 0 { throw failure("link to \(new)", existing) }
    }

    package static func syncDirectory(_ path: String) throws(StrataError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open directory", path) }
        defer { close(fd) }
        let (r, err) = retrying { Int(fsync(fd)) }
        if r != 0 { throw failure("fsync directory", path, err) }
    }

    /// Writes `pieces` to `path` crash-safely: a temporary file in the same directory,
    /// fdatasync, rename over `path`, fsync the directory. A crash leaves either no file
    /// or the whole file, never a part of one under the final name.
    package static func writeAtomically(_ path: String, _ pieces: [[UInt8]]) throws(StrataError) {
        let temporary = temporaryPath(for: path)
        try? remove(temporary)  // left by a crashed writer
        try writeFile(temporary, pieces, sync: true)
        try rename(temporary, path)
        try syncDirectory(parentDirectory(path))
    }
}

/// A file open for writing, owned by one value and closed exactly once.
package final class WritableFile {
    package let path: String
    private var fd: Int32

    /// Creates the file; fails if it exists, so two writers never share one.
    package init(creatingNew path: String) throws(StrataError) {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystem.failure("create", path) }
        self.fd = fd
    }

    package func write(_ bytes: [UInt8]) throws(StrataError) {
        try FileSystem.writeAll(fd, bytes, path: path)
    }

    /// Makes the written data durable (fdatasync).
    package func dataSync() throws(StrataError) {
        try FileSystem.dataSync(fd, path: path)
    }

    package func close() throws(StrataError) {
        guard fd >= 0 else { return }
        let r = Glibc.close(fd)
        fd = -1
        if r != 0 { throw FileSystem.failure("close", path) }
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }
}

/// An exclusive advisory lock (flock) on a file, released by `unlock` or deinit.
package final class FileLock: Sendable {
    /// The lock file's descriptor while held; -1 once unlocked. Guarded: `unlock` may race
    /// with `deinit` or a second `unlock` from another thread, and must close it once.
    private let fd: Mutex<Int32>

    /// What the holder of a store's lock does with it, recorded in the lock file beside its
    /// pid (`<pid> <kind>`), so a process that finds the store taken can say who has it.
    package enum Kind: String, Sendable {
        /// A short write (a bulk ingest, a compaction): waited for.
        case write
        /// A live database (`strata serve`, `ingest --live`) that keeps the store open: not
        /// worth waiting for.
        case open
    }

    /// Takes the lock, waiting for another holder to release it; with `wait` false,
    /// fails with `.conflict` if it is still held after `patienceMilliseconds` (a short
    /// patience covers a forked child that has not yet exec'd and closed its copy), or at
    /// once when the holder is a live process that keeps the store open.
    package init(path: String, wait: Bool = true, patienceMilliseconds: Int = 2000, kind: Kind = .write) throws(StrataError) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystem.failure("open lock file", path) }
        var waited = 0
        while true {
            let (r, err) = FileSystem.retrying { Int(flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB)) }
            if r == 0 { break }
            let holder = err == EWOULDBLOCK ? Self.holder(fd) : nil
            // A record naming this process is one a child it spawned still holds a copy of
            // until its exec: that is waited for.
            let keepsItOpen = holder.map { $0.kind == .open && $0.pid != getpid() } ?? false
            if err == EWOULDBLOCK && waited < patienceMilliseconds && !keepsItOpen {
                usleep(10_000)
                waited += 10
                continue
            }
            close(fd)
            if err == EWOULDBLOCK {
                throw StrataError(.conflict, Self.inUse(holder), path: path)
            }
            throw FileSystem.failure("flock", path, err)
        }
        self.fd = Mutex(fd)
        // Who holds it now; read only by processes that find the lock taken.
        let record = Array("\(getpid()) \(kind.rawValue)\n".utf8)
        _ = ftruncate(fd, 0)
        _ = record.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    /// The process recorded as holding a lock: its pid, what it does with the store, and
    /// its command line (from /proc). Nil when the record is missing or its process is gone.
    package struct Holder: Sendable, Equatable {
        package var pid: Int32
        package var kind: Kind
        package var command: String
    }

    package static func holder(_ fd: Int32) -> Holder? {
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let words = String(decoding: buffer[..<n], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard words.count >= 2, let pid = Int32(words[0]), pid > 0, let kind = Kind(rawValue: String(words[1])),
              kill(pid, 0) == 0 || errno == EPERM else { return nil }
        return Holder(pid: pid, kind: kind, command: commandLine(pid))
    }

    /// A process's command line from /proc, arguments separated by spaces ("" if unknown).
    package static func commandLine(_ pid: Int32) -> String {
        let fd = open("/proc/\(pid)/cmdline", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4_096)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return "" }
        return bytes[..<n].split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
    }

    /// The holder of the lock at `path`, if a live process holds it now.
    package static func holder(of path: String) -> Holder? {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) != 0 else { return nil }
        return holder(fd)
    }

    /// "the store is in use by process 1234 (strata serve …), which keeps it open; …"
    package static func inUse(_ holder: Holder?) -> String {
        guard let holder else { return "the store is in use by another process, which holds its lock" }
        let who = "process \(holder.pid)" + (holder.command.isEmpty ? "" : " (\(holder.command.count > 120 ? String(holder.command.prefix(120)) + "…" : holder.command))")
        switch holder.kind {
        case .open:
            return "the store is in use by \(who), which keeps it open; write through it (strata serve takes POST /api/v2/write) or stop it first (strata stop, or kill \(holder.pid))"
        case .write:
            return "the store is in use by \(who), which is writing to it"
        }
    }

    package func unlock() {
        let held = fd.withLock { fd in
            defer { fd = -1 }
            return fd
        }
        if held >= 0 { close(held) }  // releases the flock
    }

    deinit { unlock() }
}

/// A read-only memory mapping of a whole file, unmapped in deinit. Bytes are lent out
/// only inside `withUnsafeBytes`.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    /// The identity of the file mapped (nil for memory that is no file's).
    package let identity: FileSystem.Identity?
    private let base: UnsafeMutableRawPointer?

    public init(path: String) throws(StrataError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            var e = FileSystem.failure("open", path)
            if e.systemError == .noSuchFile { e.code = .notFound }
            throw e
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileSystem.failure("fstat", path) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw StrataError(.invalidInput, "not a regular file", path: path) }
        identity = FileSystem.Identity(st)
        size = Int(st.st_size)
        if size == 0 {
            base = nil
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw FileSystem.failure("mmap", path) }
        base = p
    }

    /// A read-only mapping of anonymous memory holding a copy of `bytes` (a segment
    /// rebuilt in memory, e.g. from a cold object); `path` names it in messages.
    public init(copying bytes: [UInt8], path: String) throws(StrataError) {
        self.path = path
        identity = nil
        let count = bytes.count
        size = count
        if count == 0 {
            base = nil
            return
        }
        let p = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else { throw FileSystem.failure("mmap", path) }
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: count) }
        mprotect(p, count, PROT_READ)
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
