import StrataFormat

/// The decisions of one mirror session (a connection's life) as a value: it takes events —
/// the database reached with its cursor, a look at the log's durable end and the clock, a
/// batch read, a batch committed, a stop — and answers the one action to take next. It does
/// no I/O: `Mirror.session` performs each action (the log, PostgreSQL, the status, the
/// thread's sleeps) and feeds back the event it led to; tests drive it without a database.
///
/// A session goes: connected → keep the log from the cursor → count the backlog → report;
/// then, until a stop: look at the log → wait for a quiet moment, or read a batch → caught up
/// (report, pause), or report, apply → keep the log from the new cursor → report.
struct MirrorSession: Sendable {
    enum Action: Sendable, Equatable {
        /// Keep the log from `from` on for the mirror; then `logRetained`.
        case retainLog(from: LogBound)
        /// Count the rows in the durable log after the position as the whole backlog (the
        /// lag in rows starts over from that count); then `backlogCounted`.
        case countBacklog(after: WALPosition)
        /// Count the rows in the log between the positions and add them to those replicated:
        /// a batch whose commit the last session did not see; then `backlogCounted`.
        case countMissedRows(after: WALPosition, through: WALPosition)
        /// Record the change in the mirror's status; then `statusReported`.
        case report(StatusChange)
        /// Look at the log's durable end and the clock; then `tick`, or `stopRequested`.
        case checkLog
        /// The log is growing and the backlog is small: sleep this long (the log's wakes do
        /// not cut it short), then as `checkLog`.
        case wait(milliseconds: Int)
        /// Caught up: sleep this long unless the log wakes the mirror, then as `checkLog`.
        case pause(milliseconds: Int)
        /// Read about a batch's worth of the durable log after the position; then `batchRead`.
        case read(after: WALPosition)
        /// Send the batch read and commit it with the cursor at `through`, if the database
        /// still holds `expected`; with `exitBeforeCommit`, end the process (status 86)
        /// before the commit (crash tests). Then `batchCommitted`.
        case apply(through: WALPosition, expected: MirrorCursor, exitBeforeCommit: Bool)
        /// The session is over (stopped).
        case end
    }

    /// Where the log is kept from.
    enum LogBound: Sendable, Equatable {
        /// The oldest log file there is: a cursor at the start has replicated nothing.
        case oldestFile
        case position(WALPosition)
    }

    /// What changed in `MirrorStatus` (applied by `MirrorStatus.record`).
    enum StatusChange: Sendable, Equatable {
        /// The database is reached and holds this cursor.
        case connected(MirrorCursor)
        /// Nothing after the cursor in the durable log, which ends at `durable`.
        case caughtUp(durable: WALPosition)
        /// A batch is on its way; the durable log ends at `durable`.
        case replicating(durable: WALPosition)
        /// A batch committed with the cursor; `lagBytes` are left in the cursor's log file.
        case committed(MirrorCursor, rows: Int, deletes: Int, lagBytes: Int)
    }

    /// A batch read from the log: where it ends, what it holds, and where the durable log
    /// ended when it was asked for.
    private struct Batch: Sendable, Equatable {
        var end: WALPosition
        var rows: Int
        var deletes: Int
        var durable: WALPosition
    }

    /// What the session waits for; each names the event that moves it on.
    private enum State: Sendable, Equatable {
        /// `connected`.
        case connecting
        /// `logRetained`, then the backlog is counted.
        case retainingFromCursor(MirrorCursor, countedThrough: WALPosition?)
        /// `backlogCounted`.
        case countingBacklog(MirrorCursor)
        /// `statusReported`, then a look at the log.
        case reporting(MirrorCursor)
        /// `tick` (or `stopRequested`).
        case idle(MirrorCursor)
        /// `batchRead`.
        case reading(MirrorCursor, durable: WALPosition)
        /// `statusReported`, then a pause.
        case reportingCaughtUp(MirrorCursor)
        /// `statusReported`, then the batch is applied.
        case reportingBatch(MirrorCursor, Batch)
        /// `batchCommitted`.
        case applying(MirrorCursor, Batch)
        /// `logRetained`, then the commit is reported.
        case retainingAfterCommit(MirrorCursor, Batch)
        case ended
    }

    let batchBytes: Int
    let pollMilliseconds: Int
    let exitBeforeCommit: Bool
    private var pacer: MirrorPacer
    private var state = State.connecting

    init(batchBytes: Int, quietMilliseconds: Int, pollMilliseconds: Int, exitBeforeCommit: Bool = false, now: Int64) {
        self.batchBytes = batchBytes
        self.pollMilliseconds = pollMilliseconds
        self.exitBeforeCommit = exitBeforeCommit
        pacer = MirrorPacer(batchBytes: batchBytes, quietMilliseconds: quietMilliseconds, now: now)
    }

