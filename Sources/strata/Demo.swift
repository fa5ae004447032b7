import ArgumentParser
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem
import StrataText

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the main job on embedded defaults: ingest a day of synthetic trades for three symbols, then print hourly bars and storage stats.")

    @OptionGroup var store: DataDirOption
    @Option(help: "Trades per symbol.") var rows: Int = 500_000

    /// The demo's own measurement, so that other data in the store (the README's first
    /// curl writes `trade,symbol=ESH4`) neither fools it nor is mixed with it.
    static let measurement = "demo_trade"

    func run() throws {
        running {
            try recoverIfNeeded(store.path)
            let target = try Store(directory: store.path, create: true)
            var out = Output()
            let symbols = ["ESH4", "NQH4", "YMH4"]
            // Each symbol is the demo's when it holds exactly the rows the demo writes; a
            // symbol that holds others is refused rather than mixed with them.
            var missing: [Int] = []
            for (k, symbol) in symbols.enumerated() {
                let series = try SeriesKey(measurement: Self.measurement, symbol: symbol)
                guard try !target.days(series).isEmpty else { missing.append(k); continue }
                let held = try target.query(series).rows.rowCount
                guard held == rows else {
                    throw StrataError(.conflict, "\(series) holds \(held) rows, not the demo's \(rows); run the demo with --rows \(held), or in another --data-dir", path: target.directory)
                }
            }
            if missing.isEmpty {
                // Running the demo twice must not double the data.
                out.write("demo data is already in \(target.directory) (measurement \(Self.measurement)); reading it again\n\n")
            } else {
                var total = 0, bytes = 0
                let started = now()
                for k in missing {
                    var gen = SyntheticTicks(seed: 42 &+ UInt64(k))
                    gen.startPrice = [4750, 16800, 37500][k]
                    let block = gen.trades(count: rows)
                    let series = try SeriesKey(measurement: Self.measurement, symbol: symbols[k])
                    let summary = try target.write(series, schema: SyntheticTicks.tradeSchema, rows: block)
                    total += summary.rows
                    bytes += summary.bytes
                }
                let seconds = now() - started
                let written = missing.map { symbols[$0] }.joined(separator: ", ")
                out.write("wrote \(total) synthetic trades of \(written) to \(target.directory) (measurement \(Self.measurement)) in \(format3(seconds)) s: \(bytes) bytes, \(format3(Double(bytes) / Double(total))) bytes/row\n\n")
            }
            let series = try SeriesKey(measurement: Self.measurement, symbol: symbols[0])
            let barStart = now()
            let bars = try target.bars(series, spec: BarSpec(interval: 3_600_000_000_000, source: .ticks(price: "price", volume: "size")))
            let barSeconds = now() - barStart
            out.write("hourly bars of \(symbols[0]) (\(format3(barSeconds * 1000)) ms):\n")
            out.write("time,symbol,open,high,low,close,volume,count,vwap\n")
            for b in bars.prefix(24) {
                out.write("\(CivilTime.format(b.start)),\(symbols[0]),\(TextFormat.double(b.open)),\(TextFormat.double(b.high)),\(TextFormat.double(b.low)),\(TextFormat.double(b.close)),\(TextFormat.double(b.volume ?? 0)),\(b.count),\(b.vwap.map { format3($0) } ?? "")\n")
            }
            let dataDir = store.dataDir.map { " --data-dir \($0)" } ?? ""
            out.write("\ntry: strata query\(dataDir) --measurement \(Self.measurement) --symbol ESH4,NQH4 --interval 1m --ohlcv price,size | head\n")
            out.flush()
        }
    }
}
