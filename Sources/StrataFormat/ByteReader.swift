/// A cursor over read-only bytes (typically an mmap'd segment).
///
/// `read*` moves the cursor, `get*(at:)` does not. Every read is bounds-checked and
/// throws `FormatError.truncated` naming what was being read; the reader never writes
/// to its input. Offsets are relative to the start of `bytes`; `baseOffset` is added in
/// error messages so that they name the position in the whole file.
public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var readerIndex: Int
    public let baseOffset: Int

    public init(_ bytes: UnsafeRawBufferPointer, baseOffset: Int = 0) {
        self.bytes = bytes
        self.readerIndex = 0
        self.baseOffset = baseOffset
    }

    public var readableBytes: Int { bytes.count - readerIndex }

    @inlinable
    func fileOffset(_ index: Int) -> Int { baseOffset + index }

    public func truncated(_ what: String, needed: Int) -> FormatError {
        FormatError(.truncated, "\(what): needed \(needed) bytes, \(readableBytes) left", offset: baseOffset + readerIndex)
    }

    /// A *malformed* error at the reader's position: the first byte of the next item, or
    /// of the bytes left over where a structure should end.
    public func malformed(_ what: String) -> FormatError {
        FormatError(.malformed, what, offset: baseOffset + readerIndex)
    }

    /// A *malformed* error naming the first byte of an item already read, at `index` (a
    /// `readerIndex` taken before it was read): Format.md's rule for where an error is.
    public func malformed(_ what: String, at index: Int) -> FormatError {
        FormatError(.malformed, what, offset: baseOffset + index)
    }

    public mutating func readInteger<T: FixedWidthInteger>(as: T.Type = T.self, _ what: String) throws(FormatError) -> T {
        let size = MemoryLayout<T>.size
        guard readableBytes >= size else { throw truncated(what, needed: size) }
        let v = T(littleEndian: bytes.loadUnaligned(fromByteOffset: readerIndex, as: T.self))
        readerIndex += size
        return v
    }

    public func getInteger<T: FixedWidthInteger>(at index: Int, as: T.Type = T.self) -> T? {
        guard index >= 0, index + MemoryLayout<T>.size <= bytes.count else { return nil }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: T.self))
    }

    public mutating func readFloat64(_ what: String) throws(FormatError) -> Double {
        Double(bitPattern: try readInteger(as: UInt64.self, what))
    }

    /// A LEB128 varint. One-byte varints (most counts, gaps and small values) take an
    /// inlined path; longer ones the loop.
    @inline(__always)
    public mutating func readVarUInt(_ what: String) throws(FormatError) -> UInt64 {
        if readerIndex < bytes.count {
            let byte = bytes[readerIndex]
            if byte < 0x80 {
                readerIndex += 1
                return UInt64(byte)
            }
        }
        return try readLongVarUInt(what)
    }

    @inline(never)
    mutating func readLongVarUInt(_ what: String) throws(FormatError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var index = readerIndex
        while true {
            guard index < bytes.count else { throw truncated(what, needed: index - readerIndex + 1) }
            let byte = bytes[index]
            index += 1
            if shift == 63 && byte > 1 { throw malformed("\(what): varint overflows 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
            if shift > 63 { throw malformed("\(what): varint longer than 10 bytes") }
        }
        readerIndex = index
        return result
    }

    public mutating func readVarInt(_ what: String) throws(FormatError) -> Int64 {
        ZigZag.decode(try readVarUInt(what))
    }

    /// Reads a varint that must fit in `0...limit` (counts, lengths, indexes).
    @inline(__always)
    public mutating func readCount(_ what: String, limit: Int) throws(FormatError) -> Int {
        let start = readerIndex
        let v = try readVarUInt(what)
        guard v <= UInt64(limit) else {
            throw FormatError(.malformed, "\(what) \(v) exceeds limit \(limit)", offset: baseOffset + start)
        }
        return Int(v)
    }

    public mutating func readBytes(count: Int, _ what: String) throws(FormatError) -> UnsafeRawBufferPointer {
        guard count >= 0, readableBytes >= count else { throw truncated(what, needed: count) }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[readerIndex..<(readerIndex + count)])
        readerIndex += count
        return slice
    }

    public mutating func readString(_ what: String, maxBytes: Int = 1 << 20) throws(FormatError) -> String {
        let n = try readCount("\(what) length", limit: maxBytes)
        let raw = try readBytes(count: n, what)
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw FormatError(.malformed, "\(what) is not valid UTF-8", offset: baseOffset + readerIndex - n)
        }
        return s
    }

    public mutating func skip(_ count: Int, _ what: String) throws(FormatError) {
        guard count >= 0, readableBytes >= count else { throw truncated(what, needed: count) }
        readerIndex += count
    }
}
