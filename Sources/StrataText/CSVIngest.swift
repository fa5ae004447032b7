import StrataEngine
import StrataFormat
import StrataPlatform

/// How `strata ingest` reads a CSV file.
public struct CSVIngestOptions: Sendable {
    public var measurement: String
    /// Column holding the time; default: the first of time, timestamp, ts, ts_utc,
    /// datetime, date (any case), else the first column.
    public var timeColumn: String?
    /// Column naming the symbol; default: symbol, ticker or sym if present.
    public var symbolColumn: String?
    /// The symbol of every row, when the file has no symbol column.
    public var symbol: String?
    /// Unit of epoch-integer times; default: guessed from the first one's magnitude.
    public var timeUnit: TimeUnit?
    /// Types for some or all fields; the rest are inferred.
    public var schema: [Field] = []
    /// Write nothing if any row is bad.
    public var strict = false
    /// Accept NaN and ±Inf written out in float fields (by default they are bad rows).
    public var allowNonFinite = false
    /// Hand rows to the sink in batches of this many rows as the file is read (live
    /// ingest), instead of all at the end. Field types are then fixed by the first batch:
    /// a later value of another type is a bad row rather than a type change.
    public var batchRows: Int? = nil
    /// Added to line numbers in reports: for a stream read in pieces, each given to
    /// `ingest` with the header line in front.
    public var lineOffset = 0

    public init(measurement: String) { self.measurement = measurement }
}

/// Why one value of a row was refused: small, so that the per-value results stay cheap
/// to move on the ingest path.
struct RowProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// A row that was not written, and why.
public struct IngestIssue: Sendable, CustomStringConvertible {
    public var line: Int
    public var field: String?
    public var message: String

    public var description: String {
        "line \(line)" + (field.map { ", field '\($0)'" } ?? "") + ": " + message
    }
}

public struct IngestReport: Sendable {
    public var rowsRead = 0
    public var rowsWritten = 0
    public var badRowCount = 0
    /// The first bad rows (up to 100), in file order.
    public var issues: [IngestIssue] = []
    public var bytesWritten = 0
    public var series = 0
    public var segments: [String] = []
    public var schema: [Field] = []
    public var timeUnit: TimeUnit?
    public var notes: [String] = []

    public init() {}
}

/// Reads a CSV file with a header row into a store: one series per symbol, segments per
/// day. Bad rows are reported with their line number and reason and the valid rows kept
/// (unless `strict`).
public struct CSVIngester {
    public let store: Store
    public let options: CSVIngestOptions

    public init(store: Store, options: CSVIngestOptions) {
        self.store = store
        self.options = options
    }

    enum Parsed {
        case null
        case int(Int64)
        case float(Double)
        case bool(Bool)
        case string(String)
    }

    /// Values of one field for one series, with presence.
    struct FieldBuilder {
        var type: FieldType?
        var floats: [Double] = []
        var ints: [Int64] = []
        var bools: [Bool] = []
        var strings: [String] = []
        var presence: [Bool]? = nil
        var count = 0

        mutating func append(_ p: Parsed, as type: FieldType) {
            switch p {
            case .null:
                if presence == nil { presence = Array(repeating: true, count: count) }
                presence!.append(false)
                switch type {
                case .float64: floats.append(0)
                case .int64: ints.append(0)
                case .bool: bools.append(false)
                case .string: strings.append("")
                }
                count += 1
                return
            case .int(let v): if type == .float64 { floats.append(Double(v)) } else { ints.append(v) }
            case .float(let v): floats.append(v)
            case .bool(let v): bools.append(v)
            case .string(let v): strings.append(v)
            }
            presence?.append(true)
            count += 1
        }

        mutating func promoteToFloat() {
            floats = ints.map(Double.init)
            ints = []
        }

