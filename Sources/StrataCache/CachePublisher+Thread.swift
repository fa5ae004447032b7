import Glibc
import StrataEngine
import StrataFormat
import StrataPlatform

/// The publisher's thread: read the log into the buffer, (re)connect, write batches.
extension CachePublisher {
    func run() {
        BackgroundThread.setCurrentNiceness(configuration.niceness)
        var schedule = ReconnectSchedule(initialMilliseconds: configuration.initialBackoffMilliseconds,
                                         maxMilliseconds: configuration.maxBackoffMilliseconds)
        var reachability = Reachability()
        var connection: RedisConnection?
        while !isStopping {
            let read = readLog()
            if connection == nil && schedule.isDue(monotonicNanoseconds()) {
                do throws(StrataError) {
                    connection = try connect()
                    schedule.connected()
                    if let change = reachability.reached() { configuration.onReachabilityChange(change) }
                } catch {
                    schedule.failed(at: monotonicNanoseconds())
                    failed(error)
                    if let change = reachability.failed(error) { configuration.onReachabilityChange(change) }
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
                    if let change = reachability.failed(error) { configuration.onReachabilityChange(change) }
                }
            }
            if read == 0 && sent == 0 {
                if connection != nil && head == queue.count && inflight == nil {
                    update { $0.state = .caughtUp }
                }
                if !pause(configuration.pollMilliseconds) { break }
            }
        }
        if let connection {
            // The last replies, then the final counters for `strata cache status`.
            try? finishInflight(connection)
            update { $0.state = .stopped }
            try? writeStatus(connection, force: true)
        }
    }

    func failed(_ error: StrataError) {
        update {
            $0.connected = false
            $0.state = .disconnected
            $0.failures += 1
            $0.lastError = error.description
        }
    }

    /// Whether a Redis version can trim streams by MINID (6.2 or newer).
    public static func isSupported(version: String) -> Bool {
        let parts = version.split(separator: ".").compactMap { Int($0) }
        return parts.count >= 2 && (parts[0], parts[1]) >= (6, 2)
    }

