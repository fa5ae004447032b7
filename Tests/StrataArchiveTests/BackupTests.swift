import Glibc
import StrataArchive
import StrataEngine
import StrataFormat
import StrataPlatform
@testable import StrataSystem
import Testing

/// Backups of a store with local, archived and unflushed data, against the local-directory
/// store and the real S3 server.
struct BackupScenario {
    let tiers: TieringScenario
    let backups: Backups
    var objects: any ObjectStore { tiers.objects }

    init(objects: any ObjectStore, keyring: Keyring? = nil) {
        tiers = TieringScenario(objects: objects, keyring: keyring)
        backups = Backups(objects: objects, keyring: keyring)
    }

    func open(_ dir: String) throws -> Database {
        try Database(directory: dir, configuration: tiers.configuration())
    }

    func run() async throws {
        let data = tiers.root.path + "/data"
        let db = try open(data)
        try await tiers.fill(db)
        // The first day goes to the archive; the others stay local.
        let pushed = try tiers.archive.push(db, olderThan: Day.nanosecondsPerDay, now: tiers.base + 2 * Day.nanosecondsPerDay)
        #expect(pushed.seriesDays == 2)
        // Rows still in memory: the backup's snapshot flushes them.
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        try await db.append(es, schema: tiers.schema, rows: RowBlock(timestamps: [tiers.base + 2 * Day.nanosecondsPerDay + 5],
                                                                   columns: [Column(.float64([4.5])), Column(.int64([3]))]))
        let firstAnswers = try tiers.answers(db)
        let esFirst = try db.query(es).rows

        let first = try backups.create(db, now: tiers.base + 10 * Day.nanosecondsPerDay)
        #expect(first.catalog.base == nil)
        #expect(first.referenced == 2)  // the two archived days
        #expect(first.catalog.rows == 2 * 90_000 + 1)
        let verified = try backups.verify(first.catalog.id)
        #expect(verified.ok, "\(verified.problems)")
        #expect(verified.checked == first.catalog.files.count && verified.sealedWithUnknownKey.isEmpty)

        // New rows on a new day; the second backup uploads only what changed.
        try await db.append(es, schema: tiers.schema, rows: RowBlock(timestamps: [tiers.base + 5 * Day.nanosecondsPerDay],
                                                                   columns: [Column(.float64([5.5])), Column(.int64([1]))]))
        let secondAnswers = try tiers.answers(db)
        let second = try backups.create(db, now: tiers.base + 11 * Day.nanosecondsPerDay)
        #expect(second.catalog.base == first.catalog.id)
        let firstSegments = first.catalog.files.filter { $0.role == .segment }
        // Uploaded: the new day's segment and manifest, and the catalog; everything else
        // (segments, unchanged manifests, the schema, archived days) is referenced.
        #expect(second.uploaded == 3, "\(second.catalog.files.filter { $0.key.hasPrefix("backups/\(second.catalog.id)/") }.map(\.path))")
        #expect(second.referenced == second.catalog.files.count - 2)
        #expect(second.catalog.files.filter { $0.role == .segment && $0.key.hasPrefix("backups/\(second.catalog.id)/") }.count == 1)
        #expect(firstSegments.allSatisfy { f in second.catalog.files.contains(f) })
        #expect(try backups.verify(second.catalog.id).ok)
        // Nothing changed: a backup is its catalog alone.
        let third = try backups.create(db, now: tiers.base + 11 * Day.nanosecondsPerDay)
        #expect(third.uploaded == 1 && third.catalog.base == second.catalog.id && third.catalog.id == second.catalog.id + "-2")
        let listed = try backups.list()
        #expect(listed.map(\.id) == [first.catalog.id, second.catalog.id, third.catalog.id])
        #expect(listed.allSatisfy { $0.catalog != nil })
        try db.close()

        // The second backup restored into an empty directory answers exactly as the store did.
        let restored = tiers.root.path + "/restored"
        let summary = try backups.restore(second.catalog.id, into: restored)
        #expect(summary.archived == 2 && summary.rows == second.catalog.rows)
        let back = try open(restored)
        #expect(try tiers.answers(back) == secondAnswers)
        #expect(try back.store.identity() != (try Store(directory: data).identity()))
        try back.close()

        // One symbol of the first backup.
        let one = tiers.root.path + "/one"
        _ = try backups.restore(first.catalog.id, into: one, symbols: ["ESH4"])
        let oneDB = try open(one)
        #expect(try oneDB.query(es).rows == esFirst)
        #expect(try oneDB.store.symbols("trade") == ["ESH4"])
        try oneDB.close()
        #expect { try backups.restore(first.catalog.id, into: tiers.root.path + "/none", symbols: ["NQH4"]) } throws: {
            ($0 as? StrataError)?.message.contains("no data of NQH4") == true
        }

