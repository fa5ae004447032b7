import Glibc
import StrataFormat
import StrataPlatform
import Synchronization

/// When an append counts as durable.
public enum FsyncPolicy: Sendable, Equatable, CustomStringConvertible {
    /// An append returns after an fdatasync that covers it. Concurrent appends share one
    /// fdatasync (group commit). Survives a power loss or kernel crash.
    case always
    /// An append returns once its record is written to the operating system; a background
    /// thread fdatasyncs every `milliseconds`. Survives a crash of the process; a power loss
    /// or kernel crash loses at most the last interval.
    case interval(milliseconds: Int)
    /// An append returns once its record is written to the operating system; fdatasync
    /// only when a WAL file is finished and on close. Survives a crash of the process;
    /// a power loss or kernel crash may lose whatever the kernel had not written back.
    case none

    /// Parses `always`, `none` or `interval:<ms>`.
    public init?(parsing text: String) {
        switch text {
        case "always": self = .always
        case "none": self = .none
        default:
            guard text.hasPrefix("interval:"), let ms = Int(text.dropFirst("interval:".count)), ms >= 1, ms <= 60_000 else {
                return nil
            }
            self = .interval(milliseconds: ms)
        }
    }

    public var description: String {
        switch self {
        case .always: "always"
        case .none: "none"
        case .interval(let ms): "interval:\(ms)"
        }
    }
}

/// The write-ahead log of a store: `<data-dir>/_wal/<16 hex digits>.wal` files with
/// increasing sequence numbers, each a header and framed records (`WALLayout`). The
/// newest file is appended to; a file is finished when it reaches `maxFileSize`.
///
/// `append` writes a record to the operating system at once (so a crash of the process
/// cannot lose it); `waitUntilDurable` waits for the fsync policy's promise. Under
/// `always` one background thread runs fdatasync in a loop, each call covering every record
/// written before it started: concurrent appenders share it (group commit).
final class WriteAheadLog: @unchecked Sendable {
    let directory: String
    let policy: FsyncPolicy
    let maxFileSize: Int

    private let monitor = Monitor()
    // Guarded by `monitor`:
    private var fd: Int32 = -1
    private var sequence: UInt64
    private var size = 0
    private var written: WALPosition
    private var synced: WALPosition
    /// Rows in the records this log wrote since it was opened, and in those of them synced.
    private var writtenRows = 0
    private var syncedRows = 0
    private var syncing = false
    private var closed = false
    private var failure: StrataError?
    /// Set while appends are refused because the file system is full, and the size of the
    /// batch refused.
    private var outOfSpace: StrataError?
    private var refusedBytes = 0
    private var waiters: [(position: WALPosition, continuation: CheckedContinuation<StrataError?, Never>)] = []
    private var stats = WALStatistics()
    private var thread: BackgroundThread?
    /// Called whenever records become durable (`Database.watchLog`); a lock of their own, so
    /// that calling them never holds the log's.
    private let watchers = Mutex<(next: UInt64, wakes: [UInt64: @Sendable () -> Void])>((0, [:]))

    static func fileName(_ sequence: UInt64) -> String { paddedHex(sequence, digits: 16) + ".wal" }

