import Glibc
import StrataArchive
import StrataEngine
import StrataFormat
import StrataPlatform

extension Backups {
    // MARK: Verifying

    /// What `verify` found.
    public struct VerifyReport: Sendable {
        public var checked = 0
        public var bytes = 0
        /// One line per damaged or missing object, naming its key.
        public var problems: [String] = []
        /// Objects whose checksums matched but whose contents could not be opened because
        /// this process lacks the key (their key ids).
        public var sealedWithUnknownKey: [String] = []
        public var ok: Bool { problems.isEmpty }
    }

    /// Re-reads every object of backup `id` (and the earlier backups' and archive's objects
    /// it references) and checks its size, its SHA-256, and — when the key is at hand —
    /// every checksum inside it: each frame, block, manifest and schema.
    public func verify(_ id: String) throws(StrataError) -> VerifyReport {
        let catalog = try self.catalog(id)
        var report = VerifyReport()
        for file in catalog.files {
            report.checked += 1
            do throws(StrataError) {
                _ = try fetch(file, deep: true, report: &report)
            } catch {
                report.problems.append("\(file.key): \(error.message)")
            }
        }
        return report
    }

    /// An object of a backup checked against its catalog line: size and SHA-256 always;
    /// with `deep`, also opened and parsed. Returns the plain file bytes (for a segment,
    /// the segment file), or nil when the key is missing (noted in `report`).
    func fetch(_ file: BackupCatalog.File, deep: Bool, report: inout VerifyReport) throws(StrataError) -> [UInt8]? {
        let bytes: [UInt8]
        do throws(StrataError) {
            bytes = try objects.get(file.key)
        } catch where error.code == .notFound {
            throw StrataError(.notFound, "missing: the catalog lists it, the store does not hold it")
        }
        report.bytes += bytes.count
        guard bytes.count == file.size else {
            throw StrataError(.corrupt, "size \(bytes.count), the catalog says \(file.size)")
        }
        if file.sha256 != "-" && sha256Hex(bytes) != file.sha256 {
            throw StrataError(.corrupt, "SHA-256 mismatch: the object is not the one the backup wrote")
        }
        let where_ = location(file.key)
        switch file.role {
        case .schema, .partition, .manifest, .layout, .packManifest, .pack:
            let sealedWith = try SealedFile.keyID(bytes, location: where_)
            guard sealedWith == file.keyID else {
                throw StrataError(.corrupt, "sealed with \(sealedWith.map { "key \($0)" } ?? "no key"), the catalog says \(file.keyID.map { "key \($0)" } ?? "none")")
            }
            if let id = sealedWith, keyring?.key(id) == nil {
                report.sealedWithUnknownKey.append(id.description)
                return nil
            }
            let plain = try SealedFile.open(bytes, keyring: keyring, location: where_)
            if file.role == .schema {
                _ = try MeasurementSchema.decode(plain, path: where_)
            } else if file.role == .partition {
                let lines = try ChecksummedText.decode(plain, path: where_, kind: "partition file")
                guard lines.count == 1, PartitionPeriod(rawValue: String(lines[0])) != nil else {
                    throw StrataError(.corrupt, "the partition file does not hold one of day, week, month or year", path: where_)
                }
            } else if file.role == .layout {
                let lines = try ChecksummedText.decode(plain, path: where_, kind: "layout file")
                guard lines.count == 1, lines[0] == "packed" else {
                    throw StrataError(.corrupt, "the layout file does not hold 'packed'", path: where_)
                }
            } else if file.role == .packManifest {
                _ = try plain.withUnsafeBytes { raw in Result { () throws(FormatError) in try PackManifest.decode(raw) } }
                    .mapError { StrataError.corrupt($0, path: where_) }.get()
            } else if file.role == .pack {
                // A pack's images are checked by the pack manifest's reader; here, that it is one.
                try plain.withUnsafeBytes { raw in Result { () throws(FormatError) in
                    try FileHeader.verify(raw, magic: PackLayout.magic, version: PackLayout.version, kind: "pack")
                } }.mapError { StrataError.corrupt($0, path: where_) }.get()
            } else {
                _ = try plain.withUnsafeBytes { raw in Result { () throws(FormatError) in try DayManifest.decode(raw) } }
                    .mapError { StrataError.corrupt($0, path: where_) }.get()
            }
            return plain
        case .segment, .archived:
            let trailer = try bytes.withUnsafeBytes { raw in
                Result { () throws(FormatError) in try ColdObject.trailer(tail: raw, objectSize: raw.count) }
            }.mapError { StrataError.corrupt($0, path: where_) }.get()
            guard trailer.keyID == file.keyID else {
                throw StrataError(.corrupt, "sealed with \(trailer.keyID.map { "key \($0)" } ?? "no key"), the catalog says \(file.keyID.map { "key \($0)" } ?? "none")")
            }
            if let id = trailer.keyID, keyring?.key(id) == nil {
                // Without the key, the trailer's checksum of the sealed index still tells
                // whether the index arrived intact (the frames' checksums are inside it).
                guard CRC32C.checksum(bytes[trailer.index]) == trailer.crc else {
                    throw StrataError(.corrupt, "cold object index checksum mismatch")
                }
                report.sealedWithUnknownKey.append(id.description)
                return nil
            }
            let segment = try bytes.withUnsafeBytes { raw in
                Result { () throws(StrataError) in try ColdObject.segmentBytes(raw, keyring: keyring, location: where_) }
            }.get()
            let rows = try segment.withUnsafeBytes { raw in Result { () throws(FormatError) in try SegmentReader(raw).footer.rowCount } }
                .mapError { StrataError.corrupt($0, path: where_) }.get()
            guard UInt64(rows) == file.rows else {
                throw StrataError(.corrupt, "holds \(rows) rows, the catalog says \(file.rows)")
            }
            return segment
        }
    }