    init(_ configuration: MirrorConfiguration, now: Int64) {
        self.init(batchBytes: configuration.batchBytes, quietMilliseconds: configuration.quietMilliseconds,
                  pollMilliseconds: configuration.pollMilliseconds, exitBeforeCommit: configuration.exitBeforeCommit, now: now)
    }

    /// The database is reached and holds `cursor`. `countedThrough`: where this process last
    /// saw the cursor committed, if it has counted the backlog (nil: count it now).
    mutating func connected(cursor: MirrorCursor, countedThrough: WALPosition?) -> Action {
        guard case .connecting = state else { invalid("connected") }
        state = .retainingFromCursor(cursor, countedThrough: countedThrough)
        return .retainLog(from: cursor == .start ? .oldestFile : .position(cursor.position))
    }

    mutating func logRetained() -> Action {
        switch state {
        case .retainingFromCursor(let cursor, let counted):
            state = .countingBacklog(cursor)
            guard let counted, cursor.position >= counted else {
                // Never counted, or the database went back (restored): count it all.
                return .countBacklog(after: cursor.position)
            }
            if cursor.position > counted { return .countMissedRows(after: counted, through: cursor.position) }
            return backlogCounted()
        case .retainingAfterCommit(let cursor, let batch):
            state = .reporting(cursor)
            // What is left in the current log file (a lower bound across files).
            let left = batch.durable.file == batch.end.file ? max(0, Int(batch.durable.offset) - Int(batch.end.offset)) : batchBytes
            return .report(.committed(cursor, rows: batch.rows, deletes: batch.deletes, lagBytes: left))
        case .ended: return .end
        default: invalid("logRetained")
        }
    }

    mutating func backlogCounted() -> Action {
        switch state {
        case .countingBacklog(let cursor):
            state = .reporting(cursor)
            return .report(.connected(cursor))
        case .ended: return .end
        default: invalid("backlogCounted")
        }
    }

    mutating func statusReported() -> Action {
        switch state {
        case .reporting(let cursor):
            state = .idle(cursor)
            return .checkLog
        case .reportingCaughtUp(let cursor):
            state = .idle(cursor)
            return .pause(milliseconds: pollMilliseconds)
        case .reportingBatch(let cursor, let batch):
            state = .applying(cursor, batch)
            return .apply(through: batch.end, expected: cursor, exitBeforeCommit: exitBeforeCommit)
        case .ended: return .end
        default: invalid("statusReported")
        }
    }

    /// A look at the log: it is durable up to `durable` at the monotonic time `now` (ns).
    mutating func tick(durable: WALPosition, now: Int64) -> Action {
        switch state {
        case .idle(let cursor):
            if pacer.next(durable: durable, cursor: cursor.position, now: now) == .wait { return .wait(milliseconds: pollMilliseconds) }
            state = .reading(cursor, durable: durable)
            return .read(after: cursor.position)
        case .ended: return .end
        default: invalid("tick")
        }
    }

    /// The batch read ends at `end` (the position asked for when there was nothing new) and
    /// holds `rows` rows and `deletes` deletes.
    mutating func batchRead(end: WALPosition, rows: Int, deletes: Int) -> Action {
        switch state {
        case .reading(let cursor, let durable):
            if end == cursor.position {
                state = .reportingCaughtUp(cursor)
                return .report(.caughtUp(durable: durable))
            }
            state = .reportingBatch(cursor, Batch(end: end, rows: rows, deletes: deletes, durable: durable))
            return .report(.replicating(durable: durable))
        case .ended: return .end
        default: invalid("batchRead")
        }
    }

    /// The batch committed with `cursor`.
    mutating func batchCommitted(_ cursor: MirrorCursor) -> Action {
        switch state {
        case .applying(_, let batch):
            state = .retainingAfterCommit(cursor, batch)
            return .retainLog(from: .position(cursor.position))
        case .ended: return .end
        default: invalid("batchCommitted")
        }
    }

    /// The mirror is stopping: whatever the session waited for, it ends. Every event after
    /// this but `connected` answers `end` too.
    mutating func stopRequested() -> Action {
        state = .ended
        return .end
    }

    private func invalid(_ event: String) -> Never {
        preconditionFailure("mirror session: \(event) while in \(state)")
    }
}

extension MirrorStatus {
    /// Applies what the session reported.
    mutating func record(_ change: MirrorSession.StatusChange) {
        switch change {
        case .connected(let c):
            cursor = c
            lastError = nil
        case .caughtUp(let d):
            state = .caughtUp
            durable = d
            lagBytes = 0
        case .replicating(let d):
            state = .replicating
            durable = d
        case .committed(let c, let rows, let deletes, let left):
            cursor = c
            rowsReplicated += rows
            deletesReplicated += deletes
            batches += 1
            lagBytes = left
        }
    }
}
