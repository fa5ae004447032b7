import Glibc
import StrataEngine
import StrataPlatform
import StrataTestSupport
import Synchronization
import Testing

/// `strata serve` under load: concurrent writers on loopback against a small memory bound,
/// and a SIGTERM while they write. Every batch is identifiable (its `size` field is its id,
/// its times are derived from the id), so the rows read back say exactly which batches are
/// in the store, whole or not. Speeds are printed, never asserted.
@Suite(.serialized) struct ServeLoadTests {
    let serve = ServeTests()

    /// Writers for a few seconds against a 1 MiB memtable bound: the memtable stays within
    /// the bound, 503s are honoured and resent, and every acknowledged row reads back
    /// exactly once (query API while running, CLI after SIGTERM), with exact sums.
    @Test func concurrentWritersStayWithinTheMemoryBoundAndLoseNothing() throws {
        let bound = 1 << 20
        let config = serve.root.path + "/strata.json"
        writeText(config, "{\"store\": {\"memory_mib\": \(bound >> 20)}}\n")
        // Four requests at once for six writers and a sampler: some writes are turned away
        // with 503 and Retry-After (nothing written), and resent.
        let (pid, url) = try serve.start(["--config", config, "--tier-every", "never", "--max-concurrent-requests", "4"])
        var stopped = false
        defer { if !stopped { kill(pid, SIGKILL); _ = waitForExit(pid) } }
        let port = Int(url.split(separator: ":").last!)!

        let batches = LoadBatches(lines: 4_000)
        let sampler = MemorySampler(port: port, pid: pid)
        let run = LoadRun.write(port: port, writers: 6, batches: batches, seconds: 3)
        let memory = sampler.stop()
        let ledger = run.ledger

        // Every request got an answer, every answer was 204 (after resending on 503).
        #expect(run.failures.isEmpty, "\(run.failures.prefix(5))")
        #expect(ledger.unanswered.isEmpty)
        #expect(ledger.acknowledged.count >= 6, "each writer got at least one batch in")

        // The memtable never went past the bound: as sampled while loaded, and as the
        // server's own high-water mark says (which sees between samples too).
        let scrape = serve.fetch(url + "/metrics").body
        let highWater = MemorySampler.metric(scrape, "strata_memtable_peak_bytes") ?? -1
        print("""
            serve load: \(run.writers) writers, \(batches.lines)-line batches, \(ledger.acknowledged.count) batches = \(ledger.acknowledgedRows) rows \
            in \(format(run.seconds)) s: \(Int(Double(ledger.acknowledgedRows) / run.seconds)) rows/s; \
            request latency p50 \(format(run.latency(0.5) * 1e3)) ms, p99 \(format(run.latency(0.99) * 1e3)) ms, max \(format(run.latency(1) * 1e3)) ms; \
            503 resent \(run.resent)
            serve load: memtable bound \(bound) B; high-water mark \(highWater) B; sampled peak \(memory.peakMemtable) B (\(memory.samples) samples); \
            backpressure waits \(memory.backpressureWaits); VmRSS peak \(memory.peakRSS >> 10) KiB
            """)
        #expect(memory.samples >= 3, "the sampler saw the server while it was loaded")
        #expect(memory.peakMemtable <= bound, "strata_memtable_bytes reached \(memory.peakMemtable), beyond memory_mib (\(bound) bytes)")
        #expect(highWater > 0 && highWater <= bound, "strata_memtable_peak_bytes \(highWater), memory_mib \(bound) bytes")
        #expect(memory.peakRSS > 0)

        // The store counted exactly the acknowledged rows.
        #expect(scrape.contains("\nstrata_rows_appended_total \(ledger.acknowledgedRows)\n"), "\(scrape.split(separator: "\n").filter { $0.hasPrefix("strata_rows_appended_total") })")
        #expect(scrape.contains("\nstrata_ingest_rows_total \(ledger.acknowledgedRows)\n"))

        // Read back through the query API while the server runs...
        let symbols = LoadBatches.symbols.joined(separator: ",")
        let answer = serve.fetch(url + "/api/v1/query?measurement=trade&symbol=\(symbols)&format=csv&time_format=ns")
        #expect(answer.code == 200)
        let viaHTTP = LoadReadBack(csv: answer.body, batches: batches)
        #expect(viaHTTP.problems.isEmpty, "\(viaHTTP.problems.prefix(5))")
        #expect(viaHTTP.matchesExactly(ledger), "query API: \(viaHTTP.summary) vs acknowledged \(ledger.summary)")

        // ...and with the CLI once SIGTERM has flushed and closed the store.
        kill(pid, SIGTERM)
        #expect(waitForExit(pid) == 0)
        stopped = true
        let cli = runStrata(["query", "--data-dir", serve.data, "--measurement", "trade", "--symbol", symbols, "--time-format", "ns"])
        #expect(cli.status == 0, "\(cli.stderr)")
        let viaCLI = LoadReadBack(csv: cli.stdout, batches: batches)
        #expect(viaCLI.problems.isEmpty, "\(viaCLI.problems.prefix(5))")
        #expect(viaCLI.matchesExactly(ledger), "strata query: \(viaCLI.summary) vs acknowledged \(ledger.summary)")
        let stats = runStrata(["stats", "--data-dir", serve.data])
        let trade = stats.stdout.split(separator: "\n").first { $0.hasPrefix("trade,") }?.split(separator: ",")
        #expect(trade.map { $0.count > 5 && $0[2] == "4" && Int($0[5]) == ledger.acknowledgedRows } == true, "\(stats.stdout)\(stats.stderr)")
    }

