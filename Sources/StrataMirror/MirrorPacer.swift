import StrataFormat

/// When the mirror reads its next batch from the log: a value that takes the log's durable
/// end, the mirror's cursor and the clock, and answers — tested without a database.
///
/// While the log is growing and the backlog is small, it waits for a quiet moment, so that
/// bursts of ingest go over in large batches and the mirror takes the processor ingest leaves;
/// a full batch of backlog goes at once, and no record waits more than `maxWait` for it.
struct MirrorPacer: Sendable {
    enum Action: Sendable, Equatable {
        /// Read the next batch now (it may turn out empty: caught up).
        case read
        /// Pause, then ask again.
        case wait
    }

    let batchBytes: Int
    let quietNanoseconds: Int64
    let maxWaitNanoseconds: Int64
    private var lastDurable = WALPosition.zero
    private var lastGrowth: Int64
    private var waitingSince: Int64?

    init(batchBytes: Int, quietMilliseconds: Int, maxWaitNanoseconds: Int64 = 1_000_000_000, now: Int64) {
        self.batchBytes = batchBytes
        quietNanoseconds = Int64(quietMilliseconds) * 1_000_000
        self.maxWaitNanoseconds = maxWaitNanoseconds
        lastGrowth = now
    }

    mutating func next(durable: WALPosition, cursor: WALPosition, now: Int64) -> Action {
        if durable != lastDurable {
            lastDurable = durable
            lastGrowth = now
        }
        guard durable > cursor else {
            waitingSince = nil
            return .read
        }
        let since = waitingSince ?? now
        waitingSince = since
        // What is left in the cursor's log file (a lower bound across files).
        let backlog = durable.file == cursor.file ? Int(durable.offset) - Int(cursor.offset) : batchBytes
        let growing = now - lastGrowth < quietNanoseconds
        return backlog < batchBytes && growing && now - since < maxWaitNanoseconds ? .wait : .read
    }
}
