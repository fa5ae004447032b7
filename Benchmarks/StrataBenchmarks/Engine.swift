import Benchmark
import StrataBenchmarkSupport
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataText

/// Rows in the CSV ingest benchmark.
let ingestRows = 1_000_000

/// A store written once in setup and removed in teardown.
final class StoreHolder {
    var fixture: (store: Store, series: SeriesKey, summary: WriteSummary)?
    let packed: Bool

    init(packed: Bool = false) { self.packed = packed }

    func make() throws -> (store: Store, series: SeriesKey) {
        let f = try Fixtures.tradeStore(packed: packed)
        fixture = f
        return (f.store, f.series)
    }

    func remove() {
        if let f = fixture { Fixtures.removeDirectory(f.store.directory) }
        fixture = nil
    }
}

func registerEngineBenchmarks() {
    // MARK: CSV ingest, end to end

    // One iteration: a fresh data directory, then CSVIngester over the whole 1M-row CSV
    // (parse, sort check, encode, write durable segments). Making and removing the
    // directory is outside the measured time.
    Benchmark("Ingest/CSV 1M rows to durable segments",
              configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 1,
                                   scalingFactor: .one, maxDuration: .seconds(60), maxIterations: 15)) { (benchmark: Benchmark, csv: [UInt8]) in
        let dir = Fixtures.makeTemporaryDirectory("strata-bench-ingest")
        benchmark.startMeasurement()
        let report: IngestReport
        do {
            let store = try Store(directory: dir, create: true)
            let ingester = CSVIngester(store: store, options: CSVIngestOptions(measurement: "trade"))
            report = try csv.withUnsafeBufferPointer { (bytes) throws(StrataError) in try ingester.ingest(bytes, source: "trades.csv") }
        } catch {
            fatalError("ingest: \(error)")
        }
        benchmark.stopMeasurement()
        precondition(report.rowsWritten == ingestRows && report.badRowCount == 0, "ingest wrote \(report.rowsWritten) rows")
        Fixtures.removeDirectory(dir)
    } setup: {
        Fixtures.tradeCSV(rows: ingestRows)
    }

    // MARK: Queries over one symbol-day (warm: files written in setup, in the page cache)

    let oneMinute: Int64 = 60_000_000_000
    /// 1-minute OHLCV+VWAP bars of the day, from the store `holder` makes.
    func bars(_ name: String, _ holder: StoreHolder, layout: MeasurementLayout) {
        let spec = BarSpec(interval: oneMinute, source: .ticks(price: "price", volume: "size"))
        Benchmark(name, configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 5,
                                             scalingFactor: .one, maxDuration: .seconds(5))) { (_: Benchmark, fixture: (store: Store, series: SeriesKey)) in
            do {
                blackHole(try fixture.store.bars(fixture.series, spec: spec))
            } catch {
                fatalError("bars: \(error)")
            }
        } setup: {
            let fixture = try holder.make()
            let made = try fixture.store.layout(of: "trade")
            precondition(made == layout, "the store is not \(layout)")
            let bars = try fixture.store.bars(fixture.series, spec: spec)
            precondition(bars.reduce(0) { $0 + $1.count } == Fixtures.tradesPerDay, "bars lost ticks")
            return fixture
        } teardown: {
            holder.remove()
        }
    }
    bars("Query/bars 1m OHLCV+VWAP over 450k ticks", StoreHolder(), layout: .series)
    // The same day of one dense symbol, in a packed partition shared with 2,000 sparse
    // symbols: a dense series must read as fast packed as in its own directory.
    bars("Query/bars 1m OHLCV+VWAP over 450k ticks, packed partition", StoreHolder(packed: true), layout: .packed)

    let hour: Int64 = 3_600_000_000_000
    let rawHolder = StoreHolder()
    Benchmark("Query/raw rows of one hour",
              configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 5,
                                   scalingFactor: .one, maxDuration: .seconds(5))) { (_: Benchmark, fixture: (store: Store, series: SeriesKey)) in
        let from = Fixtures.trades.timestamps[0]
        do {
            blackHole(try fixture.store.query(fixture.series, from: from, to: from + hour - 1))
        } catch {
            fatalError("query: \(error)")
        }
    } setup: {
        let fixture = try rawHolder.make()
        let from = Fixtures.trades.timestamps[0]
        let rows = try fixture.store.query(fixture.series, from: from, to: from + hour - 1).rows.rowCount
        precondition(rows == Fixtures.trades.timestamps.prefix { $0 < from + hour }.count, "query lost rows")
        return fixture
    } teardown: {
        rawHolder.remove()
    }
}