    /// SIGTERM while writers write: the server exits 0, and every batch it acknowledged is
    /// in the store exactly once; batches without a reply are there whole or not at all.
    @Test func sigtermDuringLoadKeepsEveryAcknowledgedBatchExactlyOnce() throws {
        let config = serve.root.path + "/strata.json"
        writeText(config, "{\"store\": {\"memory_mib\": 1}}\n")
        let (pid, url) = try serve.start(["--config", config, "--tier-every", "never"])
        var stopped = false
        defer { if !stopped { kill(pid, SIGKILL); _ = waitForExit(pid) } }
        let port = Int(url.split(separator: ":").last!)!

        let batches = LoadBatches(lines: 2_000)
        // Stop the server once the writers are well under way (at least 20 batches in, or
        // 1.5 s); the writers carry on until it is gone.
        let terminator = BackgroundThread(name: "load-sigterm") {
            let started = monotonicNanoseconds()
            var scraper = try? HTTPTestConnection(port: port)
            while monotonicNanoseconds() - started < 1_500_000_000 {
                if let text = try? scraper?.get("/metrics").text,
                   let line = text.split(separator: "\n").first(where: { $0.hasPrefix("strata_appends_total ") }),
                   let appends = Int(line.split(separator: " ")[1]), appends >= 20 * LoadBatches.symbols.count {
                    break
                }
                usleep(20_000)
            }
            scraper = nil
            kill(pid, SIGTERM)
        }
        // The writers stop when the server is gone; the deadline only ends a run that hangs.
        let run = LoadRun.write(port: port, writers: 6, batches: batches, seconds: 120, untilServerGoes: true)
        terminator.join()
        let status = waitForExit(pid)
        stopped = true
        let ledger = run.ledger
        #expect(status == 0)
        #expect(String(decoding: try readFile(serve.root.path + "/out.txt"), as: UTF8.self).contains("strata: stopped"))
        #expect(run.writersThatSawTheServerGo == run.writers, "\(run.writers - run.writersThatSawTheServerGo) writers ran until the deadline instead of noticing the server going")
        #expect(run.failures.isEmpty, "\(run.failures.prefix(5))")
        #expect(ledger.acknowledged.count >= 6)
        print("""
            serve SIGTERM: \(ledger.acknowledged.count) batches acknowledged (\(ledger.acknowledgedRows) rows), \
            \(ledger.unanswered.count) without a reply, in \(format(run.seconds)) s
            """)

        // The CLI opens the store (recovering if it must) and reads every row.
        let symbols = LoadBatches.symbols.joined(separator: ",")
        let cli = runStrata(["query", "--data-dir", serve.data, "--measurement", "trade", "--symbol", symbols, "--time-format", "ns"])
        #expect(cli.status == 0, "\(cli.stderr)")
        let readBack = LoadReadBack(csv: cli.stdout, batches: batches)
        #expect(readBack.problems.isEmpty, "\(readBack.problems.prefix(5))")
        let missing = ledger.acknowledged.filter { readBack.rowsByBatch[$0, default: 0] != batches.lines }
        #expect(missing.isEmpty, "acknowledged batches not there exactly once: \(missing.sorted().prefix(5).map { "\($0): \(readBack.rowsByBatch[$0, default: 0]) rows" })")
        let foreign = readBack.rowsByBatch.keys.filter { !ledger.acknowledged.contains($0) && !ledger.unanswered.contains($0) }
        #expect(foreign.isEmpty, "batches in the store that were never sent or were refused: \(foreign.sorted().prefix(5))")
        let unansweredPresent = ledger.unanswered.filter { readBack.rowsByBatch[$0] != nil }.count
        // A batch without a reply is all there or not at all: one WAL record per series.
        let partial = ledger.unanswered.filter { readBack.rowsByBatch[$0].map { $0 != batches.lines } ?? false }
        #expect(partial.isEmpty, "unanswered batches partly in the store: \(partial.sorted().prefix(5))")
        print("serve SIGTERM: read back \(readBack.rows) rows; \(unansweredPresent) of \(ledger.unanswered.count) unanswered batches are in the store (whole)")
    }
}

