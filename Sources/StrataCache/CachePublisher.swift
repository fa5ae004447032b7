import Glibc
import StrataEngine
import StrataFormat

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
    /// Rows sent to Redis, and rows dropped because Redis was away or slow for longer
    /// than the buffer holds (they are safe in Strata: `strata cache warm` republishes).
    public var rowsPublished = 0
    public var rowsDropped = 0
    /// Rows acknowledged by the store and not yet in Redis (waiting or not yet read).
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
    private var current: CacheStatus
    private var stopping = false
    private var thread: BackgroundThread?

    // Guarded by `monitor` (read by `status`):
    /// The log mark where publishing began, and the rows read from the log since.
    private let base: LogMark
    private var rowsRead = 0
    private var waitingRows = 0
    private var oldestWaitingSince: Int64?
    /// Where the log was read up to, and whether every row before it is sent or dropped.
    private var position: WALPosition
    private var drained = true

    // The publisher thread's own:
    private var queue: [Waiting] = []
    private var head = 0
    private var latest: [SeriesKey: Latest] = [:]
    private var streamIDs: [SeriesKey: StreamID] = [:]
    /// The batch written to Redis whose replies are not read yet: Redis works on it while
    /// the next one is encoded.
    private var inflight: Batch?
    /// Batches a lost connection left without replies, sent again (in order) on reconnect.
    private var unsent: [Batch] = []
    private var lastStatusWrite: Int64 = 0

    /// Rows read from the log and not yet sent.
    struct Waiting {
        var series: SeriesKey
        var schema: [Field]
        var rows: RowBlock
        var next: Int
        var readAt: Int64
        var remaining: Int { rows.rowCount - next }
    }

    /// The newest row of a series (by time; of equal times, the last to arrive).
    struct Latest {
        var schema: [Field]
        var row: RowBlock
        var time: Int64 { row.timestamps[0] }
    }

    /// Commands ready to send, and which rows of which series they carry.
    struct Batch {
        var commands = RESPWriter()
        var rows = 0
        /// For each XADD's command index, its series (other commands are absent).
        var streamOf: [Int: SeriesKey] = [:]
        var oldestReadAt: Int64?
    }

    /// Starts from the store's durable end: rows appended from now on are published (the
    /// hour before is `strata cache warm`'s).
    public init(database: Database, configuration: CacheConfiguration) throws(StrataError) {
        self.database = database
        self.configuration = configuration
        store = try database.store.identity()
        encoder = configuration.encoder
        base = database.durableLog
        position = base.position
        current = CacheStatus(server: configuration.url.description)
    }

    public var status: CacheStatus {
        let mark = database.durableLog
        let now = monotonicNanoseconds()
        return monitor.withLock {
            var s = current
            s.lagRows = max(0, mark.rows - base.rows - rowsRead) + waitingRows
            s.lagSeconds = oldestWaitingSince.map { Double(now - $0) / 1e9 } ?? 0
            return s
        }
    }

    public func start() {
        monitor.withLock {
            guard thread == nil else { return }
            stopping = false
            thread = BackgroundThread(name: "strata-cache") { [self] in run() }
        }
    }

    /// Stops the publisher; rows still waiting stay unpublished (the log keeps them safe).
    public func stop() {
        let t = monitor.withLock { () -> BackgroundThread? in
            stopping = true
            monitor.broadcast()
            return thread
        }
        t?.join()
        monitor.withLock {
            thread = nil
            current.state = .stopped
            current.connected = false
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

    private var isStopping: Bool { monitor.withLock { stopping } }

    private func pause(_ milliseconds: Int) -> Bool {
        monitor.withLock {
            if !stopping { monitor.wait(nanoseconds: Int64(milliseconds) * 1_000_000) }
            return !stopping
        }
    }

    // MARK: The publisher thread

    private func run() {
        BackgroundThread.setCurrentNiceness(configuration.niceness)
        var schedule = ReconnectSchedule(initialMilliseconds: configuration.initialBackoffMilliseconds,
                                         maxMilliseconds: configuration.maxBackoffMilliseconds)
        var connection: RedisConnection?
        while !isStopping {
            let read = readLog()
            if connection == nil && schedule.isDue(monotonicNanoseconds()) {
                do throws(StrataError) {
                    connection = try connect()
                    schedule.connected()
                } catch {
                    schedule.failed(at: monotonicNanoseconds())
                    failed(error)
                }
            }
            var sent = 0
            if let c = connection {
                do throws(StrataError) {
                    sent = try publish(c)
                    try writeStatus(c, force: false)
                } catch {
                    connection = nil
                    schedule.failed(at: monotonicNanoseconds())
                    failed(error)
                }
            }
            if read == 0 && sent == 0 {
                if connection != nil && head == queue.count {
                    update { $0.state = .caughtUp }
                }
                if !pause(configuration.pollMilliseconds) { break }
            }
        }
        update { $0.state = .stopped }
        if let connection { try? writeStatus(connection, force: true) }
    }

    private func failed(_ error: StrataError) {
        update {
            $0.connected = false
            $0.state = .disconnected
            $0.failures += 1
            $0.lastError = error.description
        }
    }

    /// Connects, sends the batch a lost connection left unsent, and rewrites every `last`
    /// hash from the newest rows seen (those written while Redis was away were dropped).
    private func connect() throws(StrataError) -> RedisConnection {
        let c = try RedisConnection(configuration.url, timeoutMilliseconds: configuration.timeoutMilliseconds)
        while let batch = unsent.first {
            account(batch, try c.sendCheckingErrors(batch.commands), resend: true)
            unsent.removeFirst()
        }
        var commands = RESPWriter()
        for (series, l) in latest {
            encoder.appendLast(series, schema: l.schema, rows: l.row, row: 0, into: &commands)
            if commands.commands >= 5_000 {
                try check(c.sendCheckingErrors(commands), "rewriting the last hashes")
                commands.removeAll()
            }
        }
        try check(c.sendCheckingErrors(commands), "rewriting the last hashes")
        update {
            $0.connected = true
            $0.connects += 1
            $0.lastError = nil
            $0.state = .publishing
        }
        try writeStatus(c, force: true)
        return c
    }

    private func check(_ errors: [(index: Int, message: String)], _ what: String) throws(StrataError) {
        if let first = errors.first {
            throw StrataError(.invalidInput, "Redis refused \(what): \(first.message)")
        }
    }

    /// Reads what the log holds after `position` into the queue. Returns the rows read.
    private func readLog() -> Int {
        var rows = 0, enqueued = 0
        let now = monotonicNanoseconds()
        let at = monitor.withLock { position }
        do throws(StrataError) {
            var failure: StrataError?
            let end = try database.readLog(after: at, maxBytes: configuration.readBytes) { (entry: LogEntry) throws(StrataError) in
                guard case .rows(let m, let s, let schema, let block) = entry.record else { return }
                rows += block.rowCount
                do throws(StrataError) {
                    let series = try SeriesKey(measurement: m, symbol: s)
                    enqueue(Waiting(series: series, schema: schema, rows: block, next: 0, readAt: now))
                    enqueued += block.rowCount
                } catch {
                    failure = error
                }
            }
            let dropped = trimQueue()
            monitor.withLock {
                if let failure {
                    current.rowsDropped += rows - enqueued
                    current.lastError = failure.description
                }
                position = end
                rowsRead += rows
                waitingRows += enqueued - dropped
                drained = head == queue.count && inflight == nil && unsent.isEmpty
                if oldestWaitingSince == nil && head < queue.count { oldestWaitingSince = queue[head].readAt }
            }
        } catch {
            // The log at `position` is gone (the publisher fell behind its removal) or is
            // damaged: go on from the durable end, counting what is skipped as dropped.
            let mark = database.durableLog
            monitor.withLock {
                let skipped = max(0, mark.rows - base.rows - rowsRead)
                rowsRead += skipped
                current.rowsDropped += skipped
                current.lastError = "the log could not be read after \(at) (\(error.message)); skipped to its end"
                position = mark.position
            }
        }
        return rows
    }

    /// Adds rows to the queue and remembers each series' newest row.
    private func enqueue(_ w: Waiting) {
        var newest = 0
        for r in 1..<w.rows.rowCount where w.rows.timestamps[r] >= w.rows.timestamps[newest] { newest = r }
        if let known = latest[w.series], known.time > w.rows.timestamps[newest] {
            // A late row: the series' last stays.
        } else {
            if latest[w.series] == nil { update { $0.streams += 1 } }
            latest[w.series] = Latest(schema: w.schema, row: w.rows.slice(newest..<(newest + 1)))
        }
        queue.append(w)
    }

    /// Drops the oldest waiting rows beyond the buffer's bound. Returns how many.
    private func trimQueue() -> Int {
        var waiting = 0
        for i in head..<queue.count { waiting += queue[i].remaining }
        var dropped = 0
        while waiting - dropped > configuration.bufferRows && head < queue.count {
            let excess = waiting - dropped - configuration.bufferRows
            let n = min(excess, queue[head].remaining)
            queue[head].next += n
            dropped += n
            if queue[head].remaining == 0 { head += 1 }
        }
        if dropped > 0 { update { $0.rowsDropped += dropped } }
        compactQueue()
        return dropped
    }

    private func compactQueue() {
        if head > 1_024 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
    }

    /// Writes the next batch of waiting rows, then reads the replies of the batch before
    /// it (so Redis works while the next batch is encoded). Returns the rows written.
    private func publish(_ c: RedisConnection) throws(StrataError) -> Int {
        var written = 0
        if head < queue.count {
            if needsStreamIDs() {
                try finishInflight(c)
                try learnStreamIDs(c)
            }
            let batch = makeBatch()
            do throws(StrataError) {
                try c.write(batch.commands)
            } catch {
                unsent = [inflight, batch].compactMap { $0 }
                inflight = nil
                throw error
            }
            let previous = inflight
            inflight = batch
            if let previous {
                do throws(StrataError) {
                    account(previous, try c.readErrors(count: previous.commands.commands), resend: false)
                } catch {
                    unsent = [previous, batch]
                    inflight = nil
                    throw error
                }
            }
            written = batch.rows
        } else {
            try finishInflight(c)
        }
        monitor.withLock { drained = head == queue.count && inflight == nil && unsent.isEmpty }
        return written
    }

    /// Reads the replies of the batch in flight.
    private func finishInflight(_ c: RedisConnection) throws(StrataError) {
        guard let batch = inflight else { return }
        inflight = nil
        do throws(StrataError) {
            account(batch, try c.readErrors(count: batch.commands.commands), resend: false)
        } catch {
            unsent = [batch]
            throw error
        }
    }

    /// Encodes up to `batchRows` waiting rows (ids continuing each stream's newest) and the
    /// last hashes of their series.
    private func makeBatch() -> Batch {
        var batch = Batch()
        var touched: [SeriesKey] = []
        while head < queue.count && batch.rows < configuration.batchRows {
            let w = queue[head]
            let n = min(w.remaining, configuration.batchRows - batch.rows)
            let first = batch.commands.commands
            let newest = encoder.appendRows(w.series, schema: w.schema, rows: w.rows, range: w.next..<(w.next + n),
                                            after: streamIDs[w.series] ?? .zero, into: &batch.commands)
            streamIDs[w.series] = newest
            for i in first..<batch.commands.commands { batch.streamOf[i] = w.series }
            batch.rows += n
            batch.oldestReadAt = batch.oldestReadAt ?? w.readAt
            if !touched.contains(w.series) { touched.append(w.series) }
            queue[head].next += n
            if queue[head].remaining == 0 { head += 1 }
        }
        for series in touched {
            if let l = latest[series] { encoder.appendLast(series, schema: l.schema, rows: l.row, row: 0, into: &batch.commands) }
        }
        compactQueue()
        monitor.withLock {
            waitingRows -= batch.rows
            oldestWaitingSince = head < queue.count ? queue[head].readAt : nil
            drained = false
        }
        return batch
    }

    /// Whether the next batch goes to a stream whose newest id is not known here.
    private func needsStreamIDs() -> Bool {
        var rows = 0
        var i = head
        while i < queue.count && rows < configuration.batchRows {
            if streamIDs[queue[i].series] == nil { return true }
            rows += queue[i].remaining
            i += 1
        }
        return false
    }

    /// Asks Redis for the newest id of each stream the queue's rows go to and that this
    /// process has not written yet (`XINFO STREAM`; a missing stream starts at 0-0).
    private func learnStreamIDs(_ c: RedisConnection) throws(StrataError) {
        var unknown: [SeriesKey] = []
        var seen = Set<SeriesKey>()
        var rows = 0
        var i = head
        while i < queue.count && rows < configuration.batchRows {
            let s = queue[i].series
            if streamIDs[s] == nil && seen.insert(s).inserted { unknown.append(s) }
            rows += queue[i].remaining
            i += 1
        }
        guard !unknown.isEmpty else { return }
        var commands = RESPWriter()
        for s in unknown { commands.command(["XINFO", "STREAM", encoder.keys.stream(s)]) }
        for (s, reply) in zip(unknown, try c.send(commands)) {
            streamIDs[s] = Self.lastGeneratedID(reply) ?? .zero
        }
    }

    /// `last-generated-id` from an XINFO STREAM reply (nil for "no such key").
    static func lastGeneratedID(_ reply: RedisReply) -> StreamID? {
        guard let items = reply.array else { return nil }
        var i = 0
        while i + 1 < items.count {
            if items[i].text == "last-generated-id", let text = items[i + 1].text { return StreamID(text) }
            i += 2
        }
        return nil
    }

    /// Counts a batch's rows from its replies. XADDs Redis refused are counted as dropped,
    /// and their stream's id is asked for again; on a resend (after a lost connection), ids
    /// already there are rows that arrived before the loss, and are not counted.
    private func account(_ batch: Batch, _ errors: [(index: Int, message: String)], resend: Bool) {
        var refused = 0
        var firstError: String?
        var refusedStreams = Set<SeriesKey>()
        for e in errors {
            guard let series = batch.streamOf[e.index] else {
                firstError = firstError ?? e.message
                continue
            }
            refusedStreams.insert(series)
            if resend && e.message.contains("equal or smaller") { continue }
            refused += 1
            firstError = firstError ?? e.message
        }
        for series in refusedStreams { streamIDs[series] = nil }
        update {
            $0.rowsPublished += batch.rows - refused
            $0.rowsDropped += refused
            if let firstError { $0.lastError = "Redis refused a command: \(firstError)" }
            if $0.state != .disconnected { $0.state = .publishing }
        }
    }

    /// Writes the publisher's counters to `<prefix>:publisher:<store>:status` (at most once
    /// a second unless forced), where `strata cache status` reads them; they expire 10 s
    /// after the publisher stops writing them.
    private func writeStatus(_ c: RedisConnection, force: Bool) throws(StrataError) {
        let now = monotonicNanoseconds()
        guard force || now - lastStatusWrite >= 1_000_000_000 else { return }
        lastStatusWrite = now
        // Replies come in order: the batch in flight's first.
        try finishInflight(c)
        let s = status
        let key = encoder.keys.status(store: store)
        var commands = RESPWriter()
        commands.command(["HSET", key, "state", s.state.rawValue, "rows_published", "\(s.rowsPublished)", "rows_dropped", "\(s.rowsDropped)",
                          "lag_rows", "\(s.lagRows)", "lag_seconds", "\(s.lagSeconds)", "streams", "\(s.streams)",
                          "connects", "\(s.connects)", "pid", "\(getpid())", "updated_unix_ms", "\(Self.unixMilliseconds())"])
        commands.command(["PEXPIRE", key, "10000"])
        try check(c.sendCheckingErrors(commands), "the status hash")
    }

    static func unixMilliseconds() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Int64(t.tv_sec) * 1000 + Int64(t.tv_nsec) / 1_000_000
    }
}
