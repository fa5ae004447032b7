import StrataBenchmarkSupport
import StrataEngine
import StrataFormat
import StrataSystem

// Prints the size figures the issue asks for (sizes, not speeds, so they are computed
// once here rather than in a benchmark): bytes per trade row of one symbol-day written as
// one segment, and bits per value of the float codecs on non-repeating decimal prices.
// Run: swift run -c release StrataSizes

func fixed(_ v: Double, _ digits: Int = 2) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (v * p).rounded() / p
    var s = String(r)
    if let dot = s.firstIndex(of: ".") {
        let have = s.distance(from: dot, to: s.endIndex) - 1
        if have < digits { s += String(repeating: "0", count: digits - have) }
    }
    return s
}

/// Total encoded bytes of `values` cut into 8192-value blocks (the tail included).
func encodedBytes<T>(_ values: [T], _ encode: (UnsafeBufferPointer<T>, inout [UInt8]) -> Void) -> Int {
    var total = 0
    var start = 0
    var out: [UInt8] = []
    while start < values.count {
        let end = min(start + Fixtures.blockSize, values.count)
        out.removeAll(keepingCapacity: true)
        values[start..<end].withUnsafeBufferPointer { encode($0, &out) }
        total += out.count
        start = end
    }
    return total
}

func bitsPerValue(_ bytes: Int, _ count: Int) -> Double { Double(bytes * 8) / Double(count) }

func decimal(_ v: UnsafeBufferPointer<Double>, _ out: inout [UInt8]) {
    let ok = DecimalCodec.encode(v, into: &out, maxExceptionFraction: 1.0)
    precondition(ok, "decimal encoding refused")
}

// MARK: 1. Bytes per trade row, one symbol-day as one segment

let (store, series, summary) = try Fixtures.tradeStore()
defer { Fixtures.removeDirectory(store.directory) }
let rows = Fixtures.tradesPerDay
precondition(summary.rows == rows)
print("# Strata sizes\n")
print("## Trades: \(rows) SyntheticTicks rows (seed 1), one symbol-day, Store.write\n")
print("segments written: \(summary.segments.count)")
var timeBytes = 0, priceBytes = 0, sizeBytes = 0, blockBytes = 0, fileBytes = 0, blockCount = 0
var encodings: [String: Int] = [:]
for path in summary.segments {
    let name = String(path.split(separator: "/").last!)
    let segment = try Segment(path: path, id: SegmentID(fileName: name)!)
    fileBytes += segment.size
    for b in segment.footer.blocks.indices {
        blockCount += 1
        blockBytes += segment.footer.blocks[b].length
        for chunk in try segment.describeBlock(b) {
            let kind: String
            switch chunk.fieldIndex {
            case nil: timeBytes += chunk.byteCount; kind = "time"
            case 0?: priceBytes += chunk.byteCount; kind = "price"
            default: sizeBytes += chunk.byteCount; kind = "size"
            }
            encodings["\(kind) \(chunk.encoding.map { "\($0)" } ?? "none")", default: 0] += 1
        }
    }
}
let perRow = { (bytes: Int) in fixed(Double(bytes) / Double(rows), 3) }
print("""

| part | bytes | bytes/row | bits/row |
|---|---:|---:|---:|
| time chunks | \(timeBytes) | \(perRow(timeBytes)) | \(fixed(bitsPerValue(timeBytes, rows))) |
| price chunks | \(priceBytes) | \(perRow(priceBytes)) | \(fixed(bitsPerValue(priceBytes, rows))) |
| size chunks | \(sizeBytes) | \(perRow(sizeBytes)) | \(fixed(bitsPerValue(sizeBytes, rows))) |
| block framing (row count, chunk headers, CRC32C) | \(blockBytes - timeBytes - priceBytes - sizeBytes) | \(perRow(blockBytes - timeBytes - priceBytes - sizeBytes)) | |
| segment header + footer (block index, statistics) + trailer | \(fileBytes - blockBytes) | \(perRow(fileBytes - blockBytes)) | |
| **whole segment file** | **\(fileBytes)** | **\(perRow(fileBytes))** | \(fixed(bitsPerValue(fileBytes, rows))) |

blocks: \(blockCount); chunk encodings chosen: \(encodings.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
""")

// MARK: 2. Decimal vs Gorilla on non-repeating 2-decimal prices

func floatRow(_ label: String, _ values: [Double]) -> (String, Double, Double) {
    let d = encodedBytes(values, decimal)
    let g = encodedBytes(values) { v, out in GorillaCodec.encode(v, into: &out) }
    let db = bitsPerValue(d, values.count), gb = bitsPerValue(g, values.count)
    return ("| \(label) | \(values.count) | \(fixed(db)) | \(fixed(gb)) | \(fixed(db / gb, 3)) |", db, gb)
}

let cents = Fixtures.nonRepeatingCents(count: rows)
let repeats = zip(cents, cents.dropFirst()).filter { $0 == $1 }.count
precondition(repeats == 0, "the non-repeating prices repeat")
let rowCents = floatRow("non-repeating 2-decimal prices (±1…25 cents a step)", cents)
let prices = Fixtures.tradePrices
let priceRepeats = Double(zip(prices, prices.dropFirst()).filter { $0 == $1 }.count) / Double(prices.count - 1)
let rowTicks = floatRow("tick prices (0.25 grid, \(fixed(100 * priceRepeats, 1))% repeat the previous)", prices)
let rowWalk = floatRow("random-walk doubles (no decimal form; decimal = all exceptions)", Fixtures.randomWalk(count: rows))
print("""

## Float codecs, bits per value (blocks of \(Fixtures.blockSize), payload only)

| values | count | f64-decimal | f64-gorilla | decimal / gorilla |
|---|---:|---:|---:|---:|
\(rowCents.0)
\(rowTicks.0)
\(rowWalk.0)

target: decimal ≤ 1/3 of Gorilla's bits on non-repeating decimal prices → \(rowCents.1 <= rowCents.2 / 3 ? "met" : "MISSED") (ratio \(fixed(rowCents.1 / rowCents.2, 3)))
""")

// MARK: 3. Other columns, for context

let tsBytes = encodedBytes(Fixtures.tradeTimes) { v, out in TimestampCodec.encode(v, into: &out) }
let sizeOnly = encodedBytes(Fixtures.tradeSizes) { v, out in _ = IntegerCodec.encode(v, into: &out) }
let times = Fixtures.tradeTimes
let sameMs = zip(times, times.dropFirst()).filter { $0 == $1 }.count
print("""

## Other columns (payload only)

| column | bits/value |
|---|---:|
| timestamps ts-dod (\(fixed(100 * Double(sameMs) / Double(rows - 1), 1))% of rows share the previous row's millisecond) | \(fixed(bitsPerValue(tsBytes, rows))) |
| sizes int | \(fixed(bitsPerValue(sizeOnly, rows))) |
""")

// MARK: 4. Query shapes

let from = times[0]
let hourRows = times.prefix { $0 < from + 3_600_000_000_000 }.count
let bars = try store.bars(series, spec: BarSpec(interval: 60_000_000_000, source: .ticks(price: "price", volume: "size")))
print("""

## Query shapes

- day span: \(CivilTime.format(times.first!)) … \(CivilTime.format(times.last!))
- 1-minute bars over the day: \(bars.count)
- rows in the one-hour raw query window: \(hourRows)
""")