private func format(_ x: Double) -> String {
    let hundredths = Int((x * 100).rounded())
    return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
}

/// Line protocol batches whose every row names its batch: `size` is the batch id (six
/// digits), the time is base + id·10⁴ + line (ns), the symbol and the price follow from the
/// line. So a row read back says which batch and line it came from.
struct LoadBatches: Sendable {
    static let symbols = ["ESH4", "NQH4", "CLH4", "GCJ4"]
    /// 2024-01-02T00:00:00Z; every batch lies within that day.
    static let base: Int64 = 1_704_153_600_000_000_000
    let lines: Int
    /// One batch with zero id and time digits; `body(id:)` writes them in.
    private let template: [UInt8]
    private let idOffsets: [Int]
    private let timeOffsets: [Int]
    /// Sum of one batch's prices, in hundredths.
    let priceCentsPerBatch: Int

    init(lines: Int) {
        precondition(lines > 0 && lines < 10_000)
        self.lines = lines
        var template: [UInt8] = [], idOffsets: [Int] = [], timeOffsets: [Int] = []
        var cents = 0
        for line in 0..<lines {
            template += Array("trade,symbol=\(Self.symbols[line % Self.symbols.count]) price=\(Self.priceCents(line: line) / 100).\(Self.priceCents(line: line) % 100),size=".utf8)
            idOffsets.append(template.count)
            template += Array("000000i ".utf8)
            timeOffsets.append(template.count)
            template += Array("0000000000000000000\n".utf8)
            cents += Self.priceCents(line: line)
        }
        self.template = template
        self.idOffsets = idOffsets
        self.timeOffsets = timeOffsets
        priceCentsPerBatch = cents
    }

    static func priceCents(line: Int) -> Int { 450_000 + (line % 97) * 25 }

    /// Batch ids are six digits: writer w's batches are (w+1)·10⁵ + sequence.
    static func id(writer: Int, sequence: Int) -> Int {
        precondition(writer < 9 && sequence < 100_000)
        return (writer + 1) * 100_000 + sequence
    }

    static func time(id: Int, line: Int) -> Int64 { base + Int64(id) * 10_000 + Int64(line) }

    func body(id: Int) -> [UInt8] {
        var body = template
        body.withUnsafeMutableBufferPointer { b in
            for line in 0..<lines {
                var v = id
                for k in stride(from: idOffsets[line] + 5, through: idOffsets[line], by: -1) {
                    b[k] = UInt8(48 + v % 10)
                    v /= 10
                }
                var t = Self.time(id: id, line: line)
                for k in stride(from: timeOffsets[line] + 18, through: timeOffsets[line], by: -1) {
                    b[k] = UInt8(48 + t % 10)
                    t /= 10
                }
            }
        }
        return body
    }
}

