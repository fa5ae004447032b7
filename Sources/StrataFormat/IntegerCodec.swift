/// Int64 encodings: frame of reference with a common divisor, bit-packing and patches
/// (`int-for`), and the same applied to the deltas (`int-delta-for`).
///
/// `int-for` payload (see Format.md):
///
///     │ base <zigzag varint> │ divisor <varint ≥ 1> │ width <1b> │ patch count <varint> │
///     │ packed residuals <ceil(n·width/8) b> │ patches: (index gap <varint>, high bits <varint>)* │
///
/// value[i] = base + divisor · (packed[i] | high[i] << width), all arithmetic modulo 2^64.
/// Constant runs cost a few bytes per block; a run with a constant step costs the same
/// under `int-delta-for`.
public enum IntegerCodec {
    /// How a sequence will be encoded: chosen by `plan`, written by `write`.
    @usableFromInline
    struct Plan {
        var base: Int64
        var divisor: UInt64
        var width: Int
        var patchCount: Int
        /// Estimated encoded size in bits.
        var costBits: Int
    }

    @inlinable
    static func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var a = a, b = b
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }

    @inlinable @inline(__always)
    static func bitWidth(_ v: UInt64) -> Int { 64 - v.leadingZeroBitCount }

    static func varintBytes(_ v: UInt64) -> Int { max(1, (bitWidth(v) + 6) / 7) }

    /// Exact division by a constant: for d = 2^k · odd, a multiple r of d divided by d is
    /// (r >> k) · odd⁻¹ mod 2^64, a shift and a multiply instead of a 64-bit divide, and
    /// r is a multiple of d when that product is ≤ (2^64 − 1) / odd (Granlund–Montgomery).
    @usableFromInline
    struct ExactDivisor {
        let shift: UInt64
        let inverse: UInt64
        let limit: UInt64
        let lowMask: UInt64

        init(_ d: UInt64) {
            precondition(d > 0)
            let k = UInt64(d.trailingZeroBitCount)
            let odd = d >> k
            var x = odd  // Newton's iteration doubles the correct low bits each step: 3 → 6 → … → 96.
            for _ in 0..<5 { x = x &* (2 &- odd &* x) }
            shift = k
            inverse = x
            limit = UInt64.max / odd
            lowMask = (1 << k) &- 1
        }

        @inline(__always)
        func divides(_ r: UInt64) -> Bool {
            // Both tests without a branch between them.
            (r & lowMask) | ((r >> shift) &* inverse > limit ? 1 : 0) == 0
        }

        /// r / d for a multiple r of d.
        @inline(__always)
        func quotient(_ r: UInt64) -> UInt64 { (r >> shift) &* inverse }
    }

    /// Counts residual widths into four interleaved histograms of 65 entries.
    @inline(__always)
    static func widths(_ values: UnsafeBufferPointer<Int64>, _ lo: Int64, _ d: ExactDivisor, divide: Bool,
                       into h: UnsafeMutableBufferPointer<Int>) {
        @inline(__always) func width(_ v: Int64) -> Int {
            let r = UInt64(bitPattern: v &- lo)
            return bitWidth(divide ? d.quotient(r) : r)
        }
        let n = values.count
        var i = 0
        while i &+ 4 <= n {
            h[width(values[i])] &+= 1
            h[65 &+ width(values[i &+ 1])] &+= 1
            h[130 &+ width(values[i &+ 2])] &+= 1
            h[195 &+ width(values[i &+ 3])] &+= 1
            i &+= 4
        }
        while i < n {
            h[width(values[i])] &+= 1
            i &+= 1
        }
    }

    /// Picks base, divisor and width for `values` (which are not modified).
    static func plan(_ values: UnsafeBufferPointer<Int64>) -> Plan {
        let n = values.count
        guard n > 0 else { return Plan(base: 0, divisor: 1, width: 0, patchCount: 0, costBits: 24) }
        // One pass for the minimum and the common divisor of the residuals: the gcd of
        // {v − min} equals the gcd of {v − v₀}, so it needs no minimum first. A cheap
        // divisibility test per value; a real gcd only when the divisor shrinks.
        let v0 = values[0]
        var lo = v0
        var g: UInt64 = 0
        var i = 0
        // Until the first value that differs from v₀ there is no divisor yet.
        while i < n && values[i] == v0 { i &+= 1 }
        if i < n {
            let first = values[i]
            g = first >= v0 ? UInt64(bitPattern: first &- v0) : UInt64(bitPattern: v0 &- first)
            var divisor = ExactDivisor(g)
            // Zero passes the divisibility test, so the only branch left is the rare one.
            while i < n {
                let v = values[i]
                lo = Swift.min(lo, v)
                let r = v >= v0 ? UInt64(bitPattern: v &- v0) : UInt64(bitPattern: v0 &- v)  // |v − v₀| < 2^64
                if g != 1 && !divisor.divides(r) {
                    g = gcd(g, r)
                    divisor = ExactDivisor(g)
                }
                i &+= 1
            }
        }
        if g == 0 { g = 1 }
        // Histogram of residual widths, in four interleaved copies so that consecutive
        // values of the same width do not wait on each other's increment.
        var histogram = [Int](repeating: 0, count: 65)
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 4 * 65) { h in
            h.initialize(repeating: 0)
            if g == 1 {
                widths(values, lo, ExactDivisor(1), divide: false, into: h)
            } else {
                widths(values, lo, ExactDivisor(g), divide: true, into: h)
            }
            for w in 0..<65 { histogram[w] = h[w] &+ h[65 &+ w] &+ h[130 &+ w] &+ h[195 &+ w] }
        }
        var maxWidth = 64
        while maxWidth > 0 && histogram[maxWidth] == 0 { maxWidth -= 1 }
        // Cost of width w: n·w bits plus, for each value wider than w, a patch of about
        // one byte of index gap and the varint of its high bits.
        var best = (width: maxWidth, patches: 0, cost: n * maxWidth)
        var wider = 0
        var w = maxWidth - 1
        while w >= 0 {
            wider += histogram[w + 1]
            let patchBits = 8 + 8 * max(1, (maxWidth - w + 6) / 7)
            let cost = n * w + wider * patchBits
            if cost < best.cost { best = (w, wider, cost) }
            w -= 1
        }
        let header = 8 * (varintBytes(ZigZag.encode(lo)) + varintBytes(g) + 1 + varintBytes(UInt64(best.patches)))
        return Plan(base: lo, divisor: g, width: best.width, patchCount: best.patches, costBits: best.cost + header)
    }

    static func write(_ values: UnsafeBufferPointer<Int64>, plan: Plan, into out: inout [UInt8]) {
        out.writeVarInt(plan.base)
        out.writeVarUInt(plan.divisor)
        out.append(UInt8(plan.width))
        out.writeVarUInt(UInt64(plan.patchCount))
        let mask: UInt64 = plan.width == 64 ? ~0 : (1 << UInt64(plan.width)) - 1
        var patches: [(index: Int, high: UInt64)] = []
        patches.reserveCapacity(plan.patchCount)
        let divisor = ExactDivisor(plan.divisor)
        let base = plan.base
        let width = plan.width
        // Residuals are computed and bit-packed in one pass (see BitPacking for the order).
        if width > 0 && !values.isEmpty {
            let start = out.count
            out.append(contentsOf: repeatElement(0, count: BitPacking.byteCount(count: values.count, width: width) + 8))
            out.withUnsafeMutableBytes { raw in
                let p = raw.baseAddress! + start
                let w = UInt64(width)
                var accumulator: UInt64 = 0
                var filled: UInt64 = 0
                var offset = 0
                for i in 0..<values.count {
                    let r = divisor.quotient(UInt64(bitPattern: values[i] &- base))
                    if r & ~mask != 0 { patches.append((i, r >> w)) }
                    let x = r & mask
                    accumulator |= x &<< filled
                    filled &+= w
                    if filled >= 64 {
                        p.storeBytes(of: accumulator.littleEndian, toByteOffset: offset, as: UInt64.self)
                        offset &+= 8
                        filled &-= 64
                        accumulator = filled == 0 ? 0 : x &>> (w &- filled)
                    }
                }
                if filled > 0 { p.storeBytes(of: accumulator.littleEndian, toByteOffset: offset, as: UInt64.self) }
            }
            out.removeLast(8)
        } else {
            // Width 0: nothing is packed; every non-zero residual is a patch.
            for i in 0..<values.count {
                let r = divisor.quotient(UInt64(bitPattern: values[i] &- base))
                if r != 0 { patches.append((i, r)) }
            }
        }
        precondition(patches.count == plan.patchCount, "patch plan out of date")
        var last = 0
        for p in patches {
            out.writeVarUInt(UInt64(p.index - last))
            out.writeVarUInt(p.high)
            last = p.index
        }
    }

    /// Appends the smaller of `int-for` and `int-delta-for` and returns which it chose.
    @discardableResult
    public static func encode(_ values: UnsafeBufferPointer<Int64>, into out: inout [UInt8]) -> Encoding {
        let n = values.count
        if n < 2 {
            write(values, plan: plan(values), into: &out)
            return .int64FrameOfReference
        }
        // Decide on a sample when one encoding is clearly smaller there; plan both on the
        // whole block only when the sample leaves it open.
        let sampleSize = 512
        if n > 2 * sampleSize {
            let sample = UnsafeBufferPointer(rebasing: values[0..<sampleSize])
            let directSample = plan(sample).costBits
            let deltaSample = withDeltas(sample) { plan($0).costBits } + 8 * varintBytes(ZigZag.encode(values[0]))
            if directSample * 4 < deltaSample * 3 {
                write(values, plan: plan(values), into: &out)
                return .int64FrameOfReference
            }
            if deltaSample * 4 < directSample * 3 {
                out.writeVarInt(values[0])
                withDeltas(values) { write($0, plan: plan($0), into: &out) }
                return .int64DeltaFrameOfReference
            }
        }
        let direct = plan(values)
        if direct.costBits <= 8 {
            write(values, plan: direct, into: &out)
            return .int64FrameOfReference
        }
        return withDeltas(values) { d in
            let delta = plan(d)
            let deltaCost = delta.costBits + 8 * varintBytes(ZigZag.encode(values[0]))
            if deltaCost < direct.costBits {
                out.writeVarInt(values[0])
                write(d, plan: delta, into: &out)
                return .int64DeltaFrameOfReference
            }
            write(values, plan: direct, into: &out)
            return .int64FrameOfReference
        }
    }

    /// Calls `body` with the n − 1 differences of consecutive values.
    static func withDeltas<R>(_ values: UnsafeBufferPointer<Int64>, _ body: (UnsafeBufferPointer<Int64>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: Int64.self, capacity: values.count - 1) { d in
            for i in 1..<values.count { d[i &- 1] = values[i] &- values[i &- 1] }
            return body(UnsafeBufferPointer(d))
        }
    }

    public static func encode(_ values: [Int64], into out: inout [UInt8]) -> Encoding {
        values.withUnsafeBufferPointer { encode($0, into: &out) }
    }

    /// Encodes with a given encoding (for tests and for callers that must pin one).
    public static func encode(_ values: [Int64], as encoding: Encoding, into out: inout [UInt8]) {
        values.withUnsafeBufferPointer { v in
            switch encoding {
            case .int64FrameOfReference:
                write(v, plan: plan(v), into: &out)
            case .int64DeltaFrameOfReference:
                precondition(!v.isEmpty, "int-delta-for needs at least one value")
                out.writeVarInt(v[0])
                var deltas = [Int64](repeating: 0, count: v.count - 1)
                for i in 1..<v.count { deltas[i - 1] = v[i] &- v[i - 1] }
                deltas.withUnsafeBufferPointer { write($0, plan: plan($0), into: &out) }
            default:
                preconditionFailure("\(encoding) is not an integer encoding")
            }
        }
    }

    /// Decodes `count` values of `encoding` into `out` (which has room for `count`).
    public static func decode(_ encoding: Encoding, _ reader: inout ByteReader, count: Int,
                              into out: UnsafeMutablePointer<Int64>) throws(FormatError) {
        switch encoding {
        case .int64FrameOfReference:
            try decodeFrameOfReference(&reader, count: count, into: out)
        case .int64DeltaFrameOfReference:
            guard count > 0 else { throw reader.malformed("int-delta-for with zero values") }
            let first = try reader.readVarInt("int-delta-for first value")
            out[0] = first
            try decodeFrameOfReference(&reader, count: count - 1, into: out + 1)
            var acc = first
            for i in 1..<count {
                acc = acc &+ out[i]
                out[i] = acc
            }
        default:
            throw FormatError(.unsupported, "encoding \(encoding) is not an integer encoding", offset: reader.baseOffset + reader.readerIndex)
        }
    }

    public static func decode(_ encoding: Encoding, _ reader: inout ByteReader, count: Int) throws(FormatError) -> [Int64] {
        try .decoding(count: count) { (out) throws(FormatError) in try decode(encoding, &reader, count: count, into: out) }
    }

    static func decodeFrameOfReference(_ reader: inout ByteReader, count: Int,
                                       into out: UnsafeMutablePointer<Int64>) throws(FormatError) {
        let base = try reader.readVarInt("int-for base")
        let divisorAt = reader.readerIndex
        let divisor = try reader.readVarUInt("int-for divisor")
        guard divisor >= 1 else { throw reader.malformed("int-for divisor is 0", at: divisorAt) }
        let width = Int(try reader.readInteger(as: UInt8.self, "int-for width"))
        guard width <= 64 else { throw reader.malformed("int-for width \(width) > 64", at: reader.readerIndex - 1) }
        let patchCount = try reader.readCount("int-for patch count", limit: count)
        let packed = try reader.readBytes(count: BitPacking.byteCount(count: count, width: width), "int-for packed values")
        if divisor == 1 {
            BitPacking.unpack(packed, count: count, width: width) { i, r in
                out[i] = base &+ Int64(bitPattern: r)
            }
        } else {
            let d = Int64(bitPattern: divisor)
            BitPacking.unpack(packed, count: count, width: width) { i, r in
                out[i] = base &+ Int64(bitPattern: r) &* d
            }
        }
        var index = 0
        for p in 0..<patchCount {
            let patchAt = reader.readerIndex
            guard width < 64 else { throw reader.malformed("int-for patch with width 64", at: patchAt) }
            let gap = try reader.readCount("int-for patch index", limit: count)
            index += gap
            guard index < count, p == 0 || gap > 0 else { throw reader.malformed("int-for patch index \(index) out of order or range", at: patchAt) }
            let high = try reader.readVarUInt("int-for patch value")
            // Undo the decoded low part, then rebuild the full residual (no division in
            // the usual case of divisor 1).
            let offset = UInt64(bitPattern: out[index] &- base)
            let low = divisor == 1 ? offset : offset / divisor
            let residual = low | (high << UInt64(width))
            out[index] = base &+ Int64(bitPattern: residual &* divisor)
        }
    }
}
