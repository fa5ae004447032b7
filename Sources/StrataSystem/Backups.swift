import Glibc
import StrataArchive
import StrataEngine
import StrataFormat
import StrataPlatform

/// Backups of a store in an object store, under `backups/<id>/`:
///
///     backups/<id>/<measurement-dir>/_schema
///     backups/<id>/<measurement-dir>/<symbol-dir>/<YYYY-MM-DD>/_manifest
///     backups/<id>/<measurement-dir>/<symbol-dir>/<YYYY-MM-DD>/<segment id>.strata
///     backups/<id>/catalog                       written last: the backup is complete
///
/// Segments are stored as cold objects (zstd, encrypted when a keyring is configured); an
/// incremental backup lists the objects of earlier backups it did not need to upload
/// again, and archived segments are referenced in the archive, not copied.
public struct Backups: Sendable {
    public static let prefix = "backups/"
    public let objects: any ObjectStore
    /// Seals new backup objects with its current key, opens sealed ones.
    public let keyring: Keyring?

    public init(objects: any ObjectStore, keyring: Keyring? = nil) {
        self.objects = objects
        self.keyring = keyring
    }

    func catalogKey(_ id: String) -> String { "\(Self.prefix)\(id)/catalog" }

    func location(_ key: String) -> String { "\(objects.location)\(objects.location.hasSuffix("/") ? "" : "/")\(key)" }

    /// A backup id: the creation time to the second (UTC) and the store's id, so ids sort
    /// by time and two stores never make the same one.
    static func id(created: Int64, store: String) -> String {
        // 2026-11-27T01:02:06.344127516Z → 20261127T010206Z
        let time = CivilTime.format(created).prefix(19).filter { $0 != "-" && $0 != ":" }
        return "\(time)Z-\(store.prefix(8))"
    }

    // MARK: Listing and reading

    /// A backup as `backup list` shows it.
    public struct Listing: Sendable {
        public var id: String
        /// Nil when the catalog is sealed with a key this process does not hold.
        public var catalog: BackupCatalog?
        public var catalogKeyID: KeyID?
        /// Bytes of the objects this backup uploaded (not those it references).
        public var uploadedBytes: Int
        /// Why the catalog could not be read, when it could not.
        public var problem: String?
    }

    /// The ids of complete backups (those with a catalog), oldest first, and the bytes
    /// each one's own objects take.
    func completeBackups() throws(StrataError) -> (ids: [String], sizes: [String: Int], objects: [String: Int]) {
        var sizes: [String: Int] = [:]
        var objectSizes: [String: Int] = [:]
        var ids: [String] = []
        for info in try objects.list(prefix: Self.prefix) {
            objectSizes[info.key] = info.size
            let rest = info.key.dropFirst(Self.prefix.count)
            guard let slash = rest.firstIndex(of: "/") else { continue }
            let id = String(rest[..<slash])
            sizes[id, default: 0] += info.size
            if rest[rest.index(after: slash)...] == "catalog" { ids.append(id) }
        }
        return (ids.sorted(), sizes, objectSizes)
    }

    /// The newest complete backup of the store `storeID` whose catalog this process can
    /// read, reading as few catalogs as it can (ids carry the store id's first digits), and
    /// the size of every object under `backups/`. A damaged or unreadable catalog is
    /// passed over: an older backup serves as base instead.
    func newestBackup(of storeID: String) throws(StrataError) -> (catalog: BackupCatalog?, objects: [String: Int]) {
        let complete = try completeBackups()
        for id in complete.ids.reversed() where id.contains("Z-\(storeID.prefix(8))") {
            let bytes = try objects.get(catalogKey(id))
            guard let c = try? catalog(id, bytes: bytes), c.store == storeID else { continue }
            return (c, complete.objects)
        }
        return (nil, complete.objects)
    }

    /// Every complete backup, oldest first; one whose catalog cannot be read (damaged, or
    /// sealed with a key this process lacks) is listed with the reason.
    public func list() throws(StrataError) -> [Listing] {
        let complete = try completeBackups()
        var out: [Listing] = []
        for id in complete.ids {
            let bytes = try objects.get(catalogKey(id))
            var item = Listing(id: id, catalog: nil, catalogKeyID: nil, uploadedBytes: complete.sizes[id] ?? 0)
            do throws(StrataError) {
                item.catalogKeyID = try SealedFile.keyID(bytes, location: location(catalogKey(id)))
                item.catalog = try catalog(id, bytes: bytes)
            } catch {
                item.problem = error.message
            }
            out.append(item)
        }
        return out
    }

