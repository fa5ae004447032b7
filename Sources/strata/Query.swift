import ArgumentParser
import Glibc
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataText

struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print raw rows or bars of one or more symbols.",
        discussion: """
        Raw rows print as CSV with header time,symbol,<fields in schema order>; bars \
        (--interval with --ohlcv) as time,symbol,open,high,low,close,volume,count,vwap. \
        --ohlcv PRICE[,VOLUME] makes bars from ticks; --ohlcv OPEN,HIGH,LOW,CLOSE[,VOLUME] \
        rolls bars up into coarser bars (VWAP weighted by close·volume). Bars are calendar-aware: \
        1w is an ISO week (from Monday), 1mo a calendar month, 1q a quarter, 1y a year; with \
        --tz they follow that zone's wall clock (days of 23 or 25 hours when its clocks change), \
        and --offset starts each day at a time of day (--tz America/Chicago --offset 17:00: \
        CME's trading day). Each bar is labelled with its first instant. Times print as \
        RFC 3339 UTC with nanoseconds unless --time-format ns.
        """)

    typealias Format = ResultWriter.Format
    typealias TimeFormat = ResultWriter.TimeFormat

    @OptionGroup var store: DataDirOption
    @OptionGroup var archiveOption: ArchiveOption
    @Option(help: "Measurement to read.") var measurement: String
    @Option(help: "Symbol, or several separated by commas (\\, is a comma within a symbol: 'BRK\\,A'); with --latest, every symbol when left out.") var symbol: String?
    @Option(parsing: .unconditional, help: "First time (inclusive): RFC 3339, a date, or an epoch integer.") var from: String?
    @Option(parsing: .unconditional, help: "Last time (inclusive); a date alone means the whole day.") var to: String?
    @Option(help: "Bar length: 1s, 1m, 5m, 1h, 1d, 250ms, 1w (ISO weeks), 1mo, 1q, 1y, … (needs --ohlcv).") var interval: String?
    @Option(help: "Time zone the bars follow: an IANA name such as Asia/Seoul or America/New_York (default UTC).") var tz: String?
    @Option(help: "Time of day at which each bar's day starts on that zone's clock: HH:MM or 17h (default 00:00).") var offset: String?
    @Option(help: "Fields for bars: PRICE[,VOLUME] or OPEN,HIGH,LOW,CLOSE[,VOLUME].") var ohlcv: String?
    @Option(help: "Output format: csv or json.") var format: Format = .csv
    @Option(help: "Time format: rfc3339 or ns.") var timeFormat: TimeFormat = .rfc3339
    @Flag(help: "The latest row of each symbol: the last a query returns (the greatest time; at equal times, the last to arrive).") var latest = false

    func validate() throws {
        if latest && (interval != nil || from != nil || to != nil) { throw ValidationError("--latest answers with each symbol's last row: it takes no --interval, --from or --to") }
        if !latest && symbol == nil { throw ValidationError("--symbol is required (every symbol goes with --latest)") }
        if (interval == nil) != (ohlcv == nil) { throw ValidationError("--interval and --ohlcv go together") }
        if interval == nil && (tz != nil || offset != nil) { throw ValidationError("--tz and --offset shape bars: they need --interval and --ohlcv") }
        if let ohlcv, BarSpec.Source(fields: ohlcv) == nil {
            throw ValidationError("--ohlcv takes PRICE[,VOLUME] or OPEN,HIGH,LOW,CLOSE[,VOLUME]")
        }
    }

    func run() throws {
        running {
            let (target, series, fromNs, toNs) = try openForReading(store, archiveOption, measurement: measurement, symbols: symbol, from: from, to: to)
            var out = Output()
            if latest {
                let results = try target.latest(series)
                printRows(results, out: &out)
            } else if let interval, let ohlcv {
                let spec = BarSpec(interval: try barInterval(interval, tz: tz, offset: offset), source: BarSpec.Source(fields: ohlcv)!)
                let results = try parallelMap(series) { (s) throws(StrataError) in try target.bars(s, spec: spec, from: fromNs, to: toNs) }
                printBars(results, series: series, out: &out)
            } else {
                let results = try parallelMap(series) { (s) throws(StrataError) in try target.query(s, from: fromNs, to: toNs) }
                printRows(results, out: &out)
            }
            out.flush()
        }
    }

    func printRows(_ results: [QueryResult], out: inout Output) {
        var writer = ResultWriter(format: format, timeFormat: timeFormat)
        var text = ""
        writer.beginRows(results.first?.schema ?? [], into: &text)
        for r in results {
            var start = 0
            while start < r.rows.rowCount {
                // In pieces, so a large result never sits whole in one string.
                let end = min(r.rows.rowCount, start + 4_096)
                writer.rows(r, range: start..<end, into: &text)
                out.write(text)
                text = ""
                start = end
            }
        }
        writer.end(into: &text)
        out.write(text)
    }

    func printBars(_ results: [[Bar]], series: [SeriesKey], out: inout Output) {
        var writer = ResultWriter(format: format, timeFormat: timeFormat)
        var text = ""
        writer.beginBars(into: &text)
        for (s, bars) in zip(series, results) { writer.bars(bars, symbol: s.symbol, into: &text) }
        writer.end(into: &text)
        out.write(text)
    }
}

extension ResultWriter.Format: ExpressibleByArgument {}
extension ResultWriter.TimeFormat: ExpressibleByArgument {}

/// What `query` and `quality` start with: the store as it stands (an unclean shutdown
/// recovered first; cold days through the archive), the series of `symbols` (separated by
/// commas; every symbol of the measurement when nil), each checked to exist, and the
/// --from/--to range.
func openForReading(_ store: DataDirOption, _ archiveOption: ArchiveOption, measurement: String, symbols: String?, from: String?, to: String?)
    throws -> (store: Store, series: [SeriesKey], from: Int64, to: Int64) {
    try recoverIfNeeded(store.path)
    var configuration = StoreConfiguration()
    configuration.coldStorage = try archiveOption.open(store).coldStorage
    let target = try Store(directory: store.path, configuration: configuration)
    let fromNs = try from.map { try parseTime($0, option: "--from") } ?? .min
    let toNs = try to.map { try parseRangeEnd($0, option: "--to") } ?? .max
    if fromNs > toNs { throw ValidationError("--from is after --to") }
    let named = symbols.map { Names.distinctNames([$0]) }
    if let named, named.contains("") {
        throw ValidationError("--symbol '\(symbols ?? "")' has an empty symbol name (symbols are separated by commas)")
    }
    let series = try target.existingSeries(measurement: measurement, symbols: named)
    return (target, series, fromNs, toNs)
}