        // Over a live store: refused without force; with force, not while it is open.
        #expect { try backups.restore(first.catalog.id, into: data) } throws: {
            ($0 as? StrataError)?.message.contains("--force") == true
        }
        let live = try open(data)
        #expect { try backups.restore(first.catalog.id, into: data, force: true) } throws: {
            ($0 as? StrataError)?.code == .conflict
        }
        try live.close()
        // What the directory links to is not the store's: replacing it never follows links.
        let outside = tiers.root.path + "/outside"
        try FileSystem.makeDirectories(outside)
        try FileSystem.writeAtomically(outside + "/keep", [Array("not the store's".utf8)])
        #expect(symlink(outside, data + "/link") == 0)
        try FileSystem.makeDirectories(data + "/_archive")
        try FileSystem.writeAtomically(data + "/_archive/object", [Array("the default archive stays".utf8)])
        _ = try backups.restore(first.catalog.id, into: data, force: true)
        let rewound = try open(data)
        #expect(try tiers.answers(rewound) == firstAnswers)
        try rewound.close()
        #expect(!FileSystem.exists(data + "/.restoring") && !FileSystem.exists(data + "/.replaced") && !FileSystem.exists(data + "/link"))
        #expect(FileSystem.exists(outside + "/keep") && FileSystem.exists(data + "/_archive/object"))
        // A store an interrupted restore moved aside is never thrown away.
        try FileSystem.makeDirectories(data + "/.replaced")
        #expect { try backups.restore(first.catalog.id, into: data, force: true) } throws: {
            ($0 as? StrataError)?.message.contains("interrupted restore") == true
        }
    }

    /// Damage one object and remove another: verify names both, restore refuses.
    func damage() async throws {
        let data = tiers.root.path + "/data"
        let db = try open(data)
        try await tiers.fill(db)
        let created = try backups.create(db)
        try db.close()
        let segments = created.catalog.files.filter { $0.role == .segment }
        var bytes = try objects.get(segments[3].key)
        bytes[bytes.count / 2] ^= 0x20
        try objects.put(segments[3].key, bytes)
        try objects.delete(segments[5].key)
        let report = try backups.verify(created.catalog.id)
        #expect(report.problems.count == 2)
        #expect(report.problems.contains { $0.hasPrefix(segments[3].key) && $0.contains("SHA-256") })
        #expect(report.problems.contains { $0.hasPrefix(segments[5].key) && $0.contains("missing") })
        #expect(report.checked == created.catalog.files.count)
        #expect { try backups.restore(created.catalog.id, into: tiers.root.path + "/r") } throws: {
            let e = $0 as! StrataError
            return e.message.contains(segments[3].key) || e.message.contains(segments[5].key)
        }
        // A damaged catalog is named too.
        var catalog = try objects.get("backups/\(created.catalog.id)/catalog")
        catalog[catalog.count / 2] ^= 1
        try objects.put("backups/\(created.catalog.id)/catalog", catalog)
        #expect { try backups.verify(created.catalog.id) } throws: {
            let e = $0 as! StrataError
            return e.code == .corrupt && e.path?.hasSuffix("backups/\(created.catalog.id)/catalog") == true
        }
        // It is listed with the reason, and the next backup is a full one (no usable base).
        let listed = try backups.list()
        #expect(listed.count == 1 && listed[0].catalog == nil && listed[0].problem?.contains("checksum") == true)
        let db2 = try open(data)
        let next = try backups.create(db2)
        try db2.close()
        #expect(next.catalog.base == nil && next.referenced == 0)
        #expect(try backups.verify(next.catalog.id).ok)
    }
}

