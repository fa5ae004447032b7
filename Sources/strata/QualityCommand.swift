import ArgumentParser
import StrataEngine
import StrataSystem

/// `strata quality`: the data-quality scan of one or more series, from the store's files.
struct QualityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quality",
        abstract: "Scan series for gaps, exact duplicates, price jumps, OHLC inconsistencies and non-positive prices or volumes.",
        discussion: """
        What counts is set in the configuration's quality section (gap_factor, min_gap, trading_hours, \
        trading_days, utc_offset, max_jump, price_fields, volume_fields). Out-of-order arrivals are counted \
        by strata serve as rows arrive (stored rows are sorted), so they show in its /status, not here. \
        Exit status 0, or 2 with --strict when anything was found.
        """)

    @OptionGroup var store: DataDirOption
    @OptionGroup var archiveOption: ArchiveOption
    @Option(help: "Measurement to scan.") var measurement: String
    @Option(help: "Symbol, or several separated by commas (\\, is a comma within a symbol; default: every symbol of the measurement).") var symbol: String?
    @Option(parsing: .unconditional, help: "First time (inclusive): RFC 3339, a date, or an epoch integer.") var from: String?
    @Option(parsing: .unconditional, help: "Last time (inclusive); a date alone means the whole day.") var to: String?
    @Option(help: "Output format: text or json.") var format: Format = .text
    @Flag(help: "Exit with status 2 when anything was found.") var strict = false

    enum Format: String, ExpressibleByArgument { case text, json }

    func run() throws {
        let found = running { () throws -> Int in
            let settings = try store.settings()
            let (target, series, fromNs, toNs) = try openForReading(store, archiveOption, measurement: measurement, symbols: symbol, from: from, to: to)
            let scanner = QualityScanner(policy: settings.quality)
            var out = Output()
            var total = 0
            if format == .json { out.write("[") }
            for (i, key) in series.enumerated() {
                let result = try target.query(key, from: fromNs, to: toNs)
                let report = scanner.scan(series: key, schema: result.schema, rows: result.rows, from: fromNs, to: toNs)
                total += report.issues
                out.write(format == .json ? (i > 0 ? ",\n" : "") + report.json : report.text)
            }
            if format == .json { out.write("]\n") }
            out.flush()
            return total
        }
        if strict && found > 0 { throw ExitCode(2) }
    }
}
