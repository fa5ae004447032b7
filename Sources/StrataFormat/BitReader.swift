/// Reads bits, most significant first, from read-only memory.
///
/// The reader keeps a 64-bit buffer, refilled with one unaligned big-endian load when at
/// least 8 bytes remain, so that the common path is a shift and a mask. It never writes
/// to its input: segments are read straight from a read-only mmap. Reading past the end
/// throws `FormatError.truncated`.
public struct BitReader {
    @usableFromInline let base: UnsafeRawPointer?
    @usableFromInline let byteCount: Int
    /// Index of the next byte to load into `buffer`.
    @usableFromInline var nextByte: Int = 0
    /// Valid bits, left-aligned. Bits below the valid ones are either zero or the stream's
    /// own following bits, so ORing in a new load at `valid` is always correct.
    @usableFromInline var buffer: UInt64 = 0
    @usableFromInline var valid: Int = 0
    /// Offset of `base` in the enclosing file, for error messages.
    @usableFromInline let baseOffset: Int

    public init(_ bytes: UnsafeRawBufferPointer, baseOffset: Int = 0) {
        self.base = bytes.baseAddress
        self.byteCount = bytes.count
        self.baseOffset = baseOffset
    }

    /// Bits consumed so far.
    public var bitPosition: Int { nextByte * 8 - valid }

    /// Bits left in the input.
    public var bitsRemaining: Int { byteCount * 8 - bitPosition }

    @inlinable @inline(__always)
    mutating func refill() {
        guard let base else { return }
        if nextByte &+ 8 <= byteCount {
            let word = UInt64(bigEndian: base.loadUnaligned(fromByteOffset: nextByte, as: UInt64.self))
            let take = (64 &- valid) &>> 3
            if take == 0 { return }
            buffer |= word &>> UInt64(valid)
            nextByte &+= take
            valid &+= take &* 8
        } else {
            while valid <= 56 && nextByte < byteCount {
                let byte = UInt64(base.load(fromByteOffset: nextByte, as: UInt8.self))
                buffer |= byte &<< UInt64(56 &- valid)
                nextByte &+= 1
                valid &+= 8
            }
        }
    }

    @usableFromInline
    func truncated(_ what: StaticString, needed: Int) -> FormatError {
        FormatError(.truncated, "\(what): needed \(needed) more bits, \(bitsRemaining) left",
                    offset: baseOffset + bitPosition / 8)
    }

    /// Reads `count` bits (0 ≤ count ≤ 64) as the low bits of the result.
    @inlinable @inline(__always)
    public mutating func read(bits count: Int, _ what: StaticString = "bits") throws(FormatError) -> UInt64 {
        if count > 56 { return try readWide(bits: count, what) }
        if valid < count {
            refill()
            if valid < count { throw truncated(what, needed: count) }
        }
        if count == 0 { return 0 }
        let v = buffer &>> UInt64(64 &- count)
        buffer &<<= UInt64(count)
        valid &-= count
        return v
    }

    /// Makes at least `count` (≤ 57) bits available to `peek` if the input has them;
    /// returns false if it does not.
    @inlinable @inline(__always)
    public mutating func ensure(bits count: Int) -> Bool {
        if valid < count { refill() }
        return valid >= count
    }

    /// The next `count` (1…57) bits without consuming them; `ensure(bits:)` must have
    /// returned true for at least `count`.
    @inlinable @inline(__always)
    public func peek(bits count: Int) -> UInt64 {
        buffer &>> UInt64(64 &- count)
    }

    /// Consumes `count` bits that `ensure(bits:)` made available.
    @inlinable @inline(__always)
    public mutating func consume(bits count: Int) {
        buffer &<<= UInt64(count)
        valid &-= count
    }

    /// Reads 57…64 bits in two steps (a refill adds whole bytes only, so one load may
    /// not hold them). Kept out of line so that `read(bits:)` stays small and inlined.
    @usableFromInline @inline(never)
    mutating func readWide(bits count: Int, _ what: StaticString) throws(FormatError) -> UInt64 {
        let high = try read(bits: count - 32, what)
        let low = try read(bits: 32, what)
        return (high &<< 32) | low
    }

    @inlinable @inline(__always)
    public mutating func readBit(_ what: StaticString = "bit") throws(FormatError) -> Bool {
        try read(bits: 1, what) != 0
    }

    /// Counts leading one bits, up to `limit` (≤ 56), and consumes them plus the zero
    /// that ends them when fewer than `limit` ones were found. This reads the unary
    /// prefixes `0`, `10`, `110`, … in one step.
    @inlinable @inline(__always)
    public mutating func readUnaryPrefix(limit: Int, _ what: StaticString = "prefix") throws(FormatError) -> Int {
        if valid < limit &+ 1 { refill() }
        let ones = min((~buffer).leadingZeroBitCount, limit)
        let consumed = ones < limit ? ones &+ 1 : ones
        if consumed > valid { throw truncated(what, needed: consumed) }
        buffer &<<= UInt64(consumed)
        valid &-= consumed
        return ones
    }

    /// Counts a run of zero bits (at most `limit`) and consumes them, without consuming
    /// the one that ends the run. Used to decode runs of `0` codes in one step.
    @inlinable @inline(__always)
    public mutating func readZeroRun(limit: Int) -> Int {
        if valid < 57 { refill() }
        let zeros = min(buffer.leadingZeroBitCount, valid, limit)
        buffer = zeros == 64 ? 0 : buffer &<< UInt64(zeros)
        valid &-= zeros
        return zeros
    }
}
