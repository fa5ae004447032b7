/// Write-ahead log files: a header, then records one after another.
///
///     header: │ magic "STRATWAL" <8b> │ version <2b> │ flags <2b> │ crc32c of the 12 bytes before <4b> │
///     record: │ length <4b> │ length check <4b> │ crc32c <4b> │ payload <length b> │
///
/// `length` counts the payload (1 … maxRecordSize) and `length check` is its bitwise
/// complement, so that a damaged length is recognised as damage at once instead of looking
/// like a record cut short by a crash. The CRC32C covers the 8 length bytes and the payload. Framing is separate
/// from what records hold (`WALRecord`), as in Prometheus's wlog and record packages.
public enum WALLayout {
    public static let magic: [UInt8] = Array("STRATWAL".utf8)
    public static let version: UInt16 = 1
    public static let headerSize = 16
    public static let recordHeaderSize = 12
    /// Largest payload a record may have (64 MiB): a length above it is damage.
    public static let maxRecordSize = 1 << 26

    public static func header() -> [UInt8] {
        FileHeader.encode(magic: magic, version: version)
    }

    /// Appends one framed record.
    public static func frame(_ payload: [UInt8], into out: inout [UInt8]) {
        precondition(!payload.isEmpty && payload.count <= maxRecordSize, "WAL record size out of range")
        var length: [UInt8] = []
        length.writeInteger(UInt32(payload.count))
        length.writeInteger(~UInt32(payload.count))
        var crc = CRC32C.checksum(length)
        crc = payload.withUnsafeBytes { CRC32C.update(crc, $0) }
        out.append(contentsOf: length)
        out.writeInteger(crc)
        out.append(contentsOf: payload)
    }

    /// Checks a file's header. Throws for a file that is not a WAL file or has another version.
    public static func verifyHeader(_ bytes: UnsafeRawBufferPointer) throws(FormatError) {
        try FileHeader.verify(bytes, magic: magic, version: version, kind: "WAL file")
    }

    /// How a scan of a WAL file ended.
    public enum End: Equatable, Sendable {
        /// Every byte belonged to a whole, valid record.
        case clean
        /// The file ends inside a record: a write that was cut short (the usual result of a
        /// crash). `offset` is where the torn record starts.
        case torn(offset: Int)
        /// A record's checksum or length is wrong and more bytes follow it: damage in the
        /// middle. `offset` is where the bad record starts.
        case corrupt(offset: Int, reason: String)
    }

    /// Calls `body(offset, payload)` for each valid record after the header, in order, and
    /// stops at the first record that is torn or damaged. Never writes to `bytes`.
    public static func scan(_ bytes: UnsafeRawBufferPointer, from start: Int = headerSize,
                            _ body: (Int, UnsafeRawBufferPointer) throws -> Void) rethrows -> End {
        var offset = max(start, headerSize)
        let size = bytes.count
        while offset < size {
            guard size - offset >= recordHeaderSize else { return .torn(offset: offset) }
            let rawLength = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let check = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
            let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self))
            let length = Int(rawLength)
            if check != ~rawLength || length == 0 || length > maxRecordSize {
                // All zeros to the end is space the file system allocated but the write never filled.
                if bytes[offset...].allSatisfy({ $0 == 0 }) { return .torn(offset: offset) }
                return .corrupt(offset: offset, reason: check != ~rawLength ? "record length and its check disagree"
                                                                            : "record length \(length) is out of range")
            }
            guard size - offset - recordHeaderSize >= length else { return .torn(offset: offset) }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[(offset + recordHeaderSize)..<(offset + recordHeaderSize + length)])
            var crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + 8)]))
            crc = CRC32C.update(crc, payload)
            if crc != stored {
                let end = offset + recordHeaderSize + length
                // A bad checksum on the very last record is a torn write; earlier, it is damage.
                return end == size ? .torn(offset: offset) : .corrupt(offset: offset, reason: "record checksum mismatch")
            }
            try body(offset, payload)
            offset += recordHeaderSize + length
        }
        return .clean
    }
}
