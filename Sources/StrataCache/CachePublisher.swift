import Glibc
import StrataEngine
import StrataFormat
import StrataPlatform

/// Settings of the Redis hot tier.
public struct CacheConfiguration: Sendable {
    public var url: RedisURL
    /// The first part of every key.
    public var prefix = "strata"
    /// How much of each series' recent data its stream keeps (by the rows' own time).
    public var windowSeconds: Double = 3_600
    /// Time to live of the `last` hashes: a series without rows this long disappears.
    public var lastTTLSeconds: Double = 86_400
    /// Rows waiting for Redis at most; beyond it the oldest are dropped (and counted).
    public var bufferRows = 1_000_000
    /// Rows per pipeline sent to Redis.
    public var batchRows = 8_192
    /// Log bytes read per look.
    public var readBytes = 4 << 20
    /// How often an idle publisher looks for new durable records.
    public var pollMilliseconds = 10
    public var initialBackoffMilliseconds = 100
    public var maxBackoffMilliseconds = 5_000
    /// Socket timeout for connecting and for each exchange.
    public var timeoutMilliseconds = 5_000
    /// The publisher thread's nice value (0…19): above 0 it yields the CPU to ingest.
    public var niceness: Int32 = 10
    /// Called on the publisher's thread when Redis first fails (at start or after being
    /// reached) and when it is reached again; not on each retry.
    public var onReachabilityChange: @Sendable (Reachability.Change) -> Void = { _ in }

    public init(url: RedisURL) { self.url = url }

    var encoder: CacheEncoder {
        CacheEncoder(keys: CacheKeys(prefix: prefix), windowMilliseconds: Int64(windowSeconds * 1000),
                     lastTTLMilliseconds: max(1, Int64(lastTTLSeconds * 1000)))
    }
}

/// What the publisher is doing, for `strata cache status` and /metrics.
public struct CacheStatus: Sendable {
    public enum State: String, Sendable {
        case starting, publishing
        case caughtUp = "caught up"
        case disconnected, stopped
    }

    public var state: State = .starting
    public var server: String
    public var connected = false
    /// Rows Redis took, and rows dropped: Redis was away or slow for longer than the buffer
    /// holds, or refused them (they are safe in Strata; the streams have a gap there).
    public var rowsPublished = 0
    public var rowsDropped = 0
    /// Rows the store made durable that Redis has not confirmed yet: not yet read from the
    /// log, waiting in the buffer, or sent without a reply yet.
    public var lagRows = 0
    /// How long the oldest waiting row has waited, in seconds (0 when none waits).
    public var lagSeconds: Double = 0
    /// Series published to since the publisher started.
    public var streams = 0
    public var connects = 0
    public var failures = 0
    public var lastError: String?
}

/// Publishes every row the store makes durable to Redis: XADD to the series' stream
/// (trimmed to the window) and the latest row of each series as its `last` hash. It reads
/// the write-ahead log behind ingest, so ingest never waits for it; between the log and
/// Redis is a bounded buffer: while Redis is down or slow, the oldest waiting rows are
/// dropped and counted (Redis is a cache; the rows are safe in Strata). It reconnects with
/// backoff and, once back, rewrites every `last` hash from the newest rows it has seen.
public final class CachePublisher: @unchecked Sendable {
    public let database: Database
    public let configuration: CacheConfiguration
    let store: String
    let encoder: CacheEncoder
    private let monitor = Monitor()
    var current: CacheStatus
    private let worker = ServiceThread(name: "strata-cache")
    /// Wakes the worker when the log has new durable records, rather than it polling (a
    /// wake before `start` is kept for its first pause).
    private let logWatch: LogWatch

    // Guarded by `monitor` (read by `status`):
    /// The log mark where publishing began, and the rows read from the log since.
    let base: LogMark
    var rowsRead = 0
    /// Rows in the buffer, and rows sent and not confirmed (in flight or unsent).
    var waitingRows = 0
    var unconfirmedRows = 0
    var oldestWaitingSince: Int64?
    /// Where the log was read up to, and whether every row before it is confirmed or dropped.
    var position: WALPosition
    var drained = true

