import StrataEngine
import StrataFormat
import StrataPlatform

extension CSVIngester {
    /// Values of one field for one series, with presence. The type is not kept here: the
    /// parser owns it and passes it with each value, since a later row may change it.
    struct FieldBuilder {
        var floats: [Double] = []
        var ints: [Int64] = []
        var bools: [Bool] = []
        var strings: [String] = []
        /// nil while every value is present (most files), to save a flag per value.
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

    /// The rows read and not yet handed on, per series, in columns ready to become blocks.
    /// Series are the parser's numbers; a series gets its builders with its first row.
    struct SeriesBuffer {
        struct Series {
            var timestamps: [Int64] = []
            var fields: [FieldBuilder]
        }

        let fieldCount: Int
        /// The series with rows since the buffer was last emptied, in the order they came.
        private(set) var series: [Series] = []
        /// The parser's number of each of `series`.
        private var numbers: [Int] = []
        /// For each series number, 1 + its place in `series`, or 0: a batch of a live ingest
        /// touches a few of 10^5 series, and emptying the buffer costs only those.
        private var slots: [Int32] = []
        /// Rows added since the buffer was last emptied.
        private(set) var rowCount = 0

        init(fieldCount: Int) { self.fieldCount = fieldCount }

        /// Adds the row the parser has just read: first the type changes it made to the
        /// rows already here, then its values.
        mutating func append(_ row: Row, from parser: RowParser) {
            for change in parser.changes { apply(change) }
            if slots.count <= row.series { slots.append(contentsOf: repeatElement(0, count: row.series + 1 - slots.count)) }
            var at = Int(slots[row.series]) - 1
            if at < 0 {
                at = series.count
                series.append(Series(fields: Array(repeating: FieldBuilder(), count: fieldCount)))
                numbers.append(row.series)
                slots[row.series] = Int32(at + 1)
            }
            series[at].timestamps.append(row.time)
            for k in parser.values.indices {
                series[at].fields[k].append(parser.values[k], as: parser.types[k] ?? .float64)
            }
            rowCount += 1
        }

        /// Rewrites a field's buffered values after its type changed.
        mutating func apply(_ change: TypeChange) {
            switch change {
            case .settled(let k, let type):
                for s in series.indices {
                    var f = FieldBuilder()
                    for _ in 0..<series[s].fields[k].count { f.append(.null, as: type) }
                    series[s].fields[k] = f
                }
            case .promotedToFloat(let k):
                for s in series.indices { series[s].fields[k].promoteToFloat() }
            }
        }

        /// The buffered rows as one block per series that has rows, in the order the series
        /// were numbered, each with `schema`; the buffer is empty afterwards.
        mutating func take(measurement: String, schema: [Field], symbols: SymbolTable) throws(StrataError) -> [Store.SeriesRows] {
            var batch: [Store.SeriesRows] = []
            batch.reserveCapacity(series.count)
            // In the order the series were numbered (first seen in the file).
            var order = Array(series.indices)
            if zip(numbers, numbers.dropFirst()).contains(where: { $0 > $1 }) { order.sort { numbers[$0] < numbers[$1] } }
            for at in order where !series[at].timestamps.isEmpty {
                let b = series[at]
                let key = try SeriesKey(measurement: measurement, symbol: symbols.symbols[numbers[at]])
                let rows = RowBlock(timestamps: b.timestamps, columns: schema.indices.map { b.fields[$0].column(schema[$0].type) })
                batch.append(Store.SeriesRows(series: key, schema: schema, rows: rows))
            }
            for n in numbers { slots[n] = 0 }
            series = []
            numbers = []
            rowCount = 0
            return batch
        }
    }

    /// Hands the buffered rows to the sink, as read through the parser's last line, and
    /// fixes the field types: rows handed on cannot be rewritten. Returns the rows handed on.
    func emit(_ buffer: inout SeriesBuffer, _ parser: inout RowParser, to sink: Sink) throws(StrataError) -> Int {
        let schema = parser.fixTypes()
        let batch = try buffer.take(measurement: options.measurement, schema: schema, symbols: parser.symbols)
        if !batch.isEmpty { try sink(batch, parser.lastLine) }
        return batch.reduce(0) { $0 + $1.rows.rowCount }
    }

    /// Writes all the rows to the store in one write, unless `strict` and a row was bad;
    /// the report then also says what was written.
    func write(_ buffer: inout SeriesBuffer, _ parser: RowParser, report: inout IngestReport) throws(StrataError) {
        report.schema = parser.schema
        if options.strict && report.badRowCount > 0 { return }
        let batch = try buffer.take(measurement: options.measurement, schema: report.schema, symbols: parser.symbols)
        let summary = try store.write(batch)
        report.rowsWritten = summary.rows
        report.bytesWritten = summary.bytes
        report.segments = summary.segments
        report.series = batch.count
    }
}
