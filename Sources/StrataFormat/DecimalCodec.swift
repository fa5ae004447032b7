/// Float64 decimal encoding (`f64-decimal`), in the spirit of ALP (Afroozeh et al.,
/// SIGMOD 2024): prices such as 4512.25 are decimals with few digits, so they are
/// stored as integers n with value = Double(n) / 10^e, and the integers go through the
/// integer encodings (where a tick grid of 0.25 becomes a common divisor of 25).
///
///     │ exponent e <1b, 0…18> │ integer encoding id <1b> │ integer payload │
///     │ exception count <varint> │ (index gap <varint>, bits <8b LE>)* │
///
/// A value is an exception when n = round(v·10^e) does not give back exactly the same
/// bits through the IEEE division Double(n) / 10^e, or |n| > 2^53: NaN, ±Inf, -0.0 and
/// values with more digits. An exception's integer slot repeats the previous integer so
/// that deltas stay small; its 64 bits are stored after the integers. Decoding is one
/// correctly rounded division per value, so the codec is lossless by construction.
public enum DecimalCodec {
    @usableFromInline
    static let powersOfTen: [Double] = (0...22).map { e in
        var p = 1.0
        for _ in 0..<e { p *= 10 }
        return p
    }

    public static let maxExponent = 18

    @inlinable @inline(__always)
    static func scaled(_ v: Double, _ p: Double) -> Int64? {
        // Round to nearest by adding and subtracting 1.5·2^52 (exact for |x| < 2^51; any
        // other x fails the checks below and becomes an exception, so the trick is safe).
        let x = v * p
        let s = (x + 6_755_399_441_055_744.0) - 6_755_399_441_055_744.0
        guard s.magnitude <= 9_007_199_254_740_992 else { return nil }  // 2^53, also rejects NaN
        let n = Int64(s)
        guard (Double(n) / p).bitPattern == v.bitPattern else { return nil }
        return n
    }

    /// The exponent that represents the most sampled values (smallest wins ties), and how
    /// many of the sample it missed.
    static func chooseExponent(_ values: UnsafeBufferPointer<Double>) -> (exponent: Int, misses: Int, sampled: Int) {
        let n = values.count
        let sampleCount = min(n, 64)
        var best = (exponent: 0, misses: Int.max, sampled: sampleCount)
        for e in 0...maxExponent {
            let p = powersOfTen[e]
            var misses = 0
            for s in 0..<sampleCount {
                let i = sampleCount == n ? s : s * (n - 1) / (sampleCount - 1)
                if scaled(values[i], p) == nil { misses += 1 }
            }
            if misses < best.misses { best = (e, misses, sampleCount) }
            if misses == 0 { break }
        }
        return best
    }

    /// Appends the encoding if it is worth trying (few exceptions); returns false and
    /// leaves `out` untouched otherwise.
    public static func encode(_ values: UnsafeBufferPointer<Double>, into out: inout [UInt8],
                              maxExceptionFraction: Double = 0.25) -> Bool {
        guard !values.isEmpty else { return false }
        let choice = chooseExponent(values)
        if Double(choice.misses) > Double(choice.sampled) * maxExceptionFraction { return false }
        let p = powersOfTen[choice.exponent]
        var integers = [Int64](repeating: 0, count: values.count)
        var exceptions: [(index: Int, bits: UInt64)] = []
        var previous: Int64 = 0
        for i in 0..<values.count {
            if let n = scaled(values[i], p) {
                integers[i] = n
                previous = n
            } else {
                integers[i] = previous
                exceptions.append((i, values[i].bitPattern))
            }
        }
        if Double(exceptions.count) > Double(values.count) * maxExceptionFraction { return false }
        out.append(UInt8(choice.exponent))
        let idIndex = out.count
        out.append(0)
        let id = IntegerCodec.encode(integers, into: &out)
        out[idIndex] = id.rawValue
        out.writeVarUInt(UInt64(exceptions.count))
        var last = 0
        for e in exceptions {
            out.writeVarUInt(UInt64(e.index - last))
            out.writeInteger(e.bits)
            last = e.index
        }
        return true
    }

    public static func decode(_ reader: inout ByteReader, count: Int,
                              into out: UnsafeMutablePointer<Double>) throws(FormatError) {
        let exponent = Int(try reader.readInteger(as: UInt8.self, "f64-decimal exponent"))
        guard exponent <= maxExponent else { throw reader.malformed("f64-decimal exponent \(exponent) > \(maxExponent)", at: reader.readerIndex - 1) }
        let idByte = try reader.readInteger(as: UInt8.self, "f64-decimal integer encoding")
        guard let id = Encoding(rawValue: idByte),
              id == .int64FrameOfReference || id == .int64DeltaFrameOfReference else {
            throw FormatError(.unsupported, "f64-decimal integer encoding 0x\(String(idByte, radix: 16))",
                              offset: reader.baseOffset + reader.readerIndex - 1)
        }
        let p = powersOfTen[exponent]
        try withUnsafeTemporaryAllocation(of: Int64.self, capacity: max(count, 1)) { (ints) throws(FormatError) in
            try IntegerCodec.decode(id, &reader, count: count, into: ints.baseAddress!)
            for i in 0..<count { out[i] = Double(ints[i]) / p }
        }
        let exceptionCount = try reader.readCount("f64-decimal exception count", limit: count)
        var index = 0
        for k in 0..<exceptionCount {
            let gapAt = reader.readerIndex
            let gap = try reader.readCount("f64-decimal exception index", limit: count)
            index += gap
            guard index < count, k == 0 || gap > 0 else { throw reader.malformed("f64-decimal exception index \(index) out of order or range", at: gapAt) }
            out[index] = Double(bitPattern: try reader.readInteger(as: UInt64.self, "f64-decimal exception bits"))
        }
    }
}