    // The publisher thread's own:
    var queue: [Waiting] = []
    var head = 0
    var latest: [SeriesKey: Latest] = [:]
    var streamIDs: [SeriesKey: StreamID] = [:]
    /// The batch written to Redis whose replies are not read yet: Redis works on it while
    /// the next one is encoded.
    var inflight: Batch?
    /// Batches a lost connection left without replies, sent again (in order) on reconnect.
    var unsent: [Batch] = []
    var lastStatusWrite: Int64 = 0

    /// Rows read from the log and not yet sent.
    struct Waiting {
        var series: SeriesKey
        var schema: [Field]
        var rows: RowBlock
        var next: Int
        var readAt: Int64
        var remaining: Int { rows.rowCount - next }
    }

    /// The newest row of a series (by time; of equal times, the last to arrive), and when
    /// the series last had a row (monotonic nanoseconds).
    struct Latest {
        var schema: [Field]
        var row: RowBlock
        var seenAt: Int64
        var time: Int64 { row.timestamps[0] }
    }

    /// Commands ready to send, and which rows of which series they carry.
    struct Batch {
        var commands = RESPWriter()
        var rows = 0
        /// For each XADD's command index, its series (other commands are absent).
        var streamOf: [Int: SeriesKey] = [:]
        /// The id of each series' last XADD in the batch.
        var lastID: [SeriesKey: StreamID] = [:]
    }

    /// Starts from the end of the store's log: rows appended from now on are published once
    /// durable; rows appended before (even those not yet durable) are not (the hour before
    /// is `strata cache warm`'s).
    public init(database: Database, configuration: CacheConfiguration) throws(StrataError) {
        self.database = database
        logWatch = database.watchLog { [worker] in worker.wake() }
        self.configuration = configuration
        store = try database.store.identity()
        encoder = configuration.encoder
        base = database.writtenLog
        position = base.position
        current = CacheStatus(server: configuration.url.description)
    }

    public var status: CacheStatus {
        let mark = database.durableLog
        let now = monotonicNanoseconds()
        return monitor.withLock {
            var s = current
            s.lagRows = max(0, mark.rows - base.rows - rowsRead) + waitingRows + unconfirmedRows
            s.lagSeconds = oldestWaitingSince.map { Double(now - $0) / 1e9 } ?? 0
            return s
        }
    }

    public func start() {
        worker.start { [self] in run() }
    }

    /// Stops the publisher. Rows written to the store and not confirmed by Redis (not yet
    /// read from the log, waiting in the buffer, or sent without a reply) are counted as
    /// dropped: they are safe in the store, and `strata cache warm` republishes the last
    /// window. Returns how many that was (0 on a second call).
    @discardableResult
    public func stop() -> Int {
        worker.stop()
        // Also rows not yet durable: the store keeps them, no publisher reads them now.
        let mark = database.writtenLog
        return monitor.withLock {
            let unread = max(0, mark.rows - base.rows - rowsRead)
            let unpublished = unread + waitingRows + unconfirmedRows
            rowsRead += unread
            waitingRows = 0
            unconfirmedRows = 0
            oldestWaitingSince = nil
            position = max(position, mark.position)
            drained = true
            current.rowsDropped += unpublished
            current.state = .stopped
            current.connected = false
            return unpublished
        }
    }

    /// Waits until every append that returned before the call is published (or dropped);
    /// throws the last error if that does not happen within `seconds`.
    public func waitUntilPublished(seconds: Double = 30) throws(StrataError) {
        let target = database.writtenLogPosition
        let deadline = monotonicNanoseconds() + Int64(seconds * 1e9)
        while true {
            let (at, done) = monitor.withLock { (position, drained) }
            if at >= target && done { return }
            if monotonicNanoseconds() > deadline {
                let s = status
                throw StrataError(.io, "the cache publisher did not publish up to \(target) in \(seconds) s (\(s.lagRows) rows behind, \(s.state.rawValue))" + (s.lastError.map { ": \($0)" } ?? ""))
            }
            usleep(5_000)
        }
    }

    func update(_ change: (inout CacheStatus) -> Void) {
        monitor.withLock { change(&current) }
    }

    /// Changes the guarded counters (and the status) under the lock.
    func withState<R>(_ body: () -> R) -> R { monitor.withLock(body) }

    var isStopping: Bool { worker.isStopping }

    func pause(_ milliseconds: Int) -> Bool { worker.pause(milliseconds: milliseconds) }
}
