import StrataEngine
import StrataFormat
import StrataPlatform

/// Why one value of a row was refused: small, so that the per-value results stay cheap
/// to move on the ingest path.
struct RowProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

extension CSVIngester {
    /// A field value as read, before it is stored in its column's type.
    enum Parsed {
        case null
        case int(Int64)
        case float(Double)
        case bool(Bool)
        case string(String)
    }

    /// How a row changed a field's type; the rows read before it must follow.
    enum TypeChange {
        /// The field's first value: its earlier rows are nulls of this type.
        case settled(field: Int, FieldType)
        /// A fractional value in a field of integers: its earlier values become floats.
        case promotedToFloat(field: Int)
    }

    /// A row that was read: its line in the file, its time in nanoseconds and its series
    /// (a number from `RowParser.symbols`). Its values, and the type changes it made, stay
    /// in the parser until the next row.
    struct Row {
        let line: Int
        let time: Int64
        let series: Int
    }

    /// Turns CSV records into typed rows, one at a time, and keeps what the file has taught
    /// so far: the fields' types, the unit of epoch times, the symbols seen. A bad row is
    /// counted and (the first 100) reported with its line and field, and leaves the types
    /// as they were. The parser never sees where rows go, so that later each newline-aligned
    /// piece of a file can have its own parser on its own core.
    struct RowParser {
        let layout: Layout
        let allowNonFinite: Bool
        let lineOffset: Int
        /// Set by `--schema` or the store: a value of another type is a bad row.
        let fixedType: [Bool]
        /// nil while a field has had no value and no type was given or sampled.
        private(set) var types: [FieldType?]
        /// Set once rows have been handed on: they cannot change type any more, so neither
        /// may the fields (unknown types became float, integers stay integers).
        private(set) var typesFixed = false
        /// Given, or guessed from the first epoch time read (even in a row refused later for
        /// another field).
        private(set) var timeUnit: TimeUnit?
        private(set) var symbols = SymbolTable()
        /// The last row's values, one per field.
        private(set) var values: [Parsed]
        /// The type changes the last row made, in field order.
        private(set) var changes: [TypeChange] = []
        private(set) var rowsRead = 0
        private(set) var badRowCount = 0
        private(set) var issues: [IngestIssue] = []
        private(set) var notes: [String] = []
        /// The line of the last record read, good or bad: the end of a batch handed on.
        private(set) var lastLine = 1
        /// Where quoted fields with `""` are unescaped.
        private var scratch: [UInt8] = []

        init(layout: Layout, types: InitialTypes, options: CSVIngestOptions) {
            self.layout = layout
            allowNonFinite = options.allowNonFinite
            lineOffset = options.lineOffset
            fixedType = types.fixed
            self.types = types.types
            timeUnit = options.timeUnit
            values = Array(repeating: .null, count: layout.fieldNames.count)
        }

        /// The fields as typed so far; a field still without a type is float.
        var schema: [Field] { layout.fieldNames.indices.map { Field(layout.fieldNames[$0], types[$0] ?? .float64) } }

        /// Reads one record (as `CSVScanner.next` returned it, its fields in `fields`):
        /// the row, or nil for a bad row, which is counted and reported instead.
        mutating func parse(_ record: (line: Int, error: CSVScanner.ScanError?), fields: [CSVScanner.FieldRange],
                            in scanner: CSVScanner) -> Row? {
            rowsRead += 1
            let line = record.line + lineOffset
            lastLine = line
            if !changes.isEmpty { changes.removeAll(keepingCapacity: true) }
            if let e = record.error {
                return refuse(line, nil, e == .unterminatedQuote ? "a quoted field is never closed" : "text after a closing quote")
            }
            guard fields.count == layout.header.count else {
                return refuse(line, nil, "has \(fields.count) fields; the header has \(layout.header.count)")
            }
            let time: Int64
            switch self.time(fields[layout.timeColumn], in: scanner) {
            case .success(let t): time = t
            case .failure(let e): return refuse(line, layout.timeName, e.message)
            }
            let series: Int
            if let c = layout.symbolColumn {
                switch symbols.series(fields[c], in: scanner, scratch: &scratch) {
                case .success(let s): series = s
                case .failure(let e): return refuse(line, layout.header[c], e.message)
                }
            } else {
                series = symbols.fixed(layout.fixedSymbol!)
            }
            if let bad = parseFields(fields, in: scanner) { return refuse(line, layout.fieldNames[bad.field], bad.problem.message) }
            settleTypes(line: line)
            return Row(line: line, time: time, series: series)
        }

        /// Fixes the types for good, as float where nothing has decided them: called when
        /// rows are handed on, since rows handed on cannot be rewritten.
        mutating func fixTypes() -> [Field] {
            for k in types.indices where types[k] == nil { types[k] = .float64 }
            typesFixed = true
            return schema
        }

        /// What reading taught: rows read, bad rows and the first 100 issues, notes, the
        /// time unit. The writing stage fills in the rest.
        func report() -> IngestReport {
            var report = IngestReport()
            report.rowsRead = rowsRead
            report.badRowCount = badRowCount
            report.issues = issues
            report.notes = notes
            report.timeUnit = timeUnit
            return report
        }

        mutating func refuse(_ line: Int, _ field: String?, _ message: String) -> Row? {
            badRowCount += 1
            if issues.count < 100 { issues.append(IngestIssue(line: line, field: field, message: message)) }
            return nil
        }

        /// The time field in nanoseconds since the epoch; the first epoch integer fixes the
        /// unit for the rest of the file unless `--time-unit` gave it.
        mutating func time(_ field: CSVScanner.FieldRange, in scanner: CSVScanner) -> Result<Int64, RowProblem> {
            var unit = timeUnit
            defer { timeUnit = unit }
            return scanner.withField(field, scratch: &scratch) { raw in Self.time(raw, unit: &unit) }
        }

        /// Parses every field into `values` before any is used, so that a bad value refuses
        /// the row before it has changed a type. Returns the first bad field and why.
        mutating func parseFields(_ fields: [CSVScanner.FieldRange], in scanner: CSVScanner) -> (field: Int, problem: RowProblem)? {
            let allowNonFinite = self.allowNonFinite
            for (k, c) in layout.fieldColumns.enumerated() {
                let type = types[k], canPromote = !fixedType[k] && !typesFixed
                let outcome = scanner.withField(fields[c], scratch: &scratch) { raw in
                    Self.value(raw, type: type, canPromote: canPromote, allowNonFinite: allowNonFinite)
                }
                switch outcome {
                case .success(let p): values[k] = p
                case .failure(let e): return (k, e)
                }
            }
            return nil
        }

        /// Lets a good row's values change types: a field's first value gives it its type,
        /// and a fractional value in a field that holds integers read from this file makes
        /// it float (with a note, as the stored type differs from what the first rows said).
        mutating func settleTypes(line: Int) {
            for k in values.indices {
                switch (types[k], values[k]) {
                case (nil, .null): break
                case (nil, let p):
                    let t: FieldType = switch p {
                    case .int: .int64
                    case .float: .float64
                    case .bool: .bool
                    default: .string
                    }
                    types[k] = t
                    changes.append(.settled(field: k, t))
                case (.int64, .float):
                    types[k] = .float64
                    changes.append(.promotedToFloat(field: k))
                    notes.append("field '\(layout.fieldNames[k])' became float at line \(line) (earlier values were integers)")
                default: break
                }
            }
        }
    }
}