/// Which batches the writers sent and what the server said.
struct LoadLedger {
    var linesPerBatch = 0
    var priceCentsPerBatch = 0
    /// Batches answered 2xx.
    var acknowledged: Set<Int> = []
    /// Batches whose request got no reply (the connection ended): may or may not be stored.
    var unanswered: Set<Int> = []

    var acknowledgedRows: Int { acknowledged.count * linesPerBatch }
    var summary: String {
        "\(acknowledgedRows) rows, price sum \(acknowledged.count * priceCentsPerBatch) ¢, size sum \(acknowledged.reduce(0) { $0 + $1 * linesPerBatch })"
    }
}

/// Writers on threads, each with its own keep-alive connection, posting batches until the
/// time is up (or, with `untilServerGoes`, until the server no longer answers).
struct LoadRun {
    var writers = 0
    var ledger = LoadLedger()
    var failures: [String] = []
    var latencies: [Int64] = []
    var resent = 0
    var seconds = 0.0
    /// Writers that stopped because the server no longer accepted connections (with
    /// `untilServerGoes`), not because the time was up.
    var writersThatSawTheServerGo = 0

    /// The latency (seconds) at quantile q of acknowledged requests.
    func latency(_ q: Double) -> Double {
        guard !latencies.isEmpty else { return 0 }
        let sorted = latencies.sorted()
        let rank = Int((Double(sorted.count) * q).rounded(.up))
        return Double(sorted[min(sorted.count, max(1, rank)) - 1]) / 1e9
    }

    private struct WriterLog: Sendable {
        var acknowledged: [Int] = []
        var unanswered: [Int] = []
        var failures: [String] = []
        var latencies: [Int64] = []
        var resent = 0
        var sawTheServerGo = false
    }

    static func write(port: Int, writers: Int, batches: LoadBatches, seconds: Double, untilServerGoes: Bool = false) -> LoadRun {
        let logs = Locked<[WriterLog]>([])
        let started = monotonicNanoseconds()
        let deadline = started + Int64(seconds * 1e9)
        let threads = (0..<writers).map { w in
            BackgroundThread(name: "load-writer-\(w)") {
                let log = writeBatches(writer: w, port: port, batches: batches, deadline: deadline, untilServerGoes: untilServerGoes)
                logs.value.withLock { $0.append(log) }
            }
        }
        for t in threads { t.join() }
        var run = LoadRun()
        run.seconds = Double(monotonicNanoseconds() - started) / 1e9
        run.writers = writers
        run.ledger.linesPerBatch = batches.lines
        run.ledger.priceCentsPerBatch = batches.priceCentsPerBatch
        for log in logs.value.withLock({ $0 }) {
            run.ledger.acknowledged.formUnion(log.acknowledged)
            run.ledger.unanswered.formUnion(log.unanswered)
            run.failures += log.failures
            run.latencies += log.latencies
            run.resent += log.resent
            if log.sawTheServerGo { run.writersThatSawTheServerGo += 1 }
        }
        return run
    }

