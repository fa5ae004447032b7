/// Chooses, per block, the smallest of the Float64 encodings: decimal, Gorilla, plain.
public enum FloatCodec {
    /// Appends the smallest encoding of `values` and returns which it is.
    public static func encode(_ values: UnsafeBufferPointer<Double>, into out: inout [UInt8]) -> Encoding {
        let start = out.count
        let plainSize = 8 * values.count
        // Decimal first, straight into `out`: decimal-friendly data rarely does better under
        // Gorilla, so Gorilla is tried only when decimal needs 2 bytes a value or more.
        if DecimalCodec.encode(values, into: &out) {
            let decimalSize = out.count - start
            if decimalSize <= 2 * values.count { return .float64Decimal }
            var gorilla: [UInt8] = []
            GorillaCodec.encode(values, into: &gorilla)
            if decimalSize <= gorilla.count && decimalSize <= plainSize { return .float64Decimal }
            out.removeSubrange(start...)
            if gorilla.count <= plainSize {
                out.append(contentsOf: gorilla)
                return .float64Gorilla
            }
        } else {
            GorillaCodec.encode(values, into: &out)
            if out.count - start <= plainSize { return .float64Gorilla }
            out.removeSubrange(start...)
        }
        encodePlain(values, into: &out)
        return .float64Plain
    }

    public static func encodePlain(_ values: UnsafeBufferPointer<Double>, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + values.count * 8)
        for v in values { out.writeInteger(v.bitPattern) }
    }

    public static func decode(_ encoding: Encoding, _ reader: inout ByteReader, count: Int) throws(FormatError) -> [Double] {
        try .decoding(count: count) { (out) throws(FormatError) in
            switch encoding {
            case .float64Plain:
                let raw = try reader.readBytes(count: count * 8, "f64-plain values")
                for i in 0..<count {
                    out[i] = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))
                }
            case .float64Gorilla:
                try GorillaCodec.decode(&reader, count: count, into: out)
            case .float64Decimal:
                try DecimalCodec.decode(&reader, count: count, into: out)
            default:
                throw FormatError(.unsupported, "\(encoding) is not a Float64 encoding", offset: reader.baseOffset)
            }
        }
    }
}