    // MARK: Restoring

    /// What `restore` did.
    public struct RestoreSummary: Sendable {
        public var seriesDays = 0
        public var segments = 0
        /// Segments left in the archive, which the restored manifests reference.
        public var archived = 0
        public var rows: UInt64 = 0
    }

    /// Restores backup `id` into `directory`, which must be empty or absent — or, with
    /// `force`, a store no process has open, whose contents are replaced once the whole
    /// backup has arrived and checked out. Either way it is restored into
    /// `<directory>/.restoring` first and moved in place when complete; a store being
    /// replaced is first moved aside into `<directory>/.replaced` (its `_archive`, the
    /// default local archive, stays), which is removed last, so a failure puts it back and
    /// a crash leaves it there whole. Only the series-days of `measurement` and `symbols`
    /// when given. Every object is checked before anything is written; each file is
    /// written crash-safely, the manifests of a series-day after its segments. The restored
    /// store gets a new identity (so it never writes archive keys the original writes).
    public func restore(_ id: String, into directory: String, measurement: String? = nil, symbols: [String]? = nil,
                        force: Bool = false) throws(StrataError) -> RestoreSummary {
        let catalog = try self.catalog(id)
        var dir = directory
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        let existing = try FileSystem.list(dir)
        var lock: FileLock?
        if !existing.isEmpty {
            let isStore = existing.contains("_lock") || existing.contains("_id") || existing.contains("_wal")
            guard force else {
                throw StrataError(.conflict, isStore
                    ? "\(dir) holds a Strata store; restore into an empty directory, or pass --force to replace the store's contents"
                    : "\(dir) is not empty; restore into an empty directory (or pass --force to replace what it holds)", path: dir)
            }
            // Not while a process has the store open.
            lock = try FileLock(path: "\(dir)/_lock", wait: false)
        } else {
            try FileSystem.makeDirectories(dir)
            lock = try FileLock(path: "\(dir)/_lock", wait: false)
        }
        defer { lock?.unlock() }

        func wanted(_ path: String) -> Bool {
            let parts = path.split(separator: "/")
            guard let m = parts.first.flatMap({ Names.name(fromDirectory: String($0)) }) else { return false }
            if let measurement, m != measurement { return false }
            guard parts.count > 2, let symbols else { return true }
            return Names.name(fromDirectory: String(parts[1])).map(symbols.contains) ?? false
        }
        let files = catalog.files.filter { wanted($0.path) }
        if symbols != nil, let packed = catalog.files.first(where: { f in
            let parts = f.path.split(separator: "/")
            return parts.count > 1 && parts[1] == "_packed" && (measurement == nil || Names.name(fromDirectory: String(parts[0])) == measurement)
        }) {
            let m = Names.name(fromDirectory: String(packed.path.split(separator: "/")[0])) ?? packed.path
            throw StrataError(.invalidInput, "measurement '\(m)' is packed: its partitions are restored whole, so restore it without --symbol", field: "symbol")
        }
        if let symbols {
            let present = Set(files.compactMap { $0.role == .manifest ? $0.path.split(separator: "/").dropFirst().first.flatMap { Names.name(fromDirectory: String($0)) } : nil })
            let absent = symbols.filter { !present.contains($0) }
            guard absent.isEmpty else {
                throw StrataError(.notFound, "backup \(id) holds no data of \(absent.joined(separator: ", "))\(measurement.map { " in \($0)" } ?? "")")
            }
        }

        // Restore beside what is there first, so a backup that fails to arrive leaves the
        // directory as it was (an existing store untouched, an empty directory empty).
        let target = "\(dir)/.restoring", aside = "\(dir)/.replaced"
        guard !existing.contains(".replaced") else {
            throw StrataError(.conflict, "\(aside) holds the store an interrupted restore replaced; move it back or remove it first", path: aside)
        }
        try FileSystem.removeTree(target)
        let summary: RestoreSummary
        do throws(StrataError) {
            summary = try restore(id, files, into: target)
            // Its archived days stay in this archive: the restored store says where.
            if summary.archived > 0 && objects.location != Archive.defaultLocation(dir) {
                try Store.recordArchive(objects.location, in: target)
            }
        } catch {
            try? FileSystem.removeTree(target)
            if existing.isEmpty { try? FileSystem.remove("\(dir)/_lock") }
            throw error
        }
        // Swap: the old contents aside, the new ones in, the old ones removed last.
        let old = existing.filter { $0 != "_lock" && $0 != ".restoring" && $0 != "_archive" }
        var movedAside: [String] = [], movedIn: [String] = []
        do throws(StrataError) {
            if !old.isEmpty {
                try FileSystem.makeDirectories(aside)
                for name in old {
                    try FileSystem.rename("\(dir)/\(name)", "\(aside)/\(name)")
                    movedAside.append(name)
                }
            }
            for name in try FileSystem.list(target) {
                try FileSystem.rename("\(target)/\(name)", "\(dir)/\(name)")
                movedIn.append(name)
            }
            try FileSystem.syncDirectory(dir)
        } catch {
            // Put the old store back as it was.
            for name in movedIn { try? FileSystem.rename("\(dir)/\(name)", "\(target)/\(name)") }
            for name in movedAside { try? FileSystem.rename("\(aside)/\(name)", "\(dir)/\(name)") }
            if movedAside.count == old.count { try? FileSystem.removeTree(aside) }
            try? FileSystem.removeTree(target)
            throw error
        }
        try FileSystem.removeTree(target)
        try FileSystem.removeTree(aside)
        return summary
    }

