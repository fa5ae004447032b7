import Glibc
import StrataBenchmarkSupport
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem
import StrataText

// Runs one benchmark workload in a loop, without the benchmark harness, so that a
// profiler sees only Strata's code:
//
//     swift build -c release
//     perf record -e cpu-clock -g .build/release/StrataProfile gorilla-decode-walk 3
//     valgrind --tool=callgrind .build/release/StrataProfile bars 0.2
//
// Arguments: WORKLOAD [SECONDS=3]. Prints iterations and the mean time per iteration.

@inline(never)
func consume<T>(_ value: T) { withExtendedLifetime(value) {} }

func chunksOf1M() -> (times: [[Int64]], prices: [[Double]], sizes: [[Int64]]) {
    let t = Fixtures.codecTrades
    guard case .float64(let p) = t.columns[0].values, case .int64(let s) = t.columns[1].values else { fatalError() }
    return (Fixtures.chunks(t.timestamps), Fixtures.chunks(p), Fixtures.chunks(s))
}

func encoded<T>(_ blocks: [[T]], _ encode: ([T], inout [UInt8]) -> Void) -> [[UInt8]] {
    blocks.map { b in var out: [UInt8] = []; encode(b, &out); return out }
}

/// Calls `body` with a reader over each block (decode errors are bugs: they trap).
/// Non-throwing on purpose: a typed-throws closure inside withUnsafeBytes inside a throwing
/// closure crashes the Swift 6.3.1 optimizer (PerfInliner, signal 11).
func eachBlock(_ blocks: [[UInt8]], _ counts: [Int], _ body: (inout ByteReader, Int) throws(FormatError) -> Void) {
    for k in blocks.indices {
        blocks[k].withUnsafeBytes { raw in
            var reader = ByteReader(raw)
            do { try body(&reader, counts[k]) } catch { fatalError("\(error)") }
        }
    }
}

/// Returns the work of one iteration and what to clean up afterwards.
func workload(_ name: String) throws -> (work: () throws -> Void, cleanup: () -> Void) {
    let none = {}
    let work: () throws -> Void = try iteration(name)
    if ["bars", "bars-json", "raw-hour", "unmerged-raw", "unmerged-bars", "compact", "compacted-raw", "compacted-bars", "successive-raw", "compact-successive"].contains(name), let directory = lastStoreDirectory {
        return (work, { Fixtures.removeDirectory(directory) })
    }
    return (work, none)
}

/// The store made by the last `bars` or `raw-hour` setup.
nonisolated(unsafe) var lastStoreDirectory: String?