    /// The catalog of backup `id`.
    public func catalog(_ id: String, bytes: [UInt8]? = nil) throws(StrataError) -> BackupCatalog {
        let key = catalogKey(id)
        let stored: [UInt8]
        if let bytes {
            stored = bytes
        } else {
            do throws(StrataError) {
                stored = try objects.get(key)
            } catch where error.code == .notFound {
                throw StrataError(.notFound, "there is no complete backup \(id) in \(objects.location) (backup list shows the backups)")
            }
        }
        let plain = try SealedFile.open(stored, keyring: keyring, location: location(key))
        let catalog = try BackupCatalog.decode(plain, location: location(key))
        guard catalog.id == id else {
            throw StrataError(.corrupt, "the catalog under \(id) is the catalog of backup \(catalog.id)", path: location(key))
        }
        return catalog
    }

    // MARK: Creating

    /// What `create` did.
    public struct CreateSummary: Sendable {
        public var catalog: BackupCatalog
        public var uploaded = 0
        public var uploadedBytes = 0
        public var referenced = 0
    }

    /// Backs up the series-days of `measurement` (all when nil) and `symbols` (all when
    /// nil) of an open database: a snapshot (after a flush; appends go on), then every
    /// schema, manifest and segment uploaded and checked, the catalog last. Unless `full`,
    /// segments that the newest earlier backup of this store already holds, under the same
    /// key, are referenced instead of uploaded.
    public func create(_ database: Database, measurement: String? = nil, symbols: [String]? = nil, full: Bool = false,
                       now: Int64 = CivilTime.now()) throws(StrataError) -> CreateSummary {
        let storeID = try database.store.identity()
        try objects.prepareForWrites()
        // A second backup within the same second gets a suffix.
        var id = Self.id(created: now, store: storeID)
        var n = 1
        while try objects.head(catalogKey(id)) != nil {
            n += 1
            id = Self.id(created: now, store: storeID) + "-\(n)"
        }
        var base: BackupCatalog?
        var existing: [String: Int] = [:]
        if !full { (base, existing) = try newestBackup(of: storeID) }
        // Only what is still there, whole, is referenced; anything else goes up again.
        var inBase: [String: BackupCatalog.File] = [:]
        var archivedInBase: [String: BackupCatalog.File] = [:]
        for f in base?.files ?? [] {
            if f.role == .archived { archivedInBase[f.key] = f } else if existing[f.key] == f.size { inBase[f.path] = f }
        }

        let snapshot = try database.snapshot(measurement: measurement, symbols: symbols.map(Set.init))
        defer { snapshot.discard() }
        var catalog = BackupCatalog(id: id, store: storeID, created: now, base: base?.id, measurement: measurement,
                                    symbols: symbols?.sorted(), flushedThrough: snapshot.walPosition, files: [])
        var summary = CreateSummary(catalog: catalog)
        let sealingKey = keyring?.current

        func upload(_ role: BackupCatalog.File.Role, path: String, _ bytes: [UInt8], rows: UInt64 = 0, content: String = "-") throws(StrataError) {
            let key = "\(Self.prefix)\(id)/\(path.hasSuffix(".seg") ? String(path.dropLast(4)) + ".strata" : path)"
            try objects.putVerified(key, bytes)
            catalog.files.append(BackupCatalog.File(role: role, path: path, key: key, size: bytes.count, sha256: sha256Hex(bytes),
                                                    keyID: sealingKey?.id, rows: rows, content: content))
            summary.uploaded += 1
            summary.uploadedBytes += bytes.count
        }
        /// A schema or manifest: referenced when the base holds the same plain bytes under
        /// the same key, else uploaded (sealed when encryption is on).
        func uploadSmall(_ role: BackupCatalog.File.Role, path: String, _ plain: [UInt8]) throws(StrataError) {
            let content = sealingKey.map { contentTag(plain, key: $0) } ?? sha256Hex(plain)
            if let old = inBase[path], old.role == role, old.keyID == sealingKey?.id, old.content == content {
                catalog.files.append(old)
                summary.referenced += 1
                return
            }
            try upload(role, path: path, sealingKey.map { SealedFile.seal(plain, with: $0) } ?? plain, content: content)
        }

        for (m, bytes) in snapshot.schemas.sorted(by: { $0.key < $1.key }) {
            try uploadSmall(.schema, path: "\(Names.directoryName(m))/_schema", bytes)
        }
        for (m, bytes) in snapshot.partitions.sorted(by: { $0.key < $1.key }) {
            try uploadSmall(.partition, path: "\(Names.directoryName(m))/_partition", bytes)
        }
        for (m, bytes) in snapshot.layouts.sorted(by: { $0.key < $1.key }) {
            try uploadSmall(.layout, path: "\(Names.directoryName(m))/_layout", bytes)
        }
        /// An archived segment: referenced (it stays in the archive), checked to be there.
        func reference(_ entry: DayManifest.ColdEntry, path: String, of what: String) throws(StrataError) {
            if let old = archivedInBase[entry.key], old.size == Int(entry.bytes), old.path == path, old.rows == entry.rows {
                catalog.files.append(old)
                summary.referenced += 1
                return
            }
            // The object's tail: its size, and the key that sealed it (if any).
            let tail: (bytes: [UInt8], objectSize: Int)
            do throws(StrataError) {
                tail = try objects.getTail(entry.key, count: ColdObject.encryptedTrailerSize)
            } catch where error.code == .notFound {
                throw StrataError(.notFound, "the manifest of \(what) lists archived object \(entry.key), which \(objects.location) does not hold; a backup must go to the store the archive is in")
            }
            let trailer = try tail.bytes.withUnsafeBytes { raw in
                Result { () throws(FormatError) in try ColdObject.trailer(tail: raw, objectSize: tail.objectSize) }
            }.mapError { StrataError.corrupt($0, path: location(entry.key)) }.get()
            catalog.files.append(BackupCatalog.File(role: .archived, path: path, key: entry.key, size: tail.objectSize, sha256: "-",
                                                    keyID: trailer.keyID, rows: entry.rows))
            summary.referenced += 1
        }
        // Packed partitions as they are on disk: packs (never rewritten under one name, so
        // one already in the base backup is referenced), then the pack manifest.
        for part in snapshot.packed {
            let dir = "\(Names.directoryName(part.measurement))/_packed/\(part.day)"
            for pack in part.packs {
                let path = "\(dir)/\(paddedHex(pack.id, digits: 16)).pack"
                let stored = sealingKey == nil ? pack.size : pack.size + SealedFile.overhead
                if let old = inBase[path], old.role == .pack, old.keyID == sealingKey?.id, old.rows == pack.rows, old.size == stored {
                    catalog.files.append(old)
                    summary.referenced += 1
                    continue
                }
                let bytes = try MappedFile(path: pack.path).withUnsafeBytes { Array($0) }
                try upload(.pack, path: path, sealingKey.map { SealedFile.seal(bytes, with: $0) } ?? bytes, rows: pack.rows)
            }
            for entry in part.archived { try reference(entry, path: dir, of: "\(part.measurement) \(part.day)") }
            try uploadSmall(.packManifest, path: "\(dir)/_manifest", part.manifest)
        }
        for day in snapshot.days {
            let dayPath = "\(Names.directoryName(day.key.series.measurement))/\(Names.directoryName(day.key.series.symbol))/\(day.key.day)"
            for segment in day.segments {
                let path = "\(dayPath)/\(segment.id.fileName)"
                if let old = inBase[path], old.keyID == sealingKey?.id, old.rows == segment.rows {
                    // Segment ids are never reused within a series-day: same path, same bytes.
                    catalog.files.append(old)
                    summary.referenced += 1
                    continue
                }
                let file = try MappedFile(path: segment.path)
                let cipher = sealingKey.map { ObjectCipher.new($0) }
                let cold = try file.withUnsafeBytes { raw in Result { () throws(FormatError) in try ColdObject.make(fromSegment: raw, cipher: cipher) } }
                    .mapError { StrataError.corrupt($0, path: "\(database.store.directory)/\(path)") }.get()
                try upload(.segment, path: path, cold, rows: segment.rows)
            }
            for entry in day.archived { try reference(entry, path: dayPath, of: "\(day.key.series) \(day.key.day)") }
            try uploadSmall(.manifest, path: "\(dayPath)/_manifest", day.manifest)
        }
        let catalogBytes = sealingKey.map { SealedFile.seal(catalog.encode(), with: $0) } ?? catalog.encode()
        try objects.putVerified(catalogKey(id), catalogBytes)
        summary.catalog = catalog
        summary.uploaded += 1
        summary.uploadedBytes += catalogBytes.count
        return summary
    }
}
