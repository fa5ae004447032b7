import Benchmark
import Glibc
import Logging
import StrataBenchmarkSupport
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataServer
import StrataSystem
import StrataText
import Synchronization

/// Line protocol bodies: `count` bodies of `lines` trades each, ten symbols in turn, times
/// in nanoseconds.
func lineProtocolBodies(count: Int, lines: Int) -> [[UInt8]] {
    let t = Fixtures.codecTrades
    guard case .float64(let prices) = t.columns[0].values, case .int64(let sizes) = t.columns[1].values else { fatalError("trade columns") }
    return (0..<count).map { b in
        var body = ""
        body.reserveCapacity(lines * 64)
        for l in 0..<lines {
            let i = (b * lines + l) % t.rowCount
            body += "trade,symbol=SYM\((b * lines + l) % 10) price=\(prices[i]),size=\(sizes[i])i \(t.timestamps[i])\n"
        }
        return Array(body.utf8)
    }
}

/// A blocking HTTP/1.1 client on one keep-alive connection: enough to drive the server
/// without measuring a client library.
final class RawHTTPClient: @unchecked Sendable {  // one thread uses each
    let fd: Int32
    var buffer = [UInt8](repeating: 0, count: 64 << 10)
    /// The response being read (its capacity kept from one response to the next).
    var received: [UInt8] = []

    init(port: Int) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        precondition(connected == 0, "connect: \(errno)")
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    /// POSTs `body`; returns the status code once the whole response is read.
    func post(_ path: String, _ body: [UInt8]) -> Int {
        let head = Array("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
        sendAll(head)
        sendAll(body)
        return readResponse()
    }

    /// GETs `path`; returns the status code once the whole response is read.
    func get(_ path: String) -> Int {
        sendAll(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
        return readResponse()
    }

    /// Reads one response: by Content-Length, or chunked to its last chunk. Each received
    /// byte is looked at about once (the header end is searched for in new bytes only, chunks
    /// are skipped by their sizes), so the client costs little next to the server it measures.
    private func readResponse() -> Int {
        received.removeAll(keepingCapacity: true)
        var head: (status: Int, length: Int?)? = nil  // length nil: chunked
        var bodyStart = 0
        var nextChunk = 0  // offset of the next chunk-size line
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            precondition(n > 0, "recv: \(errno)")
            let searchFrom = max(0, received.count - 3)
            received += buffer[..<n]
            if head == nil {
                guard let end = find([13, 10, 13, 10], from: searchFrom) else { continue }
                head = Self.parseHead(String(decoding: received[..<end], as: UTF8.self))
                bodyStart = end + 4
                nextChunk = bodyStart
            }
            guard let (status, length) = head else { continue }
            if let length {
                if received.count - bodyStart >= length { return status }
                continue
            }
            // Chunked: skip whole chunks; done at the zero-length one and its CRLF (no trailers).
            while let lineEnd = find([13, 10], from: nextChunk) {
                let size = Int(String(decoding: received[nextChunk..<lineEnd], as: UTF8.self).split(separator: ";")[0], radix: 16)
                guard let size else { preconditionFailure("bad chunk size") }
                if size == 0 {
                    if received.count >= lineEnd + 4 { return status }
                    break
                }
                guard received.count >= lineEnd + 2 + size + 2 else { break }
                nextChunk = lineEnd + 2 + size + 2
            }
        }
    }

    /// The first occurrence of `pattern` in `received` at or after `start`.
    private func find(_ pattern: [UInt8], from start: Int) -> Int? {
        var i = start
        while i + pattern.count <= received.count {
            if received[i] == pattern[0] && received[i..<(i + pattern.count)].elementsEqual(pattern) { return i }
            i += 1
        }
        return nil
    }

    /// Status and Content-Length (nil when the body is chunked) of a response head.
    private static func parseHead(_ header: String) -> (status: Int, length: Int?) {
        let lines = header.lowercased().split(separator: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        if lines.contains(where: { $0.hasPrefix("transfer-encoding:") && $0.contains("chunked") }) { return (status, nil) }
        let length = lines.first { $0.hasPrefix("content-length:") }.flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: " ")) }
        return (status, length ?? 0)
    }

    private func sendAll(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            precondition(n > 0, "send: \(errno)")
            sent += n
        }
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return s
    }
}

