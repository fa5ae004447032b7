import StrataEngine
import StrataPlatform

extension CSVIngester {
    /// Numbers the file's symbols in the order they first appear: a series is its number
    /// until rows are written. A run of rows of one symbol (the usual order of a trades file)
    /// costs a byte comparison per row, not a string and a hash lookup.
    struct SymbolTable {
        /// By series number.
        private(set) var symbols: [String] = []
        private var numbers: [String: Int] = [:]
        /// Symbols refused once, with why: each later row of them is refused without
        /// checking the name again.
        private var refused: [String: String] = [:]
        /// The last symbol numbered, as bytes, and its number.
        private var last: [UInt8] = []
        private var lastSeries = -1

        var count: Int { symbols.count }

        /// The series of the symbol in `field`, numbering a new symbol once its name is
        /// valid (as a directory name: it becomes one).
        mutating func series(_ field: CSVScanner.FieldRange, in scanner: CSVScanner, scratch: inout [UInt8]) -> Result<Int, RowProblem> {
            let sameAsLast = scanner.withField(field, scratch: &scratch) { raw in raw.elementsEqual(last) }
            if sameAsLast && lastSeries >= 0 { return .success(lastSeries) }
            let symbol = scanner.string(field)
            if let why = refused[symbol] { return .failure(RowProblem(why)) }
            let s: Int
            if let existing = numbers[symbol] {
                s = existing
            } else {
                do throws(StrataError) {
                    try Names.validateDirectory(symbol, what: "symbol")
                } catch {
                    refused[symbol] = error.message
                    return .failure(RowProblem(error.message))
                }
                s = symbols.count
                numbers[symbol] = s
                symbols.append(symbol)
            }
            last = Array(symbol.utf8)
            lastSeries = s
            return .success(s)
        }

        /// The series of a file without a symbol column: `symbol` (`--symbol`, checked
        /// with the header), numbered when the first row gets this far.
        mutating func fixed(_ symbol: String) -> Int {
            if symbols.isEmpty { symbols.append(symbol) }
            return 0
        }
    }
}
