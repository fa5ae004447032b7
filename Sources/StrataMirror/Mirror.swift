import Glibc
import StrataEngine
import StrataFormat
import StrataPlatform

/// Settings of the database mirror.
public struct MirrorConfiguration: Sendable {
    /// libpq connection string or URI (`TIMESCALE_DSN`).
    public var dsn: String
    public var options = MirrorOptions()
    /// Log bytes per transaction: large batches make COPY fast.
    public var batchBytes = 16 << 20
    /// How often an idle mirror looks for new durable records.
    public var pollMilliseconds = 20
    /// Retries after a failure wait this long, doubling up to the maximum, with jitter.
    public var initialBackoffMilliseconds = 100
    public var maxBackoffMilliseconds = 10_000
    /// The mirror thread's nice value (0…19): above 0 it yields the CPU to ingest.
    public var niceness: Int32 = 10
    /// While the log grew within this long and less than `batchBytes` waits, the mirror
    /// waits for a quiet moment rather than take CPU from a burst of ingest.
    public var quietMilliseconds = 50
    /// Tests only: end the process (status 86) inside the first batch's transaction, after
    /// its COPY and before COMMIT.
    public var exitBeforeCommit = false
    /// Called on the mirror's thread when replication first fails (at start or after the
    /// database was reached) and when the database is reached again; not on each retry.
    public var onReachabilityChange: @Sendable (Reachability.Change) -> Void = { _ in }

    public init(dsn: String) { self.dsn = dsn }
}

/// What the mirror is doing, for `strata mirror status` and /metrics.
public struct MirrorStatus: Sendable {
    public enum State: String, Sendable {
        case starting, replicating
        case caughtUp = "caught up"
        case retrying, stopped
        /// The log the cursor points into is gone: `strata mirror sync` must fill the gap.
        case needsSync = "needs sync"
    }

    public var state: State = .starting
    public var cursor: MirrorCursor?
    /// Where the durable log ended when last looked at.
    public var durable: WALPosition = .zero
    /// Rows and batches replicated by this process.
    public var rowsReplicated = 0
    public var deletesReplicated = 0
    public var batches = 0
    public var failures = 0
    /// Seconds since the mirror was last seen caught up, or since it started if it has not
    /// been: an upper bound on the age of the oldest durable row not yet replicated (0 when
    /// caught up). Counts also while the database is away.
    public var lagSeconds: Double = 0
    /// Durable log records not yet replicated (counted while reading; 0 when caught up).
    public var lagBytes = 0
    /// Rows in the durable log after the cursor, also while the database is away: before the
    /// mirror first connects, counted from where the store kept the log for it (the cursor it
    /// last saw committed). Nil only when that log cannot be read (`needs sync`).
    public var lagRows: Int?
    public var lastError: String?
    /// The store held rows before the mirror first ran: `strata mirror sync` backfills them.
    public var needsBackfill = false
    public var timescale: Bool?
    public var plainReason: String?
    public var server: String?
}

/// Replicates a store into PostgreSQL/TimescaleDB in the background: reads the durable
/// write-ahead log from the cursor the database holds, sends it in large COPY batches,
/// and commits each batch with the new cursor (exactly once). It never blocks ingest: the
/// engine only keeps the log files the mirror still needs. When the database is down or
/// refuses, the mirror records the error, waits (exponential backoff with jitter) and
/// reconnects; the store keeps accepting writes and the mirror catches up afterwards.
public final class Mirror: @unchecked Sendable {
    public let database: Database
    public let configuration: MirrorConfiguration
    let store: String
    private let monitor = Monitor()
    private var current = MirrorStatus()
    private let worker = ServiceThread(name: "strata-mirror")
    /// Wakes the worker when the log has new durable records, rather than it polling (a
    /// wake before `start` is kept for its first pause).
    private let logWatch: LogWatch
    /// When the mirror was last seen with nothing to replicate (or started). Guarded by `monitor`.
    private var lastCaughtUp = monotonicNanoseconds()
    /// For the lag in rows: the rows after the cursor up to a mark of the log, counted once,
    /// and the rows replicated since. Guarded by `monitor`.
    private var lagBase: (mark: LogMark, rows: Int, cursor: WALPosition)?
    private var replicatedSinceBase = 0

