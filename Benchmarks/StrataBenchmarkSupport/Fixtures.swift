import Foundation
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem
import StrataText

/// In-memory data for the benchmarks and the size report, all deterministic: the same
/// seed gives the same bytes on every run and every machine. Nothing is read from disk.
public enum Fixtures {
    /// Trades in one symbol-day, as the issue sizes it.
    public static let tradesPerDay = 450_000
    /// Rows per block: the store's default (`StoreConfiguration.rowsPerBlock`).
    public static let blockSize = 8192

    /// 450k synthetic futures trades (seed 1): millisecond bursts, a 0.25 tick grid,
    /// small sizes. Fields: price:float, size:int. All in one UTC day.
    public static let trades: RowBlock = SyntheticTicks(seed: 1).trades(count: tradesPerDay)

    public static var tradeTimes: [Int64] { trades.timestamps }

    public static var tradePrices: [Double] {
        guard case .float64(let v) = trades.columns[0].values else { preconditionFailure("price is float") }
        return v
    }

    public static var tradeSizes: [Int64] {
        guard case .int64(let v) = trades.columns[1].values else { preconditionFailure("size is int") }
        return v
    }

    /// The whole blocks of `values` (the tail that does not fill a block is dropped).
    public static func blocks<T>(_ values: [T], size: Int = blockSize) -> [[T]] {
        stride(from: 0, to: values.count - size + 1, by: size).map { Array(values[$0..<($0 + size)]) }
    }

    /// Values per iteration of the codec and block benchmarks: with scalingFactor .mega
    /// their throughput column reads directly as millions of values (rows) per second.
    public static let valuesPerIteration = 1_000_000

    /// 1M trades from the same generator and seed as `trades` (whose 450k rows are the
    /// first 450k of these), for the codec and block benchmarks.
    public static let codecTrades: RowBlock = SyntheticTicks(seed: 1).trades(count: valuesPerIteration)

    /// `values` cut as a store cuts rows: blocks of 8192 and a shorter last block
    /// (1M values: 122 blocks of 8192 and one of 576).
    public static func chunks<T>(_ values: [T], size: Int = blockSize) -> [[T]] {
        stride(from: 0, to: values.count, by: size).map { Array(values[$0..<min($0 + size, values.count)]) }
    }

    /// A multiplicative random walk of full-precision doubles (no decimal structure, no
    /// repeats): what sensor-like or computed values look like to a float codec.
    public static func randomWalk(count: Int, seed: UInt64 = 7) -> [Double] {
        var rng = SyntheticTicks.Random(seed: seed)
        var x = 100.0
        var out = [Double]()
        out.reserveCapacity(count)
        for _ in 0..<count {
            x *= 1 + 0.001 * (rng.unit() - 0.5)
            out.append(x)
        }
        return out
    }

    /// Prices with two decimals in a random walk of 1…25 cents up or down: no value
    /// equals the one before it, so Gorilla's one-bit repeat code never applies.
    public static func nonRepeatingCents(count: Int, seed: UInt64 = 11) -> [Double] {
        var rng = SyntheticTicks.Random(seed: seed)
        var cents: Int64 = 450_000
        var out = [Double]()
        out.reserveCapacity(count)
        for _ in 0..<count {
            let step = 1 + Int64(rng.next() % 25)
            cents += rng.next() & 1 == 0 ? step : -step
            if cents < 100 { cents += 2 * step }
            out.append(Double(cents) / 100)
        }
        return out
    }

    /// A trade CSV exactly as `strata generate --rows ROWS --symbols ESH4` writes it
    /// (time as RFC 3339 with milliseconds, header time,symbol,price,size).
    public static func tradeCSV(rows: Int, symbol: String = "ESH4", seed: UInt64 = 1) -> [UInt8] {
        let block = SyntheticTicks(seed: seed).trades(count: rows)
        guard case .float64(let prices) = block.columns[0].values,
              case .int64(let sizes) = block.columns[1].values else { preconditionFailure("trade columns") }
        var out = [UInt8]()
        out.reserveCapacity(rows * 48)
        out.append(contentsOf: "time,symbol,price,size\n".utf8)
        for i in 0..<block.rowCount {
            let time = String(CivilTime.format(block.timestamps[i]).dropLast(7)) + "Z"  // milliseconds
            out.append(contentsOf: "\(time),\(symbol),\(formatDouble(prices[i])),\(sizes[i])\n".utf8)
        }
        return out
    }

