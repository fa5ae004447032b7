import StrataEngine
import StrataFormat
import StrataPlatform

/// A segment made cold for an object store: its blocks compressed one by one with zstd,
/// followed by an index, so a reader can fetch the index and then only the blocks a query
/// needs, by ranged GETs.
///
///     │ header "STRATCLD" v1 <16b> │ frame 0 │ … │ frame n−1 │ index │ trailer │
///     index:   │ segment's footer offset <8b> │ footer length <4b> │ segment footer (as in the segment file) │
///              │ block count <4b> │
///              │ (offset <8b>, length <4b>, crc32c <4b>) × count │
///     trailer: │ index offset <8b> │ index length <4b> │ crc32c of the index <4b> │ magic "STRATCLD" <8b> │
///     encrypted trailer (header flag 1):
///              │ key id <8b> │ salt <16b> │ index offset <8b> │ index length <4b> │ crc32c <4b> │ magic "STRATCLE" <8b> │
///
/// Each frame is a zstd frame that decompresses to exactly the bytes the block had in the
/// segment (its length is the footer's block length), with the block's own CRC32C; in an
/// encrypted object, frame *i* and the index are sealed with AES-256-GCM as units *i* and
/// 2⁶⁴−1 of an `ObjectCipher`. The index's crc32c per frame covers the stored bytes, so
/// damage in the bucket is found before decompression (and without the key). Header,
/// blocks and footer put back together are the original segment file, byte for byte
/// (`segmentBytes`).
public enum ColdObject {
    public static let magic: [UInt8] = Array("STRATCLD".utf8)
    public static let encryptedMagic: [UInt8] = Array("STRATCLE".utf8)
    public static let version: UInt16 = 1
    /// Header flag: frames and index are encrypted.
    public static let encryptedFlag: UInt16 = 1
    public static let trailerSize = 24
    public static let encryptedTrailerSize = 48
    /// How much of an object's end a reader fetches first: usually trailer and index at once.
    public static let tailGuess = 64 << 10

    /// Where a block lies in the object.
    public struct BlockExtent: Sendable, Equatable {
        public var offset: Int
        public var length: Int
        public var crc: UInt32
    }

    /// The index of a cold object: the segment footer and where each block lies.
    public struct Index: Sendable {
        public var footer: SegmentFooter
        public var extents: [BlockExtent]
        /// Opens the frames of an encrypted object.
        public var cipher: ObjectCipher?
        /// Object bytes that hold blocks `range`, as one span for a single ranged GET.
        public func span(_ range: Range<Int>) -> Range<Int> {
            extents[range.lowerBound].offset..<(extents[range.upperBound - 1].offset + extents[range.upperBound - 1].length)
        }
    }

    /// Makes a cold object from a whole segment file (which is checked first), encrypted
    /// when a cipher is given.
    public static func make(fromSegment segment: UnsafeRawBufferPointer, cipher: ObjectCipher? = nil) throws(FormatError) -> [UInt8] {
        let reader = try SegmentReader(segment)
        var out = FileHeader.encode(magic: magic, version: version, flags: cipher == nil ? 0 : encryptedFlag)
        var extents: [BlockExtent] = []
        for (i, entry) in reader.footer.blocks.enumerated() {
            try reader.verifyBlock(i)
            var frame = Zstd.compress(UnsafeRawBufferPointer(rebasing: segment[entry.offset..<(entry.offset + entry.length)]))
            if let cipher { frame = cipher.seal(frame, unit: UInt64(i)) }
            extents.append(BlockExtent(offset: out.count, length: frame.count, crc: CRC32C.checksum(frame)))
            out += frame
        }
        let indexOffset = out.count
        var footer: [UInt8] = []
        reader.footer.encode(into: &footer)
        var index: [UInt8] = []
        index.writeInteger(UInt64(reader.footer.blocks.last.map { $0.offset + $0.length } ?? SegmentLayout.headerSize))
        index.writeInteger(UInt32(footer.count))
        index += footer
        index.writeInteger(UInt32(extents.count))
        for e in extents {
            index.writeInteger(UInt64(e.offset))
            index.writeInteger(UInt32(e.length))
            index.writeInteger(e.crc)
        }
        if let cipher { index = cipher.seal(index, unit: ObjectCipher.indexUnit) }
        out += index
        if let cipher {
            out.writeInteger(cipher.keyID.value)
            out += cipher.salt
        }
        out.writeInteger(UInt64(indexOffset))
        out.writeInteger(UInt32(index.count))
        out.writeInteger(CRC32C.checksum(index))
        out += cipher == nil ? magic : encryptedMagic
        return out
    }

    /// What an object's trailer says: where the index lies, its checksum, and for an
    /// encrypted object the key id and salt that sealed it.
    public struct Trailer: Sendable {
        public var index: Range<Int>
        public var crc: UInt32
        public var keyID: KeyID?
        public var salt: [UInt8]
    }

