import StrataEngine
import StrataFormat
import StrataPlatform

extension CSVIngester {
    /// The fields' types before the first row is parsed.
    struct InitialTypes {
        /// nil: nothing has decided it yet; the field's first value will.
        var types: [FieldType?]
        /// Set by `--schema` or the stored schema: a value of another type is a bad row,
        /// never a reason to change the type.
        var fixed: [Bool]
    }

    /// Types from `--schema`, then the measurement's stored schema, then a vote over a
    /// sample of the file: the user's word first, then what earlier ingests stored (a file
    /// may not change it), and only then a guess.
    func initialTypes(_ layout: Layout, sample scanner: CSVScanner) throws(StrataError) -> InitialTypes {
        let stored = try store.schema(options.measurement)
        var types: [FieldType?] = layout.fieldNames.map { name in
            options.schema.first { $0.name == name }?.type ?? stored.type(of: name)
        }
        let fixed = types.map { $0 != nil }
        let sampled = Self.sampledTypes(layout, scanner, skipping: fixed)
        for k in types.indices where types[k] == nil { types[k] = sampled[k] }
        return InitialTypes(types: types, fixed: fixed)
    }

    /// Elects a type per field from its values in the first 1,000 records after the
    /// header (malformed records and those with the wrong number of fields do not vote).
    /// Votes, not the first value: a few bad values among many numbers do not make a
    /// column text; they become bad rows instead.
    static func sampledTypes(_ layout: Layout, _ scanner: CSVScanner, skipping fixed: [Bool]) -> [FieldType?] {
        var sample = scanner
        var ranges: [CSVScanner.FieldRange] = []
        var votes = [[FieldType: Int]](repeating: [:], count: layout.fieldNames.count)
        var scratch: [UInt8] = []
        var rows = 0
        while rows < 1000, let record = sample.next(into: &ranges) {
            rows += 1
            if record.error != nil || ranges.count != layout.header.count { continue }
            for (k, c) in layout.fieldColumns.enumerated() where !fixed[k] {
                if let t = sample.withField(ranges[c], scratch: &scratch, { CSVIngester.infer($0) }) {
                    votes[k][t, default: 0] += 1
                }
            }
        }
        return votes.map(CSVIngester.elect)
    }

    /// The narrowest type of a sample value, or nil for an empty one.
    static func infer(_ raw: UnsafeBufferPointer<UInt8>) -> FieldType? {
        let text = raw.trimmed()
        if text.isEmpty { return nil }
        if NumberParsing.int64(text) != nil { return .int64 }
        if NumberParsing.float64(text) != .invalid { return .float64 }
        if bool(text) != nil { return .bool }
        return .string
    }

    /// The type most sampled values have: numbers (float if any is fractional), else
    /// booleans, else text; text wins only if it outnumbers the rest.
    static func elect(_ votes: [FieldType: Int]) -> FieldType? {
        if votes.isEmpty { return nil }
        let ints = votes[.int64] ?? 0, floats = votes[.float64] ?? 0
        let bools = votes[.bool] ?? 0, strings = votes[.string] ?? 0
        if strings > ints + floats + bools { return .string }
        if ints + floats >= bools { return floats > 0 ? .float64 : .int64 }
        return .bool
    }

    /// `true` or `false` in any case.
    static func bool(_ text: UnsafeBufferPointer<UInt8>) -> Bool? {
        switch String(decoding: text, as: UTF8.self).lowercased() {
        case "true": true
        case "false": false
        default: nil
        }
    }
}