    /// The CSV `strata generate --rows TRADES --symbols OPT --symbol-count CONTRACTS` writes:
    /// an options chain of contracts with a few trades each in one day.
    public static func chainCSV(contracts: Int, trades: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(contracts * trades * 40)
        out.append(contentsOf: "time,symbol,price,size\n".utf8)
        let digits = String(contracts - 1).count
        for k in 0..<contracts {
            var gen = SyntheticTicks(seed: 1 &+ UInt64(k))
            gen.startPrice = 4500 + Double(k) * 100
            let block = gen.trades(count: trades)
            guard case .float64(let prices) = block.columns[0].values, case .int64(let sizes) = block.columns[1].values else { preconditionFailure("trade columns") }
            let n = String(k)
            let symbol = "OPT" + String(repeating: "0", count: digits - n.count) + n
            for i in 0..<block.rowCount {
                let time = String(CivilTime.format(block.timestamps[i]).dropLast(7)) + "Z"
                out.append(contentsOf: "\(time),\(symbol),\(formatDouble(prices[i])),\(sizes[i])\n".utf8)
            }
        }
        return out
    }

    /// A store in `directory`, filled from `csv` by the CSV ingester (layout and partitions
    /// chosen by `auto`, as `strata ingest` chooses them).
    public static func ingestedStore(_ csv: [UInt8], measurement: String, directory: String) throws -> Store {
        let store = try Store(directory: directory, create: true)
        let report = try csv.withUnsafeBufferPointer { (bytes) throws(StrataError) in
            try CSVIngester(store: store, options: CSVIngestOptions(measurement: measurement)).ingest(bytes, source: measurement)
        }
        precondition(report.badRowCount == 0, "ingest rejected rows")
        return store
    }

    /// 20 symbols × 1M trades (about two days each) in `directory`, measurement "trade".
    public static func twentySymbolStore(directory: String) throws -> (Store, [SeriesKey]) {
        let store = try Store(directory: directory, create: true)
        var series: [SeriesKey] = []
        for k in 0..<20 {
            var gen = SyntheticTicks(seed: 100 &+ UInt64(k))
            gen.gapScale = 14
            let key = try SeriesKey(measurement: "trade", symbol: "F\(k)")
            if try store.days(key).isEmpty {
                try store.write([Store.SeriesRows(series: key, schema: SyntheticTicks.tradeSchema, rows: gen.trades(count: 1_000_000))])
            }
            series.append(key)
        }
        return (store, series)
    }

    /// The CLI's number format (Sources/strata/Strata.swift), copied: the CLI target
    /// cannot be imported.
    public static func formatDouble(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v < 0 ? "-Inf" : "Inf" }
        if v == 0 { return v.sign == .minus ? "-0.0" : "0" }
        if v == v.rounded(), v.magnitude < 1e15 { return String(Int64(v)) }
        return v.description
    }

    // MARK: Directories

    /// A new empty directory under $TMPDIR (or /tmp).
    public static func makeTemporaryDirectory(_ prefix: String = "strata-bench") -> String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array("\(base)/\(prefix).XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("mkdtemp \(base): errno \(errno)") }
        return String(cString: made)
    }

    public static func removeDirectory(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// A store in a new temporary directory holding `trades` as trade/ESH4, written with
    /// `Store.write` (one segment for the day, blocks of 8192 rows).
    /// The trades of one symbol in a store. `packed`: in a packed partition, which it shares
    /// with 2,000 sparse symbols of 10 trades each (an options chain beside its future).
    public static func tradeStore(packed: Bool = false) throws -> (store: Store, series: SeriesKey, summary: WriteSummary) {
        var c = StoreConfiguration()
        c.layouts["trade"] = .layout(packed ? .packed : .series)
        let store = try Store(directory: makeTemporaryDirectory("strata-bench-store"), configuration: c, create: true)
        let series = try SeriesKey(measurement: "trade", symbol: "ESH4")
        var batch = [Store.SeriesRows(series: series, schema: SyntheticTicks.tradeSchema, rows: trades)]
        if packed {
            let first = trades.timestamps[0]
            for i in 0..<2_000 {
                let times = (0..<10).map { first + Int64(i * 10 + $0) * 1_000_000 }
                batch.append(Store.SeriesRows(series: try SeriesKey(measurement: "trade", symbol: "OPT\(i)"), schema: SyntheticTicks.tradeSchema,
                                              rows: RowBlock(timestamps: times, columns: [Column(.float64(times.map { _ in 1.5 })), Column(.int64(times.map { _ in 1 }))])))
            }
        }
        let summary = try store.write(batch)
        return (store, series, summary)
    }
}
