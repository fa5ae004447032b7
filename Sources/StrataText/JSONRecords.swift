import StrataEngine
import StrataFormat
import StrataPlatform

/// Rows given as JSON records in the shape market-data feeds commonly use:
///
///     {"symbol": "005930", "timestamp": "2024-01-02T09:00:00.120Z", "data_type": "trade",
///      "price": 71500, "volume": 120}
///     {"symbol": "005930", "timestamp": 1704186000, "data_type": "bar",
///      "open_price": 71000, "high_price": 71900, "low_price": 70800, "close_price": 71500, "volume": 1.2e6}
///
/// A body is a JSON array of records, one record, or newline-delimited records (one per
/// line). `data_type` is the measurement (else the request's default), `symbol` the series,
/// `timestamp` an RFC 3339 time, a date, or epoch seconds / ms / µs / ns (an integer, its unit
/// from its magnitude, or seconds with a fraction). Every other key is a field: numbers are
/// floats (integers where the store already holds the field as one), strings and booleans
/// keep their type, null is absent. A bad record is refused with its number, line and
/// reason; the others are kept.
public enum JSONRecords {
    public struct Options: Sendable {
        /// The measurement of records without `data_type`; nil: `data_type` is required.
        public var measurement: String?
        /// JSON values a body may hold (records, keys' values, the array): bounds the memory
        /// one request takes while parsed.
        public var maxValues = 1_000_000
        /// A field's type as the store already has it.
        public var knownType: @Sendable (_ measurement: String, _ field: String) -> FieldType? = { _, _ in nil }

        public init() {}
    }

    public static func parse(_ bytes: [UInt8], options: Options) -> IngestBatch {
        var builder = Builder(options: options)
        let first = bytes.firstIndex { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        if let first, bytes[first] == UInt8(ascii: "[") {
            // One array: a syntax error anywhere refuses the body (no record boundary is sure).
            do throws(StrataError) {
                let document = try JSONValue.parse(bytes, source: nil, maxValues: options.maxValues)
                guard case .array(let records) = document.kind else { return builder.finish() }
                for (i, record) in records.enumerated() { builder.add(record, number: i + 1) }
            } catch {
                builder.refuse(number: 0, line: error.line ?? 1, error.message)
            }
        } else {
            // Newline-delimited records (a single record may span lines).
            var recordNumber = 0
            if let whole = try? JSONValue.parse(bytes, source: nil, maxValues: options.maxValues) {
                builder.add(whole, number: 1)
                recordNumber = 1
            } else {
                var line = 0
                var budget = options.maxValues
                for text in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
                    line += 1
                    guard text.contains(where: { ![0x20, 0x09, 0x0D].contains($0) }) else { continue }
                    recordNumber += 1
                    builder.lineOffset = line - 1
                    guard budget > 0 else {
                        builder.refuse(number: recordNumber, line: 1, "the body holds more than \(options.maxValues) JSON values; split it (nothing from here on was read)")
                        break
                    }
                    do throws(StrataError) {
                        let (record, count) = try JSONValue.parseCounting(Array(text), source: nil, maxValues: budget)
                        budget -= count
                        builder.add(record, number: recordNumber)
                    } catch {
                        builder.refuse(number: recordNumber, line: 1, error.message)
                    }
                }
            }
        }
        return builder.finish()
    }

    /// Rows per series in arrival order, fields as they come.
    struct Builder {
        let options: Options
        var order: [SeriesKey] = []
        var rows: [SeriesKey: (times: [Int64], values: [[String: FieldValue]], fields: [Field])] = [:]
        /// Field types per measurement as this body has them so far (a field has one type
        /// in a measurement, across its series).
        var types: [String: [String: FieldType]] = [:]
        var batch = IngestBatch()
        /// Added to the lines of values (a record of newline-delimited JSON is parsed alone).
        var lineOffset = 0

        /// Values as line protocol's parser holds them.
        typealias FieldValue = LineProtocol.Value

        init(options: Options) { self.options = options }

        mutating func refuse(number: Int, line: Int, field: String? = nil, _ message: String) {
            batch.badLines += 1
            if batch.issues.count < 100 {
                let place = number > 0 ? "record \(number): " : ""
                batch.issues.append(IngestIssue(line: line + lineOffset, field: field, message: place + message))
            }
        }

