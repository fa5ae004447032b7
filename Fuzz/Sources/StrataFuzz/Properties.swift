import Glibc
import StrataEngine
import StrataFormat
import StrataText

/// A line on standard error.
func printError(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

/// Stops the run (libFuzzer saves the input as a crash) when a property does not hold.
func require(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
    guard !condition else { return }
    printError("StrataFuzz: property violated at \(file):\(line): \(message())")
    fatalError("property violated: \(message())", file: file, line: line)
}

/// The first difference between two columns, values compared bit for bit (NaN payloads,
/// -0.0), absent rows not compared.
func difference(_ a: Column, _ b: Column) -> String? {
    guard a.count == b.count else { return "\(a.count) values, then \(b.count)" }
    for r in 0..<a.count where a.isPresent(r) != b.isPresent(r) { return "row \(r) present \(a.isPresent(r)), then \(b.isPresent(r))" }
    func first<T>(_ x: [T], _ y: [T], _ same: (T, T) -> Bool) -> String? {
        for r in x.indices where a.isPresent(r) && !same(x[r], y[r]) { return "row \(r): \(x[r]), then \(y[r])" }
        return nil
    }
    switch (a.values, b.values) {
    case (.float64(let x), .float64(let y)): return first(x, y) { $0.bitPattern == $1.bitPattern }
    case (.int64(let x), .int64(let y)): return first(x, y, ==)
    case (.bool(let x), .bool(let y)): return first(x, y, ==)
    case (.string(let x), .string(let y)): return first(x, y) { Array($0.utf8) == Array($1.utf8) }
    default: return "type \(a.values.type), then \(b.values.type)"
    }
}

func difference(_ a: RowBlock, _ b: RowBlock) -> String? {
    guard a.timestamps == b.timestamps else { return "timestamps differ (\(a.rowCount) rows, then \(b.rowCount))" }
    guard a.columns.count == b.columns.count else { return "\(a.columns.count) columns, then \(b.columns.count)" }
    for c in a.columns.indices {
        if let d = difference(a.columns[c], b.columns[c]) { return "column \(c): \(d)" }
    }
    return nil
}

/// Rows as the engine takes them from a parser: names a store accepts, one column of the
/// schema's type per field, strings within the limit (what `Database.append` checks before
/// it logs a batch, so a parser that let them through would fail a whole batch).
func checkWritable(_ item: Store.SeriesRows, _ what: String) {
    require(item.schema.count == item.rows.columns.count, "\(what): \(item.schema.count) fields, \(item.rows.columns.count) columns")
    require(Set(item.schema.map(\.name)).count == item.schema.count, "\(what): a field appears twice in \(item.schema)")
    for (f, c) in zip(item.schema, item.rows.columns) {
        require(f.type == c.values.type, "\(what): field \(f.name) is \(f.type), its column \(c.values.type)")
        require((try? Names.validate(f.name, what: "field")) != nil, "\(what): field name '\(f.name)' is not valid")
        if case .string(let values) = c.values {
            require(values.allSatisfy { $0.utf8.count <= Store.maxStringBytes }, "\(what): a string of \(f.name) is over the limit")
        }
    }
}

/// Rows survive the trip through the write-ahead log: framed, scanned and decoded, they are
/// the same rows, bit for bit.
func checkWALRoundTrip(_ item: Store.SeriesRows, _ what: String) {
    guard item.rows.rowCount > 0 else { return }
    let record = WALRecord.rows(measurement: item.series.measurement, symbol: item.series.symbol, schema: item.schema, rows: item.rows)
    let payload = record.encode()
    guard payload.count <= WALLayout.maxRecordSize else { return }
    var file = WALLayout.header()
    WALLayout.frame(payload, into: &file)
    var decoded: [WALRecord] = []
    let end = file.withUnsafeBytes { bytes in
        WALLayout.scan(bytes) { offset, payload in
            do throws(FormatError) {
                decoded.append(try WALRecord.decode(payload, baseOffset: offset + WALLayout.recordHeaderSize))
            } catch {
                require(false, "\(what): a WAL record of \(item.series) does not decode: \(error)")
            }
        }
    }
    require(end == .clean && decoded.count == 1, "\(what): the WAL record of \(item.series) scans as \(end)")
    guard case .rows(let m, let s, let schema, let rows) = decoded[0] else { return require(false, "\(what): not a rows record") }
    require(m == item.series.measurement && s == item.series.symbol && schema == item.schema,
            "\(what): the WAL record names \(m)/\(s) \(schema), not \(item.series) \(item.schema)")
    if let d = difference(item.rows, rows) { require(false, "\(what): rows of \(item.series) after a WAL record: \(d)") }
}

/// A parser's batch: one entry per series, counts that add up, writable rows that survive
/// the WAL.
func checkBatch(_ batch: IngestBatch, _ what: String) {
    require(Set(batch.series.map(\.series)).count == batch.series.count, "\(what): a series appears twice in the batch")
    require(batch.series.reduce(0) { $0 + $1.rows.rowCount } == batch.rows, "\(what): batch.rows \(batch.rows) is not the rows of its series")
    require(batch.issues.count == min(batch.badLines, 100), "\(what): \(batch.issues.count) issues for \(batch.badLines) bad lines")
    for item in batch.series where item.rows.rowCount > 0 {
        checkWritable(item, what)
        checkWALRoundTrip(item, what)
    }
}

/// A small deterministic generator (SplitMix64) for picking bytes to flip.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Up to `count` (offset, xor mask) pairs for a file of `size` bytes, chosen from its
/// contents, so a valid file is damaged in a few different places on each run over it.
func flips(of bytes: [UInt8], count: Int) -> [(offset: Int, mask: UInt8)] {
    guard !bytes.isEmpty else { return [] }
    var rng = SplitMix(seed: UInt64(CRC32C.checksum(bytes)) << 32 | UInt64(bytes.count))
    return (0..<count).map { _ in (Int.random(in: 0..<bytes.count, using: &rng), UInt8.random(in: 1...255, using: &rng)) }
}

func flipped(_ bytes: [UInt8], _ flip: (offset: Int, mask: UInt8)) -> [UInt8] {
    var copy = bytes
    copy[flip.offset] ^= flip.mask
    return copy
}