func iteration(_ name: String) throws -> () throws -> Void {
    switch name {
    case "ts-decode", "decimal-decode", "gorilla-decode-prices", "gorilla-decode-walk", "int-decode":
        let c = chunksOf1M()
        let out = UnsafeMutablePointer<Int64>.allocate(capacity: Fixtures.blockSize)
        let outD = UnsafeMutableRawPointer(out).assumingMemoryBound(to: Double.self)
        switch name {
        case "ts-decode":
            let e = encoded(c.times) { TimestampCodec.encode($0, into: &$1) }
            let counts = c.times.map(\.count)
            return { eachBlock(e, counts) { (x, n) throws(FormatError) in try TimestampCodec.decode(&x, count: n, into: out) } }
        case "decimal-decode":
            let e = encoded(c.prices) { v, o in _ = v.withUnsafeBufferPointer { DecimalCodec.encode($0, into: &o) } }
            let counts = c.prices.map(\.count)
            return { eachBlock(e, counts) { (x, n) throws(FormatError) in try DecimalCodec.decode(&x, count: n, into: outD) } }
        case "gorilla-decode-prices", "gorilla-decode-walk":
            let values = name.hasSuffix("prices") ? c.prices : Fixtures.chunks(Fixtures.randomWalk(count: Fixtures.valuesPerIteration))
            let e = encoded(values) { GorillaCodec.encode($0, into: &$1) }
            let counts = values.map(\.count)
            return { eachBlock(e, counts) { (x, n) throws(FormatError) in try GorillaCodec.decode(&x, count: n, into: outD) } }
        default:
            var ids: [Encoding] = []
            let e = encoded(c.sizes) { v, o in ids.append(IntegerCodec.encode(v, into: &o)) }
            let counts = c.sizes.map(\.count)
            let id = ids[0]
            precondition(ids.allSatisfy { $0 == id }, "one integer encoding for every block")
            return { eachBlock(e, counts) { (x, n) throws(FormatError) in try IntegerCodec.decode(id, &x, count: n, into: out) } }
        }
    case "ts-encode", "decimal-encode", "float-encode", "gorilla-encode-walk", "int-encode":
        let c = chunksOf1M()
        let walk = Fixtures.chunks(Fixtures.randomWalk(count: Fixtures.valuesPerIteration))
        var out: [UInt8] = []
        out.reserveCapacity(Fixtures.blockSize * 10)
        return {
            for k in c.times.indices {
                out.removeAll(keepingCapacity: true)
                switch name {
                case "ts-encode": TimestampCodec.encode(c.times[k], into: &out)
                case "decimal-encode": _ = c.prices[k].withUnsafeBufferPointer { DecimalCodec.encode($0, into: &out) }
                case "float-encode": _ = c.prices[k].withUnsafeBufferPointer { FloatCodec.encode($0, into: &out) }
                case "gorilla-encode-walk": GorillaCodec.encode(walk[k], into: &out)
                default: _ = IntegerCodec.encode(c.sizes[k], into: &out)
                }
                consume(out.count)
            }
        }
    case "block-decode", "block-encode":
        let all = Fixtures.codecTrades
        let rows = stride(from: 0, to: all.rowCount, by: Fixtures.blockSize).map { all.slice($0..<min($0 + Fixtures.blockSize, all.rowCount)) }
        let bytes = rows.map { r in var o: [UInt8] = []; BlockCodec.encode(r, into: &o); return o }
        if name == "block-encode" {
            return { for r in rows { var o: [UInt8] = []; BlockCodec.encode(r, into: &o); consume(o.count) } }
        }
        return {
            for b in bytes {
                b.withUnsafeBytes { raw in
                    do { consume(try BlockCodec.decode(raw, schema: SyntheticTicks.tradeSchema)) } catch { fatalError("\(error)") }
                }
            }
        }
    case "bars-json":
        // The work of GET /api/v1/query?…&interval=1m&ohlcv=price,size other than HTTP
        // (the benchmark Server/1-minute bars…): the day's bars and their JSON text.
        let (store, series, _) = try Fixtures.tradeStore()
        lastStoreDirectory = store.directory
        let spec = BarSpec(interval: 60_000_000_000, source: .ticks(price: "price", volume: "size"))
        return {
            var text = ""
            var writer = ResultWriter(format: .json, timeFormat: .rfc3339)
            writer.beginBars(into: &text)
            writer.bars(try store.bars(series, spec: spec), symbol: series.symbol, into: &text)
            writer.end(into: &text)
            consume(text)
        }
    case "bars", "raw-hour":
        let (store, series, _) = try Fixtures.tradeStore()
        lastStoreDirectory = store.directory
        let from = Fixtures.trades.timestamps[0]
        let spec = BarSpec(interval: 60_000_000_000, source: .ticks(price: "price", volume: "size"))
        return name == "bars"
            ? { consume(try store.bars(series, spec: spec)) }
            : { consume(try store.query(series, from: from, to: from + 3_600_000_000_000 - 1)) }
    case "unmerged-raw", "unmerged-bars", "compact", "compacted-raw", "compacted-bars", "successive-raw", "compact-successive":
        // 1M rows in 20 segments that each span the whole time range (every 20th row).
        let dir = Fixtures.makeTemporaryDirectory("strata-profile-live")
        lastStoreDirectory = dir
        var c = DatabaseConfiguration()
        c.compactAfterSegments = 0
        c.fsync = .none
        let db = try Database(directory: dir, configuration: c)
        let series = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let t = Fixtures.codecTrades
        let schema = [Field("price", .float64), Field("size", .int64)]
        var segments: [RowBlock] = []
        for k in 0..<20 {
            segments.append(name.hasPrefix("successive") || name == "compact-successive" ? t.slice((k * 50_000)..<((k + 1) * 50_000))
                                                     : t.gather(Array(stride(from: k, to: t.rowCount, by: 20))))
        }
        func fill() throws {
            for rows in segments {
                try db.appendBlocking([Store.SeriesRows(series: series, schema: schema, rows: rows)])
                try db.flush()
            }
        }
        try fill()
        if name.hasPrefix("compacted") { _ = try db.compact() }
        let spec = BarSpec(interval: 60_000_000_000, source: .ticks(price: "price", volume: "size"))
        switch name {
        case "unmerged-raw", "compacted-raw", "successive-raw": return { consume(try db.query(series)) }
        case "unmerged-bars", "compacted-bars": return { consume(try db.bars(series, spec: spec)) }
        default:
            // Prints the time of the compaction alone (the refill is not counted).
            return {
                let fresh = Fixtures.makeTemporaryDirectory("strata-profile-compact")
                defer { Fixtures.removeDirectory(fresh) }
                let db = try Database(directory: fresh, configuration: c)
                defer { try? db.close() }
                for rows in segments {
                    try db.appendBlocking([Store.SeriesRows(series: series, schema: schema, rows: rows)])
                    try db.flush()
                }
                var a = timespec(), b = timespec()
                clock_gettime(CLOCK_MONOTONIC, &a)
                let summary = try db.compact()
                clock_gettime(CLOCK_MONOTONIC, &b)
                let seconds = Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) / 1e9
                print("compaction: \(summary.rows) rows, \(summary.segmentsBefore) -> \(summary.segmentsAfter) segments, \(Int(seconds * 1000)) ms, \(Int(Double(summary.rows) / seconds / 1e6)) M rows/s")
            }
        }
    case "ingest":
        let csv = Fixtures.tradeCSV(rows: 1_000_000)
        return {
            let dir = Fixtures.makeTemporaryDirectory("strata-profile-ingest")
            defer { Fixtures.removeDirectory(dir) }
            let ingester = CSVIngester(store: try Store(directory: dir, create: true), options: CSVIngestOptions(measurement: "trade"))
            consume(try csv.withUnsafeBufferPointer { (b) throws(StrataError) in try ingester.ingest(b, source: "trades.csv") })
        }
    case "line-protocol":
        // 1M lines in 200 bodies of 5,000 (ten series), as the HTTP write benchmark sends them.
        let t = Fixtures.codecTrades
        guard case .float64(let prices) = t.columns[0].values, case .int64(let sizes) = t.columns[1].values else { fatalError() }
        let bodies: [[UInt8]] = (0..<200).map { b in
            var body = ""
            for l in 0..<5_000 {
                let i = (b * 5_000 + l) % t.rowCount
                body += "trade,symbol=SYM\((b * 5_000 + l) % 10) price=\(prices[i]),size=\(sizes[i])i \(t.timestamps[i])\n"
            }
            return Array(body.utf8)
        }
        return {
            for body in bodies { consume(body.withUnsafeBytes { LineProtocol.parse($0, options: LineProtocolOptions()) }) }
        }
    case "csv":
        // Not a workload: prints the in-memory CSV, to compare with `strata generate`.
        let rows = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 450_000 : 450_000
        let bytes = Fixtures.tradeCSV(rows: rows)
        print(String(decoding: bytes, as: UTF8.self), terminator: "")
        exit(0)
    case "latest-20", "latest-chain":
        // Stores kept in /tmp between runs (made on the first).
        if name == "latest-20" {
            let (store, series) = try Fixtures.twentySymbolStore(directory: "/tmp/strata-profile-latest20")
            return { consume(try store.latest(series)) }
        }
        let directory = "/tmp/strata-profile-chain"
        let store = access(directory, F_OK) == 0
            ? try Store(directory: directory)
            : try Fixtures.ingestedStore(Fixtures.chainCSV(contracts: 100_000, trades: 20), measurement: "opt", directory: directory)
        let series = try store.existingSeries(measurement: "opt", symbols: nil)
        return { consume(try store.latest(series)) }
    default:
        print("""
        usage: StrataProfile WORKLOAD [SECONDS]
        workloads: ts-decode decimal-decode gorilla-decode-prices gorilla-decode-walk int-decode
                   ts-encode decimal-encode float-encode gorilla-encode-walk int-encode
                   block-decode block-encode bars bars-json raw-hour ingest line-protocol
                   latest-20 latest-chain
        (codec and block workloads do 1M values per iteration; csv ROWS prints the CSV fixture)
        """)
        exit(2)
    }
}

let arguments = CommandLine.arguments
let name = arguments.count > 1 ? arguments[1] : ""
let (work, cleanup) = try workload(name)
let seconds = arguments.count > 2 ? Double(arguments[2]) ?? 3 : 3
let clock = ContinuousClock()
let start = clock.now
var iterations = 0
repeat {
    try work()
    iterations += 1
} while clock.now - start < .seconds(seconds)
let elapsed = clock.now - start
cleanup()
let perIteration = elapsed / iterations
print("\(name): \(iterations) iterations, \(perIteration) each")
