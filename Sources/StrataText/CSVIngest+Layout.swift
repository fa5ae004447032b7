import StrataEngine
import StrataFormat
import StrataPlatform

extension CSVIngester {
    /// Which column holds the time, which the symbol, and which the fields: settled once from
    /// the header row and the options, before any data row is read. A value, so that every
    /// reader of rows (later, one parser per piece of a file) works from the same answer.
    struct Layout {
        /// The header's column names, without surrounding spaces and tabs.
        let header: [String]
        let timeColumn: Int
        /// The column naming each row's symbol; nil when every row has `fixedSymbol`.
        let symbolColumn: Int?
        /// `--symbol`: the symbol of every row when the file has no symbol column.
        let fixedSymbol: String?
        /// The columns stored as fields (all but time and symbol), in header order.
        let fieldColumns: [Int]
        let fieldNames: [String]

        var timeName: String { header[timeColumn] }

        /// Reads the header row and matches it against the options. Every complaint about the
        /// header names line 1, except a malformed header row, which names the line the
        /// scanner read it from.
        init(reading scanner: inout CSVScanner, options: CSVIngestOptions, source: String) throws(StrataError) {
            let header = try Self.readHeader(&scanner, source: source)
            let time = try Self.timeColumn(header, options: options, source: source)
            let symbol = try Self.symbolColumn(header, options: options, source: source)
            if let fixed = options.symbol { try Names.validateDirectory(fixed, what: "symbol") }
            if symbol == time {
                throw StrataError(.invalidInput, "the time and symbol columns are the same column", path: source, line: 1)
            }
            let fieldColumns = header.indices.filter { $0 != time && $0 != symbol }
            let fieldNames = fieldColumns.map { header[$0] }
            for f in options.schema where !fieldNames.contains(f.name) {
                throw StrataError(.invalidInput, "--schema names '\(f.name)', which is not a field column of the file", path: source, field: f.name)
            }
            for name in fieldNames { try Names.validate(name, what: "field name") }
            self.header = header
            timeColumn = time
            symbolColumn = symbol
            fixedSymbol = symbol == nil ? options.symbol : nil
            self.fieldColumns = fieldColumns
            self.fieldNames = fieldNames
        }

        /// The header row's names: present, well formed, none empty, none twice.
        static func readHeader(_ scanner: inout CSVScanner, source: String) throws(StrataError) -> [String] {
            var ranges: [CSVScanner.FieldRange] = []
            guard let record = scanner.next(into: &ranges) else {
                throw StrataError(.invalidInput, "empty file: expected a header row naming the columns", path: source, line: 1)
            }
            if let e = record.error {
                throw StrataError(.invalidInput, "malformed header row (\(e))", path: source, line: record.line)
            }
            let header = ranges.map { scanner.string($0).trimmingSpaces() }
            var seen = Set<String>()
            for (i, name) in header.enumerated() {
                if name.isEmpty { throw StrataError(.invalidInput, "column \(i + 1) of the header has no name", path: source, line: 1) }
                guard seen.insert(name).inserted else {
                    throw StrataError(.invalidInput, "column '\(name)' appears twice in the header", path: source, line: 1)
                }
            }
            return header
        }

        /// `--time-column`, else the first of time, timestamp, ts, ts_utc, datetime, date (any
        /// case), else the first column: files name their time column in many ways.
        static func timeColumn(_ header: [String], options: CSVIngestOptions, source: String) throws(StrataError) -> Int {
            if let t = options.timeColumn { return try column(named: t, what: "time", in: header, source: source) }
            let names = ["time", "timestamp", "ts", "ts_utc", "datetime", "date"]
            return names.lazy.compactMap { n in header.firstIndex { $0.lowercased() == n } }.first ?? 0
        }

        /// `--symbol-column`, else symbol, ticker or sym (any case); nil only with `--symbol`.
        /// A file with neither is refused rather than stored under a made-up symbol.
        static func symbolColumn(_ header: [String], options: CSVIngestOptions, source: String) throws(StrataError) -> Int? {
            if let s = options.symbolColumn { return try column(named: s, what: "symbol", in: header, source: source) }
            if options.symbol != nil { return nil }
            guard let i = header.firstIndex(where: { ["symbol", "ticker", "sym"].contains($0.lowercased()) }) else {
                throw StrataError(.invalidInput, "no symbol column (symbol, ticker, sym) in the header; name one with --symbol-column or give --symbol",
                                  path: source, line: 1)
            }
            return i
        }

        static func column(named name: String, what: String, in header: [String], source: String) throws(StrataError) -> Int {
            guard let i = header.firstIndex(of: name) else {
                throw StrataError(.invalidInput, "\(what) column '\(name)' is not in the header (\(header.joined(separator: ",")))", path: source, line: 1)
            }
            return i
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
