import Benchmark
import Foundation
import StrataBenchmarkSupport
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem
import StrataText

/// Shapes other than one dense symbol-day (issue 17's targets): an options chain of 100,000
/// contracts × 20 trades in one packed day, twelve years of a market's daily bars, and the
/// latest row of every symbol of a 20-symbol, 20M-trade store. Stores are written in setup;
/// the measured part is warm (files in the page cache, the process's caches filled by the
/// warm-up iterations).

/// Contracts of the options-chain benchmarks, and trades of each.
let chainContracts = 100_000
let chainTrades = 20

func chainCSV() -> [UInt8] { Fixtures.chainCSV(contracts: chainContracts, trades: chainTrades) }

func ingestedStore(_ csv: [UInt8], measurement: String) throws -> Store {
    try Fixtures.ingestedStore(csv, measurement: measurement, directory: Fixtures.makeTemporaryDirectory("strata-bench-partitions"))
}

/// The PSE daily OHLCV file of ../shared/data, decompressed; nil when it is not there.
func pseCSV() -> [UInt8]? {
    let path = "../../shared/data/pse_daily_ohlcv_2010_2021_fastquant_long.csv.gz"
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    let gzip = Process()
    gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
    gzip.arguments = ["-dc", path]
    let pipe = Pipe()
    gzip.standardOutput = pipe
    guard (try? gzip.run()) != nil else { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    gzip.waitUntilExit()
    return gzip.terminationStatus == 0 ? Array(data) : nil
}

final class PartitionStore {
    var store: Store?
    func remove() {
        if let store { Fixtures.removeDirectory(store.directory) }
        store = nil
    }
}

func registerPartitionBenchmarks() {
    let warm = Benchmark.Configuration(metrics: [.throughput, .wallClock], warmupIterations: 3, scalingFactor: .one, maxDuration: .seconds(5))

    // MARK: An options chain: 100,000 contracts × 20 trades, one packed day

    Benchmark("Sparse/CSV ingest of 100k contracts x 20 trades",
              configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 1, scalingFactor: .one,
                                   maxDuration: .seconds(60), maxIterations: 8)) { (benchmark: Benchmark, csv: [UInt8]) in
        benchmark.startMeasurement()
        let store: Store
        do { store = try ingestedStore(csv, measurement: "opt") } catch { fatalError("ingest: \(error)") }
        benchmark.stopMeasurement()
        Fixtures.removeDirectory(store.directory)
    } setup: {
        chainCSV()
    }

    let chain = PartitionStore()
    func chainStore() throws -> Store {
        if let store = chain.store { return store }
        let store = try ingestedStore(chainCSV(), measurement: "opt")
        let layout = try store.layout(of: "opt")
        precondition(layout == .packed, "the chain is not packed")
        chain.store = store
        return store
    }
    Benchmark("Sparse/rows of one contract of 100k", configuration: warm) { (_: Benchmark, fixture: (Store, SeriesKey)) in
        do { blackHole(try fixture.0.query(fixture.1)) } catch { fatalError("query: \(error)") }
    } setup: {
        let store = try chainStore()
        let series = try SeriesKey(measurement: "opt", symbol: "OPT04242")
        let rows = try store.query(series).rows.rowCount
        precondition(rows == chainTrades, "a contract lost trades")
        return (store, series)
    }
    Benchmark("Sparse/latest row of each of 100k contracts", configuration: warm) { (_: Benchmark, fixture: (Store, [SeriesKey])) in
        do { blackHole(try fixture.0.latest(fixture.1)) } catch { fatalError("latest: \(error)") }
    } setup: {
        let store = try chainStore()
        let series = try store.existingSeries(measurement: "opt", symbols: nil)
        let latest = try store.latest(series)
        precondition(series.count == chainContracts && latest.allSatisfy { $0.rows.rowCount == 1 }, "latest lost contracts")
        return (store, series)
    } teardown: {
        chain.remove()
    }

    // MARK: Daily bars of a market: PSE, 257 symbols, 2010–2021

    if let pse = pseCSV() {
        let holder = PartitionStore()
        let monthly = BarSpec(interval: BarInterval(.months(1)), source: .bars(open: "open", high: "high", low: "low", close: "close", volume: "value"))
        Benchmark("Bars/monthly bars of one PSE symbol over 12 years", configuration: warm) { (_: Benchmark, fixture: (Store, SeriesKey)) in
            do { blackHole(try fixture.0.bars(fixture.1, spec: monthly)) } catch { fatalError("bars: \(error)") }
        } setup: {
            let store = try ingestedStore(pse, measurement: "pse")
            holder.store = store
            let series = try SeriesKey(measurement: "pse", symbol: "JFC")
            let months = try store.bars(series, spec: monthly).count
            precondition(months > 100, "JFC has fewer than 100 months")
            return (store, series)
        } teardown: {
            holder.remove()
        }
    }

    // MARK: The latest row of each of 20 symbols over 20M trades

    let twenty = PartitionStore()
    Benchmark("Latest/latest row of each of 20 symbols over 20M trades", configuration: warm) { (_: Benchmark, fixture: (Store, [SeriesKey])) in
        do { blackHole(try fixture.0.latest(fixture.1)) } catch { fatalError("latest: \(error)") }
    } setup: {
        let (store, series) = try Fixtures.twentySymbolStore(directory: Fixtures.makeTemporaryDirectory("strata-bench-latest"))
        twenty.store = store
        let latest = try store.latest(series)
        precondition(latest.allSatisfy { $0.rows.rowCount == 1 }, "latest lost a symbol")
        return (store, series)
    } teardown: {
        twenty.remove()
    }
}
