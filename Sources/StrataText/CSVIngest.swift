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
///
/// In stages, as the line-protocol parser is: `Layout` (CSVIngest+Layout.swift) says which
/// column is which and `initialTypes` (CSVIngest+Types.swift) what types the fields start
/// with; a `RowParser` (CSVIngest+RowParser.swift) turns each record into a time, a series
/// number and typed values, or a bad-row issue; a `SeriesBuffer`
/// (CSVIngest+SeriesBuffer.swift) collects the rows per series and hands them to the sink
/// or the store. The parser needs neither the buffer nor the sink, so that pieces of a
/// file can be parsed on several cores.
public struct CSVIngester {
    public let store: Store
    public let options: CSVIngestOptions

    public init(store: Store, options: CSVIngestOptions) {
        self.store = store
        self.options = options
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
        var buffer = SeriesBuffer(fieldCount: layout.fieldNames.count)
        var handedOn = 0
        var fields: [CSVScanner.FieldRange] = []
        while let record = scanner.next(into: &fields) {
            if let n = options.batchRows, let sink, buffer.rowCount >= n { handedOn += try emit(&buffer, &parser, to: sink) }
            if let row = parser.parse(record, fields: fields, in: scanner) { buffer.append(row, from: parser) }
        }
        var report = parser.report()
        guard let sink else {
            try write(&buffer, parser, report: &report)
            return report
        }
        if !(options.strict && report.badRowCount > 0) { handedOn += try emit(&buffer, &parser, to: sink) }
        report.rowsWritten = handedOn
        report.schema = parser.schema
        // Every symbol numbered, also one whose rows were all refused after the symbol.
        report.series = parser.symbols.count
        return report
    }
}