        func column(_ type: FieldType) -> Column {
            switch type {
            case .float64: Column(.float64(floats), presence: presence)
            case .int64: Column(.int64(ints), presence: presence)
            case .bool: Column(.bool(bools), presence: presence)
            case .string: Column(.string(strings), presence: presence)
            }
        }
    }

    struct SeriesBuilder {
        var symbol: String
        var timestamps: [Int64] = []
        var fields: [FieldBuilder]
    }

    /// Receives rows as they are read: a batch of series and the last line it includes.
    public typealias Sink = (_ batch: [Store.SeriesRows], _ throughLine: Int) throws(StrataError) -> Void

    public func ingest(_ data: UnsafeRawBufferPointer, source: String = "-", sink: Sink? = nil) throws(StrataError) -> IngestReport {
        try ingest(UnsafeBufferPointer(start: data.baseAddress?.assumingMemoryBound(to: UInt8.self), count: data.count), source: source, sink: sink)
    }

    /// Reads the CSV and writes its rows: with no sink, to the store in one write at the
    /// end; with a sink, to the sink (in batches of `batchRows` if set).
    public func ingest(_ bytes: UnsafeBufferPointer<UInt8>, source: String, sink: Sink? = nil) throws(StrataError) -> IngestReport {
        try Names.validateDirectory(options.measurement, what: "measurement")
        var report = IngestReport()
        var scanner = CSVScanner(bytes)
        let layout = try Layout(reading: &scanner, options: options, source: source)
        let initial = try initialTypes(layout, sample: scanner)
        var ranges: [CSVScanner.FieldRange] = []
        let header = layout.header, timeIndex = layout.timeColumn, symbolIndex = layout.symbolColumn
        let fieldColumns = layout.fieldColumns, fieldNames = layout.fieldNames
        var types = initial.types
        let fixedType = initial.fixed

        // Parse.
        var builders: [SeriesBuilder] = []
        var seriesIndex: [String: Int] = [:]
        var lastSymbol: [UInt8] = []
        var lastSeries = -1
        var scratch: [UInt8] = []
        var parsed = [Parsed](repeating: .null, count: fieldNames.count)
        var timeUnit = options.timeUnit
        var badSymbols: [String: String] = [:]
        func bad(_ line: Int, _ field: String?, _ message: String) {
            report.badRowCount += 1
            if report.issues.count < 100 { report.issues.append(IngestIssue(line: line, field: field, message: message)) }
        }
        var pendingRows = 0
        var emitted = false
        /// Hands the rows read so far to the sink and starts new builders.
        func emit(throughLine line: Int) throws(StrataError) {
            for k in types.indices where types[k] == nil { types[k] = .float64 }
            let schema = fieldNames.indices.map { Field(fieldNames[$0], types[$0]!) }
            var batch: [Store.SeriesRows] = []
            for b in builders where !b.timestamps.isEmpty {
                let series = try SeriesKey(measurement: options.measurement, symbol: b.symbol)
                let rows = RowBlock(timestamps: b.timestamps, columns: schema.indices.map { b.fields[$0].column(schema[$0].type) })
                batch.append(Store.SeriesRows(series: series, schema: schema, rows: rows))
                report.rowsWritten += rows.rowCount
            }
            if !batch.isEmpty { try sink!(batch, line) }
            for b in builders.indices {
                builders[b].timestamps = []
                builders[b].fields = Array(repeating: FieldBuilder(), count: fieldNames.count)
            }
            pendingRows = 0
            emitted = true
        }
        var lastLine = 1
        rowLoop: while let rec = scanner.next(into: &ranges) {
            if let n = options.batchRows, sink != nil, pendingRows >= n { try emit(throughLine: lastLine) }
            report.rowsRead += 1
            let line = rec.line + options.lineOffset
            lastLine = line
            if let e = rec.error {
                bad(line, nil, e == .unterminatedQuote ? "a quoted field is never closed" : "text after a closing quote")
                continue
            }
            guard ranges.count == header.count else {
                bad(line, nil, "has \(ranges.count) fields; the header has \(header.count)")
                continue
            }
            // Time.
            let timeResult: Result<Int64, RowProblem> = scanner.withField(ranges[timeIndex], scratch: &scratch) { raw in
                let text = raw.trimmed()
                if text.isEmpty { return .failure(RowProblem("time is empty")) }
                if let v = NumberParsing.int64(text) {
                    let unit = timeUnit ?? TimeUnit.guess(v)
                    if timeUnit == nil { timeUnit = unit }
                    let (t, o) = v.multipliedReportingOverflow(by: unit.nanoseconds)
                    if o { return .failure(RowProblem("time \(v) \(unit.rawValue) is outside 1677-09-21…2262-04-11")) }
                    return .success(t)
                }
                switch CivilTime.parse(text) {
                case .success(let t): return .success(t)
                case .failure(.outOfRange):
                    return .failure(RowProblem("time '\(String(decoding: text, as: UTF8.self))' is outside 1677-09-21…2262-04-11"))
                case .failure(.syntax(let why)):
                    return .failure(RowProblem("time '\(String(decoding: text.prefix(64), as: UTF8.self))' is not RFC 3339 or an epoch integer: \(why)"))
                }
            }
            let time: Int64
            switch timeResult {
            case .success(let t): time = t
            case .failure(let e):
                bad(line, header[timeIndex], e.message)
                continue
            }
            // Series.
            let s: Int
            if let symbolIndex {
                let sameAsLast: Bool = scanner.withField(ranges[symbolIndex], scratch: &scratch) { raw in
                    raw.elementsEqual(lastSymbol)
                }
                if sameAsLast && lastSeries >= 0 {
                    s = lastSeries
                } else {
                    let symbol = scanner.string(ranges[symbolIndex])
                    if let e = badSymbols[symbol] {
                        bad(line, header[symbolIndex], e)
                        continue
                    }
                    if let existing = seriesIndex[symbol] {
                        s = existing
                    } else {
                        do throws(StrataError) {
                            try Names.validateDirectory(symbol, what: "symbol")
                        } catch {
                            badSymbols[symbol] = error.message
                            bad(line, header[symbolIndex], error.message)
                            continue
                        }
                        s = builders.count
                        seriesIndex[symbol] = s
                        builders.append(SeriesBuilder(symbol: symbol, fields: Array(repeating: FieldBuilder(), count: fieldNames.count)))
                    }
                    lastSymbol = Array(symbol.utf8)
                    lastSeries = s
                }
            } else {
                if builders.isEmpty {
                    builders.append(SeriesBuilder(symbol: layout.fixedSymbol!, fields: Array(repeating: FieldBuilder(), count: fieldNames.count)))
                }
                s = 0
            }
            // Fields: parse all before appending any, so a bad row leaves no trace.
            for (k, c) in fieldColumns.enumerated() {
                let outcome: Result<Parsed, RowProblem> = scanner.withField(ranges[c], scratch: &scratch) { raw in
                    parse(raw, type: types[k], canPromote: !fixedType[k] && !emitted)
                }
                switch outcome {
                case .success(let p): parsed[k] = p
                case .failure(let e):
                    bad(line, fieldNames[k], e.message)
                    continue rowLoop
                }
            }
            for k in parsed.indices {
                let p = parsed[k]
                switch (types[k], p) {
                case (nil, .null): break
                case (nil, _):
                    // First value of a field that was empty so far: its earlier rows are nulls.
                    let t: FieldType = switch p {
                    case .int: .int64
                    case .float: .float64
                    case .bool: .bool
                    default: .string
                    }
                    types[k] = t
                    for b in builders.indices {
                        var f = FieldBuilder()
                        for _ in 0..<builders[b].fields[k].count { f.append(.null, as: t) }
                        builders[b].fields[k] = f
                    }
                case (.int64, .float):
                    types[k] = .float64
                    for b in builders.indices { builders[b].fields[k].promoteToFloat() }
                    report.notes.append("field '\(fieldNames[k])' became float at line \(line) (earlier values were integers)")
                default: break
                }
            }
            builders[s].timestamps.append(time)
            for k in parsed.indices {
                builders[s].fields[k].append(parsed[k], as: types[k] ?? .float64)
            }
            pendingRows += 1
        }
        report.timeUnit = timeUnit
        if sink != nil {
            if !(options.strict && report.badRowCount > 0) { try emit(throughLine: lastLine) }
            report.schema = fieldNames.indices.map { Field(fieldNames[$0], types[$0] ?? .float64) }
            report.series = builders.count
            return report
        }
        let schema = fieldNames.indices.map { Field(fieldNames[$0], types[$0] ?? .float64) }
        report.schema = schema
        if options.strict && report.badRowCount > 0 { return report }
        var batch: [Store.SeriesRows] = []
        for b in builders where !b.timestamps.isEmpty {
            let series = try SeriesKey(measurement: options.measurement, symbol: b.symbol)
            let rows = RowBlock(timestamps: b.timestamps, columns: schema.indices.map { b.fields[$0].column(schema[$0].type) })
            batch.append(Store.SeriesRows(series: series, schema: schema, rows: rows))
        }
        let summary = try store.write(batch)
        report.rowsWritten = summary.rows
        report.bytesWritten = summary.bytes
        report.segments = summary.segments
        report.series = batch.count
        return report
    }

