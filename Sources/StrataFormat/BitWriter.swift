/// Appends bits, most significant first, to a byte array.
///
/// Bits fill each byte from its most significant bit down (the order of the Gorilla
/// paper and of Prometheus's bstream). `finish()` pads the last byte with zero bits
/// and hands the bytes back. The writer appends to whatever the array already held.
public struct BitWriter {
    @usableFromInline var bytes: [UInt8]
    /// Pending bits, left-aligned: the next bit to write goes to position 63 - `pending`.
    @usableFromInline var accumulator: UInt64 = 0
    @usableFromInline var pending: Int = 0
    /// Bytes the array held before this writer appended to it.
    let prefixCount: Int

    public init(appendingTo bytes: [UInt8] = []) {
        self.bytes = bytes
        self.prefixCount = bytes.count
    }

    /// Number of bits written so far (not counting bytes the array held before).
    public var bitCount: Int { (bytes.count - prefixCount) * 8 + pending }

    @inlinable @inline(__always)
    public mutating func write(bit: Bool) {
        write(bits: bit ? 1 : 0, count: 1)
    }

    /// Writes the low `count` bits of `value` (0 ≤ count ≤ 64), most significant first.
    @inlinable @inline(__always)
    public mutating func write(bits value: UInt64, count: Int) {
        precondition(count >= 0 && count <= 64, "bit count out of range")
        if count == 0 { return }
        let v = count == 64 ? value : value & ((1 &<< UInt64(count)) &- 1)
        let free = 64 - pending
        if count < free {
            accumulator |= v &<< UInt64(free - count)
            pending += count
        } else {
            let over = count - free
            accumulator |= v &>> UInt64(over)
            bytes.writeInteger(accumulator.byteSwapped)  // big-endian: first bit first
            accumulator = over == 0 ? 0 : v &<< UInt64(64 - over)
            pending = over
        }
    }

    /// Pads to a whole byte with zero bits and returns the bytes.
    public mutating func finish() -> [UInt8] {
        var n = pending
        var acc = accumulator
        while n > 0 {
            bytes.append(UInt8(truncatingIfNeeded: acc >> 56))
            acc <<= 8
            n -= 8
        }
        pending = 0
        accumulator = 0
        let out = bytes
        bytes = []
        return out
    }
}

/// The same bit order as `BitWriter`, writing through a pointer into memory the caller has
/// sized for the worst case: no capacity checks and no array appends on the hot path.
public struct RawBitWriter {
    @usableFromInline let base: UnsafeMutableRawPointer
    @usableFromInline var offset = 0
    @usableFromInline var accumulator: UInt64 = 0
    @usableFromInline var pending: Int = 0

    /// `base` must have room for every byte written, rounded up to 8.
    public init(_ base: UnsafeMutableRawPointer) {
        self.base = base
    }

    /// Writes the low `count` bits of `value` (0 ≤ count ≤ 64), most significant first.
    @inlinable @inline(__always)
    public mutating func write(bits value: UInt64, count: Int) {
        if count == 0 { return }
        let v = count == 64 ? value : value & ((1 &<< UInt64(count)) &- 1)
        let free = 64 &- pending
        if count < free {
            accumulator |= v &<< UInt64(free &- count)
            pending &+= count
        } else {
            let over = count &- free
            accumulator |= v &>> UInt64(over)
            base.storeBytes(of: accumulator.bigEndian, toByteOffset: offset, as: UInt64.self)
            offset &+= 8
            accumulator = over == 0 ? 0 : v &<< UInt64(64 &- over)
            pending = over
        }
    }

    /// Flushes the last partial word (zero padded) and returns the bytes written.
    public mutating func finish() -> Int {
        if pending > 0 {
            base.storeBytes(of: accumulator.bigEndian, toByteOffset: offset, as: UInt64.self)
        }
        return offset + (pending + 7) / 8
    }
}
