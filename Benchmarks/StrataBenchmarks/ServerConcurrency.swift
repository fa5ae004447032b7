import Benchmark
import Dispatch
import Glibc
import StrataArchive
import StrataBenchmarkSupport
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem
import Synchronization

/// A server whose store has a warm trade day (ESH4) and a cold one (`cold`/ESH4, in the
/// archive named by STRATA_BENCH_S3_*, else a directory, read without a block cache so every
/// query fetches it), with eight bar clients and two that load it beside them: one asking for
/// the cold day over and over, one scraping /metrics.
final class BusyServerFixture: @unchecked Sendable {
    nonisolated(unsafe) static var current: BusyServerFixture?
    let directory: String
    let database: Database
    let task: Task<Void, any Error>
    let port: Int
    let label: String
    /// The eight clients, each on its thread, started for a round by `go` and counted done on `done`.
    var clients: [BackgroundThread] = []
    let go = (0..<8).map { _ in DispatchSemaphore(value: 0) }
    let done = DispatchSemaphore(value: 0)
    let stopping = Atomic<Bool>(false)
    let failures = Atomic<Int>(0)
    var loaders: [BackgroundThread] = []

    init() {
        directory = Fixtures.makeTemporaryDirectory("strata-bench-busy")
        let (objects, label) = benchmarkObjects("busy")
        self.label = label
        let archive = Archive(objects: objects, cacheBytes: 0)
        var c = DatabaseConfiguration()
        c.fsync = .interval(milliseconds: 100)
        c.store.coldStorage = archive
        database = try! Database(directory: directory, configuration: c)
        try! database.appendBlocking([Store.SeriesRows(series: try! SeriesKey(measurement: "trade", symbol: "ESH4"), schema: SyntheticTicks.tradeSchema, rows: Fixtures.trades),
                                      Store.SeriesRows(series: try! SeriesKey(measurement: "cold", symbol: "ESH4"), schema: SyntheticTicks.tradeSchema, rows: Fixtures.trades)])
        try! database.flush()
        let pushed = try! archive.push(database, olderThan: 0, measurement: "cold")
        precondition(pushed.seriesDays == 1, "the cold day is archived")
        (task, port) = serveOnFreePort(database)
        for k in 0..<8 {
            let client = RawHTTPClient(port: port)
            clients.append(BackgroundThread(name: "bars-\(k)") { [self] in
                while true {
                    go[k].wait()
                    if stopping.load(ordering: .relaxed) { return }
                    if client.get("/api/v1/query?measurement=trade&symbol=ESH4&interval=1m&ohlcv=price,size") != 200 { failures.add(1, ordering: .relaxed) }
                    done.signal()
                }
            })
        }
        for (name, path) in [("cold", "/api/v1/query?measurement=cold&symbol=ESH4&interval=1m&ohlcv=price,size"), ("metrics", "/metrics")] {
            let client = RawHTTPClient(port: port)
            loaders.append(BackgroundThread(name: "load-\(name)") { [self] in
                while !stopping.load(ordering: .relaxed) {
                    if client.get(path) != 200 { failures.add(1, ordering: .relaxed) }
                }
            })
        }
    }

    /// One round: every client asks for the bars once; returns when all eight answered.
    func round() {
        for g in go { g.signal() }
        for _ in 0..<8 { done.wait() }
    }

    func stop() {
        stopping.store(true, ordering: .relaxed)
        for g in go { g.signal() }
        for t in clients + loaders { t.join() }
        precondition(failures.load(ordering: .relaxed) == 0, "some requests failed")
        task.cancel()
        try? database.close()
        Fixtures.removeDirectory(directory)
    }
}

func registerServerConcurrencyBenchmarks() {
    // One iteration: eight clients each GET the 1-minute bars of a warm 450k-trade day at
    // once (keep-alive connections); it ends when all eight answers are in, so its time is
    // the slowest of the eight. Meanwhile one more client asks for the bars of a cold day
    // (fetched from the archive every time) and another scrapes /metrics, without pause.
    // Read p99: what a client waits at worst while blocking work runs beside it.
    Benchmark("Server/1-minute bars, 8 clients at once, beside a cold-day query and /metrics",
              configuration: .init(metrics: [.wallClock], warmupIterations: 10, scalingFactor: .one,
                                   maxDuration: .seconds(15), maxIterations: 1_000)) { benchmark in
        let fixture = BusyServerFixture.current!
        for _ in benchmark.scaledIterations { fixture.round() }
    } setup: {
        BusyServerFixture.current = BusyServerFixture()
    } teardown: {
        BusyServerFixture.current?.stop()
        BusyServerFixture.current = nil
    }
}