extension BackupScenario {
    init(objects: any ObjectStore, keyring: Keyring? = nil, layout: MeasurementLayout) {
        tiers = TieringScenario(objects: objects, keyring: keyring, layout: layout)
        backups = Backups(objects: objects, keyring: keyring)
    }

    /// A packed measurement: backed up as its files are (layout, packs, pack manifests, and
    /// references to its archived segments), incrementally, and restored whole.
    func packed() async throws {
        let data = tiers.root.path + "/data"
        let db = try open(data)
        try await tiers.fill(db)
        let pushed = try tiers.archive.push(db, olderThan: Day.nanosecondsPerDay, now: tiers.base + 2 * Day.nanosecondsPerDay)
        #expect(pushed.seriesDays == 2)
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        try await db.append(es, schema: tiers.schema, rows: RowBlock(timestamps: [tiers.base + 2 * Day.nanosecondsPerDay + 5],
                                                                   columns: [Column(.float64([4.5])), Column(.int64([3]))]))
        let answers = try tiers.answers(db)
        let first = try backups.create(db, now: tiers.base + 10 * Day.nanosecondsPerDay)
        let roles = Dictionary(grouping: first.catalog.files, by: \.role).mapValues(\.count)
        #expect(roles[.layout] == 1 && roles[.packManifest] == 3 && (roles[.pack] ?? 0) >= 2 && roles[.archived] == 2 && roles[.segment] == nil, "\(roles)")
        #expect(first.catalog.rows == 2 * 90_000 + 1)
        let verified = try backups.verify(first.catalog.id)
        #expect(verified.ok && verified.checked == first.catalog.files.count, "\(verified.problems)")
        // Nothing changed: the next backup is its catalog alone.
        let second = try backups.create(db, now: tiers.base + 11 * Day.nanosecondsPerDay)
        #expect(second.uploaded == 1 && second.referenced == second.catalog.files.count)
        #expect { try backups.create(db, measurement: "trade", symbols: ["ESH4"]) } throws: {
            ($0 as? StrataError)?.message.contains("is packed") == true
        }
        try db.close()

        let restored = tiers.root.path + "/restored"
        let summary = try backups.restore(second.catalog.id, into: restored)
        #expect(summary.archived == 2 && summary.rows == second.catalog.rows && summary.seriesDays == 6)
        let back = try open(restored)
        #expect(try back.store.layout(of: "trade") == .packed)
        #expect(try tiers.answers(back) == answers)
        try back.close()
        #expect { try backups.restore(first.catalog.id, into: tiers.root.path + "/one", symbols: ["ESH4"]) } throws: {
            ($0 as? StrataError)?.message.contains("is packed") == true
        }
    }
}

@Suite struct BackupTests {
    @Test func aPackedMeasurementIsBackedUpAndRestoredWhole() async throws {
        let root = TemporaryDirectory()
        try await BackupScenario(objects: try LocalObjectStore(directory: root.path + "/bucket"), layout: .packed).packed()
    }

    @Test func aPackedMeasurementIsBackedUpSealed() async throws {
        let root = TemporaryDirectory()
        let key = EncryptionKey.random()
        let objects = try LocalObjectStore(directory: root.path + "/bucket")
        try await BackupScenario(objects: objects, keyring: Keyring(keys: [key], source: "test keys"), layout: .packed).packed()
        for info in try objects.list(prefix: "backups/") where info.key.hasSuffix(".pack") {
            #expect(try SealedFile.keyID(try objects.get(info.key), location: info.key) == key.id, "\(info.key)")
        }
    }

