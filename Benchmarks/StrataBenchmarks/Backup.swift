import Benchmark
import Glibc
import StrataArchive
import StrataBenchmarkSupport
import StrataEngine
import StrataFormat
import StrataSystem

/// A store of 10 days × 450k trades (one segment each, 4.5M rows) and its backups.
func backupFixture(_ name: String) throws -> (db: Database, backups: Backups, directory: String) {
    let dir = Fixtures.makeTemporaryDirectory("strata-bench-backup")
    var c = DatabaseConfiguration()
    c.fsync = .none
    let db = try Database(directory: dir, configuration: c)
    let series = try SeriesKey(measurement: "trade", symbol: "ESH4")
    let base = Fixtures.trades.timestamps[0]
    for day in 0..<10 {
        let shift = Int64(day) * Day.nanosecondsPerDay
        try db.appendBlocking([Store.SeriesRows(series: series, schema: [Field("price", .float64), Field("size", .int64)],
                                                rows: RowBlock(timestamps: Fixtures.trades.timestamps.map { $0 + shift }, columns: Fixtures.trades.columns))])
        try db.flush()
    }
    _ = base
    return (db, Backups(objects: benchmarkObjects(name).store), dir)
}

func registerBackupBenchmarks() {
    // One iteration: a full backup of 10 trade days (4.5M rows, 10 segments of ~625 KB).
    Benchmark("Backup/full backup of 10 trade days",
              configuration: .init(metrics: [.wallClock], warmupIterations: 1, scalingFactor: .one,
                                   maxDuration: .seconds(10), maxIterations: 20)) { (_: Benchmark, fixture: (db: Database, backups: Backups, directory: String)) in
        blackHole(try! fixture.backups.create(fixture.db, full: true))
    } setup: {
        try backupFixture("full")
    }

    // One iteration: an incremental backup when nothing changed (every segment referenced).
    Benchmark("Backup/incremental backup of 10 unchanged trade days",
              configuration: .init(metrics: [.wallClock], warmupIterations: 1, scalingFactor: .one,
                                   maxDuration: .seconds(10), maxIterations: 50)) { (_: Benchmark, fixture: (db: Database, backups: Backups, directory: String)) in
        blackHole(try! fixture.backups.create(fixture.db))
    } setup: {
        let f = try backupFixture("incremental")
        _ = try f.backups.create(f.db, full: true)
        return f
    }

    // One iteration: verify, then restore into a fresh directory, the full backup.
    for step in ["verify", "restore"] {
        Benchmark("Backup/\(step) a backup of 10 trade days",
                  configuration: .init(metrics: [.wallClock], warmupIterations: 1, scalingFactor: .one,
                                       maxDuration: .seconds(10), maxIterations: 20)) { (_: Benchmark, fixture: (backups: Backups, id: String)) in
            if step == "verify" {
                precondition(try! fixture.backups.verify(fixture.id).ok)
            } else {
                let target = Fixtures.makeTemporaryDirectory("strata-bench-restore")
                blackHole(try! fixture.backups.restore(fixture.id, into: target))
            }
        } setup: {
            let f = try backupFixture(step)
            let id = try f.backups.create(f.db, full: true).catalog.id
            return (f.backups, id)
        }
    }
}
