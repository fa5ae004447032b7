import Glibc
import StrataEngine
import StrataFormat

extension LineProtocol {
    /// One series' rows as they arrive: a column per field, in the order fields first
    /// appear; rows that lack a field are absent there. A class: the parser reaches it for
    /// every field of every line, and a struct in an array would be copied each time.
    /// (Its arrays are touched by the parsing thread only: no dynamic exclusivity checks.)
    final class SeriesBuilder {
        @exclusivity(unchecked) var key: SeriesKey
        @exclusivity(unchecked) var names: [String] = []
        @exclusivity(unchecked) var columns: [ColumnBuilder] = []
        /// Each column's key as it is written in lines (escapes included), for matching.
        @exclusivity(unchecked) var rawKeys: [[UInt8]] = []
        /// The column of each position in the last row, for matching keys in order.
        @exclusivity(unchecked) var lastOrder: [Int] = []
        @exclusivity(unchecked) var times: [Int64] = []
        /// The row each column last got a value in (to fill the others as absent).
        @exclusivity(unchecked) var stamp: [Int] = []

        init(key: SeriesKey) { self.key = key }

        /// The column whose key is `raw`, trying position `k` of the last row first.
        func column(_ raw: UnsafeRawBufferPointer, position k: Int) -> Int? {
            if k < lastOrder.count, Self.equal(rawKeys[lastOrder[k]], raw) { return lastOrder[k] }
            for c in rawKeys.indices where Self.equal(rawKeys[c], raw) { return c }
            return nil
        }

        static func equal(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Bool {
            guard a.count == b.count else { return false }
            return a.withUnsafeBytes { memcmp($0.baseAddress!, b.baseAddress!, b.count) == 0 }
        }

        func addColumn(name: String, raw: [UInt8], type: FieldType) -> Int {
            names.append(name)
            rawKeys.append(raw)
            columns.append(ColumnBuilder(type: type, absentRows: times.count))
            stamp.append(-1)
            return columns.count - 1
        }

        var rows: Store.SeriesRows {
            Store.SeriesRows(series: key, schema: zip(names, columns).map { Field($0, $1.type) },
                             rows: RowBlock(timestamps: times, columns: columns.map(\.column)))
        }
    }

    struct ColumnBuilder {
        var type: FieldType
        var floats: [Double] = []
        var ints: [Int64] = []
        var bools: [Bool] = []
        var strings: [String] = []
        var presence: [Bool] = []
        var allPresent = true

        init(type: FieldType, absentRows: Int) {
            self.type = type
            for _ in 0..<absentRows { appendAbsent() }
        }

        mutating func append(_ value: Value) {
            presence.append(true)
            switch value {
            case .float(let v): floats.append(v)
            case .int(let v): ints.append(v)
            case .bool(let v): bools.append(v)
            case .string(let v): strings.append(v)
            }
        }

        mutating func appendAbsent() {
            presence.append(false)
            allPresent = false
            switch type {
            case .float64: floats.append(0)
            case .int64: ints.append(0)
            case .bool: bools.append(false)
            case .string: strings.append("")
            }
        }

        var column: Column {
            let values: ColumnValues = switch type {
            case .float64: .float64(floats)
            case .int64: .int64(ints)
            case .bool: .bool(bools)
            case .string: .string(strings)
            }
            return Column(values, presence: allPresent ? nil : presence)
        }
    }
}