    @Test func backupsRestoreToIdenticalAnswersInADirectory() async throws {
        let root = TemporaryDirectory()
        try await BackupScenario(objects: try LocalObjectStore(directory: root.path + "/bucket")).run()
    }

    @Test(.enabled(if: S3TestServer.enabled, "needs the S3 server scripts/test starts"))
    func backupsRestoreToIdenticalAnswersInS3() async throws {
        try await BackupScenario(objects: try S3TestServer.store(bucket: S3TestServer.bucket("backup"))).run()
    }

    @Test func verifyNamesTheDamagedAndTheMissingObjectInADirectory() async throws {
        let root = TemporaryDirectory()
        try await BackupScenario(objects: try LocalObjectStore(directory: root.path + "/bucket")).damage()
    }

    @Test(.enabled(if: S3TestServer.enabled, "needs the S3 server scripts/test starts"))
    func verifyNamesTheDamagedAndTheMissingObjectInS3() async throws {
        try await BackupScenario(objects: try S3TestServer.store(bucket: S3TestServer.bucket("backup-damage"))).damage()
    }

    @Test func encryptedBackupsRoundTripAndRefuseTheWrongKeyInADirectory() async throws {
        let root = TemporaryDirectory()
        try await encryptedRoundTrip(try LocalObjectStore(directory: root.path + "/bucket"))
    }

    @Test(.enabled(if: S3TestServer.enabled, "needs the S3 server scripts/test starts"))
    func encryptedBackupsRoundTripAndRefuseTheWrongKeyInS3() async throws {
        try await encryptedRoundTrip(try S3TestServer.store(bucket: S3TestServer.bucket("backup-sealed")))
    }