    /// Connects, checks the server can trim by MINID, sends the batches a lost connection
    /// left without replies, and rewrites the `last` hash of every series with a row in the
    /// last `last_ttl` from the newest rows seen (those written while Redis was away were
    /// dropped; a restarted Redis has none).
    func connect() throws(StrataError) -> RedisConnection {
        let c = try RedisConnection(configuration.url, timeoutMilliseconds: configuration.timeoutMilliseconds)
        if let version = try c.serverVersion(), !CachePublisher.isSupported(version: version) {
            throw StrataError(.invalidInput, "Redis at \(c.server) is version \(version); the hot tier needs 6.2 or newer (XADD … MINID)")
        }
        while let batch = unsent.first {
            let errors = try c.sendCheckingErrors(batch.commands)
            account(batch, errors, arrivedBefore: try arrivedBeforeTheLoss(batch, errors, c))
            unsent.removeFirst()
            withState { unconfirmedRows -= batch.rows }
        }
        let now = monotonicNanoseconds()
        let ttl = Int64(configuration.lastTTLSeconds * 1e9)
        latest = latest.filter { now - $0.value.seenAt < ttl }
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

    func check(_ errors: [(index: Int, message: String)], _ what: String) throws(StrataError) {
        if let first = errors.first {
            throw StrataError(.invalidInput, "Redis refused \(what): \(first.message)")
        }
    }

    // MARK: Reading the log

    /// Reads what the log holds after `position` into the buffer. Returns the rows read.
    func readLog() -> Int {
        let now = monotonicNanoseconds()
        let at = withState { position }
        var read: [Waiting] = []
        var rows = 0
        var failure: StrataError?
        do throws(StrataError) {
            let end = try database.readLog(after: at, maxBytes: configuration.readBytes) { (entry: LogEntry) throws(StrataError) in
                guard case .rows(let m, let s, let schema, let block) = entry.record else { return }
                rows += block.rowCount
                do throws(StrataError) {
                    read.append(Waiting(series: try SeriesKey(measurement: m, symbol: s), schema: schema, rows: block, next: 0, readAt: now))
                } catch {
                    failure = error
                }
            }
            // Only a whole read counts: a failed one is skipped below.
            var enqueued = 0
            for w in read {
                enqueue(w)
                enqueued += w.rows.rowCount
            }
            withState {
                if let failure {
                    current.rowsDropped += rows - enqueued
                    current.lastError = failure.description
                }
                position = end
                rowsRead += rows
                waitingRows += enqueued
                if oldestWaitingSince == nil && head < queue.count { oldestWaitingSince = queue[head].readAt }
                drained = head == queue.count && inflight == nil && unsent.isEmpty
            }
            trimQueue()
        } catch {
            // The log at `position` is gone (the publisher fell behind its removal) or is
            // damaged: go on from the durable end, counting what is skipped as dropped.
            let mark = database.durableLog
            withState {
                let skipped = max(0, mark.rows - base.rows - rowsRead)
                rowsRead += skipped
                current.rowsDropped += skipped
                current.lastError = "the log could not be read after \(at) (\(error.message)); skipped to its end"
                position = mark.position
            }
            return 0
        }
        return rows
    }

    /// Adds rows to the buffer and remembers each series' newest row.
    func enqueue(_ w: Waiting) {
        var newest = 0
        for r in 1..<w.rows.rowCount where w.rows.timestamps[r] >= w.rows.timestamps[newest] { newest = r }
        if let known = latest[w.series], known.time > w.rows.timestamps[newest] {
            latest[w.series]?.seenAt = w.readAt  // a late row: the last row stays
        } else {
            if latest[w.series] == nil { update { $0.streams += 1 } }
            latest[w.series] = Latest(schema: w.schema, row: w.rows.slice(newest..<(newest + 1)), seenAt: w.readAt)
        }
        queue.append(w)
    }

    /// Drops the oldest waiting rows beyond the buffer's bound.
    func trimQueue() {
        var waiting = withState { waitingRows }
        var dropped = 0
        while waiting > configuration.bufferRows && head < queue.count {
            let n = min(waiting - configuration.bufferRows, queue[head].remaining)
            queue[head].next += n
            dropped += n
            waiting -= n
            if queue[head].remaining == 0 { head += 1 }
        }
        guard dropped > 0 else { return }
        compactQueue()
        let oldest = head < queue.count ? queue[head].readAt : nil
        withState {
            waitingRows -= dropped
            current.rowsDropped += dropped
            oldestWaitingSince = oldest
        }
    }

    /// Lets go of the rows already sent (amortised: at most as many moves as appends).
    func compactQueue() {
        if head > 0 && head * 2 >= queue.count {
            queue.removeFirst(head)
            head = 0
        }
    }

    // MARK: Writing to Redis

    /// Writes the next batch of waiting rows, then reads the replies of the batch before
    /// it (so Redis works while the next batch is encoded). Returns the rows written.
    func publish(_ c: RedisConnection) throws(StrataError) -> Int {
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
                    account(previous, try c.readErrors(count: previous.commands.commands))
                    withState { unconfirmedRows -= previous.rows }
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
        withState { drained = head == queue.count && inflight == nil && unsent.isEmpty }
        return written
    }

    /// Reads the replies of the batch in flight.
    func finishInflight(_ c: RedisConnection) throws(StrataError) {
        guard let batch = inflight else { return }
        inflight = nil
        do throws(StrataError) {
            account(batch, try c.readErrors(count: batch.commands.commands))
            withState { unconfirmedRows -= batch.rows }
        } catch {
            unsent = [batch]
            throw error
        }
    }

    /// Encodes up to `batchRows` waiting rows (ids continuing each stream's newest) and the
    /// last hashes of their series.
    func makeBatch() -> Batch {
        var batch = Batch()
        var touched: [SeriesKey] = []
        var seen = Set<SeriesKey>()
        while head < queue.count && batch.rows < configuration.batchRows {
            let w = queue[head]
            let n = min(w.remaining, configuration.batchRows - batch.rows)
            let first = batch.commands.commands
            streamIDs[w.series] = encoder.appendRows(w.series, schema: w.schema, rows: w.rows, range: w.next..<(w.next + n),
                                                     after: streamIDs[w.series] ?? .zero, into: &batch.commands)
            for i in first..<batch.commands.commands { batch.streamOf[i] = w.series }
            batch.lastID[w.series] = streamIDs[w.series]
            batch.rows += n
            if seen.insert(w.series).inserted { touched.append(w.series) }
            queue[head].next += n
            if queue[head].remaining == 0 { head += 1 }
        }
        for series in touched {
            if let l = latest[series] { encoder.appendLast(series, schema: l.schema, rows: l.row, row: 0, into: &batch.commands) }
        }
        compactQueue()
        let oldest = head < queue.count ? queue[head].readAt : nil
        withState {
            waitingRows -= batch.rows
            unconfirmedRows += batch.rows
            oldestWaitingSince = oldest
            drained = false
        }
        return batch
    }

    /// Whether the next batch goes to a stream whose newest id is not known here.
    func needsStreamIDs() -> Bool {
        var rows = 0
        var i = head
        while i < queue.count && rows < configuration.batchRows {
            if streamIDs[queue[i].series] == nil { return true }
            rows += queue[i].remaining
            i += 1
        }
        return false
    }

    /// Asks Redis for the newest id of each stream the next batch goes to and that this
    /// process has not written yet (`XINFO STREAM`; a missing stream starts at 0-0).
    func learnStreamIDs(_ c: RedisConnection) throws(StrataError) {
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

    /// The series of a resent batch (after a lost connection) whose XADDs Redis refused
    /// because their rows arrived before the loss: the stream's newest id (asked with `XINFO
    /// STREAM`) is at or past the batch's last id for it. Decided by the ids, not by the
    /// refusal's words.
    func arrivedBeforeTheLoss(_ batch: Batch, _ errors: [(index: Int, message: String)], _ c: RedisConnection) throws(StrataError) -> Set<SeriesKey> {
        var refused: [SeriesKey] = []
        var seen = Set<SeriesKey>()
        for e in errors {
            if let s = batch.streamOf[e.index], seen.insert(s).inserted { refused.append(s) }
        }
        guard !refused.isEmpty else { return [] }
        var commands = RESPWriter()
        for s in refused { commands.command(["XINFO", "STREAM", encoder.keys.stream(s)]) }
        var arrived = Set<SeriesKey>()
        for (s, reply) in zip(refused, try c.send(commands)) {
            if let newest = Self.lastGeneratedID(reply), let last = batch.lastID[s], last <= newest { arrived.insert(s) }
        }
        return arrived
    }

    /// Counts a batch's rows from its replies. XADDs Redis refused are counted as dropped,
    /// and their stream's id is asked for again; XADDs of the series in `arrivedBefore`
    /// (resent after a lost connection, their rows already there) are not counted.
    func account(_ batch: Batch, _ errors: [(index: Int, message: String)], arrivedBefore: Set<SeriesKey> = []) {
        var refused = 0
        var firstError: String?
        var refusedStreams = Set<SeriesKey>()
        for e in errors {
            guard let series = batch.streamOf[e.index] else {
                firstError = firstError ?? e.message
                continue
            }
            refusedStreams.insert(series)
            if arrivedBefore.contains(series) { continue }
            refused += 1
            firstError = firstError ?? e.message
        }
        for series in refusedStreams { streamIDs[series] = nil }
        update {
            $0.rowsPublished += batch.rows - refused
            $0.rowsDropped += refused
            if let firstError { $0.lastError = "Redis refused a command: \(firstError)" }
            if $0.state == .caughtUp || $0.state == .starting { $0.state = .publishing }
        }
    }

    /// Writes the publisher's counters to `<prefix>:publisher:<store>:status` (at most once
    /// a second unless forced), where `strata cache status` reads them; they expire 10 s
    /// after the publisher stops writing them.
    func writeStatus(_ c: RedisConnection, force: Bool) throws(StrataError) {
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
                          "connects", "\(s.connects)", "pid", "\(getpid())", "updated_unix_ms", "\(CivilTime.now() / 1_000_000)"])
        commands.command(["PEXPIRE", key, "10000"])
        try check(c.sendCheckingErrors(commands), "the status hash")
    }
}
