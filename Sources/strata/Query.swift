import ArgumentParser
import Dispatch
import Glibc
import StrataEngine
import StrataFormat
import Synchronization

struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print raw rows or bars of one or more symbols.",
        discussion: """
        Raw rows print as CSV with header time,symbol,<fields in schema order>; bars \
        (--interval with --ohlcv) as time,symbol,open,high,low,close,volume,count,vwap. \
        --ohlcv PRICE[,VOLUME] makes bars from ticks; --ohlcv OPEN,HIGH,LOW,CLOSE[,VOLUME] \
        rolls bars up into coarser bars (VWAP weighted by close·volume). Times print as \
        RFC 3339 UTC with nanoseconds unless --time-format ns.
        """)

    enum Format: String, ExpressibleByArgument { case csv, json }
    enum TimeFormat: String, ExpressibleByArgument { case rfc3339, ns }

    @OptionGroup var store: DataDirOption
    @OptionGroup var archiveOption: ArchiveOption
    @Option(help: "Measurement to read.") var measurement: String
    @Option(help: "Symbol, or several separated by commas.") var symbol: String
    @Option(help: "First time (inclusive): RFC 3339, a date, or an epoch integer.") var from: String?
    @Option(help: "Last time (inclusive).") var to: String?
    @Option(help: "Bar length: 1s, 1m, 5m, 1h, 1d, 250ms, … (needs --ohlcv).") var interval: String?
    @Option(help: "Fields for bars: PRICE[,VOLUME] or OPEN,HIGH,LOW,CLOSE[,VOLUME].") var ohlcv: String?
    @Option(help: "Output format: csv or json.") var format: Format = .csv
    @Option(help: "Time format: rfc3339 or ns.") var timeFormat: TimeFormat = .rfc3339

    func validate() throws {
        if (interval == nil) != (ohlcv == nil) { throw ValidationError("--interval and --ohlcv go together") }
        if let ohlcv, ![1, 2, 4, 5].contains(ohlcv.split(separator: ",").count) {
            throw ValidationError("--ohlcv takes PRICE[,VOLUME] or OPEN,HIGH,LOW,CLOSE[,VOLUME]")
        }
    }

    func run() throws {
        running {
            try recoverIfNeeded(store.path)
            var configuration = StoreConfiguration()
            configuration.coldStorage = try archiveOption.open(store)
            let target = try Store(directory: store.path, configuration: configuration)
            let fromNs = try from.map { try parseTime($0, option: "--from") } ?? .min
            let toNs = try to.map { try parseTime($0, option: "--to") } ?? .max
            if fromNs > toNs { throw ValidationError("--from is after --to") }
            let symbols = symbol.split(separator: ",").map(String.init)
            let series = try symbols.map { try SeriesKey(measurement: measurement, symbol: $0) }
            guard try target.measurements().contains(measurement) else {
                throw StrataError(.notFound, "no measurement '\(measurement)' in \(target.directory)")
            }
            let known = Set(try target.symbols(measurement))
            if let missing = symbols.first(where: { !known.contains($0) }) {
                throw StrataError(.notFound, "measurement '\(measurement)' has no symbol '\(missing)'")
            }
            var out = Output()
            if let interval, let ohlcv {
                let spec = BarSpec(interval: try parseInterval(interval), source: barSource(ohlcv))
                let results = try parallelMap(series) { try target.bars($0, spec: spec, from: fromNs, to: toNs) }
                printBars(results, series: series, out: &out)
            } else {
                let results = try parallelMap(series) { try target.query($0, from: fromNs, to: toNs) }
                printRows(results, out: &out)
            }
            out.flush()
        }
    }

    func barSource(_ text: String) -> BarSpec.Source {
        let f = text.split(separator: ",").map(String.init)
        switch f.count {
        case 1: return .ticks(price: f[0], volume: nil)
        case 2: return .ticks(price: f[0], volume: f[1])
        case 4: return .bars(open: f[0], high: f[1], low: f[2], close: f[3], volume: nil)
        default: return .bars(open: f[0], high: f[1], low: f[2], close: f[3], volume: f[4])
        }
    }

    func time(_ t: Int64) -> String {
        timeFormat == .ns ? String(t) : CivilTime.format(t)
    }

    func quoted(_ s: String) -> String { csvQuoted(s) }

    func printRows(_ results: [QueryResult], out: inout Output) {
        let schema = results.first?.schema ?? []
        if format == .csv {
            out.write((["time", "symbol"] + schema.map { quoted($0.name) }).joined(separator: ",") + "\n")
        } else {
            out.write("[")
        }
        var firstRecord = true
        for r in results {
            let rows = r.rows
            let symbolText = format == .csv ? quoted(r.series.symbol) : jsonString(r.series.symbol)
            for i in 0..<rows.rowCount {
                if format == .csv {
                    var line = time(rows.timestamps[i]) + "," + symbolText
                    for c in rows.columns {
                        line += ","
                        if c.isPresent(i) { line += csvValue(c.values, i) }
                    }
                    out.write(line + "\n")
                } else {
                    var line = (firstRecord ? "\n" : ",\n") + "{\"time\":" + (timeFormat == .ns ? time(rows.timestamps[i]) : "\"\(time(rows.timestamps[i]))\"")
                    line += ",\"symbol\":" + symbolText
                    for (k, c) in rows.columns.enumerated() {
                        line += "," + jsonString(schema[k].name) + ":" + (c.isPresent(i) ? jsonValue(c.values, i) : "null")
                    }
                    out.write(line + "}")
                    firstRecord = false
                }
            }
        }
        if format == .json { out.write(firstRecord ? "]\n" : "\n]\n") }
    }

    func printBars(_ results: [[Bar]], series: [SeriesKey], out: inout Output) {
        func number(_ v: Double?) -> String {
            guard let v else { return format == .csv ? "" : "null" }
            if format == .json && !v.isFinite { return "null" }
            return formatDouble(v)
        }
        if format == .csv {
            out.write("time,symbol,open,high,low,close,volume,count,vwap\n")
        } else {
            out.write("[")
        }
        var firstRecord = true
        for (s, bars) in zip(series, results) {
            for b in bars {
                if format == .csv {
                    out.write("\(time(b.start)),\(quoted(s.symbol)),\(number(b.open)),\(number(b.high)),\(number(b.low)),\(number(b.close)),\(number(b.volume)),\(b.count),\(number(b.vwap))\n")
                } else {
                    let t = timeFormat == .ns ? time(b.start) : "\"\(time(b.start))\""
                    out.write((firstRecord ? "\n" : ",\n") + "{\"time\":\(t),\"symbol\":\(jsonString(s.symbol)),\"open\":\(number(b.open)),\"high\":\(number(b.high)),\"low\":\(number(b.low)),\"close\":\(number(b.close)),\"volume\":\(number(b.volume)),\"count\":\(b.count),\"vwap\":\(number(b.vwap))}")
                    firstRecord = false
                }
            }
        }
        if format == .json { out.write(firstRecord ? "]\n" : "\n]\n") }
    }

    func csvValue(_ values: ColumnValues, _ i: Int) -> String { csvText(values, i) }

    func jsonValue(_ values: ColumnValues, _ i: Int) -> String {
        switch values {
        case .float64(let v): v[i].isFinite ? formatDouble(v[i]) : "null"
        case .int64(let v): String(v[i])
        case .bool(let v): v[i] ? "true" : "false"
        case .string(let v): jsonString(v[i])
        }
    }
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 {
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}

extension String {
    func replacingAll(_ target: Character, _ replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}

/// Maps in parallel (one task per element, on all cores), keeping order.
func parallelMap<T: Sendable, R: Sendable>(_ items: [T], _ body: @Sendable (T) throws -> R) throws -> [R] {
    if items.count == 1 { return [try body(items[0])] }
    let results = Mutex<[Result<R, any Error>?]>(Array(repeating: nil, count: items.count))
    DispatchQueue.concurrentPerform(iterations: items.count) { i in
        let r = Result { try body(items[i]) }
        results.withLock { $0[i] = r }
    }
    return try results.withLock { all in try all.map { try $0!.get() } }
}

/// A CSV field, quoted when it must be.
func csvQuoted(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
    return "\"" + s.replacingAll("\"", "\"\"") + "\""
}

/// Value `i` of a column as CSV text.
func csvText(_ values: ColumnValues, _ i: Int) -> String {
    switch values {
    case .float64(let v): formatDouble(v[i])
    case .int64(let v): String(v[i])
    case .bool(let v): v[i] ? "true" : "false"
    case .string(let v): csvQuoted(v[i])
    }
}
