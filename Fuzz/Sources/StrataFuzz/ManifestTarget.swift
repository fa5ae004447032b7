import StrataEngine
import StrataFormat

/// `DayManifest.decode`: every open of a series-day, recovery, compaction and archiving.
enum ManifestTarget {
    static func run(_ body: UnsafeRawBufferPointer) {
        let bytes = Array(body)
        if !check(bytes), let repaired = Repair.manifest(bytes) { _ = check(repaired) }
    }

    static func decode(_ bytes: [UInt8]) -> DayManifest? {
        bytes.withUnsafeBytes { try? DayManifest.decode($0) }
    }

    static func check(_ bytes: [UInt8]) -> Bool {
        guard let manifest = decode(bytes) else { return false }
        // It re-encodes to bytes that decode to an equal value, and encoding is then stable.
        // (Not always to the same bytes: readers accept a key's length as a non-shortest
        // varint, as Format.md says, where the writer writes the shortest.)
        let again = manifest.encode()
        guard let reread = decode(again) else { require(false, "a re-encoded manifest does not decode"); return true }
        require(reread == manifest, "a re-encoded manifest decodes to another value")
        require(reread.encode() == again, "a manifest encodes to other bytes the second time")
        if manifest.cold.isEmpty {
            require(again == bytes, "a decoded manifest without varints re-encodes to other bytes")
        } else {
            require(again.count <= bytes.count, "a decoded manifest re-encodes to \(again.count) bytes, more than its \(bytes.count)")
        }
        for flip in flips(of: bytes, count: 8) {
            require(decode(flipped(bytes, flip)) == nil,
                    "byte \(flip.offset) of a \(bytes.count)-byte manifest flipped (xor \(flip.mask)) and it still decodes")
        }
        for cut in [bytes.count - 1, bytes.count - 4, bytes.count / 2] where cut >= 0 && cut < bytes.count {
            require(decode(Array(bytes[..<cut])) == nil, "a manifest cut to \(cut) of \(bytes.count) bytes still decodes")
        }
        return true
    }

    static func seeds() -> [(String, [UInt8])] {
        var v1 = DayManifest()
        for rows in [8192, 17, 3] as [UInt64] { _ = v1.addSegment(rows: rows) }
        v1.rowsFlushedThrough = WALPosition(file: 7, offset: 4096)
        v1.deletesAppliedThrough = WALPosition(file: 6, offset: 16)
        v1.tombstones = [Tombstone(from: SeedData.start, to: SeedData.start + 60_000_000_000, throughSegment: 2),
                         Tombstone(from: .min, to: .max, throughSegment: 1)]
        var v2 = v1
        v2.segments.removeFirst()
        v2.cold = [DayManifest.ColdEntry(id: 1, rows: 8192, bytes: 40_961, key: "trade/005930/2024/01/02/0000000000000001.strata")]
        return [("empty.manifest", DayManifest().encode()), ("v1.manifest", v1.encode()), ("v2-cold.manifest", v2.encode())]
    }
}
