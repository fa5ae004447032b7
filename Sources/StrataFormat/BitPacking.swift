/// Fixed-width bit-packing in little-endian bit order: value `i` occupies stream bits
/// `[i*w, (i+1)*w)`, and stream bit `k` is bit `k % 8` of byte `k / 8`. This order lets
/// a decoder fetch any value with one unaligned 64-bit load, a shift and a mask.
public enum BitPacking {
    /// Bytes needed for `count` values of `width` bits.
    @inlinable
    public static func byteCount(count: Int, width: Int) -> Int {
        (count * width + 7) / 8
    }

    /// Appends the low `width` bits of each value.
    public static func pack(_ values: UnsafeBufferPointer<UInt64>, width: Int, into out: inout [UInt8]) {
        precondition(width >= 0 && width <= 64)
        if width == 0 || values.isEmpty { return }
        let start = out.count
        let total = byteCount(count: values.count, width: width)
        // Room for whole 8-byte stores past the end; trimmed afterwards.
        out.append(contentsOf: repeatElement(0, count: total + 8))
        out.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress! + start
            let mask: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) &- 1
            let w = UInt64(width)
            var accumulator: UInt64 = 0
            var filled: UInt64 = 0  // bits held in the accumulator, < 64
            var offset = 0
            for v in values {
                let x = v & mask
                accumulator |= x &<< filled
                filled &+= w
                if filled >= 64 {
                    p.storeBytes(of: accumulator.littleEndian, toByteOffset: offset, as: UInt64.self)
                    offset &+= 8
                    filled &-= 64
                    // The bits of x that did not fit (none when it ended exactly at 64).
                    accumulator = filled == 0 ? 0 : x &>> (w &- filled)
                }
            }
            if filled > 0 { p.storeBytes(of: accumulator.littleEndian, toByteOffset: offset, as: UInt64.self) }
        }
        out.removeLast(8)
    }

    /// Decodes `count` values of `width` bits from `bytes` (which must hold at least
    /// `byteCount(count:width:)` bytes), calling `body(index, value)` in order.
    @inlinable @inline(__always)
    public static func unpack(_ bytes: UnsafeRawBufferPointer, count: Int, width: Int,
                              _ body: (Int, UInt64) -> Void) {
        if count == 0 { return }
        if width == 0 {
            for i in 0..<count { body(i, 0) }
            return
        }
        let p = bytes.baseAddress!
        let n = bytes.count
        let mask: UInt64 = width == 64 ? ~0 : (1 &<< UInt64(width)) &- 1
        var bit = 0
        var i = 0
        if width <= 56 && n >= 8 {
            // Fast path: one unaligned load per value, for every value whose load stays
            // inside the buffer (those starting at least 8 bytes before its end).
            let lastSafeBit = (n &- 8) &* 8
            let safeCount = Swift.min(count, lastSafeBit / width &+ 1)
            while i < safeCount {
                let word = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: bit &>> 3, as: UInt64.self))
                body(i, (word &>> UInt64(bit & 7)) & mask)
                bit &+= width
                i &+= 1
            }
        }
        while i < count {
            body(i, slowGet(p, n, bit: bit, width: width) & mask)
            bit &+= width
            i &+= 1
        }
    }

    @usableFromInline
    static func slowGet(_ p: UnsafeRawPointer, _ n: Int, bit: Int, width: Int) -> UInt64 {
        var v: UInt64 = 0
        var got = 0
        var b = bit
        while got < width {
            let byte = b >> 3
            let off = b & 7
            let avail = min(8 - off, width - got)
            let x = byte < n ? UInt64(p.load(fromByteOffset: byte, as: UInt8.self)) : 0
            v |= ((x >> UInt64(off)) & ((1 << UInt64(avail)) - 1)) << UInt64(got)
            got += avail
            b += avail
        }
        return v
    }
}
