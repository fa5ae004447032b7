/// Little-endian byte helpers for building Strata structures in a `[UInt8]`.
///
/// Naming follows SwiftNIO's ByteBuffer: `write*` appends, `set*(at:)` overwrites.
extension Array where Element == UInt8 {
    @inlinable
    public mutating func writeInteger<T: FixedWidthInteger>(_ value: T) {
        var v = value.littleEndian
        Swift.withUnsafeBytes(of: &v) { append(contentsOf: $0) }
    }

    @inlinable
    public mutating func setInteger<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        var v = value.littleEndian
        Swift.withUnsafeBytes(of: &v) { raw in
            for i in 0..<raw.count { self[offset + i] = raw[i] }
        }
    }

    @inlinable
    public mutating func writeFloat64(_ value: Double) {
        writeInteger(value.bitPattern)
    }

    /// Appends an unsigned LEB128 varint (7 bits per byte, low groups first).
    @inlinable
    public mutating func writeVarUInt(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        append(UInt8(v))
    }

    /// Appends a signed varint: zigzag, then LEB128.
    @inlinable
    public mutating func writeVarInt(_ value: Int64) {
        writeVarUInt(ZigZag.encode(value))
    }

    /// Appends a length-prefixed (varint) UTF-8 string.
    @inlinable
    public mutating func writeString(_ value: String) {
        var s = value
        s.withUTF8 { utf8 in
            writeVarUInt(UInt64(utf8.count))
            append(contentsOf: utf8)
        }
    }
}

/// ZigZag maps signed integers to unsigned ones so that small magnitudes stay small:
/// 0 → 0, -1 → 1, 1 → 2, -2 → 3, …
public enum ZigZag {
    @inlinable @inline(__always)
    public static func encode(_ v: Int64) -> UInt64 {
        UInt64(bitPattern: (v &<< 1) ^ (v >> 63))
    }

    @inlinable @inline(__always)
    public static func decode(_ u: UInt64) -> Int64 {
        Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }
}
