/// Timestamps (Int64 nanoseconds): delta-of-delta with Gorilla-style buckets, in units
/// of the block's greatest common delta (`ts-dod`).
///
///     │ first <8b, Int64 LE> │ unit <varint ≥ 1> │ bit stream of n−1 codes, MSB first │
///
/// With `unit` the greatest common divisor of the block's deltas, millisecond data in
/// nanoseconds is coded in milliseconds. Code for D = Δᵢ − Δᵢ₋₁ (Δ₀ taken as 0, both in
/// units, modulo 2^64):
///
///     0                 D = 0
///     10    + 7 bits    D in [-64, 63]
///     110   + 9 bits    D in [-256, 255]
///     1110  + 12 bits   D in [-2048, 2047]
///     11110 + 32 bits   D in [-2^31, 2^31 − 1]
///     11111 + 64 bits   any D
///
/// Payload bits are two's complement, most significant first. A run of equal timestamps
/// (Δ = 0 repeated) costs one bit a row, and the decoder consumes such runs whole.
public enum TimestampCodec {
    @usableFromInline
    static let bucketWidths: [Int] = [7, 9, 12, 32, 64]

    public static func encode(_ values: UnsafeBufferPointer<Int64>, into out: inout [UInt8]) {
        precondition(!values.isEmpty, "a block has at least one row")
        out.writeInteger(values[0])
        // Unit: the greatest common divisor of the deltas' magnitudes.
        var unit: UInt64 = 0
        for i in 1..<values.count {
            let d = values[i] &- values[i - 1]
            let m = d.magnitude
            if m != 0 {
                unit = unit == 0 ? m : IntegerCodec.gcd(unit, m)
                if unit == 1 { break }
            }
        }
        if unit == 0 || unit > UInt64(Int64.max) { unit = 1 }
        out.writeVarUInt(unit)
        let u = Int64(unit)
        var writer = BitWriter(appendingTo: out)
        out = []
        var previous: Int64 = 0
        for i in 1..<values.count {
            let delta = (values[i] &- values[i - 1]) / u
            let dod = delta &- previous
            previous = delta
            if dod == 0 {
                writer.write(bits: 0, count: 1)
            } else if dod >= -64 && dod <= 63 {
                writer.write(bits: 0b10, count: 2)
                writer.write(bits: UInt64(bitPattern: dod), count: 7)
            } else if dod >= -256 && dod <= 255 {
                writer.write(bits: 0b110, count: 3)
                writer.write(bits: UInt64(bitPattern: dod), count: 9)
            } else if dod >= -2048 && dod <= 2047 {
                writer.write(bits: 0b1110, count: 4)
                writer.write(bits: UInt64(bitPattern: dod), count: 12)
            } else if dod >= Int64(Int32.min) && dod <= Int64(Int32.max) {
                writer.write(bits: 0b11110, count: 5)
                writer.write(bits: UInt64(bitPattern: dod), count: 32)
            } else {
                writer.write(bits: 0b11111, count: 5)
                writer.write(bits: UInt64(bitPattern: dod), count: 64)
            }
        }
        out = writer.finish()
    }

    public static func encode(_ values: [Int64], into out: inout [UInt8]) {
        values.withUnsafeBufferPointer { encode($0, into: &out) }
    }

    /// Decodes `count` timestamps into `out`.
    public static func decode(_ reader: inout ByteReader, count: Int,
                              into out: UnsafeMutablePointer<Int64>) throws(FormatError) {
        guard count > 0 else { throw reader.malformed("ts-dod with zero rows") }
        let first = try reader.readInteger(as: Int64.self, "ts-dod first timestamp")
        let unitAt = reader.readerIndex
        let unitRaw = try reader.readVarUInt("ts-dod unit")
        guard unitRaw >= 1 && unitRaw <= UInt64(Int64.max) else { throw reader.malformed("ts-dod unit \(unitRaw) out of range", at: unitAt) }
        let unit = Int64(unitRaw)
        let stream = UnsafeRawBufferPointer(rebasing: reader.bytes[reader.readerIndex...])
        // Every timestamp after the first costs at least one bit: a row count beyond that
        // is damage, found before anything is allocated for it.
        guard count - 1 <= stream.count * 8 else {
            throw FormatError(.truncated, "ts-dod claims \(count) rows but its bit stream holds at most \(stream.count * 8 + 1)",
                              offset: reader.baseOffset + reader.readerIndex)
        }
        var bits = BitReader(stream, baseOffset: reader.baseOffset + reader.readerIndex)
        out[0] = first
        var t = first
        var delta: Int64 = 0
        var step: Int64 = 0
        var i = 1
        while i < count {
            // A run of `0` codes: the delta repeats.
            let run = bits.readZeroRun(limit: count - i)
            if run > 0 {
                for k in i..<(i + run) {
                    t = t &+ step
                    out[k] = t
                }
                i += run
                continue
            }
            let ones = try bits.readUnaryPrefix(limit: 5, "ts-dod code")
            if ones == 0 {
                throw FormatError(.truncated, "ts-dod: stream ended after \(i) of \(count) timestamps",
                                  offset: reader.baseOffset + reader.readerIndex + bits.bitPosition / 8)
            }
            let width = bucketWidths[ones - 1]
            let raw = try bits.read(bits: width, "ts-dod delta of delta")
            // Sign-extend the two's complement payload.
            let dod = width == 64 ? Int64(bitPattern: raw) : Int64(bitPattern: raw << UInt64(64 - width)) >> Int64(64 - width)
            delta = delta &+ dod
            step = delta &* unit
            t = t &+ step
            out[i] = t
            i += 1
        }
        try reader.skip((bits.bitPosition + 7) / 8, "ts-dod bit stream")
    }

    public static func decode(_ reader: inout ByteReader, count: Int) throws(FormatError) -> [Int64] {
        try .decoding(count: count) { (out) throws(FormatError) in try decode(&reader, count: count, into: out) }
    }
}