    /// Sets up the mirror of an open store. From here on the store keeps every log file
    /// the mirror has not replicated (even before it first reaches the database).
    public init(database: Database, configuration: MirrorConfiguration) throws(StrataError) {
        self.database = database
        logWatch = database.watchLog { [worker] in worker.wake() }
        self.configuration = configuration
        store = try database.store.identity()
        if database.logRetention(for: Database.mirrorReader) == nil {
            // The first mirror of this store: rows it already holds are not in the log.
            var data = false
            for key in try database.store.seriesDays() where !data {
                let m = try database.store.manifest(key)
                data = !m.segments.isEmpty || !m.cold.isEmpty
            }
            let start = database.oldestLogPosition
            if data { try Self.markBackfillNeeded(database.store.directory, logFrom: start) }
            try database.retainLog(from: start)
        }
        current.needsBackfill = Self.needsBackfill(database.store.directory)
        current.server = PostgresConnection.describe(configuration.dsn)
        // The backlog before the database is reached: the log kept for the mirror starts
        // where it last saw its cursor committed.
        let mark = database.durableLog
        if let kept = database.logRetention(for: Database.mirrorReader), let rows = try? database.logRows(after: kept, through: mark.position) {
            lagBase = (mark, rows, kept)
        }
    }

    /// `_wal/_backfill`: the store held rows when its mirror was set up, so the database
    /// lacks them until a full `sync`. Kept across restarts until then.
    static func backfillPath(_ dataDirectory: String) -> String { "\(dataDirectory)/_wal/_backfill" }

    /// Whether the store held rows before its mirror was set up and no full sync ran since.
    public static func needsBackfill(_ dataDirectory: String) -> Bool { FileSystem.exists(backfillPath(dataDirectory)) }

    static func markBackfillNeeded(_ dataDirectory: String, logFrom start: WALPosition) throws(StrataError) {
        let text = "strata-mirror-backfill 1\nrows before log position \(start.file) \(start.offset) are not replicated\n"
        try FileSystem.writeAtomically(backfillPath(dataDirectory), [ChecksummedText.encode(text)])
    }

    public var status: MirrorStatus {
        let mark = database.durableLog
        let now = monotonicNanoseconds()
        return monitor.withLock {
            var s = current
            s.lagRows = lagBase.map { max(0, $0.rows + (mark.rows - $0.mark.rows) - replicatedSinceBase) }
            if s.lagRows == 0 { lastCaughtUp = now }
            let behind = s.lagRows.map { $0 > 0 } ?? (s.state != .caughtUp)
            s.lagSeconds = behind ? Double(now - lastCaughtUp) / 1e9 : 0
            return s
        }
    }

    public func start() {
        worker.start { [self] in run() }
    }

    /// Stops after the batch in flight (which commits or rolls back as a whole).
    public func stop() {
        worker.stop()
        update { $0.state = .stopped }
    }

    /// Waits until every append that returned before the call is replicated (once the
    /// fsync policy has made it durable); throws the mirror's last error if that does not
    /// happen within `seconds`, or, with `awaySeconds`, once the mirror has been without
    /// its database (failed to connect or lost it, and retrying) that long in a row. A
    /// first connection still being tried counts as not away (its connect timeout bounds it).
    public func waitUntilReplicated(seconds: Double = 60, awaySeconds: Double? = nil) throws(StrataError) {
        let target = database.writtenLogPosition
        let deadline = monotonicNanoseconds() + Int64(seconds * 1e9)
        var awaySince: Int64?
        while true {
            let s = status
            if let c = s.cursor, c.position >= target { return }
            let now = monotonicNanoseconds()
            awaySince = s.state == .retrying || s.state == .needsSync ? awaySince ?? now : nil
            let gaveUp = awaySeconds.map { limit in awaySince.map { now - $0 > Int64(limit * 1e9) } ?? false } ?? false
            if now > deadline || gaveUp {
                throw StrataError(.io, "the mirror did not reach \(target) " + (gaveUp ? "(its database is away)" : "in \(seconds) s") + " (at \(s.cursor.map { "\($0.position)" } ?? "no cursor"), \(s.state.rawValue))" + (s.lastError.map { ": \($0)" } ?? ""))
            }
            usleep(5_000)
        }
    }

    private var isStopping: Bool { worker.isStopping }

    private func pause(_ milliseconds: Int) -> Bool { worker.pause(milliseconds: milliseconds) }

    func update(_ change: (inout MirrorStatus) -> Void) {
        monitor.withLock { change(&current) }
    }

    private func run() {
        // Below ingest: on a busy machine the mirror takes the CPU ingest leaves (Linux
        // gives each thread its own nice value), and catches up when ingest pauses.
        BackgroundThread.setCurrentNiceness(configuration.niceness)
        var schedule = ReconnectSchedule(initialMilliseconds: configuration.initialBackoffMilliseconds,
                                         maxMilliseconds: configuration.maxBackoffMilliseconds)
        var reachability = Reachability()
        while !isStopping {
            let batchesBefore = status.batches
            do throws(StrataError) {
                try session(&reachability)
                return
            } catch {
                if let change = reachability.failed(error) { configuration.onReachabilityChange(change) }
                // A session that got somewhere starts the backoff over.
                if status.batches > batchesBefore { schedule.connected() }
                let gap = error.code == .notFound
                update {
                    $0.state = gap ? .needsSync : .retrying
                    $0.failures += 1
                    $0.lastError = error.description
                }
                let wait = schedule.failed(at: monotonicNanoseconds())
                if !pause(gap ? configuration.maxBackoffMilliseconds : wait) { return }
            }
        }
    }