    /// Reads the trailer from the end of an object: `tail` holds the object's last bytes
    /// (at least the trailer), `size` is the whole object's size.
    public static func trailer(tail: UnsafeRawBufferPointer, objectSize size: Int) throws(FormatError) -> Trailer {
        guard size >= FileHeader.size + trailerSize, tail.count >= trailerSize, tail.count <= size else {
            throw FormatError(.truncated, "cold object of \(size) bytes is too short", offset: 0)
        }
        let ending = Array(tail[(tail.count - 8)...])
        let encrypted = ending == encryptedMagic
        guard encrypted || ending == magic else {
            throw FormatError(.badMagic, "not a Strata cold object (no STRATCLD or STRATCLE magic at the end)", offset: size - 8)
        }
        let trailerLength = encrypted ? encryptedTrailerSize : trailerSize
        guard size >= FileHeader.size + trailerLength, tail.count >= trailerLength else {
            throw FormatError(.truncated, "encrypted cold object of \(size) bytes is too short", offset: 0)
        }
        let t = tail.count - 24
        guard let indexOffset = Int(exactly: UInt64(littleEndian: tail.loadUnaligned(fromByteOffset: t, as: UInt64.self))) else {
            throw FormatError(.malformed, "cold object index offset is out of range", offset: size - 24)
        }
        let indexLength = Int(UInt32(littleEndian: tail.loadUnaligned(fromByteOffset: t + 8, as: UInt32.self)))
        let crc = UInt32(littleEndian: tail.loadUnaligned(fromByteOffset: t + 12, as: UInt32.self))
        guard indexOffset >= FileHeader.size, indexOffset <= size, size - trailerLength - indexOffset == indexLength else {
            throw FormatError(.malformed, "cold object index at \(indexOffset) of \(indexLength) bytes does not end at the trailer", offset: size - trailerLength)
        }
        var trailer = Trailer(index: indexOffset..<(indexOffset + indexLength), crc: crc, keyID: nil, salt: [])
        if encrypted {
            let s = tail.count - encryptedTrailerSize
            trailer.keyID = KeyID(UInt64(littleEndian: tail.loadUnaligned(fromByteOffset: s, as: UInt64.self)))
            trailer.salt = Array(tail[(s + 8)..<(s + 24)])
        }
        return trailer
    }

    /// The cipher that opens an object with this trailer (nil for a plain object), from
    /// `keyring`; `location` names the object in errors.
    public static func cipher(_ trailer: Trailer, keyring: Keyring?, location: String) throws(StrataError) -> ObjectCipher? {
        guard let id = trailer.keyID else {
            try keyring?.checkPlainAccepted("cold object \(location)")
            return nil
        }
        guard let keyring else { throw missingKeyError("cold object \(location)", id) }
        return try keyring.cipher(id, salt: trailer.salt, for: "cold object \(location)")
    }

    /// Parses the stored index bytes (`trailer.index` of the object), opening them with
    /// `cipher` when the object is encrypted.
    public static func index(_ stored: UnsafeRawBufferPointer, trailer: Trailer, cipher: ObjectCipher?) throws(FormatError) -> Index {
        let offset = trailer.index.lowerBound
        guard stored.count == trailer.index.count else {
            throw FormatError(.truncated, "cold object index is \(trailer.index.count) bytes; got \(stored.count)", offset: offset)
        }
        guard CRC32C.checksum(stored) == trailer.crc else {
            throw FormatError(.checksumMismatch, "cold object index checksum mismatch", offset: offset)
        }
        guard let cipher else { return try parseIndex(stored, offset: offset, cipher: nil) }
        let plain: [UInt8]
        do throws(FormatError) {
            plain = try cipher.open(stored, unit: ObjectCipher.indexUnit)
        } catch {
            throw FormatError(error.code, "cold object index: \(error.message)", offset: offset)
        }
        return try plain.withUnsafeBytes { raw in Result { () throws(FormatError) in try parseIndex(raw, offset: offset, cipher: cipher) } }.get()
    }

