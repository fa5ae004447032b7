import StrataEngine
import StrataFormat

/// `PackManifest.View` and `PackManifest.decode`: every read of a packed partition (the
/// binary search for one symbol, and the whole manifest a write or a compaction rewrites).
enum PackManifestTarget {
    static func run(_ body: UnsafeRawBufferPointer) {
        let bytes = Array(body)
        if !check(bytes), let repaired = Repair.manifest(bytes) { _ = check(repaired) }
    }

    static func decode(_ bytes: [UInt8]) -> PackManifest? {
        bytes.withUnsafeBytes { try? PackManifest.decode($0) }
    }

    static func check(_ bytes: [UInt8]) -> Bool {
        // The view checks less than a whole decode, but never traps: a lookup either finds
        // an entry, finds none, or throws.
        bytes.withUnsafeBytes { raw in
            guard let view = try? PackManifest.View(raw), let symbols = try? view.symbols() else { return }
            for symbol in symbols.prefix(64) { _ = try? view.entry(for: symbol) }
        }
        guard let manifest = decode(bytes) else { return false }
        // Every entry is found by its symbol, and the manifest re-encodes to bytes that
        // decode to an equal value (the same bytes but for non-shortest varints).
        bytes.withUnsafeBytes { raw in
            guard let view = try? PackManifest.View(raw) else { require(false, "a decoded pack manifest has no view"); return }
            for e in manifest.entries.prefix(256) {
                require((try? view.entry(for: e.symbol)) == e, "entry '\(e.symbol)' is not found by its symbol")
            }
        }
        let again = manifest.encode()
        guard let reread = decode(again) else { require(false, "a re-encoded pack manifest does not decode"); return true }
        require(reread == manifest, "a re-encoded pack manifest decodes to another value")
        require(reread.encode() == again, "a pack manifest encodes to other bytes the second time")
        for flip in flips(of: bytes, count: 8) {
            require(decode(flipped(bytes, flip)) == nil,
                    "byte \(flip.offset) of a \(bytes.count)-byte pack manifest flipped (xor \(flip.mask)) and it still decodes")
        }
        for cut in [bytes.count - 1, bytes.count - 4, bytes.count / 2] where cut >= 0 && cut < bytes.count {
            require(decode(Array(bytes[..<cut])) == nil, "a pack manifest cut to \(cut) of \(bytes.count) bytes still decodes")
        }
        return true
    }

    static func seeds() -> [(String, [UInt8])] {
        func entry(_ symbol: String, segments: [UInt64], pack: UInt64) -> PackManifest.Entry {
            var m = DayManifest()
            var locations: [PackManifest.Location] = []
            var offset: UInt64 = 16
            for rows in segments {
                _ = m.addSegment(rows: rows)
                locations.append(PackManifest.Location(pack: pack, offset: offset, length: 40 + rows))
                offset += 40 + rows
            }
            m.rowsFlushedThrough = WALPosition(file: 3, offset: 77)
            return PackManifest.Entry(symbol: symbol, manifest: m, locations: locations)
        }
        var archived = entry("SPX 240315P04100", segments: [], pack: 1)
        archived.manifest.nextSegmentID = 3
        archived.manifest.cold = [DayManifest.ColdEntry(id: 2, rows: 12, bytes: 900, key: "opt/SPX%20240315P04100/2024/03/12/0000000000000002.strata")]
        archived.manifest.tombstones = [Tombstone(from: SeedData.start, to: SeedData.start + 1_000, throughSegment: 2)]
        let chain = PackManifest(nextPackID: 3, entries: [
            entry("SPX 240315C04000", segments: [3, 5], pack: 1), entry("SPX 240315C04005", segments: [1], pack: 2),
            entry("é€", segments: [8192], pack: 2), archived,
        ])
        // Slices of one group image, and enough entries for several pages.
        var slices: [PackManifest.Entry] = []
        var row: UInt64 = 0
        for k in 0..<1_500 {
            var e = entry("C\(100_000 + k)", segments: [UInt64(1 + k % 7)], pack: 2)
            e.locations[0] = PackManifest.Location(pack: 2, offset: 16, length: 9_000, firstRow: row)
            row += e.manifest.segments[0].rows
            slices.append(e)
        }
        return [("empty.packmanifest", PackManifest().encode()), ("chain.packmanifest", chain.encode()),
                ("slices.packmanifest", PackManifest(nextPackID: 3, entries: slices).encode()),
                ("chain-v1.packmanifest", version1(chain))]
    }

    /// A manifest as version 1 wrote it (entry offsets, uncompressed entries, locations
    /// without a kind): still read.
    static func version1(_ m: PackManifest) -> [UInt8] {
        var out = FileHeader.encode(magic: PackManifest.magic, version: 1)
        out.writeInteger(m.nextPackID)
        out.writeInteger(UInt32(m.entries.count))
        let directory = out.count
        out.append(contentsOf: repeatElement(0, count: 8 * m.entries.count))
        for (i, e) in m.entries.enumerated() {
            out.setInteger(UInt64(out.count), at: directory + 8 * i)
            out.writeString(e.symbol)
            let manifest = e.manifest.encode()
            out.writeInteger(UInt32(manifest.count))
            out.append(contentsOf: manifest)
            for l in e.locations {
                out.writeInteger(l.pack)
                out.writeInteger(l.offset)
                out.writeInteger(l.length)
            }
        }
        out.writeInteger(CRC32C.checksum(out))
        return out
    }
}
