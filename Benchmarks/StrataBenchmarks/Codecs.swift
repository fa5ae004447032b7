import Benchmark
import StrataBenchmarkSupport
import StrataFormat

/// Blocks of one column and their encodings, made in a benchmark's setup.
final class EncodedBlocks<T> {
    let blocks: [[T]]
    let encoded: [[UInt8]]
    let scratch: Scratch<T>

    init(blocks: [[T]], zero: T, encode: ([T]) -> [UInt8]) {
        precondition(blocks.reduce(0) { $0 + $1.count } == Fixtures.valuesPerIteration, "an iteration is 1M values")
        self.blocks = blocks
        encoded = blocks.map(encode)
        scratch = Scratch(capacity: Fixtures.blockSize, zero: zero)
    }
}

/// Input blocks and a reusable output array for encode benchmarks.
final class EncodeState<T> {
    let blocks: [[T]]
    var out: [UInt8] = []

    init(blocks: [[T]]) {
        precondition(blocks.reduce(0) { $0 + $1.count } == Fixtures.valuesPerIteration, "an iteration is 1M values")
        self.blocks = blocks
        out.reserveCapacity(Fixtures.blockSize * 10)
    }
}

/// Decodes one block's bytes into the output (a decoder error is a bug: it traps).
typealias Decoder<T> = (UnsafeRawBufferPointer, Int, UnsafeMutablePointer<T>) -> Void

/// Wraps a throwing codec call as a `Decoder`.
func decoder<T>(_ name: String, _ body: @escaping (inout ByteReader, Int, UnsafeMutablePointer<T>) throws(FormatError) -> Void) -> Decoder<T> {
    { raw, count, out in
        var reader = ByteReader(raw)
        do { try body(&reader, count, out) } catch { fatalError("\(name): \(error)") }
    }
}

/// One iteration decodes 1M values, block by block, into an L1-resident buffer.
func decodeBenchmark<T: Equatable>(_ name: String, zero: T, blocks: @escaping () -> [[T]],
                                   encode: @escaping ([T]) -> [UInt8], decode: @escaping Decoder<T>) {
    Benchmark(name, configuration: perMillionValues) { (_: Benchmark, state: EncodedBlocks<T>) in
        let out = state.scratch.pointer
        for k in state.blocks.indices {
            let n = state.blocks[k].count
            state.encoded[k].withUnsafeBytes { decode($0, n, out) }
            blackHole(out[n - 1])
        }
    } setup: {
        let state = EncodedBlocks(blocks: blocks(), zero: zero, encode: encode)
        // Check the round trip once, so a broken codec cannot post a fast time.
        for k in state.blocks.indices {
            let n = state.blocks[k].count
            state.encoded[k].withUnsafeBytes { decode($0, n, state.scratch.pointer) }
            precondition(state.scratch.array(count: n) == state.blocks[k], "\(name): block \(k) does not round-trip")
        }
        return state
    }
}

/// One iteration encodes 1M values, block by block, into a reused output array.
func encodeBenchmark<T>(_ name: String, blocks: @escaping () -> [[T]],
                        encode: @escaping (UnsafeBufferPointer<T>, inout [UInt8]) -> Void) {
    Benchmark(name, configuration: perMillionValues) { (_: Benchmark, state: EncodeState<T>) in
        var bytes = 0
        for block in state.blocks {
            state.out.removeAll(keepingCapacity: true)
            block.withUnsafeBufferPointer { encode($0, &state.out) }
            bytes += state.out.count
        }
        blackHole(bytes)
    } setup: {
        EncodeState(blocks: blocks())
    }
}

func registerCodecBenchmarks() {
    let times = { Fixtures.chunks(Fixtures.codecTrades.timestamps) }
    let prices = {
        guard case .float64(let v) = Fixtures.codecTrades.columns[0].values else { preconditionFailure("price") }
        return Fixtures.chunks(v)
    }
    let sizes = {
        guard case .int64(let v) = Fixtures.codecTrades.columns[1].values else { preconditionFailure("size") }
        return Fixtures.chunks(v)
    }
    let walk = { Fixtures.chunks(Fixtures.randomWalk(count: Fixtures.valuesPerIteration)) }

    // MARK: Decode

    decodeBenchmark("Codec/decode/timestamps ts-dod", zero: Int64(0), blocks: times,
                    encode: { v in var out: [UInt8] = []; TimestampCodec.encode(v, into: &out); return out },
                    decode: decoder("ts-dod") { (r, n, p) throws(FormatError) in try TimestampCodec.decode(&r, count: n, into: p) })

    decodeBenchmark("Codec/decode/prices f64-decimal", zero: 0.0, blocks: prices,
                    encode: { v in
                        var out: [UInt8] = []
                        let ok = v.withUnsafeBufferPointer { DecimalCodec.encode($0, into: &out) }
                        precondition(ok, "tick prices are decimal")
                        return out
                    },
                    decode: decoder("f64-decimal") { (r, n, p) throws(FormatError) in try DecimalCodec.decode(&r, count: n, into: p) })

    decodeBenchmark("Codec/decode/prices f64-gorilla", zero: 0.0, blocks: prices,
                    encode: { v in var out: [UInt8] = []; GorillaCodec.encode(v, into: &out); return out },
                    decode: decoder("f64-gorilla") { (r, n, p) throws(FormatError) in try GorillaCodec.decode(&r, count: n, into: p) })

    decodeBenchmark("Codec/decode/random-walk f64-gorilla", zero: 0.0, blocks: walk,
                    encode: { v in var out: [UInt8] = []; GorillaCodec.encode(v, into: &out); return out },
                    decode: decoder("f64-gorilla") { (r, n, p) throws(FormatError) in try GorillaCodec.decode(&r, count: n, into: p) })

    // The integer encoding id goes first, as in a block's chunk header.
    decodeBenchmark("Codec/decode/sizes int", zero: Int64(0), blocks: sizes,
                    encode: { v in
                        var payload: [UInt8] = []
                        let id = IntegerCodec.encode(v, into: &payload)
                        return [id.rawValue] + payload
                    },
                    decode: decoder("int") { (r, n, p) throws(FormatError) in
                        let id = Encoding(rawValue: try r.readInteger(as: UInt8.self, "id"))!
                        try IntegerCodec.decode(id, &r, count: n, into: p)
                    })

    // MARK: Encode

    encodeBenchmark("Codec/encode/timestamps ts-dod", blocks: times) { v, out in TimestampCodec.encode(v, into: &out) }
    encodeBenchmark("Codec/encode/prices f64-decimal", blocks: prices) { v, out in _ = DecimalCodec.encode(v, into: &out) }
    encodeBenchmark("Codec/encode/prices f64-gorilla", blocks: prices) { v, out in GorillaCodec.encode(v, into: &out) }
    encodeBenchmark("Codec/encode/random-walk f64-gorilla", blocks: walk) { v, out in GorillaCodec.encode(v, into: &out) }
    // What a block write does for a float column: try decimal, maybe Gorilla, keep the smaller.
    encodeBenchmark("Codec/encode/prices FloatCodec choice", blocks: prices) { v, out in _ = FloatCodec.encode(v, into: &out) }
    encodeBenchmark("Codec/encode/sizes int", blocks: sizes) { v, out in _ = IntegerCodec.encode(v, into: &out) }
}
