import Benchmark
import StrataBenchmarkSupport
import StrataEngine
import StrataFormat
import StrataSystem

/// Whole trade blocks (time + price + size, CRC32C), as segments hold them: 1M rows.
final class TradeBlocks {
    let rows: [RowBlock]
    let encoded: [[UInt8]]
    var out: [UInt8] = []

    init() {
        let all = Fixtures.codecTrades
        let size = Fixtures.blockSize
        rows = stride(from: 0, to: all.rowCount, by: size).map { all.slice($0..<min($0 + size, all.rowCount)) }
        encoded = rows.map { block in
            var bytes: [UInt8] = []
            BlockCodec.encode(block, into: &bytes)
            return bytes
        }
        out.reserveCapacity(size * 8)
    }
}

func registerBlockBenchmarks() {
    let schema = SyntheticTicks.tradeSchema

    // One iteration: verify the CRC and decode the three columns of 1M rows, block by block.
    Benchmark("Block/decode trade rows (time+price+size)", configuration: perMillionValues) { (_: Benchmark, state: TradeBlocks) in
        for bytes in state.encoded {
            let block = bytes.withUnsafeBytes { raw in
                do { return try BlockCodec.decode(raw, schema: schema) } catch { fatalError("\(error)") }
            }
            blackHole(block)
        }
    } setup: {
        let state = TradeBlocks()
        for (k, bytes) in state.encoded.enumerated() {
            let decoded = try bytes.withUnsafeBytes { raw throws(FormatError) in try BlockCodec.decode(raw, schema: schema) }
            precondition(decoded == state.rows[k], "trade block \(k) does not round-trip")
        }
        return state
    }

    // One iteration: encode 1M rows, block by block (codec choice; no statistics, no I/O).
    Benchmark("Block/encode trade rows (time+price+size)", configuration: perMillionValues) { (_: Benchmark, state: TradeBlocks) in
        var bytes = 0
        for rows in state.rows {
            state.out.removeAll(keepingCapacity: true)
            BlockCodec.encode(rows, into: &state.out)
            bytes += state.out.count
        }
        blackHole(bytes)
    } setup: {
        TradeBlocks()
    }
}
