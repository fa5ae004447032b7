import Benchmark
import Glibc
import StrataBenchmarkSupport
import StrataCache
import StrataEngine
import StrataFormat

/// The Redis the cache benchmarks publish to: STRATA_BENCH_REDIS_URL (e.g. the URL
/// `scripts/redis-server start DIR` prints); without it they are not registered.
let benchmarkRedisURL: String? = getenv("STRATA_BENCH_REDIS_URL").map { String(cString: $0) }

func benchmarkCacheConfiguration(_ url: String) -> CacheConfiguration {
    var c = CacheConfiguration(url: try! RedisURL(parsing: url))
    c.prefix = "strata-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    c.bufferRows = 2_000_000
    return c
}

/// Removes a benchmark's keys (SCAN and DEL under its prefix).
func dropCacheKeys(_ c: CacheConfiguration) {
    let connection = try! RedisConnection(c.url)
    var cursor = "0"
    repeat {
        let page = try! connection.command("SCAN", cursor, "MATCH", "\(c.prefix):*", "COUNT", "1000").array!
        cursor = page[0].text!
        var dels = RESPWriter()
        for key in page[1].array!.compactMap(\.text) { dels.command(["DEL", key]) }
        _ = try! connection.send(dels)
    } while cursor != "0"
}

func registerCacheBenchmarks() {
    guard let url = benchmarkRedisURL else { return }
    let tenSeries = (0..<10).map { try! SeriesKey(measurement: "trade", symbol: "SYM\($0)") }

    // One iteration: publish 1M rows (1,000 appends of 1,000 trade rows, three fields, in
    // turn to ten series) from the log to Redis: an XADD per row, the last hashes, until
    // every row is sent. Throughput reads as M rows/s.
    Benchmark("Cache/publish 1M rows to Redis, 10 series",
              configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 1, scalingFactor: .mega,
                                   maxDuration: .seconds(60), maxIterations: 5)) { (benchmark: Benchmark, batches: [RowBlock]) in
        let c = benchmarkCacheConfiguration(url)
        withDatabase({ $0.fsync = .none }) { db in
            let publisher = try! CachePublisher(database: db, configuration: c)
            for (i, b) in batches.enumerated() {
                try! db.appendBlocking([Store.SeriesRows(series: tenSeries[i % 10], schema: liveSchema, rows: b)])
            }
            benchmark.startMeasurement()
            publisher.start()
            try! publisher.waitUntilPublished(seconds: 300)
            benchmark.stopMeasurement()
            precondition(publisher.status.rowsPublished == 1_000_000 && publisher.status.rowsDropped == 0, "\(publisher.status)")
            publisher.stop()
        }
        dropCacheKeys(c)
    } setup: {
        liveBatches(rowsPerBatch: 1000, count: 1000)
    }

    // One iteration: 1M rows appended by one caller (1,000-row batches to ten series in
    // turn, fsync interval:100), publishing alongside or not. Throughput reads as M rows/s
    // of ingest; the publisher's catching up afterwards is not measured.
    for publishing in [false, true] {
        Benchmark("Cache/append 1M rows, fsync interval:100, publishing \(publishing ? "on" : "off")",
                  configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 1, scalingFactor: .mega,
                                       maxDuration: .seconds(60), maxIterations: 10)) { (benchmark: Benchmark, batches: [RowBlock]) in
            let c = benchmarkCacheConfiguration(url)
            withDatabase({ $0.fsync = .interval(milliseconds: 100) }) { db in
                let publisher = publishing ? try! CachePublisher(database: db, configuration: c) : nil
                publisher?.start()
                benchmark.startMeasurement()
                for (i, b) in batches.enumerated() {
                    try! db.appendBlocking([Store.SeriesRows(series: tenSeries[i % 10], schema: liveSchema, rows: b)])
                }
                benchmark.stopMeasurement()
                publisher?.stop()
            }
            if publishing { dropCacheKeys(c) }
        } setup: {
            liveBatches(rowsPerBatch: 1000, count: 1000)
        }
    }
}