/// `database` served over HTTP on a free loopback port, quietly; returns the running task
/// and the port once it listens.
func serveOnFreePort(_ database: Database) -> (task: Task<Void, any Error>, port: Int) {
    var configuration = ServerConfiguration()
    configuration.port = 0
    var logger = Logger(label: "bench")
    logger.logLevel = .critical
    let port = Atomic<Int>(0)
    let app = StrataServer(database: database, configuration: configuration).application(logger: logger) { p in port.store(p, ordering: .sequentiallyConsistent) }
    let task = Task { try await app.runService(gracefulShutdownSignals: []) }
    while port.load(ordering: .sequentiallyConsistent) == 0 { usleep(1_000) }
    return (task, port.load(ordering: .sequentiallyConsistent))
}

/// A server on a free loopback port over a database in a fresh directory, made in a
/// benchmark's setup and stopped in its teardown.
final class ServerFixture: @unchecked Sendable {
    nonisolated(unsafe) static var current: ServerFixture?
    let directory: String
    let database: Database
    let task: Task<Void, any Error>
    let client: RawHTTPClient

    init(_ fill: (Database) -> Void) {
        directory = Fixtures.makeTemporaryDirectory("strata-bench-server")
        var c = DatabaseConfiguration()
        c.fsync = .interval(milliseconds: 100)
        database = try! Database(directory: directory, configuration: c)
        fill(database)
        let (task, port) = serveOnFreePort(database)
        self.task = task
        client = RawHTTPClient(port: port)
    }

    func stop() {
        task.cancel()
        try? database.close()
        Fixtures.removeDirectory(directory)
    }
}

func registerServerBenchmarks() {
    // One iteration: one symbol-day (450k trades, flushed to a segment) as 1-minute OHLCV
    // bars through GET /api/v1/query, JSON, on a warm keep-alive connection. Read p99.
    Benchmark("Server/1-minute bars of one symbol-day over HTTP",
              configuration: .init(metrics: [.wallClock], warmupIterations: 20, scalingFactor: .one,
                                   maxDuration: .seconds(10), maxIterations: 2_000)) { benchmark in
        let client = ServerFixture.current!.client
        for _ in benchmark.scaledIterations {
            precondition(client.get("/api/v1/query?measurement=trade&symbol=ESH4&interval=1m&ohlcv=price,size") == 200)
        }
    } setup: {
        ServerFixture.current = ServerFixture { db in
            try! db.appendBlocking([Store.SeriesRows(series: try! SeriesKey(measurement: "trade", symbol: "ESH4"), schema: SyntheticTicks.tradeSchema, rows: Fixtures.trades)])
            try! db.flush()
        }
    } teardown: {
        ServerFixture.current?.stop()
        ServerFixture.current = nil
    }

    // One iteration: parse 1M lines (200 bodies of 5,000 lines, ten series).
    Benchmark("LineProtocol/parse 1M lines",
              configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 1, scalingFactor: .mega,
                                   maxDuration: .seconds(20), maxIterations: 10)) { (benchmark: Benchmark, bodies: [[UInt8]]) in
        var options = LineProtocolOptions()
        options.now = 0
        for body in bodies {
            let batch = body.withUnsafeBytes { LineProtocol.parse($0, options: options) }
            precondition(batch.rows == 5_000 && batch.badLines == 0)
            blackHole(batch)
        }
    } setup: {
        lineProtocolBodies(count: 200, lines: 5_000)
    }

    // One iteration: 1M rows through `strata serve`'s HTTP API on loopback: 8 connections,
    // each POSTing 5,000-line bodies (25 each) to /api/v2/write, fsync interval:100; an
    // iteration ends when every reply (204, rows durable under the policy) is in.
    Benchmark("Server/line protocol over HTTP, 8 connections × 5,000-line batches",
              configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 1, scalingFactor: .mega,
                                   maxDuration: .seconds(60), maxIterations: 10)) { (benchmark: Benchmark, bodies: [[UInt8]]) in
        let dir = Fixtures.makeTemporaryDirectory("strata-bench-server")
        defer { Fixtures.removeDirectory(dir) }
        var c = DatabaseConfiguration()
        c.fsync = .interval(milliseconds: 100)
        let db = try! Database(directory: dir, configuration: c)
        let (server, port) = serveOnFreePort(db)
        let clients = (0..<8).map { _ in RawHTTPClient(port: port) }
        let failures = Atomic<Int>(0)
        benchmark.startMeasurement()
        let threads = (0..<8).map { k in
            BackgroundThread(name: "client-\(k)") {
                for b in stride(from: k, to: bodies.count, by: 8) where clients[k].post("/api/v2/write?precision=ns", bodies[b]) != 204 {
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        for t in threads { t.join() }
        benchmark.stopMeasurement()
        precondition(failures.load(ordering: .relaxed) == 0, "some writes failed")
        server.cancel()
        try! db.close()
    } setup: {
        lineProtocolBodies(count: 200, lines: 5_000)
    }
}
