import ArgumentParser
import StrataEngine
import StrataFormat
import StrataSystem
import StrataText

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write synthetic futures trades as CSV (time,symbol,price,size) to standard output.")

    enum TimeFormat: String, ExpressibleByArgument { case rfc3339, ms, ns }

    @Option(help: "Trades per symbol.") var rows: Int = 100_000
    @Option(help: "Symbols, separated by commas; with --symbol-count, the prefix of the numbered symbols.") var symbols: String = "ESH4"
    @Option(help: "This many symbols, named by --symbols followed by a zero-padded number (OPT00000, OPT00001, …): an options chain's contracts.")
    var symbolCount: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Time column format: rfc3339, ms or ns.") var timeFormat: TimeFormat = .rfc3339
    @Option(help: "Stretch the gaps between bursts (1: ~280k trades an hour; 14: ~450k trades over a 23-hour session).")
    var gapScale: Double = 1

    func run() throws {
        var out = Output()
        out.write("time,symbol,price,size\n")
        var names = symbols.split(separator: ",").map(String.init)
        if let count = symbolCount {
            guard count >= 1, count <= 10_000_000, names.count == 1 else {
                throw ValidationError("--symbol-count takes 1 … 10000000 and one prefix in --symbols")
            }
            let digits = String(count - 1).count
            names = (0..<count).map { k in
                let n = String(k)
                return names[0] + String(repeating: "0", count: digits - n.count) + n
            }
        }
        for (k, symbol) in names.enumerated() {
            var gen = SyntheticTicks(seed: seed &+ UInt64(k))
            gen.startPrice = 4500 + Double(k) * 100
            gen.gapScale = gapScale
            let block = gen.trades(count: rows)
            guard case .float64(let prices) = block.columns[0].values, case .int64(let sizes) = block.columns[1].values else { continue }
            for i in 0..<block.rowCount {
                let t = block.timestamps[i]
                let time: String = switch timeFormat {
                case .rfc3339: String(CivilTime.format(t).dropLast(7)) + "Z"  // milliseconds
                case .ms: String(t / 1_000_000)
                case .ns: String(t)
                }
                out.write("\(time),\(symbol),\(TextFormat.double(prices[i])),\(sizes[i])\n")
            }
        }
        out.flush()
    }
}
