import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem

/// The small files read whole: day manifests, schemas, backup catalogs, the checksummed
/// text files of a data directory, and a backup's sealed copies of them. Each is checked by
/// the reader Strata itself uses for it.
extension Inspect {
    func describeSmallFile(_ kind: InspectedKind, path: String, bytes: [UInt8], sealedBy key: String? = nil, out: inout Output) throws {
        switch kind {
        case .sealed:
            return try describeSealed(path, bytes, out: &out)
        case .manifest:
            try describeManifest(path, bytes, sealedBy: key, out: &out)
        case .schema:
            let schema = try MeasurementSchema.decode(bytes, path: path)
            head(path, format: "strata-schema 1, a measurement schema (text)", sealedBy: key, out: &out)
            out.write("fields: \(schema.fields.map(\.description).joined(separator: ", "))\n")
            verified("checksum line (line \(schema.fields.count + 2)), header line, \(counted(schema.fields.count, "field line")): names, types, none repeated", sealedBy: key, out: &out)
        case .catalog:
            try describeCatalog(path, bytes, sealedBy: key, out: &out)
        case .checksummedText:
            let lines = try ChecksummedText.decode(bytes, path: path, kind: "checksummed text file")
            head(path, format: "checksummed text, \(Self.purpose(firstLine: lines.first, name: String(path.split(separator: "/").last ?? "")))", sealedBy: key, out: &out)
            for line in lines { out.write("  \(line)\n") }
            verified("checksum line (line \(lines.count + 1))", sealedBy: key, out: &out)
        case .segment, .coldObject, .wal, .packManifest, .pack:
            preconditionFailure("\(kind) is not a small file")
        }
        out.write("\n")
    }

    /// A manifest, schema or catalog sealed whole (`STRATENC`): the checksum first (no key
    /// needed), then opened with the environment's keys and read as what it holds.
    private func describeSealed(_ path: String, _ bytes: [UInt8], out: inout Output) throws {
        guard let key = try ArchiveFiles.sealedKeyID(bytes, location: path) else { preconditionFailure("not sealed") }
        let plain = try ArchiveFiles.openSealed(bytes, location: path)
        guard let inner = InspectedKind(firstBytes: plain), [.manifest, .schema, .catalog].contains(inner) else {
            throw StrataError(.corrupt, "sealed file opens, but holds neither a day manifest, a schema nor a backup catalog", path: path)
        }
        try describeSmallFile(inner, path: path, bytes: plain, sealedBy: key, out: &out)
    }

    private func describeManifest(_ path: String, _ bytes: [UInt8], sealedBy key: String?, out: inout Output) throws {
        let manifest = try bytes.withUnsafeBytes { raw in Result { () throws(FormatError) in try DayManifest.decode(raw) } }
            .mapError { StrataError.corrupt($0, path: path) }.get()
        head(path, format: "STRATMAN version \(manifest.cold.isEmpty ? 1 : 2), a day manifest", sealedBy: key, out: &out)
        out.write("next segment id: \(manifest.nextSegmentID)\n")
        out.write("segments: \(manifest.segments.count)\(manifest.segments.isEmpty ? "" : ", \(manifest.segments.reduce(0) { $0 + $1.rows }) rows")\n")
        for s in manifest.segments { out.write("  \(SegmentID(s.id).fileName): \(s.rows) rows\n") }
        out.write("archived: \(manifest.cold.count)\(manifest.cold.isEmpty ? "" : ", \(manifest.cold.reduce(0) { $0 + $1.rows }) rows")\n")
        for c in manifest.cold { out.write("  \(SegmentID(c.id).hex): \(c.rows) rows, \(c.bytes) bytes, key \(c.key)\n") }
        out.write("tombstones: \(manifest.tombstones.count)\n")
        for t in manifest.tombstones {
            out.write("  \(CivilTime.format(t.from)) … \(CivilTime.format(t.to)) in segments through \(SegmentID(t.throughSegment).hex)\n")
        }
        out.write("rows flushed through: \(manifest.rowsFlushedThrough) (WAL file:offset)\n")
        out.write("deletes applied through: \(manifest.deletesAppliedThrough)\n")
        guard verify else { return }
        var checks = "header, checksum, \(counted(manifest.segments.count, "segment")), \(manifest.cold.count) archived, \(counted(manifest.tombstones.count, "tombstone")): counts, order and ranges"
        // Each segment's row count must equal its blocks' (Format.md): compared with the
        // segment files beside the manifest when it lies in its series-day directory.
        let directory = FileSystem.parentDirectory(path)
        let files = manifest.segments.map { (entry: $0, path: "\(directory)/\(SegmentID($0.id).fileName)") }
        let present = files.filter { FileSystem.exists($0.path) }
        if !present.isEmpty {
            for file in files {
                guard FileSystem.exists(file.path) else {
                    throw StrataError(.corrupt, "the manifest lists segment \(SegmentID(file.entry.id).fileName), which is not in its directory", path: path)
                }
                let segment = try Segment(path: file.path, id: SegmentID(file.entry.id))
                guard segment.footer.rowCount == file.entry.rows else {
                    throw StrataError(.corrupt, "the manifest lists segment \(SegmentID(file.entry.id).fileName) with \(file.entry.rows) rows; its footer says \(segment.footer.rowCount)", path: path)
                }
            }
            checks += "; rows match \(counted(files.count, "segment file")) beside it"
        } else if !files.isEmpty {
            checks += "; its segment files are not beside it (a copy?), so their rows were not compared"
        }
        verified(checks, sealedBy: key, out: &out)
    }