    func encryptedRoundTrip(_ objects: any ObjectStore) async throws {
        let root = TemporaryDirectory()
        let key = EncryptionKey.random()
        let scenario = BackupScenario(objects: objects, keyring: Keyring(keys: [key], source: "test keys"))
        try await scenario.run()
        // Every object is sealed: the small files whole, segments frame by frame.
        for info in try objects.list(prefix: "") {
            let bytes = try objects.get(info.key)
            if info.key.hasSuffix(".strata") {
                #expect(Array(bytes.suffix(8)) == Array("STRATCLE".utf8), "\(info.key)")
            } else {
                #expect(try SealedFile.keyID(bytes, location: info.key) == key.id, "\(info.key)")
            }
        }
        let id = try scenario.backups.list().last!.id
        for keyring in [nil, Keyring(keys: [EncryptionKey.random()], source: "other keys")] {
            let blind = Backups(objects: objects, keyring: keyring)
            #expect { try blind.restore(id, into: root.path + "/blind") } throws: {
                let e = $0 as! StrataError
                return e.code == .denied && e.message.contains(key.id.description) && !e.message.contains(key.hex)
            }
            #expect(throws: StrataError.self) { try blind.verify(id) }
            // Listing still shows the backup, marked as sealed with a key it lacks.
            let listed = try blind.list()
            #expect(listed.count == 3 && listed.allSatisfy { $0.catalog == nil && $0.catalogKeyID == key.id })
        }
        #expect(!FileSystem.exists(root.path + "/blind/trade"))
    }

    @Test func catalogsRoundTripAndNameTheirBadLines() throws {
        let catalog = BackupCatalog(
            id: "20240102T030405Z-0123abcd", store: "0123abcd0123abcd", created: 1_704_164_645_000_000_000, base: "20240101T000000Z-0123abcd",
            measurement: "trade", symbols: ["BTC/USD", "ESH4"], flushedThrough: WALPosition(file: 7, offset: 1234),
            files: [BackupCatalog.File(role: .segment, path: "trade/ESH4/2024-01-02/0000000000000001.seg",
                                       key: "backups/20240101T000000Z-0123abcd/trade/ESH4/2024-01-02/0000000000000001.strata",
                                       size: 77, sha256: String(repeating: "ab", count: 32), keyID: KeyID(0x1234), rows: 9)])
        let bytes = catalog.encode()
        #expect(try BackupCatalog.decode(bytes, location: "c") == catalog)
        #expect(String(decoding: bytes, as: UTF8.self).contains("scope trade BTC%2FUSD,ESH4\n"))
        var text = String(decoding: bytes, as: UTF8.self).split(separator: "\n").dropLast().map { $0 + "\n" }.joined()
        text = text.split(separator: " ", omittingEmptySubsequences: false).map { $0 == "77" ? "seventy" : $0 }.joined(separator: " ")
        #expect { try BackupCatalog.decode(ChecksummedText.encode(text), location: "c") } throws: {
            let e = $0 as! StrataError
            return e.code == .corrupt && e.line == 8
        }
        // A forged catalog cannot make restore write outside the data directory.
        let good = "trade/ESH4/2024-01-02/0000000000000001.seg"
        for path in ["../../etc/passwd", "/etc/passwd", "trade/../../x/2024-01-02/0000000000000001.seg", "trade/ESH4/2024-01-02/x.seg",
                     "trade/ESH4/2024-13-02/0000000000000001.seg", "_wal/ESH4/2024-01-02/0000000000000001.seg", "trade//2024-01-02/0000000000000001.seg"] {
            var forged = catalog
            forged.files[0].path = path
            #expect(throws: StrataError.self, "\(path)") { try BackupCatalog.decode(forged.encode(), location: "c") }
        }
        var forgedKey = catalog
        forgedKey.files[0].key = "backups/../../x"
        #expect(throws: StrataError.self) { try BackupCatalog.decode(forgedKey.encode(), location: "c") }
        #expect(catalog.files[0].path == good)
    }
}

extension BackupTests {
    /// With encryption on, an archived object swapped for an unencrypted one (a CRC is all
    /// that guards it) is named by verify and refused by queries.
    @Test func aSwappedPlainArchivedObjectIsCaught() async throws {
        let root = TemporaryDirectory()
        let objects = try LocalObjectStore(directory: root.path + "/bucket")
        let keyring = Keyring(keys: [EncryptionKey.random()], source: "test keys")
        let scenario = BackupScenario(objects: objects, keyring: keyring)
        let data = scenario.tiers.root.path + "/data"
        let db = try scenario.open(data)
        try await scenario.tiers.fill(db)
        _ = try scenario.tiers.archive.push(db, olderThan: 0)
        let created = try scenario.backups.create(db)
        let archived = created.catalog.files.first { $0.role == .archived }!
        // The same segment, cold but unencrypted, put in its place.
        let sealed = try objects.get(archived.key)
        let plainSegment = try rebuild(sealed, keyring: keyring)
        let plain = try plainSegment.withUnsafeBytes { raw throws in try ColdObject.make(fromSegment: raw) }
        try objects.put(archived.key, plain)
        let report = try scenario.backups.verify(created.catalog.id)
        #expect(report.problems.count == 1 && report.problems[0].hasPrefix(archived.key), "\(report.problems)")
        try db.close()
        // A fresh process (no cached index or blocks) reading that day.
        var c = scenario.tiers.configuration(withArchive: false)
        c.store.coldStorage = Archive(objects: objects, keyring: keyring)
        let again = try Database(directory: data, configuration: c)
        let symbol = Names.name(fromDirectory: String(archived.path.split(separator: "/")[1]))!
        #expect { try again.query(try SeriesKey(measurement: "trade", symbol: symbol)) } throws: {
            ($0 as? StrataError)?.message.contains("not encrypted") == true
        }
        try again.close()
    }
}