    /// Parses one field value for a column of type `type` (nil: not yet known).
    func parse(_ raw: UnsafeBufferPointer<UInt8>, type: FieldType?, canPromote: Bool) -> Result<Parsed, RowProblem> {
        if type == .string { return .success(.string(String(decoding: raw, as: UTF8.self))) }
        let text = raw.trimmed()
        if text.isEmpty { return .success(.null) }
        func float() -> Result<Parsed, RowProblem> {
            switch NumberParsing.float64(text) {
            case .value(let v): return .success(.float(v))
            case .nonFinite(let v):
                if options.allowNonFinite { return .success(.float(v)) }
                return .failure(RowProblem("'\(String(decoding: text, as: UTF8.self))' is not a finite number (leave the field empty for a missing value, or pass --allow-nonfinite)"))
            case .invalid:
                return .failure(RowProblem("'\(preview(text))' is not a number"))
            }
        }
        switch type {
        case .int64:
            if let v = NumberParsing.int64(text) { return .success(.int(v)) }
            if canPromote, case .success(let p) = float() { return .success(p) }
            return .failure(RowProblem("'\(preview(text))' is not an integer (the field is int)"))
        case .float64:
            if let v = NumberParsing.int64(text), v.magnitude <= 1 << 53 { return .success(.float(Double(v))) }
            return float()
        case .bool:
            if let b = CSVIngester.bool(text) { return .success(.bool(b)) }
            return .failure(RowProblem("'\(preview(text))' is not true or false (the field is bool)"))
        case .string:
            return .success(.string(String(decoding: raw, as: UTF8.self)))
        case nil:
            if let v = NumberParsing.int64(text) { return .success(.int(v)) }
            if case .success(let p) = float() { return .success(p) }
            if let b = CSVIngester.bool(text) { return .success(.bool(b)) }
            return .success(.string(String(decoding: raw, as: UTF8.self)))
        }
    }

    func preview(_ text: UnsafeBufferPointer<UInt8>) -> String {
        Names.preview(String(decoding: text, as: UTF8.self))
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// Without leading and trailing spaces and tabs.
    func trimmed() -> UnsafeBufferPointer<UInt8> {
        var s = 0, e = count
        while s < e && (self[s] == 32 || self[s] == 9) { s += 1 }
        while e > s && (self[e - 1] == 32 || self[e - 1] == 9) { e -= 1 }
        return UnsafeBufferPointer(rebasing: self[s..<e])
    }
}
