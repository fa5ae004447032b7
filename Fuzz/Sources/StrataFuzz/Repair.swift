import StrataArchive
import StrataEngine
import StrataFormat

/// Recomputes the checksums of a mutated file where Format.md puts them, so that the
/// fuzzer reaches the structure behind them (a mutation almost never keeps a CRC32C
/// right). Only checksums are touched: lengths, offsets and counts stay as the fuzzer
/// made them. Returns nil when the bytes are too short to hold the checksums, or when
/// nothing changed.
enum Repair {
    static func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
        b.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
    }

    static func u64(_ b: [UInt8], _ at: Int) -> UInt64 {
        b.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
    }

    static func crc(_ b: [UInt8], _ range: Range<Int>) -> UInt32 { CRC32C.checksum(b[range]) }

    /// The common 16-byte header: crc32c of bytes 0–11 at 12.
    static func header(_ b: inout [UInt8]) {
        guard b.count >= 16 else { return }
        b.setInteger(crc(b, 0..<12), at: 12)
    }

    static func changed(_ original: [UInt8], _ repaired: [UInt8]) -> [UInt8]? {
        repaired == original ? nil : repaired
    }

    /// Header, footer (its crc32c in the trailer), then each block the footer lists.
    static func segment(_ original: [UInt8]) -> [UInt8]? {
        var b = original
        guard b.count >= SegmentLayout.headerSize + SegmentLayout.trailerSize else { return nil }
        header(&b)
        let t = b.count - SegmentLayout.trailerSize
        let footerOffset = Int(clamping: u64(b, t))
        guard footerOffset >= SegmentLayout.headerSize, footerOffset <= t else { return changed(original, b) }
        b.setInteger(crc(b, footerOffset..<t), at: t + 12)
        let blocks = b.withUnsafeBytes { raw in (try? SegmentReader(raw))?.footer.blocks } ?? []
        for block in blocks where block.length >= 4 {
            let end = block.offset + block.length
            b.setInteger(crc(b, block.offset..<(end - 4)), at: end - 4)
        }
        return changed(original, b)
    }

    /// Header, and the crc32c of everything before the last 4 bytes.
    static func manifest(_ original: [UInt8]) -> [UInt8]? {
        var b = original
        guard b.count >= FileHeader.size + 4 else { return nil }
        header(&b)
        b.setInteger(crc(b, 0..<(b.count - 4)), at: b.count - 4)
        return changed(original, b)
    }

    /// The last line replaced by a right `crc32c` line (a last line without a final LF is
    /// kept as a line of the body).
    static func checksummedText(_ original: [UInt8]) -> [UInt8]? {
        var body = original
        if body.last == UInt8(ascii: "\n") {
            let lastLine = body.dropLast().lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            body.removeSubrange(lastLine...)
        } else if !body.isEmpty {
            body.append(UInt8(ascii: "\n"))
        }
        let hex = String(CRC32C.checksum(body), radix: 16)
        let line = "crc32c " + String(repeating: "0", count: 8 - hex.count) + hex + "\n"
        return changed(original, body + Array(line.utf8))
    }

    /// Header, then each record while its length fits: the length check, the block checksum
    /// inside a rows record, and the record's crc32c.
    static func wal(_ original: [UInt8]) -> [UInt8]? {
        var b = original
        guard b.count >= WALLayout.headerSize else { return nil }
        header(&b)
        var offset = WALLayout.headerSize
        while b.count - offset >= WALLayout.recordHeaderSize {
            let length = Int(u32(b, offset))
            guard length > 0, length <= WALLayout.maxRecordSize, b.count - offset - WALLayout.recordHeaderSize >= length else { break }
            b.setInteger(~UInt32(length), at: offset + 4)
            let payload = (offset + WALLayout.recordHeaderSize)..<(offset + WALLayout.recordHeaderSize + length)
            if let blockStart = rowsBlockStart(b, payload), payload.upperBound - blockStart >= 4 {
                b.setInteger(crc(b, blockStart..<(payload.upperBound - 4)), at: payload.upperBound - 4)
            }
            var c = crc(b, offset..<(offset + 8))
            c = b.withUnsafeBytes { CRC32C.update(c, UnsafeRawBufferPointer(rebasing: $0[payload])) }
            b.setInteger(c, at: offset + 8)
            offset = payload.upperBound
        }
        return changed(original, b)
    }

    /// Where the block of a rows record starts (after kind, names and field list).
    static func rowsBlockStart(_ b: [UInt8], _ payload: Range<Int>) -> Int? {
        b.withUnsafeBytes { raw -> Int? in
            var reader = ByteReader(UnsafeRawBufferPointer(rebasing: raw[payload]))
            guard (try? reader.readInteger(as: UInt8.self, "kind")) == 1,
                  (try? reader.readString("measurement")) != nil, (try? reader.readString("symbol")) != nil,
                  (try? FieldListCodec.read(&reader)) != nil else { return nil }
            return payload.lowerBound + reader.readerIndex
        }
    }

    /// Header, the frames' crc32c in a plain object's index, and the index's crc32c in the
    /// trailer. (A frame's contents are zstd: the block checksum inside stays as it is.)
    static func cold(_ original: [UInt8]) -> [UInt8]? {
        var b = original
        guard b.count >= FileHeader.size + ColdObject.trailerSize else { return nil }
        header(&b)
        guard let trailer = b.withUnsafeBytes({ try? ColdObject.trailer(tail: $0, objectSize: $0.count) }) else { return changed(original, b) }
        let crcAt = b.count - 12
        b.setInteger(crc(b, trailer.index), at: crcAt)
        if trailer.keyID == nil {
            var fixed = trailer
            fixed.crc = u32(b, crcAt)
            let extents = b.withUnsafeBytes { raw in
                (try? ColdObject.index(UnsafeRawBufferPointer(rebasing: raw[trailer.index]), trailer: fixed, cipher: nil))?.extents
            } ?? []
            for (i, e) in extents.enumerated() {
                b.setInteger(crc(b, e.offset..<(e.offset + e.length)), at: trailer.index.upperBound - (extents.count - i) * 16 + 12)
            }
            if !extents.isEmpty { b.setInteger(crc(b, trailer.index), at: crcAt) }
        }
        return changed(original, b)
    }
}