        mutating func add(_ record: JSONValue, number: Int) {
            batch.lines += 1
            guard case .object(let members) = record.kind else {
                return refuse(number: number, line: record.line, "a record is a JSON object, not \(record.typeName)")
            }
            guard let symbol = record["symbol"]?.string else {
                return refuse(number: number, line: record.line, field: "symbol", "'symbol' (a string) is required")
            }
            let measurement: String
            if let m = record["data_type"] {
                guard let text = m.string else { return refuse(number: number, line: m.line, field: "data_type", "'data_type' must be a string") }
                measurement = text
            } else if let m = options.measurement {
                measurement = m
            } else {
                return refuse(number: number, line: record.line, field: "data_type", "'data_type' (the measurement: trade, quote, bar, …) is required, unless the URL names one (?measurement=trade)")
            }
            let series: SeriesKey
            do throws(StrataError) {
                series = try SeriesKey(measurement: measurement, symbol: symbol)
            } catch {
                return refuse(number: number, line: record.line, field: error.field, error.message)
            }
            guard let stamp = record["timestamp"] else {
                return refuse(number: number, line: record.line, field: "timestamp", "'timestamp' is required")
            }
            let time: Int64
            switch Self.time(stamp) {
            case .success(let t): time = t
            case .failure(let e): return refuse(number: number, line: stamp.line, field: "timestamp", e.message)
            }
            var values: [String: FieldValue] = [:]
            guard members.count <= MeasurementSchema.maxFields + 3 else {
                return refuse(number: number, line: record.line, "the record has \(members.count - 3) or more fields; a measurement may have at most \(MeasurementSchema.maxFields)")
            }
            for member in members where !["symbol", "data_type", "timestamp"].contains(member.key) {
                let v = member.value
                do throws(StrataError) {
                    try Names.validate(member.key, what: "field name")
                } catch {
                    return refuse(number: number, line: v.line, field: "field name", error.message)
                }
                let known = options.knownType(measurement, member.key) ?? types[measurement]?[member.key]
                let value: FieldValue
                switch v.kind {
                case .null: continue
                case .bool(let b): value = .bool(b)
                case .string(let s):
                    guard s.utf8.count <= Store.maxStringBytes else {
                        return refuse(number: number, line: v.line, field: member.key, "'\(member.key)' is \(s.utf8.count) bytes; the limit is \(Store.maxStringBytes)")
                    }
                    value = .string(s)
                case .number:
                    guard let d = v.double, d.isFinite else { return refuse(number: number, line: v.line, field: member.key, "'\(member.key)' is out of range") }
                    if known == .int64, let i = v.int64 ?? Int64(exactly: d) { value = .int(i) } else { value = .float(d) }
                default:
                    return refuse(number: number, line: v.line, field: member.key, "'\(member.key)' must be a number, a string, true/false or null, not \(v.typeName)")
                }
                if let known, known != value.type {
                    return refuse(number: number, line: v.line, field: member.key, "'\(member.key)' is \(known) in \(measurement), not \(value.type)")
                }
                values[member.key] = value
            }
            guard !values.isEmpty else { return refuse(number: number, line: record.line, "a record needs at least one field besides symbol, data_type and timestamp") }
            if rows[series] == nil {
                order.append(series)
                rows[series] = ([], [], [])
            }
            for (name, value) in values.sorted(by: { $0.key < $1.key }) where !rows[series]!.fields.contains(where: { $0.name == name }) {
                rows[series]!.fields.append(Field(name, value.type))
                types[measurement, default: [:]][name] = value.type
            }
            rows[series]!.times.append(time)
            rows[series]!.values.append(values)
            batch.rows += 1
        }

        /// The batch with every series' rows as columns.
        func finish() -> IngestBatch {
            var out = batch
            out.series = order.map(block)
            return out
        }

        static func time(_ v: JSONValue) -> Result<Int64, StrataError> {
            Result { () throws(StrataError) -> Int64 in
                switch v.kind {
                case .string(let s): return try CivilTime.parseInstant(s, what: "'timestamp'")
                case .number(let text):
                    if Int64(text) != nil { return try CivilTime.parseInstant(text, what: "'timestamp'") }
                    // Seconds with a fraction, within 1677-09-21…2262-04-11.
                    guard let d = Double(text), d.isFinite, abs(d) < 9_223_372_036 else {
                        throw StrataError(.invalidInput, "'timestamp' \(text) is not a time: epoch seconds with a fraction, or an integer of s, ms, µs or ns")
                    }
                    return Int64((d * 1e9).rounded())
                default:
                    throw StrataError(.invalidInput, "'timestamp' must be a string or a number, not \(v.typeName)")
                }
            }
        }

        /// The collected rows of one series as columns.
        func block(_ series: SeriesKey) -> Store.SeriesRows {
            let r = rows[series]!
            let columns = r.fields.map { field -> Column in
                let presence = r.values.map { $0[field.name] != nil }
                switch field.type {
                case .float64: return Column(.float64(r.values.map { if case .float(let d)? = $0[field.name] { d } else { 0 } }), presence: presence)
                case .int64: return Column(.int64(r.values.map { if case .int(let i)? = $0[field.name] { i } else { 0 } }), presence: presence)
                case .bool: return Column(.bool(r.values.map { if case .bool(let b)? = $0[field.name] { b } else { false } }), presence: presence)
                case .string: return Column(.string(r.values.map { if case .string(let s)? = $0[field.name] { s } else { "" } }), presence: presence)
                }
            }
            return Store.SeriesRows(series: series, schema: r.fields, rows: RowBlock(timestamps: r.times, columns: columns))
        }
    }
}