    /// One connection's life: replicate until stopped or until something fails. What to do
    /// next is `MirrorSession`'s decision; this performs it and tells the session how it went.
    private func session(_ reachability: inout Reachability) throws(StrataError) {
        let connection = try PostgresConnection(configuration.dsn)
        let writer = try MirrorWriter(connection: connection, options: configuration.options, store: store)
        try writer.prepareBars(try database.store.measurements())
        let cursor = try writer.cursor()
        // Where this process last saw the cursor committed, if it has counted the backlog.
        let counted = monitor.withLock { lagBase.map { current.cursor?.position ?? $0.cursor } }
        var session = MirrorSession(configuration, now: monotonicNanoseconds())
        var changes: [MirrorChange] = []
        var action = session.connected(cursor: cursor, countedThrough: counted)
        func checkLog() -> MirrorSession.Action {
            isStopping ? session.stopRequested() : session.tick(durable: database.durableLogPosition, now: monotonicNanoseconds())
        }
        while true {
            switch action {
            case .retainLog(let from):
                switch from {
                case .oldestFile: try database.retainLog(from: database.oldestLogPosition)
                case .position(let position): try database.retainLog(from: position)
                }
                action = session.logRetained()
            case .countBacklog(let position):
                let mark = database.durableLog
                let rows = try database.logRows(after: position, through: mark.position)
                update { _ in
                    lagBase = (mark, rows, position)
                    replicatedSinceBase = 0
                }
                action = session.backlogCounted()
            case .countMissedRows(let from, let through):
                let missed = try database.logRows(after: from, through: through)
                update { _ in replicatedSinceBase += missed }
                action = session.backlogCounted()
            case .report(let change):
                record(change, writer)
                if case .connected = change, let change = reachability.reached() { configuration.onReachabilityChange(change) }
                action = session.statusReported()
            case .checkLog:
                action = checkLog()
            case .wait(let milliseconds):
                // A wait for a quiet moment: the log's wakes (it is growing) do not cut it short.
                action = worker.sleep(nanoseconds: Int64(milliseconds) * 1_000_000) ? checkLog() : session.stopRequested()
            case .pause(let milliseconds):
                action = pause(milliseconds) ? checkLog() : session.stopRequested()
            case .read(let position):
                let batch = try nextBatch(after: position)
                changes = batch.changes
                action = session.batchRead(end: batch.end, rows: batch.rows, deletes: batch.deletes)
            case .apply(let end, let expected, let crash):
                let committed = try writer.apply(changes, through: end, expected: expected) { () throws(StrataError) in
                    // For crash tests: the process dies with the COPY sent and not committed.
                    if crash { Glibc.exit(86) }
                }
                changes = []
                action = session.batchCommitted(committed)
            case .end:
                return
            }
        }
    }

    /// Records what the session reported in the status, with what only the mirror knows:
    /// the database's kind, when it was caught up, the rows behind the lag in rows.
    private func record(_ change: MirrorSession.StatusChange, _ writer: MirrorWriter) {
        let now = monotonicNanoseconds()
        update {
            $0.record(change)
            switch change {
            case .connected:
                $0.timescale = writer.schema.timescale
                $0.plainReason = writer.plainReason
                $0.server = writer.connection.server
            case .caughtUp: lastCaughtUp = now
            case .committed(_, let rows, _, _): replicatedSinceBase += rows
            case .replicating: break
            }
        }
    }

    /// The changes of the durable log after `position`, about `batchBytes` of them, and
    /// where they end (`position` itself when there is nothing new).
    func nextBatch(after position: WALPosition) throws(StrataError) -> (changes: [MirrorChange], end: WALPosition, rows: Int, deletes: Int) {
        var changes: [MirrorChange] = []
        var rows = 0, deletes = 0
        let end = try database.readLog(after: position, maxBytes: configuration.batchBytes) { (entry: LogEntry) throws(StrataError) in
            switch entry.record {
            case .rows(_, _, _, let block): rows += block.rowCount
            case .delete: deletes += 1
            }
            changes.append(try MirrorChange(entry.record))
        }
        return (changes, end, rows, deletes)
    }
}