    /// One writer: each batch is sent until it is answered; a 503 (nothing of it written)
    /// waits Retry-After seconds and sends the same batch again.
    private static func writeBatches(writer: Int, port: Int, batches: LoadBatches, deadline: Int64, untilServerGoes: Bool) -> WriterLog {
        var log = WriterLog()
        var connection: HTTPTestConnection?
        var sequence = 0
        while monotonicNanoseconds() < deadline {
            let id = LoadBatches.id(writer: writer, sequence: sequence)
            sequence += 1
            let body = batches.body(id: id)
            while true {
                if connection == nil {
                    do throws(HTTPTestConnection.TransportError) {
                        connection = try HTTPTestConnection(port: port)
                    } catch {
                        // The server is gone (expected only after SIGTERM); this batch was never sent.
                        if untilServerGoes { log.sawTheServerGo = true } else { log.failures.append("writer \(writer): \(error)") }
                        return log
                    }
                }
                let sent = monotonicNanoseconds()
                let reply: HTTPTestConnection.Reply
                do throws(HTTPTestConnection.TransportError) {
                    reply = try connection!.post("/api/v2/write?precision=ns", body: body)
                } catch {
                    // No reply: the batch may or may not be stored.
                    log.unanswered.append(id)
                    connection = nil
                    if !untilServerGoes {
                        log.failures.append("writer \(writer), batch \(id): \(error)")
                        return log
                    }
                    break
                }
                if reply.header("Connection")?.lowercased() == "close" { connection = nil }
                if reply.status == 503 {
                    // At the memory bound or the request limit: nothing was written; wait as told.
                    let wait = reply.header("Retry-After").flatMap { Int($0) } ?? 1
                    log.resent += 1
                    usleep(UInt32(max(0, min(wait, 5))) * 1_000_000)
                    continue
                }
                if (200..<300).contains(reply.status) {
                    log.acknowledged.append(id)
                    log.latencies.append(monotonicNanoseconds() - sent)
                } else {
                    log.failures.append("writer \(writer), batch \(id): \(reply.status) \(reply.text)")
                }
                break
            }
        }
        return log
    }
}

/// Samples the server while it is loaded: `strata_memtable_bytes` from /metrics and VmRSS
/// from /proc/<pid>/status, every 10 ms on a thread of its own.
final class MemorySampler: Sendable {
    struct Peaks: Sendable {
        var peakMemtable = 0
        var peakRSS = 0
        var samples = 0
        var backpressureWaits = 0
    }

    private let peaks = Mutex(Peaks())
    private let stopping = Atomic<Bool>(false)
    private let thread = Mutex<BackgroundThread?>(nil)

    init(port: Int, pid: pid_t) {
        let t = BackgroundThread(name: "load-sampler") { [self] in
            var connection: HTTPTestConnection?
            func record(_ text: String) {
                let memtable = Self.metric(text, "strata_memtable_bytes")
                let waits = Self.metric(text, "strata_backpressure_waits_total")
                let rss = Self.residentBytes(pid)
                peaks.withLock {
                    $0.samples += 1
                    $0.peakMemtable = max($0.peakMemtable, memtable ?? 0)
                    $0.peakRSS = max($0.peakRSS, rss)
                    $0.backpressureWaits = max($0.backpressureWaits, waits ?? 0)
                }
            }
            while !stopping.load(ordering: .acquiring) {
                if connection == nil { connection = try? HTTPTestConnection(port: port) }
                if let c = connection {
                    do throws(HTTPTestConnection.TransportError) {
                        let reply = try c.get("/metrics")
                        // A 503 (the request limit) is no sample; the connection stays usable.
                        if reply.status == 200 { record(reply.text) }
                    } catch {
                        connection = nil
                    }
                }
                usleep(10_000)
            }
        }
        thread.withLock { $0 = t }
    }

    func stop() -> Peaks {
        stopping.store(true, ordering: .releasing)
        thread.withLock { $0 }?.join()
        return peaks.withLock { $0 }
    }

    static func metric(_ scrape: String, _ name: String) -> Int? {
        guard let line = scrape.split(separator: "\n").first(where: { $0.hasPrefix(name + " ") }) else { return nil }
        return Int(line.dropFirst(name.count + 1))
    }

    /// VmRSS of a process in bytes (0 if unreadable). (/proc files have no size to map:
    /// read, not `readFile`.)
    static func residentBytes(_ pid: pid_t) -> Int {
        let fd = open("/proc/\(pid)/status", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 8192)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return 0 }
        let text = String(decoding: bytes[0..<n], as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }
}

/// Rows read back as CSV (`time,symbol,price,size`, time in ns), each traced to its batch
/// and line; anything that does not fit a batch, or a row seen twice, is a problem.
struct LoadReadBack {
    var rows = 0
    var priceCents = 0
    var sizeSum = 0
    var rowsByBatch: [Int: Int] = [:]
    var problems: [String] = []

    var summary: String { "\(rows) rows, price sum \(priceCents) ¢, size sum \(sizeSum)" }

