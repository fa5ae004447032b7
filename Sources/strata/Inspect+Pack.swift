import StrataEngine
import StrataFormat
import StrataPlatform

/// A packed partition's files: its pack manifest, and its packs (read through the manifest
/// beside them, which says where each segment image lies).
extension Inspect {
    /// Entries listed before "… and N more" (all of them with --blocks).
    static let packEntriesShown = 20

    func describePackManifest(_ path: String, _ file: MappedFile, out: inout Output) throws {
        let manifest = try file.withUnsafeBytes { raw in Result { () throws(FormatError) in try PackManifest.decode(raw) } }
            .mapError { StrataError.corrupt($0, path: path) }.get()
        let version = file.withUnsafeBytes { $0.count >= 10 ? UInt16($0[8]) | UInt16($0[9]) << 8 : 0 }
        head(path, format: "STRATPKM version \(version), a packed partition's manifest", out: &out)
        out.write("next pack id: \(manifest.nextPackID)\n")
        let locations = manifest.entries.flatMap(\.locations)
        let packs = Set(locations.map(\.pack)).sorted()
        let rows = manifest.entries.reduce(UInt64(0)) { $0 + $1.manifest.rowCount }
        let slices = locations.count { $0.firstRow != nil }
        let groups = Set(locations.filter { $0.firstRow != nil }.map(\.image)).count
        out.write("series: \(manifest.entries.count), \(rows) rows, \(counted(locations.count, "segment")) in \(counted(packs.count, "pack"))")
        out.write(slices == 0 ? "\n" : " (\(counted(slices, "slice")) of \(counted(groups, "group image")))\n")
        let shown = blocks ? manifest.entries.count : min(manifest.entries.count, Self.packEntriesShown)
        for e in manifest.entries.prefix(shown) {
            let m = e.manifest
            var line = "  \(e.symbol): \(counted(m.segments.count, "segment")), \(m.rowCount) rows"
            if !m.cold.isEmpty { line += ", \(m.cold.count) archived" }
            if !m.tombstones.isEmpty { line += ", \(counted(m.tombstones.count, "tombstone"))" }
            out.write(line + "\n")
        }
        if shown < manifest.entries.count { out.write("  … and \(manifest.entries.count - shown) more (--blocks lists them all)\n") }
        guard verify else { return }
        // Every image it locates, when its packs are beside it: a segment of that series and
        // partition, every block checksum, its rows as the manifest says.
        let directory = FileSystem.parentDirectory(path)
        let packPaths = packs.map { "\(directory)/\(paddedHex($0, digits: 16)).pack" }
        guard !packs.isEmpty, packPaths.allSatisfy(FileSystem.exists) else {
            let note = packs.isEmpty ? "" : "; its packs are not beside it, so their segments were not read"
            verified("header, checksum, \(counted(manifest.entries.count, "entry")): order, day manifests, locations\(note)", sealedBy: nil, out: &out)
            return
        }
        var mapped: [UInt64: MappedFile] = [:]
        for (id, p) in zip(packs, packPaths) { mapped[id] = try MappedFile(path: p) }
        var images: [PackManifest.Location: GroupImage] = [:]
        for e in manifest.entries {
            for (s, l) in zip(e.manifest.segments, e.locations) {
                if let first = l.firstRow {
                    // A slice: inside its group image, in time order, its blocks' checksums.
                    if images[l.image] == nil { images[l.image] = try GroupImage(pack: mapped[l.pack]!, location: l) }
                    let image = images[l.image]!
                    let key = SeriesDay(try SeriesKey(measurement: image.reader.footer.measurement, symbol: e.symbol), Day(daysSinceEpoch: image.reader.footer.day))
                    try GroupSlice(image: image, key: key, firstRow: first, rows: s.rows, id: SegmentID(s.id)).verify()
                    continue
                }
                let segment = try Segment(pack: mapped[l.pack]!, location: l, id: SegmentID(s.id))
                try segment.verify()
                guard segment.footer.symbol == e.symbol, UInt64(segment.footer.rowCount) == s.rows else {
                    throw StrataError(.corrupt, "the entry of \(e.symbol) locates segment \(s.id) with \(s.rows) rows; the image there holds \(segment.footer.symbol) with \(segment.footer.rowCount)",
                                      path: segment.path)
                }
            }
        }
        verified("header, checksum, \(counted(manifest.entries.count, "entry")): order, day manifests, locations; \(counted(locations.count, "segment image")) in \(counted(packs.count, "pack")) beside it: every block checksum, series and rows",
                 sealedBy: nil, out: &out)
    }

    func describePack(_ path: String, _ file: MappedFile, out: inout Output) throws {
        try file.withUnsafeBytes { raw in Result { () throws(FormatError) in
            try FileHeader.verify(raw, magic: PackLayout.magic, version: PackLayout.version, kind: "pack")
        } }.mapError { StrataError.corrupt($0, path: path) }.get()
        head(path, format: "STRATPAK version \(PackLayout.version), a pack of segment images", out: &out)
        out.write("bytes: \(file.size)\n")
        // The images are found through the manifest beside the pack.
        let manifestPath = "\(FileSystem.parentDirectory(path))/\(PackManifest.fileName)"
        let name = String(path.split(separator: "/").last ?? "")
        guard let id = UInt64(name.dropLast(5), radix: 16), name.hasSuffix(".pack"), FileSystem.exists(manifestPath) else {
            out.write("segments: unknown (no pack manifest beside it)\n")
            verified("header", sealedBy: nil, out: &out)
            return
        }
        let manifest = try MappedFile(path: manifestPath).withUnsafeBytes { raw in Result { () throws(FormatError) in try PackManifest.decode(raw) } }
            .mapError { StrataError.corrupt($0, path: manifestPath) }.get()
        // Each image once: a segment image of one series, or a group image and its slices.
        var images: [PackManifest.Location: (symbols: [String], id: UInt64)] = [:]
        for e in manifest.entries {
            for (s, l) in zip(e.manifest.segments, e.locations) where l.pack == id { images[l.image, default: ([], s.id)].symbols.append(e.symbol) }
        }
        let places = images.keys.sorted { $0.offset < $1.offset }
        let groups = Set(manifest.entries.flatMap { $0.locations.filter { $0.pack == id && $0.firstRow != nil }.map(\.image) })
        let live = places.reduce(UInt64(0)) { $0 + $1.length }
        let body = UInt64(file.size) - UInt64(FileHeader.size)
        out.write("images: \(places.count) the manifest beside it locates here (\(counted(groups.count, "group image"))), \(live) bytes (\(body - min(live, body)) bytes no series uses)\n")
        let shown = blocks ? places.count : min(places.count, Self.packEntriesShown)
        for place in places.prefix(shown) {
            let image = images[place]!
            if groups.contains(place) {
                out.write("  @\(place.offset)+\(place.length): group image, slices of \(image.symbols.count) series (\(image.symbols.first!) … \(image.symbols.last!))\n")
            } else {
                out.write("  @\(place.offset)+\(place.length): \(image.symbols[0]), segment \(SegmentID(image.id).hex)\n")
            }
        }
        if shown < places.count { out.write("  … and \(places.count - shown) more (--blocks lists them all)\n") }
        guard verify else { return }
        for place in places {
            if groups.contains(place) {
                try GroupImage(pack: file, location: place).verify()
            } else {
                try Segment(pack: file, location: place, id: SegmentID(images[place]!.id)).verify()
            }
        }
        verified("header; \(counted(places.count, "image")) the manifest beside it locates: trailer, footer and every block checksum", sealedBy: nil, out: &out)
    }
}