    static func sequence(fromFileName name: String) -> UInt64? {
        guard name.utf8.count == 20, name.hasSuffix(".wal") else { return nil }
        let digits = name.prefix(16)
        guard digits.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return nil }
        return UInt64(digits, radix: 16)
    }

    /// WAL files in `directory`, oldest first.
    static func files(in directory: String) throws(StrataError) -> [(sequence: UInt64, path: String)] {
        try FileSystem.list(directory).compactMap { name in
            sequence(fromFileName: name).map { ($0, "\(directory)/\(name)") }
        }.sorted { $0.sequence < $1.sequence }
    }

    /// Starts a new WAL file numbered `sequence` (one above every existing file).
    init(directory: String, sequence: UInt64, policy: FsyncPolicy, maxFileSize: Int) throws(StrataError) {
        self.directory = directory
        self.policy = policy
        self.maxFileSize = maxFileSize
        self.sequence = sequence
        written = WALPosition(file: sequence, offset: UInt64(WALLayout.headerSize))
        synced = written
        try FileSystem.makeDirectories(directory)
        fd = try Self.create(directory, sequence)
        size = WALLayout.headerSize
        switch policy {
        case .always: thread = BackgroundThread(name: "strata-wal-sync") { [self] in syncLoop(every: nil) }
        case .interval(let ms): thread = BackgroundThread(name: "strata-wal-sync") { [self] in syncLoop(every: Int64(ms) * 1_000_000) }
        case .none: break
        }
    }

    /// Starts an empty WAL file after the current one, once every record is in segments:
    /// then the older files can go, and the log shows no unflushed record.
    static func startEmptyFile(in directory: String, after sequence: UInt64) throws(StrataError) {
        Glibc.close(try create(directory, sequence + 1))
    }

    /// Creates a WAL file with its header, durable with its directory entry.
    private static func create(_ directory: String, _ sequence: UInt64) throws(StrataError) -> Int32 {
        let path = "\(directory)/\(fileName(sequence))"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystem.failure("create", path) }
        do throws(StrataError) {
            try FileSystem.writeAll(fd, WALLayout.header(), path: path)
            try FileSystem.dataSync(fd, path: path)
            try FileSystem.syncDirectory(directory)
        } catch {
            // Not left half made (a full file system): the next attempt makes it anew.
            Glibc.close(fd)
            unlink(path)
            throw error
        }
        return fd
    }

    /// The file being appended to. Lock held.
    private var currentFilePath: String { "\(directory)/\(Self.fileName(sequence))" }
    var currentSequence: UInt64 { monitor.withLock { sequence } }
    /// Where the records the fsync policy has made durable end (under `none`, what is
    /// written to the operating system, which is all that policy promises).
    var durablePosition: WALPosition { monitor.withLock { policy == .none ? written : synced } }
    /// `writtenPosition` with the rows this log wrote before it.
    var writtenMark: LogMark { monitor.withLock { LogMark(position: written, rows: writtenRows) } }
    /// `durablePosition` with the rows this log wrote before it.
    var durableMark: LogMark {
        monitor.withLock { policy == .none ? LogMark(position: written, rows: writtenRows) : LogMark(position: synced, rows: syncedRows) }
    }
    /// Where the records written so far end (durable or not yet).
    var writtenPosition: WALPosition { monitor.withLock { written } }
    var statistics: WALStatistics { monitor.withLock { stats } }

    /// Writes one framed record and returns where it starts and ends (`appendAll` of one).
    /// (Its caller makes the record durable with `makeDurable`, which wakes the watchers.)
    func append(_ framed: [UInt8], rows: Int) throws(StrataError) -> (start: WALPosition, end: WALPosition) {
        try appendAll([(framed, rows)]).positions[0]
    }

    /// Writes framed records with one write, all in one file, and returns where each starts
    /// and ends. Records are written in the order of calls. A full file system refuses the
    /// whole batch: the file is cut back to where it was, nothing of it is stored, and the
    /// next append tries again (`outOfSpace` says so meanwhile). After any other write or
    /// sync failure every append fails: the log's state on disk is unknown, and the store
    /// must be reopened (which replays what is valid).
    ///
    /// Returns with `madeDurable` true when records became durable by it (without fsync,
    /// once written; or a rotation made the finished file durable): the caller then calls
    /// `notifyWatchers` once it holds no lock of its own.
    func appendAll(_ records: [(framed: [UInt8], rows: Int)]) throws(StrataError) -> (positions: [(start: WALPosition, end: WALPosition)], madeDurable: Bool) {
        try monitor.withLock { () throws(StrataError) in
            let syncedBefore = synced
            let positions = try unlockedAppendAll(records)
            return (positions, policy == .none || synced != syncedBefore)
        }
    }

    /// `appendAll` with the lock held.
    private func unlockedAppendAll(_ records: [(framed: [UInt8], rows: Int)]) throws(StrataError) -> [(start: WALPosition, end: WALPosition)] {
        if let failure { throw failure }
        guard !closed else { throw StrataError(.invalidInput, "the write-ahead log is closed", path: directory) }
        let total = records.reduce(0) { $0 + $1.framed.count }
        if size > WALLayout.headerSize && size + total > maxFileSize { try rotate() }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(total)
        for r in records { bytes += r.framed }
        do throws(StrataError) {
            try FileSystem.writeAll(fd, bytes, path: currentFilePath)
        } catch {
            if error.isOutOfSpace && ftruncate(fd, off_t(size)) == 0 {
                refusedBytes = total
                outOfSpace = Self.spaceRefusal(error)
                throw outOfSpace!
            }
            fail(error)
            throw failure ?? error
        }
        var positions: [(start: WALPosition, end: WALPosition)] = []
        positions.reserveCapacity(records.count)
        for r in records {
            let start = WALPosition(file: sequence, offset: UInt64(size))
            size += r.framed.count
            positions.append((start, WALPosition(file: sequence, offset: UInt64(size))))
            writtenRows += r.rows
        }
        written = WALPosition(file: sequence, offset: UInt64(size))
        stats.records += records.count
        stats.bytes += total
        outOfSpace = nil
        if policy == .always { monitor.broadcast() }
        return positions
    }

    /// Registers `wake`, called whenever records become durable; returns its id for `unwatch`.
    func watch(_ wake: @escaping @Sendable () -> Void) -> UInt64 {
        watchers.withLock { w in
            w.next += 1
            w.wakes[w.next] = wake
            return w.next
        }
    }

    func unwatch(_ id: UInt64) {
        _ = watchers.withLock { $0.wakes.removeValue(forKey: id) }
    }

    /// Calls every watcher; the caller holds no lock (a watcher may take the database's).
    /// A watch cancelled while this runs may be called this once more.
    func notifyWatchers() {
        let wakes = watchers.withLock { $0.wakes.isEmpty ? [] : Array($0.wakes.values) }
        for wake in wakes { wake() }
    }

    /// Why appends are refused while the file system is full: nil once one succeeds, or
    /// once the file system has room again for the refused batch and a MiB more (so that
    /// readiness comes back with the space, not only with the next write).
    var spaceFailure: StrataError? {
        guard let refused = monitor.withLock({ outOfSpace }) else { return nil }
        var fs = statvfs()
        guard statvfs(directory, &fs) == 0 else { return refused }
        let free = UInt64(fs.f_bavail) * UInt64(fs.f_frsize)
        return free >= UInt64(refusedBytes + (1 << 20)) ? nil : refused
    }

    static func spaceRefusal(_ error: StrataError) -> StrataError {
        var e = error
        e.code = .busy
        e.message = "no space left on the device of the write-ahead log (\(error.message)): nothing of this write was stored; writes resume by themselves once space is freed"
        return e
    }

    /// Finishes the current file (made durable) and starts the next, which is made first:
    /// a full file system leaves the current file as it was. Lock held.
    private func rotate() throws(StrataError) {
        while syncing { monitor.wait() }
        let next: Int32
        do throws(StrataError) {
            next = try Self.create(directory, sequence + 1)
        } catch {
            if error.isOutOfSpace {
                outOfSpace = Self.spaceRefusal(error)
                throw outOfSpace!
            }
            fail(error)
            throw failure ?? error
        }
        do throws(StrataError) {
            try FileSystem.dataSync(fd, path: currentFilePath)
        } catch {
            Glibc.close(next)
            fail(error)
            throw failure ?? error
        }
        Glibc.close(fd)
        markSynced()
        resumeWaiters()
        fd = next
        sequence += 1
        size = WALLayout.headerSize
        written = WALPosition(file: sequence, offset: UInt64(size))
        synced = written
    }

    /// Everything written is now durable. Lock held.
    private func markSynced() {
        synced = written
        syncedRows = writtenRows
    }

    /// Returns when the record ending at `end` is durable under the policy (at once for
    /// `interval` and `none`, whose records are written by `append`).
    func waitUntilDurable(_ end: WALPosition) async throws(StrataError) {
        guard policy == .always else { return }
        let error: StrataError? = await withCheckedContinuation { continuation in
            monitor.withLock {
                if let failure {
                    continuation.resume(returning: failure)
                } else if synced >= end {
                    continuation.resume(returning: nil)
                } else {
                    waiters.append((end, continuation))
                }
            }
        }
        if let error { throw error }
    }

    /// The blocking form of `waitUntilDurable`, for threads outside Swift concurrency.
    func waitUntilDurableBlocking(_ end: WALPosition) throws(StrataError) {
        guard policy == .always else { return }
        try monitor.withLock { () throws(StrataError) in
            while synced < end && failure == nil { monitor.wait() }
            if let failure { throw failure }
        }
    }

    /// Makes the record ending at `end` durable now, whatever the policy (for deletes,
    /// whose tombstones must never outlive their record).
    func makeDurable(_ end: WALPosition) throws(StrataError) {
        if policy == .always { return try waitUntilDurableBlocking(end) }
        try monitor.withLock { () throws(StrataError) in
            while syncing { monitor.wait() }
            if let failure { throw failure }
            // Finished files were made durable when the next one began.
            guard synced < end, end.file == sequence else { return }
            let started = monotonicNanoseconds()
            do throws(StrataError) {
                try FileSystem.dataSync(fd, path: currentFilePath)
            } catch {
                fail(error)
                throw failure ?? error
            }
            stats.recordSync(nanoseconds: monotonicNanoseconds() - started)
            markSynced()
            resumeWaiters()
        }
        notifyWatchers()
    }

    /// The sync thread: fdatasync whenever records were written since the last one
    /// (`always`), or every `interval` nanoseconds.
    private func syncLoop(every interval: Int64?) {
        while true {
            let job: (fd: Int32, target: LogMark, path: String)? = monitor.withLock {
                while true {
                    if failure != nil { return nil }
                    if synced < written && interval == nil { break }
                    if closed { return nil }
                    if let interval {
                        monitor.wait(nanoseconds: interval)
                        if synced < written || closed { break }
                    } else {
                        monitor.wait()
                    }
                }
                if closed && synced >= written { return nil }
                syncing = true
                return (fd, LogMark(position: written, rows: writtenRows), currentFilePath)
            }
            guard let job else { return }
            let started = monotonicNanoseconds()
            let outcome = Result { () throws(StrataError) in try FileSystem.dataSync(job.fd, path: job.path) }
            let elapsed = monotonicNanoseconds() - started
            monitor.withLock {
                syncing = false
                if case .failure(let error) = outcome {
                    fail(error)
                } else {
                    stats.recordSync(nanoseconds: elapsed)
                    if job.target.position > synced {
                        synced = job.target.position
                        syncedRows = job.target.rows
                    }
                    resumeWaiters()
                }
                monitor.broadcast()
            }
            if case .success = outcome { notifyWatchers() }
        }
    }

    /// Resumes appenders whose records are now durable. Lock held.
    private func resumeWaiters() {
        guard !waiters.isEmpty else { return }
        var keep: [(position: WALPosition, continuation: CheckedContinuation<StrataError?, Never>)] = []
        for w in waiters {
            if w.position <= synced { w.continuation.resume(returning: nil) } else { keep.append(w) }
        }
        waiters = keep
        monitor.broadcast()
    }

    /// Records a failure and fails every waiter. Lock held.
    private func fail(_ error: StrataError) {
        var e = error
        e.message = "the write-ahead log failed, so the store accepts no more writes until it is reopened: " + e.message
        if failure == nil { failure = e }
        for w in waiters { w.continuation.resume(returning: failure) }
        waiters = []
        monitor.broadcast()
    }

    /// Makes everything written durable, stops the sync thread and closes the file.
    func close() throws(StrataError) {
        let alreadyClosed = monitor.withLock {
            let was = closed
            closed = true
            monitor.broadcast()
            return was
        }
        if alreadyClosed { return }
        thread?.join()
        try monitor.withLock { () throws(StrataError) in
            defer {
                if fd >= 0 { Glibc.close(fd) }
                fd = -1
            }
            if failure == nil && fd >= 0 {
                do throws(StrataError) {
                    try FileSystem.dataSync(fd, path: currentFilePath)
                    markSynced()
                } catch {
                    fail(error)
                }
            }
            resumeWaiters()
            if let failure { throw failure }
        }
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }
}

/// Counters of a write-ahead log.
public struct WALStatistics: Sendable {
    public var records = 0
    public var bytes = 0
    public var syncs = 0
    public var syncNanoseconds: Int64 = 0
    public var maxSyncNanoseconds: Int64 = 0
    /// fdatasyncs per duration bucket: at most `syncBucketBounds[i]`, the last beyond them all.
    public var syncBuckets = [Int](repeating: 0, count: WALStatistics.syncBucketBounds.count + 1)

    /// Upper bounds of the fdatasync buckets (nanoseconds): 100 µs … 1 s.
    public static let syncBucketBounds: [Int64] = [100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
                                                   25_000_000, 50_000_000, 100_000_000, 250_000_000, 1_000_000_000]

    mutating func recordSync(nanoseconds: Int64) {
        syncs += 1
        syncNanoseconds += nanoseconds
        maxSyncNanoseconds = max(maxSyncNanoseconds, nanoseconds)
        syncBuckets[Self.syncBucketBounds.firstIndex { nanoseconds <= $0 } ?? Self.syncBucketBounds.count] += 1
    }
}