    /// Writes `files` of backup `id` into `target`.
    func restore(_ id: String, _ files: [BackupCatalog.File], into target: String) throws(StrataError) -> RestoreSummary {
        var summary = RestoreSummary()
        var report = VerifyReport()
        func write(_ path: String, _ bytes: [UInt8]) throws(StrataError) {
            let full = "\(target)/\(path)"
            try FileSystem.makeDirectories(FileSystem.parentDirectory(full))
            try FileSystem.writeAtomically(full, [bytes])
        }
        func plain(_ file: BackupCatalog.File) throws(StrataError) -> [UInt8] {
            do throws(StrataError) {
                guard let bytes = try fetch(file, deep: true, report: &report) else {
                    throw StrataError(.denied, "it is sealed with key \(report.sealedWithUnknownKey.last ?? "?"), which this process does not hold (set STRATA_ENCRYPTION_KEY_FILE or STRATA_ENCRYPTION_KEY)")
                }
                return bytes
            } catch {
                var e = error
                e.message = "backup \(id), \(file.key): \(e.message)"
                throw e
            }
        }
        for file in files where [.schema, .partition, .layout].contains(file.role) { try write(file.path, try plain(file)) }
        // Series-day by series-day (and packed partition by partition): segments and packs,
        // then the manifests that make them live.
        var manifests: [BackupCatalog.File] = []
        for file in files {
            switch file.role {
            case .schema, .partition, .layout: continue
            case .pack:
                try write(file.path, try plain(file))
                summary.rows += file.rows
            case .packManifest:
                manifests.append(file)
            case .segment:
                try write(file.path, try plain(file))
                summary.segments += 1
                summary.rows += file.rows
            case .archived:
                // Left in the archive; it must be there for the restored store to read it.
                guard let info = try objects.head(file.key), info.size == file.size else {
                    throw StrataError(.notFound, "backup \(id), \(file.key): the archived object the restored days need is missing or has another size")
                }
                summary.archived += 1
                summary.rows += file.rows
            case .manifest:
                manifests.append(file)
            }
        }
        for file in manifests {
            let bytes = try plain(file)
            try write(file.path, bytes)
            if file.role == .packManifest {
                let pack = try bytes.withUnsafeBytes { raw in Result { () throws(FormatError) in try PackManifest.decode(raw) } }
                    .mapError { StrataError.corrupt($0, path: file.path) }.get()
                summary.seriesDays += pack.entries.count
                summary.segments += pack.entries.reduce(0) { $0 + $1.locations.count }
            } else {
                summary.seriesDays += 1
            }
        }
        return summary
    }
}
