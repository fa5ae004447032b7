import Benchmark
import Dispatch
import Glibc
import StrataBenchmarkSupport
import StrataEngine
import StrataFormat
import Synchronization

/// 1M three-field trade rows (price:float, size:int, side:int) cut into batches.
func liveBatches(rowsPerBatch: Int, count: Int) -> [RowBlock] {
    let t = Fixtures.codecTrades
    return (0..<count).map { b in
        // Successive slices while they fit, then around again.
        let lo = (b + 1) * rowsPerBatch <= t.rowCount ? b * rowsPerBatch : (b * rowsPerBatch) % (t.rowCount - rowsPerBatch)
        let slice = t.slice(lo..<(lo + rowsPerBatch))
        let side = Column(.int64((0..<rowsPerBatch).map { Int64(($0 + b) & 1) }))
        return RowBlock(timestamps: slice.timestamps, columns: slice.columns + [side])
    }
}

let liveSchema = [Field("price", .float64), Field("size", .int64), Field("side", .int64)]
let liveSeries = try! SeriesKey(measurement: "trade", symbol: "ESH4")

/// A database in a fresh directory, removed afterwards.
func withDatabase<R>(_ configure: (inout DatabaseConfiguration) -> Void, _ body: (Database) throws -> R) -> R {
    let dir = Fixtures.makeTemporaryDirectory("strata-bench-live")
    defer { Fixtures.removeDirectory(dir) }
    var c = DatabaseConfiguration()
    configure(&c)
    do {
        let db = try Database(directory: dir, configuration: c)
        defer { try? db.close() }
        return try body(db)
    } catch {
        fatalError("database: \(error)")
    }
}