    /// Exactly the acknowledged batches, whole, and nothing else.
    func matchesExactly(_ ledger: LoadLedger) -> Bool {
        Set(rowsByBatch.keys) == ledger.acknowledged && rowsByBatch.values.allSatisfy { $0 == ledger.linesPerBatch }
            && rows == ledger.acknowledgedRows && priceCents == ledger.acknowledged.count * ledger.priceCentsPerBatch
            && sizeSum == ledger.acknowledged.reduce(0) { $0 + $1 * ledger.linesPerBatch }
    }

    init(csv: String, batches: LoadBatches) {
        let symbols = LoadBatches.symbols.map { Array($0.utf8) }
        var counts = [Int](repeating: 0, count: 1_000_000)
        var lastTime = [Int64](repeating: .min, count: symbols.count)
        var lineNumber = 0
        var bytes = Array(csv.utf8)
        if bytes.last != 10 { bytes.append(10) }
        var fields: [Range<Int>] = []
        var start = 0
        for i in bytes.indices where bytes[i] == 10 {
            let line = start..<i
            start = i + 1
            lineNumber += 1
            if lineNumber == 1 {
                if Array(bytes[line]) != Array("time,symbol,price,size".utf8) { problems.append("header '\(String(decoding: bytes[line], as: UTF8.self))'") }
                continue
            }
            if line.isEmpty { continue }
            fields.removeAll(keepingCapacity: true)
            var f = line.lowerBound
            for j in line where bytes[j] == 44 {
                fields.append(f..<j)
                f = j + 1
            }
            fields.append(f..<line.upperBound)
            func bad(_ why: String) { if problems.count < 20 { problems.append("line \(lineNumber) '\(String(decoding: bytes[line], as: UTF8.self))': \(why)") } }
            guard fields.count == 4, let time = Self.integer(bytes, fields[0]), let id = Self.integer(bytes, fields[3]).map(Int.init),
                  let cents = Self.cents(bytes, fields[2]) else {
                bad("not time,symbol,price,size")
                continue
            }
            let line64 = time - LoadBatches.base - Int64(id) * 10_000
            guard (100_000..<1_000_000).contains(id), (0..<Int64(batches.lines)).contains(line64) else {
                bad("no batch has this id and time")
                continue
            }
            let n = Int(line64)
            let s = n % symbols.count
            guard Array(bytes[fields[1]]) == symbols[s], cents == LoadBatches.priceCents(line: n) else {
                bad("symbol or price differs from what line \(n) of batch \(id) sent")
                continue
            }
            // Each symbol's rows come back in time order and every row has its own time:
            // a time not above the previous one is a row twice (or out of order).
            if time <= lastTime[s] { bad("time not after the previous row of \(LoadBatches.symbols[s]): a duplicate or out of order") }
            lastTime[s] = time
            counts[id] += 1
            rows += 1
            priceCents += cents
            sizeSum += id
        }
        for (id, c) in counts.enumerated() where c > 0 {
            rowsByBatch[id] = c
            if c != batches.lines, problems.count < 20 { problems.append("batch \(id): \(c) of \(batches.lines) rows (a partial batch)") }
        }
    }

    static func integer(_ b: [UInt8], _ r: Range<Int>) -> Int64? {
        guard !r.isEmpty, r.count <= 19 else { return nil }
        var v: Int64 = 0
        for i in r {
            guard (48...57).contains(b[i]) else { return nil }
            v = v * 10 + Int64(b[i] - 48)
        }
        return v
    }

    /// A decimal with at most two fraction digits, in hundredths.
    static func cents(_ b: [UInt8], _ r: Range<Int>) -> Int? {
        guard let dot = r.first(where: { b[$0] == 46 }) else { return integer(b, r).map { Int($0) * 100 } }
        guard let whole = integer(b, r.lowerBound..<dot), (1...2).contains(r.upperBound - dot - 1),
              let fraction = integer(b, dot + 1..<r.upperBound) else { return nil }
        return Int(whole) * 100 + Int(r.upperBound - dot - 1 == 1 ? fraction * 10 : fraction)
    }
}

/// A mutex in a class, for state shared with thread closures (which cannot capture a
/// noncopyable `Mutex` themselves).
final class Locked<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ initial: Value) { value = Mutex(initial) }
}