    static func parseIndex(_ bytes: UnsafeRawBufferPointer, offset: Int, cipher: ObjectCipher?) throws(FormatError) -> Index {
        var reader = ByteReader(bytes, baseOffset: offset)
        let segmentFooterOffset = try reader.readInteger(as: UInt64.self, "segment footer offset")
        guard segmentFooterOffset <= UInt64(Int.max) else { throw reader.malformed("segment footer offset is out of range", at: 0) }
        let footerLength = Int(try reader.readInteger(as: UInt32.self, "footer length"))
        guard footerLength <= reader.readableBytes else { throw reader.truncated("segment footer", needed: footerLength) }
        var footerReader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[12..<(12 + footerLength)]), baseOffset: offset + 12)
        let footer = try SegmentFooter.decode(&footerReader, fileSize: Int(segmentFooterOffset))
        try reader.skip(footerLength, "segment footer")
        let countAt = reader.readerIndex
        let count = Int(try reader.readInteger(as: UInt32.self, "block count"))
        guard count == footer.blocks.count else {
            throw reader.malformed("cold object index lists \(count) blocks, the footer \(footer.blocks.count)", at: countAt)
        }
        guard reader.readableBytes >= count * 16 else { throw reader.truncated("\(count) block entries", needed: count * 16) }
        var extents: [BlockExtent] = []
        var expected = FileHeader.size
        for _ in 0..<count {
            let entryAt = reader.readerIndex
            guard let blockOffset = Int(exactly: try reader.readInteger(as: UInt64.self, "block offset")) else {
                throw reader.malformed("cold block offset is out of range", at: entryAt)
            }
            let e = BlockExtent(offset: blockOffset,
                                length: Int(try reader.readInteger(as: UInt32.self, "block length")),
                                crc: try reader.readInteger(as: UInt32.self, "block crc32c"))
            guard e.offset == expected else {
                throw reader.malformed("cold block at \(e.offset); expected one at \(expected)", at: entryAt)
            }
            guard e.length > 0 else { throw reader.malformed("cold block at \(e.offset) has length 0", at: entryAt + 8) }
            expected += e.length
            extents.append(e)
        }
        guard reader.readableBytes == 0 else { throw reader.malformed("\(reader.readableBytes) bytes after the last block entry") }
        guard expected == offset else {
            throw reader.malformed("cold blocks end at \(expected), the index starts at \(offset)",
                                   at: extents.isEmpty ? countAt : reader.readerIndex - 8)
        }
        return Index(footer: footer, extents: extents, cipher: cipher)
    }

    /// The segment bytes of block `block`, from the object bytes `span` (which start at
    /// object offset `spanStart`): checksum, decompress, and check the block's own CRC.
    public static func block(_ block: Int, of index: Index, span: UnsafeRawBufferPointer, spanStart: Int) throws(FormatError) -> [UInt8] {
        let e = index.extents[block]
        let lower = e.offset - spanStart
        guard lower >= 0, lower + e.length <= span.count else {
            throw FormatError(.truncated, "cold block \(block) is not in the fetched bytes", offset: e.offset)
        }
        let compressed = UnsafeRawBufferPointer(rebasing: span[lower..<(lower + e.length)])
        guard CRC32C.checksum(compressed) == e.crc else {
            throw FormatError(.checksumMismatch, "cold block \(block) checksum mismatch", offset: e.offset)
        }
        let size = index.footer.blocks[block].length
        do throws(FormatError) {
            let bytes: [UInt8]
            if let cipher = index.cipher {
                let frame = try cipher.open(compressed, unit: UInt64(block))
                bytes = try frame.withUnsafeBytes { raw in Result { () throws(FormatError) in try Zstd.decompress(raw, size: size) } }.get()
            } else {
                bytes = try Zstd.decompress(compressed, size: size)
            }
            // The frame's crc32c covers what is stored; a frame that decompresses under a
            // matching one (damaged before it was taken, or rewritten with it) must still hold
            // the block as it was: its own CRC32C.
            try bytes.withUnsafeBytes { raw in Result { () throws(FormatError) in try BlockCodec.verify(raw) } }.get()
            return bytes
        } catch {
            throw FormatError(error.code == .checksumMismatch ? .checksumMismatch : .malformed, "cold block \(block): \(error.message)", offset: e.offset)
        }
    }

    /// The original segment file of a whole cold object; `location` names it in errors.
    public static func segmentBytes(_ object: UnsafeRawBufferPointer, keyring: Keyring?, location: String) throws(StrataError) -> [UInt8] {
        func corrupt(_ e: FormatError) -> StrataError { StrataError.corrupt(e, path: location) }
        let flags: UInt16, trailer: Trailer
        do throws(FormatError) {
            flags = try FileHeader.verify(object, magic: magic, version: version, kind: "cold object", knownFlags: encryptedFlag)
            do throws(FormatError) {
                trailer = try Self.trailer(tail: object, objectSize: object.count)
            } catch where error.code == .badMagic {
                // The header says cold object: an end without the magic is one cut short.
                throw FormatError(.truncated, "cold object has no STRATCLD or STRATCLE magic at its end: it was truncated or was not finished", offset: error.offset)
            }
        } catch { throw corrupt(error) }
        guard (flags & encryptedFlag != 0) == (trailer.keyID != nil) else {
            throw StrataError(.corrupt, "cold object header and trailer disagree on whether it is encrypted", path: location)
        }
        let cipher = try Self.cipher(trailer, keyring: keyring, location: location)
        do throws(FormatError) {
            let index = try Self.index(UnsafeRawBufferPointer(rebasing: object[trailer.index]), trailer: trailer, cipher: cipher)
            var out = SegmentLayout.header()
            for i in index.extents.indices {
                guard index.footer.blocks[i].offset == out.count else {
                    throw FormatError(.malformed, "segment block \(i) was at \(index.footer.blocks[i].offset), not \(out.count)", offset: index.extents[i].offset)
                }
                out += try block(i, of: index, span: object, spanStart: 0)
            }
            let footerOffset = out.count
            var footer: [UInt8] = []
            index.footer.encode(into: &footer)
            out += footer
            out.writeInteger(UInt64(footerOffset))
            out.writeInteger(UInt32(footer.count))
            out.writeInteger(CRC32C.checksum(footer))
            out += SegmentLayout.magic
            return out
        } catch { throw corrupt(error) }
    }
}