func registerLiveBenchmarks() {
    // MARK: Appends

    // One iteration: 1,000 appends of 1,000 rows (1M rows) by one caller, fsync
    // interval:100. Throughput reads as M rows/s. Opening and closing (the final flush)
    // are outside the measured time.
    Benchmark("Live/append 1M rows in 1000-row batches, fsync interval:100",
              configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 1, scalingFactor: .mega,
                                   maxDuration: .seconds(20), maxIterations: 20)) { (benchmark: Benchmark, batches: [RowBlock]) in
        withDatabase({ $0.fsync = .interval(milliseconds: 100) }) { db in
            benchmark.startMeasurement()
            for b in batches {
                do { try db.appendBlocking([Store.SeriesRows(series: liveSeries, schema: liveSchema, rows: b)]) } catch { fatalError("\(error)") }
            }
            benchmark.stopMeasurement()
        }
    } setup: {
        liveBatches(rowsPerBatch: 1000, count: 1000)
    }

    // One iteration: 64 tasks, each appending 160 batches of 100 rows one after another
    // (1,024,000 rows), fsync always. Every append waits for an fdatasync that covers it;
    // concurrent appends share one. Reports fsyncs per iteration and the p99 latency of
    // one append (µs).
    Benchmark("Live/append 64 writers x 100-row batches, fsync always",
              configuration: .init(metrics: [.throughput, .wallClock,
                                             .custom("fsyncs", polarity: .prefersSmaller, useScalingFactor: false),
                                             .custom("append p99 us", polarity: .prefersSmaller, useScalingFactor: false),
                                             .custom("append p50 us", polarity: .prefersSmaller, useScalingFactor: false)],
                                   warmupIterations: 1, scalingFactor: .mega,
                                   maxDuration: .seconds(30), maxIterations: 10)) { (benchmark: Benchmark, batches: [RowBlock]) in
        let writers = 64, perWriter = 160
        let latencies = Collected()
        let syncs: Int = withDatabase({ $0.fsync = .always }) { db in
            let syncsBefore = db.statistics.wal.syncs
            let done = DispatchSemaphore(value: 0)
            benchmark.startMeasurement()
            Task {
                await withTaskGroup(of: [Int64].self) { group in
                    for w in 0..<writers {
                        group.addTask {
                            var mine: [Int64] = []
                            mine.reserveCapacity(perWriter)
                            for k in 0..<perWriter {
                                let rows = batches[(w * perWriter + k) % batches.count]
                                let started = nanoseconds()
                                do { try await db.append(liveSeries, schema: liveSchema, rows: rows) } catch { fatalError("\(error)") }
                                mine.append(nanoseconds() - started)
                            }
                            return mine
                        }
                    }
                    for await mine in group { latencies.values.withLock { $0 += mine } }
                }
                done.signal()
            }
            done.wait()
            benchmark.stopMeasurement()
            return db.statistics.wal.syncs - syncsBefore
        }
        let sorted = latencies.values.withLock { $0.sorted() }
        benchmark.measurement(.custom("fsyncs", polarity: .prefersSmaller, useScalingFactor: false), syncs)
        benchmark.measurement(.custom("append p99 us", polarity: .prefersSmaller, useScalingFactor: false),
                              Int(sorted[sorted.count * 99 / 100] / 1000))
        benchmark.measurement(.custom("append p50 us", polarity: .prefersSmaller, useScalingFactor: false),
                              Int(sorted[sorted.count / 2] / 1000))
    } setup: {
        liveBatches(rowsPerBatch: 100, count: 64 * 160)
    }

    // MARK: Compaction and reading unmerged days

    // One iteration: compact a series-day of 1M rows held in 20 segments (written in
    // setup, in the page cache) into one. Throughput reads as M rows/s.
    Benchmark("Live/compact 1M-row series-day of 20 segments",
              configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 1, scalingFactor: .mega,
                                   maxDuration: .seconds(30), maxIterations: 20)) { (benchmark: Benchmark, batches: [RowBlock]) in
        withDatabase({ $0.compactAfterSegments = 0 }) { db in
            writeSegments(db, batches)
            benchmark.startMeasurement()
            let summary: CompactionSummary
            do { summary = try db.compact() } catch { fatalError("\(error)") }
            benchmark.stopMeasurement()
            precondition(summary.rows == 1_000_000 && summary.segmentsAfter == summary.seriesDays, "compacted \(summary.rows) rows")
        }
    } setup: {
        liveBatches(rowsPerBatch: 50_000, count: 20)
    }

    // Bars and raw rows of 1M rows in 20 segments, then of the same rows compacted into
    // one segment per day: reading the first may be at most 2x slower than the second.
    // "successive": 20 flushes of a live feed, each holding the next stretch of time (how
    // unmerged segments arise). "interleaved": 20 segments that each span the whole time
    // range (every 20th row) — the worst case of late data, where every segment overlaps
    // every other and rows must be merged one by one.
    let successive = { liveBatches(rowsPerBatch: 50_000, count: 20) }
    let interleaved = { () -> [RowBlock] in
        let t = Fixtures.codecTrades
        return (0..<20).map { s in
            let rows = Array(stride(from: s, to: t.rowCount, by: 20))
            let g = t.gather(rows)
            return RowBlock(timestamps: g.timestamps, columns: g.columns + [Column(.int64(rows.map { Int64($0 & 1) }))])
        }
    }
    for (layout, make) in [("successive", successive), ("interleaved", interleaved)] {
        for compacted in [false, true] {
            let label = compacted ? "compacted" : "20 \(layout) segments"
            if compacted && layout == "interleaved" { continue }  // the same rows as compacted successive ones
            let holder = DatabaseHolder()
            Benchmark("Live/bars 1m over 1M rows, \(label)",
                      configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 3, scalingFactor: .one,
                                           maxDuration: .seconds(5))) { (_: Benchmark, db: Database) in
                do {
                    blackHole(try db.bars(liveSeries, spec: BarSpec(interval: 60_000_000_000, source: .ticks(price: "price", volume: "size"))))
                } catch { fatalError("\(error)") }
            } setup: {
                holder.make(make(), compacted: compacted)
            } teardown: {
                holder.remove()
            }
            let rawHolder = DatabaseHolder()
            Benchmark("Live/raw rows, all 1M, \(label)",
                      configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 3, scalingFactor: .one,
                                           maxDuration: .seconds(5))) { (_: Benchmark, db: Database) in
                do { blackHole(try db.query(liveSeries)) } catch { fatalError("\(error)") }
            } setup: {
                rawHolder.make(make(), compacted: compacted)
            } teardown: {
                rawHolder.remove()
            }
        }
    }
}

/// Writes each batch as its own segment (one flush per batch).
func writeSegments(_ db: Database, _ batches: [RowBlock]) {
    do {
        for b in batches {
            try db.appendBlocking([Store.SeriesRows(series: liveSeries, schema: liveSchema, rows: b)])
            try db.flush()
        }
    } catch {
        fatalError("\(error)")
    }
}

/// A database made in setup and closed and removed in teardown.
final class DatabaseHolder: @unchecked Sendable {
    var db: Database?
    var dir: String?

    func make(_ batches: [RowBlock], compacted: Bool) -> Database {
        let dir = Fixtures.makeTemporaryDirectory("strata-bench-live-read")
        var c = DatabaseConfiguration()
        c.compactAfterSegments = 0
        do {
            let db = try Database(directory: dir, configuration: c)
            writeSegments(db, batches)
            if compacted { _ = try db.compact() }
            self.db = db
            self.dir = dir
            return db
        } catch {
            fatalError("\(error)")
        }
    }

    func remove() {
        try? db?.close()
        if let dir { Fixtures.removeDirectory(dir) }
        db = nil
        dir = nil
    }
}

func nanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}


/// Values gathered from many tasks.
final class Collected: Sendable {
    let values = Mutex<[Int64]>([])
}
