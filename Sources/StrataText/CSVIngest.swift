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
        var scanner = CSVScanner(bytes)
        let layout = try Layout(reading: &scanner, options: options, source: source)
        var parser = RowParser(layout: layout, types: try initialTypes(layout, sample: scanner), options: options)
        let fieldCount = layout.fieldNames.count
        var builders: [SeriesBuilder] = []
        var rowsWritten = 0
        var pendingRows = 0
        /// Hands the rows read so far to the sink and starts new builders.
        func emit() throws(StrataError) {
            let schema = parser.fixTypes()
            var batch: [Store.SeriesRows] = []
            for (s, b) in builders.enumerated() where !b.timestamps.isEmpty {
                let series = try SeriesKey(measurement: options.measurement, symbol: parser.symbols.symbols[s])
                let rows = RowBlock(timestamps: b.timestamps, columns: schema.indices.map { b.fields[$0].column(schema[$0].type) })
                batch.append(Store.SeriesRows(series: series, schema: schema, rows: rows))
                rowsWritten += rows.rowCount
            }
            if !batch.isEmpty { try sink!(batch, parser.lastLine) }
            builders = []
            pendingRows = 0
        }
        var ranges: [CSVScanner.FieldRange] = []
        while let record = scanner.next(into: &ranges) {
            if let n = options.batchRows, sink != nil, pendingRows >= n { try emit() }
            guard let row = parser.parse(record, fields: ranges, in: scanner) else { continue }
            for change in parser.changes {
                switch change {
                case .settled(let k, let type):
                    for b in builders.indices {
                        var f = FieldBuilder()
                        for _ in 0..<builders[b].fields[k].count { f.append(.null, as: type) }
                        builders[b].fields[k] = f
                    }
                case .promotedToFloat(let k):
                    for b in builders.indices { builders[b].fields[k].promoteToFloat() }
                }
            }
            while builders.count <= row.series { builders.append(SeriesBuilder(fields: Array(repeating: FieldBuilder(), count: fieldCount))) }
            builders[row.series].timestamps.append(row.time)
            for k in parser.values.indices {
                builders[row.series].fields[k].append(parser.values[k], as: parser.types[k] ?? .float64)
            }
            pendingRows += 1
        }
        var report = parser.report()
        if sink != nil {
            if !(options.strict && report.badRowCount > 0) { try emit() }
            report.rowsWritten = rowsWritten
            report.schema = parser.schema
            report.series = parser.symbols.count
            return report
        }
        let schema = parser.schema
        report.schema = schema
        if options.strict && report.badRowCount > 0 { return report }
        var batch: [Store.SeriesRows] = []
        for (s, b) in builders.enumerated() where !b.timestamps.isEmpty {
            let series = try SeriesKey(measurement: options.measurement, symbol: parser.symbols.symbols[s])
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
}
