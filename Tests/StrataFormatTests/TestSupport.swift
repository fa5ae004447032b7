import StrataFormat
import Testing

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, seeded, deterministic generator, so that
/// every "random" test replays the same inputs on every machine.
struct SplitMix64: RandomNumberGenerator {
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

/// The block sizes every random round trip runs through: tiny, around the 8-byte and
/// 64-value boundaries of the bit I/O and bit-packing, and full blocks.
let blockSizes = [1, 2, 7, 8, 9, 63, 64, 65, 1000, 8192]

/// The VictoriaMetrics-style prefix that must survive every encoder untouched.
let foobar = Array("foobar".utf8)

/// Lowercase hex, bytes separated by one space: "e8 03 00".
func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: " ")
}

/// Parses hex with any spacing: "E8 03 00", "e80300" and "e8 0300" are the same bytes.
func bytes(hex text: String) -> [UInt8] {
    let digits = text.filter { !$0.isWhitespace }
    precondition(digits.count % 2 == 0, "odd number of hex digits in \(text)")
    var out: [UInt8] = []
    var i = digits.startIndex
    while i < digits.endIndex {
        let j = digits.index(i, offsetBy: 2)
        out.append(UInt8(digits[i..<j], radix: 16)!)
        i = j
    }
    return out
}

/// The same bytes spelled the canonical way, for readable golden comparisons.
func normalized(_ text: String) -> String { hex(bytes(hex: text)) }

/// Runs `body` with a `ByteReader` over `data[offset...]` (file offset `offset`) and
/// returns its result with the number of bytes the reader consumed.
func read<R>(_ data: [UInt8], from offset: Int = 0,
             _ body: (inout ByteReader) throws -> R) throws -> (value: R, consumed: Int) {
    try data.withUnsafeBytes { raw in
        var reader = ByteReader(UnsafeRawBufferPointer(rebasing: raw[offset...]), baseOffset: offset)
        let value = try body(&reader)
        return (value, reader.readerIndex)
    }
}

/// Decodes and returns the thrown `FormatError`, or nil when decoding succeeded.
func formatError(_ body: () throws -> Void) -> FormatError? {
    do {
        try body()
        return nil
    } catch let error as FormatError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}

/// Bit patterns, so that NaN payloads and -0.0 compare exactly.
func bitPatterns(_ values: [Double]) -> [UInt64] { values.map(\.bitPattern) }

/// A `RowBlock` compared bit for bit: `RowBlock ==` uses `Double ==`, under which NaN
/// differs from itself and -0.0 equals 0.0.
struct BlockBits: Equatable {
    enum Values: Equatable {
        case float64([UInt64]), int64([Int64]), bool([Bool]), string([String])
    }

    var timestamps: [Int64]
    var columns: [Values]
    var presence: [[Bool]?]

    init(_ block: RowBlock) {
        timestamps = block.timestamps
        presence = block.columns.map(\.presence)
        columns = block.columns.map { c in
            switch c.values {
            case .float64(let v): .float64(v.map(\.bitPattern))
            case .int64(let v): .int64(v)
            case .bool(let v): .bool(v)
            case .string(let v): .string(v)
            }
        }
    }
}

extension RowBlock {
    var bits: BlockBits { BlockBits(self) }
}

func varintSize(_ v: Int) -> Int {
    var out: [UInt8] = []
    out.writeVarUInt(UInt64(v))
    return out.count
}
