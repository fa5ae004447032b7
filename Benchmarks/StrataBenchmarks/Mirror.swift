import Benchmark
import Glibc
import StrataBenchmarkSupport
import StrataEngine
import StrataFormat
import StrataMirror

/// The PostgreSQL the mirror benchmarks write to: STRATA_BENCH_PG_DSN (e.g. the cluster
/// `scripts/pg-server start DIR` prints); without it they are not registered.
let benchmarkPostgresDSN: String? = getenv("STRATA_BENCH_PG_DSN").map { String(cString: $0) }

/// A fresh schema for one iteration.
func freshMirrorSchema() -> String {
    let name = "strata_bench_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
    let c = try! PostgresConnection(benchmarkPostgresDSN!)
    try! c.execute("CREATE SCHEMA \(name)")
    return name
}

func registerMirrorBenchmarks() {
    guard let dsn = benchmarkPostgresDSN else { return }

    // One iteration: replicate 1M rows (1,000 appends of 1,000 trade rows, three fields,
    // to one series or in turn to ten) from the log into an empty PostgreSQL table,
    // exactly once, until caught up. Throughput reads as M rows/s.
    let tenSeries = (0..<10).map { try! SeriesKey(measurement: "trade", symbol: "SYM\($0)") }
    for series in [[liveSeries], tenSeries] {
        Benchmark("Mirror/replicate 1M rows into PostgreSQL" + (series.count > 1 ? ", \(series.count) series" : ""),
                  configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 1, scalingFactor: .mega,
                                       maxDuration: .seconds(60), maxIterations: 5)) { (benchmark: Benchmark, batches: [RowBlock]) in
            withDatabase({ $0.fsync = .none }) { db in
                try! db.retainLog(from: .zero)
                for (i, b) in batches.enumerated() {
                    try! db.appendBlocking([Store.SeriesRows(series: series[i % series.count], schema: liveSchema, rows: b)])
                }
                var c = MirrorConfiguration(dsn: dsn)
                c.options.schema = freshMirrorSchema()
                let mirror = try! Mirror(database: db, configuration: c)
                benchmark.startMeasurement()
                mirror.start()
                try! mirror.waitUntilReplicated(seconds: 300)
                benchmark.stopMeasurement()
                mirror.stop()
            }
        } setup: {
            liveBatches(rowsPerBatch: 1000, count: 1000)
        }
    }

    // One iteration: 1M rows appended by one caller (1,000-row batches, fsync
    // interval:100), with the mirror replicating alongside or not. Throughput reads as M
    // rows/s of ingest; the mirror's catching up afterwards is not measured.
    for mirrored in [false, true] {
        Benchmark("Mirror/append 1M rows, fsync interval:100, mirror \(mirrored ? "on" : "off")",
                  configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 1, scalingFactor: .mega,
                                       maxDuration: .seconds(60), maxIterations: 10)) { (benchmark: Benchmark, batches: [RowBlock]) in
            withDatabase({ $0.fsync = .interval(milliseconds: 100) }) { db in
                var mirror: Mirror?
                if mirrored {
                    var c = MirrorConfiguration(dsn: dsn)
                    c.options.schema = freshMirrorSchema()
                    mirror = try! Mirror(database: db, configuration: c)
                    mirror?.start()
                }
                benchmark.startMeasurement()
                for b in batches { try! db.appendBlocking([Store.SeriesRows(series: liveSeries, schema: liveSchema, rows: b)]) }
                benchmark.stopMeasurement()
                mirror?.stop()
            }
        } setup: {
            liveBatches(rowsPerBatch: 1000, count: 1000)
        }
    }
}
