/// String encoding (`str-dict`): a per-block dictionary in order of first appearance,
/// then each row's index bit-packed at the smallest width that holds the largest index.
///
///     │ entry count <varint> │ (byte length <varint>, UTF-8 bytes)* │ width <1b> │
///     │ packed indexes <ceil(n·width/8) b, little-endian bit order> │
public enum StringDictionaryCodec {
    public static func encode(_ values: some Collection<String>, into out: inout [UInt8]) {
        var index: [String: UInt64] = [:]
        var entries: [String] = []
        var codes: [UInt64] = []
        codes.reserveCapacity(values.count)
        for v in values {
            if let i = index[v] {
                codes.append(i)
            } else {
                let i = UInt64(entries.count)
                index[v] = i
                entries.append(v)
                codes.append(i)
            }
        }
        out.writeVarUInt(UInt64(entries.count))
        for e in entries { out.writeString(e) }
        let width = entries.count <= 1 ? 0 : 64 - UInt64(entries.count - 1).leadingZeroBitCount
        out.append(UInt8(width))
        codes.withUnsafeBufferPointer { BitPacking.pack($0, width: width, into: &out) }
    }

    public static func decode(_ reader: inout ByteReader, count: Int) throws(FormatError) -> [String] {
        let entryCount = try reader.readCount("str-dict entry count", limit: max(count, 1))
        var entries: [String] = []
        entries.reserveCapacity(entryCount)
        for _ in 0..<entryCount { entries.append(try reader.readString("str-dict entry", maxBytes: 1 << 24)) }
        let width = Int(try reader.readInteger(as: UInt8.self, "str-dict index width"))
        guard width <= 32 else { throw reader.malformed("str-dict index width \(width) > 32", at: reader.readerIndex - 1) }
        let packedAt = reader.readerIndex
        let packed = try reader.readBytes(count: BitPacking.byteCount(count: count, width: width), "str-dict indexes")
        var result = [String]()
        result.reserveCapacity(count)
        var bad: (row: Int, code: UInt64)?
        BitPacking.unpack(packed, count: count, width: width) { i, code in
            if code < UInt64(entries.count) {
                result.append(entries[Int(code)])
            } else {
                if bad == nil { bad = (i, code) }
                result.append("")
            }
        }
        if count > 0 && entryCount == 0 { throw reader.malformed("str-dict has rows but no entries", at: 0) }
        // Named at the byte holding the first bit of the first bad index.
        if let bad { throw reader.malformed("str-dict index \(bad.code) outside dictionary of \(entryCount)", at: packedAt + bad.row * width / 8) }
        return result
    }
}