    private func describeCatalog(_ path: String, _ bytes: [UInt8], sealedBy key: String?, out: inout Output) throws {
        let catalog = try BackupCatalog.decode(bytes, location: path)
        head(path, format: "strata-backup \(BackupCatalog.version), a backup catalog (text)", sealedBy: key, out: &out)
        out.write("backup: \(catalog.id)\n")
        out.write("store: \(catalog.store)\n")
        out.write("created: \(CivilTime.format(catalog.created))\n")
        out.write("base: \(catalog.base ?? "none (full)")\n")
        out.write("scope: \(catalog.scope)\n")
        out.write("flushed through: \(catalog.flushedThrough) (WAL file:offset)\n")
        // Partition records only when there are some (a store of days has none).
        let roles: [BackupCatalog.File.Role] = [.schema, .partition, .layout, .manifest, .segment, .archived, .packManifest, .pack]
        let counts = roles.compactMap { role -> String? in
            let n = catalog.files.filter { $0.role == role }.count
            return [.partition, .layout, .packManifest, .pack].contains(role) && n == 0 ? nil : "\(role.rawValue) \(n)"
        }
        out.write("files: \(catalog.files.count) (\(counts.joined(separator: ", "))), \(catalog.rows) rows, \(catalog.files.reduce(0) { $0 + $1.size }) bytes\n")
        let lines = bytes.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        verified("checksum line (line \(lines)), header, id, store, created, scope and log position, \(counted(catalog.files.count, "file line")): roles, paths, keys, sizes and digests well formed",
                 sealedBy: key, out: &out)
    }

    /// The first lines of a file's description.
    func head(_ path: String, format: String, sealedBy key: String? = nil, out: inout Output) {
        out.write("file: \(path)\n")
        if let key { out.write("encryption: AES-256-GCM, key \(key) (sealed whole: STRATENC version \(ArchiveFiles.sealedVersion))\n") }
        out.write("format: \(format)\n")
    }

    /// With --verify, the line saying what was checked.
    func verified(_ checks: String, sealedBy key: String?, out: inout Output) {
        guard verify else { return }
        out.write("verify: ok (\(key == nil ? "" : "sealed file checksum and GCM tag; ")\(checks))\n")
    }

    /// What a checksummed text file of a data directory is for, by its first line or name.
    static func purpose(firstLine: Substring?, name: String) -> String {
        if firstLine?.hasPrefix("strata-log-retention ") == true { return "the log position kept for a reader of the log (_wal/_retain: the database mirror; _wal/_retain.<reader>: another)" }
        if firstLine?.hasPrefix("strata-mirror-backfill ") == true { return "the mirror's backfill marker (_wal/_backfill)" }
        switch name {
        case "_id": return "the store's identity (_id)"
        case "_archive_url": return "where the store's days were archived (_archive_url)"
        case "_partition": return "the measurement's partition period (_partition)"
        case "_layout": return "the measurement's layout (_layout)"
        default: return "a file Strata keeps beside its data"
        }
    }

    /// "1 segment", "2 segments".
    func counted(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
}
