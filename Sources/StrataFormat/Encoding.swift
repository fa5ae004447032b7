/// The encoding id written before every column chunk. See Format.md, "Encodings".
///
/// Ids are forever: a new encoding gets a new id, and an id is never redefined. A reader
/// that meets an id it does not know reports `FormatError.unsupported` for that column.
public enum Encoding: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Timestamps: delta-of-delta in units of the block's greatest common delta,
    /// Gorilla-style variable-width buckets.
    case timestampDeltaOfDelta = 0x01
    /// Float64: 8 little-endian bytes per value.
    case float64Plain = 0x10
    /// Float64: Gorilla XOR encoding.
    case float64Gorilla = 0x11
    /// Float64: decimal scaling to integers (value = n / 10^e), integers encoded with an
    /// integer encoding, exceptions stored as raw bit patterns.
    case float64Decimal = 0x12
    /// Int64 (and Bool as 0/1): frame of reference, common divisor, bit-packing, patches.
    case int64FrameOfReference = 0x20
    /// Int64: first value, then the deltas encoded as `int64FrameOfReference`.
    case int64DeltaFrameOfReference = 0x21
    /// String: per-block dictionary, indexes bit-packed.
    case stringDictionary = 0x30

    public var description: String {
        switch self {
        case .timestampDeltaOfDelta: "ts-dod"
        case .float64Plain: "f64-plain"
        case .float64Gorilla: "f64-gorilla"
        case .float64Decimal: "f64-decimal"
        case .int64FrameOfReference: "int-for"
        case .int64DeltaFrameOfReference: "int-delta-for"
        case .stringDictionary: "str-dict"
        }
    }
}
