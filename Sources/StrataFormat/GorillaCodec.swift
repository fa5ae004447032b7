/// Float64 Gorilla XOR encoding (`f64-gorilla`), as in Pelkonen et al., VLDB 2015.
///
/// A bit stream, most significant bit first: the first value's 64 bits, then for each
/// following value x = bits(v) XOR bits(previous):
///
///     0                                    x = 0 (value repeats)
///     10 + meaningful bits                 x fits in the previous window (same leading
///                                          and trailing zero counts or more)
///     11 + leading <5b> + length <6b> + meaningful bits
///                                          new window; leading zeros capped at 31,
///                                          length 64 written as 0
///
/// It is lossless for every bit pattern: NaN payloads, -0.0, infinities, subnormals.
public enum GorillaCodec {
    public static func encode(_ values: UnsafeBufferPointer<Double>, into out: inout [UInt8]) {
        guard let firstValue = values.first else { return }
        // Worst case: 64 bits, then 2 + 5 + 6 + 64 bits a value; plus a word of slack.
        let maxBytes = 8 + (values.count - 1) * 10 + 8
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: maxBytes))
        let used = out.withUnsafeMutableBytes { raw in
            var writer = RawBitWriter(raw.baseAddress! + start)
            var previous = firstValue.bitPattern
            writer.write(bits: previous, count: 64)
            var leading = Int.max  // no window yet
            var trailing = 0
            for i in 1..<values.count {
                let bits = values[i].bitPattern
                let x = bits ^ previous
                previous = bits
                if x == 0 {
                    writer.write(bits: 0, count: 1)
                    continue
                }
                let lz = min(x.leadingZeroBitCount, 31)
                let tz = x.trailingZeroBitCount
                if leading != Int.max && lz >= leading && tz >= trailing {
                    writer.write(bits: 0b10, count: 2)
                    writer.write(bits: x >> UInt64(trailing), count: 64 - leading - trailing)
                } else {
                    leading = lz
                    trailing = tz
                    let length = 64 - lz - tz
                    // 11, leading <5b>, length <6b> (64 written as 0).
                    writer.write(bits: (0b11 << 11) | (UInt64(lz) << 6) | UInt64(length & 63), count: 13)
                    writer.write(bits: x >> UInt64(tz), count: length)
                }
            }
            return writer.finish()
        }
        out.removeLast(maxBytes - used)
    }

    public static func encode(_ values: [Double], into out: inout [UInt8]) {
        values.withUnsafeBufferPointer { encode($0, into: &out) }
    }

    public static func decode(_ reader: inout ByteReader, count: Int,
                              into out: UnsafeMutablePointer<Double>) throws(FormatError) {
        guard count > 0 else { return }
        let stream = UnsafeRawBufferPointer(rebasing: reader.bytes[reader.readerIndex...])
        var bits = BitReader(stream, baseOffset: reader.baseOffset + reader.readerIndex)
        var previous = try bits.read(bits: 64, "f64-gorilla first value")
        out[0] = Double(bitPattern: previous)
        var leading = -1
        var trailing = 0
        var meaningful = 0
        var i = 1
        func failure(_ code: FormatError.Code, _ message: String) -> FormatError {
            FormatError(code, message, offset: reader.baseOffset + reader.readerIndex + bits.bitPosition / 8)
        }
        while i < count {
            // Enough bits for the longest header: 2 control bits, 5 + 6 for a new window.
            if !bits.ensure(bits: 13) {
                // Near the end of the stream: fall back to checked reads.
                if bits.bitsRemaining == 0 { throw failure(.truncated, "f64-gorilla: stream ended after \(i) of \(count) values") }
            }
            let head = bits.peek(bits: 2)
            if head < 2 {
                // `0`: a run of repeated values, consumed whole.
                let run = bits.readZeroRun(limit: count - i)
                let v = Double(bitPattern: previous)
                for k in i..<(i + run) { out[k] = v }
                i += run
                continue
            }
            guard bits.ensure(bits: 2) else { throw failure(.truncated, "f64-gorilla: control bits cut short") }
            if head == 2 {
                guard leading >= 0 else { throw failure(.malformed, "f64-gorilla reuses a window before defining one") }
                bits.consume(bits: 2)
            } else {
                guard bits.ensure(bits: 13) else { throw failure(.truncated, "f64-gorilla: window header cut short") }
                let header = bits.peek(bits: 13)
                leading = Int((header >> 6) & 31)
                var length = Int(header & 63)
                if length == 0 { length = 64 }
                // Named at the byte holding the code's first bit, before it is consumed.
                guard leading + length <= 64 else { throw failure(.malformed, "f64-gorilla window \(leading)+\(length) exceeds 64 bits") }
                bits.consume(bits: 13)
                trailing = 64 - leading - length
                meaningful = length
            }
            let x: UInt64
            if meaningful <= 57, bits.ensure(bits: meaningful) {
                x = bits.peek(bits: meaningful)
                bits.consume(bits: meaningful)
            } else {
                x = try bits.read(bits: meaningful, "f64-gorilla meaningful bits")
            }
            previous ^= x &<< UInt64(trailing)
            out[i] = Double(bitPattern: previous)
            i += 1
        }
        try reader.skip((bits.bitPosition + 7) / 8, "f64-gorilla bit stream")
    }
}
