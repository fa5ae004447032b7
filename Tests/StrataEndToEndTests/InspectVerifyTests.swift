import Glibc
@testable import StrataEngine
import StrataFormat
import StrataPlatform
import StrataTestSupport
import Testing

/// `strata inspect --verify` on every kind of file Strata writes, made by the real engine:
/// a good file verifies ok, a flipped byte or a cut is reported naming the file, and a
/// foreign file is refused saying what was expected.
@Suite struct InspectVerifyTests {
    let root = TemporaryDirectory()
    var data: String { root.path + "/data" }
    var day: String { data + "/trade/ESH4/2024-01-02" }
    let key = String(repeating: "5a", count: 32)

    let trades = CLITests.trades

    func ingestTrades() {
        CLITests.ingest(CLITests.trades, into: data, scratch: root.path)
    }

    /// `inspect --verify` of `bytes` written to `name` in the temporary directory.
    func verify(_ bytes: [UInt8], as name: String, environment: [String: String] = [:]) -> (status: Int32, stdout: String, stderr: String) {
        let path = root.path + "/" + name
        writeFile(path, bytes)
        return runStrata(["inspect", "--verify", path], environment: environment)
    }

    func flipped(_ bytes: [UInt8], at offset: Int) -> [UInt8] {
        var out = bytes
        out[offset] ^= 0x20
        return out
    }

    @Test func segmentVerifiesAndItsDamageIsNamed() throws {
        ingestTrades()
        let segment = try readFile(day + "/0000000000000001.seg")
        let good = runStrata(["inspect", "--verify", day + "/0000000000000001.seg"])
        #expect(good.status == 0 && good.stdout.contains("verify: ok (header, footer and trailer; 1 block: checksums and decoding)\n"), "\(good)")
        let bad = verify(flipped(segment, at: SegmentLayout.headerSize + 5), as: "flipped.seg")
        #expect(bad.status == 1 && bad.stderr.contains("flipped.seg, block 0, byte 16: block checksum is"), "\(bad.stderr)")
        let cut = verify(Array(segment.dropLast(7)), as: "cut.seg")
        #expect(cut.status == 1 && cut.stderr.contains("cut.seg") && cut.stderr.contains("truncated or was not finished"), "\(cut.stderr)")
    }

    @Test func dayManifestVerifiesWithTheSegmentsBesideIt() throws {
        ingestTrades()
        let path = day + "/_manifest"
        let good = runStrata(["inspect", "--verify", path])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("format: STRATMAN version 1, a day manifest\n") && good.stdout.contains("  0000000000000001.seg: 4 rows\n"), "\(good.stdout)")
        #expect(good.stdout.contains("verify: ok (header, checksum, 1 segment, 0 archived, 0 tombstones: counts, order and ranges; rows match 1 segment file beside it)\n"),
                "\(good.stdout)")
        // Recognised by its magic, whatever its name; away from its segments it says so.
        let manifest = try readFile(path)
        let copy = verify(manifest, as: "copy-of-a-manifest")
        #expect(copy.status == 0 && copy.stdout.contains("its segment files are not beside it"), "\(copy)")

        let bad = verify(flipped(manifest, at: 20), as: "_manifest")
        #expect(bad.status == 1 && bad.stderr.contains(root.path + "/_manifest, byte 0: day manifest checksum mismatch"), "\(bad.stderr)")
        let cut = verify(Array(manifest.dropLast(9)), as: "_manifest")
        #expect(cut.status == 1 && cut.stderr.contains(root.path + "/_manifest") && cut.stderr.contains("checksum mismatch"), "\(cut.stderr)")
        let headerOnly = verify(Array(manifest.prefix(10)), as: "_manifest")
        #expect(headerOnly.status == 1 && headerOnly.stderr.contains("day manifest of 10 bytes has no complete header"), "\(headerOnly.stderr)")

        // A manifest whose checksum is right but whose row count disagrees with the segment.
        var wrong = try manifest.withUnsafeBytes { raw throws in try DayManifest.decode(raw) }
        wrong.segments[0].rows = 5
        writeFile(path, wrong.encode())
        let mismatch = runStrata(["inspect", "--verify", path])
        #expect(mismatch.status == 1 && mismatch.stderr.contains("\(path): the manifest lists segment 0000000000000001.seg with 5 rows; its footer says 4"),
                "\(mismatch.stderr)")
        // A segment it lists that is gone.
        wrong.segments[0].rows = 4
        wrong.segments.append(DayManifest.Entry(id: 7, rows: 1))
        wrong.nextSegmentID = 8
        writeFile(path, wrong.encode())
        let missing = runStrata(["inspect", "--verify", path])
        #expect(missing.status == 1 && missing.stderr.contains("segment 0000000000000007.seg, which is not in its directory"), "\(missing.stderr)")
    }

    @Test func schemaVerifiesAndDamageNamesTheChecksumLine() throws {
        ingestTrades()
        let path = data + "/trade/_schema"
        let good = runStrata(["inspect", "--verify", path])
        #expect(good.status == 0 && good.stdout.contains("fields: price:float, size:int\n")
                && good.stdout.contains("verify: ok (checksum line (line 4), header line, 2 field lines: names, types, none repeated)\n"), "\(good)")
        let schema = try readFile(path)
        let bad = verify(flipped(schema, at: 17), as: "_schema")
        #expect(bad.status == 1 && bad.stderr.contains(root.path + "/_schema, line 4, byte \(schema.count - 16): schema file checksum mismatch"), "\(bad.stderr)")
        let cut = verify(Array(schema.dropLast(3)), as: "_schema")
        #expect(cut.status == 1 && cut.stderr.contains(root.path + "/_schema") && cut.stderr.contains("does not end with a line feed"), "\(cut.stderr)")
        let noChecksum = verify(Array(schema.prefix(16)), as: "_schema")
        #expect(noChecksum.status == 1 && noChecksum.stderr.contains("schema file has no checksum line"), "\(noChecksum.stderr)")
    }

    /// A log as a killed live writer leaves it: two appends and a delete, never flushed.
    func crashedLog() throws -> String {
        let db = try Database(directory: data)
        let series = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let t = ns("2024-01-02T14:30:00Z")
        for n in 0..<2 {
            try db.appendBlocking([Store.SeriesRows(series: series, schema: [Field("price", .float64), Field("size", .int64)],
                                                    rows: RowBlock(timestamps: [t + Int64(n), t + 60_000_000_000],
                                                                   columns: [Column(.float64([4512.25, 4513])), Column(.int64([1, 2]))]))])
        }
        try db.deleteBlocking(series, from: t, to: t)
        db.simulateCrash()
        let logs = try FileSystem.list(data + "/_wal").filter { $0.hasSuffix(".wal") }.map { data + "/_wal/" + $0 }
        return try #require(logs.first { (try? FileSystem.fileSize($0)) ?? 0 > WALLayout.headerSize })
    }

    @Test func writeAheadLogVerifiesAndATornTailIsANoteNotDamage() throws {
        let path = try crashedLog()
        let good = runStrata(["inspect", "--verify", path])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("format: STRATWAL version 1, a write-ahead log file\n") && good.stdout.contains("records: 3 (rows 2, delete 1)\n")
                && good.stdout.contains("rows: 4\n") && good.stdout.contains("series: trade / ESH4\n"), "\(good.stdout)")
        #expect(good.stdout.contains("verify: ok (header; 3 records: lengths, checksums and payloads, 2 block checksums)\n"), "\(good.stdout)")

        let log = try readFile(path)
        // The last record cut short, as a crash during its write leaves it: ok, with a note.
        let torn = verify(Array(log.dropLast(5)), as: "0000000000000009.wal")
        #expect(torn.status == 0 && torn.stdout.contains("records: 2 (rows 2, delete 0)\n"), "\(torn)")
        var starts: [Int] = []
        _ = log.withUnsafeBytes { raw in WALLayout.scan(raw) { offset, _ in starts.append(offset) } }
        let last = try #require(starts.last)
        #expect(torn.stdout.contains("verify: ok (header; 2 records: lengths, checksums and payloads, 2 block checksums); torn tail at byte \(last) (\(log.count - 5 - last) bytes), normal after a crash: recovery drops it\n")
                && torn.stdout.contains("end: torn tail at byte \(last): "), "\(torn.stdout)")
        // Zeros after the records (space allocated, never written) are a torn tail too.
        let zeros = verify(log + [UInt8](repeating: 0, count: 40), as: "zeros.wal")
        #expect(zeros.status == 0 && zeros.stdout.contains("torn tail at byte \(log.count) (40 bytes), normal after a crash"), "\(zeros)")
        // Damage in the first record, with more after it: an error naming file and offset.
        let damaged = verify(flipped(log, at: WALLayout.headerSize + WALLayout.recordHeaderSize + 3), as: "0000000000000008.wal")
        #expect(damaged.status == 1 && damaged.stderr.contains(root.path + "/0000000000000008.wal, byte 16: damaged write-ahead log: record 1 (at byte 16): record checksum mismatch"),
                "\(damaged.stderr)")
        let length = verify(flipped(log, at: WALLayout.headerSize + 1), as: "length.wal")
        #expect(length.status == 1 && length.stderr.contains("length.wal, byte 16: damaged write-ahead log: record 1 (at byte 16): record length and its check disagree"),
                "\(length.stderr)")
        let header = verify(flipped(log, at: 9), as: "header.wal")
        #expect(header.status == 1 && header.stderr.contains("header.wal, byte 0: WAL file header checksum mismatch"), "\(header.stderr)")
        // A file whose header a crash cut short holds no records, as recovery reads it.
        let short = verify(Array(log.prefix(6)), as: "0000000000000010.wal")
        #expect(short.status == 0 && short.stdout.contains("verify: ok (no records); torn header at byte 0: the file holds 6 of the header's 16 bytes"), "\(short)")
    }

    @Test func coldObjectsPlainAndEncrypted() throws {
        ingestTrades()
        let push = runStrata(["archive", "push", "--data-dir", data, "--older-than", "0s"])
        #expect(push.status == 0, "\(push.stderr)")
        let objects = files(under: data + "/_archive", named: ".strata")
        let object = try #require(objects.first { $0.contains("/ESH4/") })
        let good = runStrata(["inspect", "--verify", object])
        #expect(good.status == 0 && good.stdout.contains("verify: ok (header, index checksum, 1 frame: checksums and zstd; the segment's header, footer and trailer; 1 block: checksums and decoding)\n"),
                "\(good)")
        // The manifest now lists the segment as archived (version 2).
        let manifest = runStrata(["inspect", "--verify", day + "/_manifest"])
        #expect(manifest.status == 0 && manifest.stdout.contains("format: STRATMAN version 2, a day manifest\n") && manifest.stdout.contains("archived: 1, 4 rows\n"),
                "\(manifest)")
        // The store's identity, made for archive keys, is checksummed text.
        let id = runStrata(["inspect", "--verify", data + "/_id"])
        #expect(id.status == 0 && id.stdout.contains("format: checksummed text, the store's identity (_id)\n")
                && id.stdout.contains("verify: ok (checksum line (line 2))\n"), "\(id)")
        let badID = verify(flipped(try readFile(data + "/_id"), at: 3), as: "_id")
        #expect(badID.status == 1 && badID.stderr.contains(root.path + "/_id, line 2, byte 17: checksummed text file checksum mismatch"), "\(badID.stderr)")
        let bytes = try readFile(object)
        let bad = verify(flipped(bytes, at: 20), as: "flipped.strata")
        #expect(bad.status == 1 && bad.stderr.contains("flipped.strata, byte 16: cold block 0 checksum mismatch"), "\(bad.stderr)")
        let cut = verify(Array(bytes.dropLast(3)), as: "cut.strata")
        #expect(cut.status == 1 && cut.stderr.contains("cut.strata") && cut.stderr.contains("no STRATCLD or STRATCLE magic at its end: it was truncated or was not finished"),
                "\(cut.stderr)")

        // Encrypted: verified with the key, refused without it naming the key it needs.
        let other = root.path + "/other"
        let csv = root.path + "/t.csv"
        #expect(runStrata(["ingest", "--data-dir", other, "--measurement", "trade", csv]).status == 0)
        let sealedPush = runStrata(["archive", "push", "--data-dir", other, "--older-than", "0s"], environment: ["STRATA_ENCRYPTION_KEY": key])
        #expect(sealedPush.status == 0, "\(sealedPush.stderr)")
        let sealed = try #require(files(under: other + "/_archive", named: ".strata").first)
        let opened = runStrata(["inspect", "--verify", sealed], environment: ["STRATA_ENCRYPTION_KEY": key])
        #expect(opened.status == 0 && opened.stdout.contains("encryption: AES-256-GCM, key ")
                && opened.stdout.contains("frame: checksums, GCM tags and zstd"), "\(opened)")
        let blind = runStrata(["inspect", "--verify", sealed])
        #expect(blind.status == 1 && blind.stderr.contains(sealed) && blind.stderr.contains("is encrypted with key"), "\(blind.stderr)")
        let sealedBytes = try readFile(sealed)
        let tampered = verify(flipped(sealedBytes, at: 20), as: "tampered.strata", environment: ["STRATA_ENCRYPTION_KEY": key])
        #expect(tampered.status == 1 && tampered.stderr.contains("tampered.strata, byte 16: cold block 0 checksum mismatch"), "\(tampered.stderr)")
    }

    @Test func backupCatalogAndItsSealedCopies() throws {
        ingestTrades()
        let bucket = root.path + "/bucket"
        let created = runStrata(["backup", "create", "--data-dir", data, "--archive", "file://" + bucket])
        #expect(created.status == 0, "\(created.stderr)")
        let catalog = try #require(files(under: bucket + "/backups", named: "catalog").first)
        let good = runStrata(["inspect", "--verify", catalog])
        #expect(good.status == 0 && good.stdout.contains("format: strata-backup 1, a backup catalog (text)\n")
                && good.stdout.contains("files: 5 (schema 1, manifest 2, segment 2, archived 0), 5 rows"), "\(good)")
        #expect(good.stdout.contains("verify: ok (checksum line (line 12), header, id, store, created, scope and log position, 5 file lines"), "\(good.stdout)")
        // The backup's copies of a manifest and a schema verify as what they are.
        let copies = runStrata(["inspect", "--verify"] + files(under: bucket + "/backups", named: "_manifest") + files(under: bucket + "/backups", named: "_schema"))
        #expect(copies.status == 0 && copies.stdout.components(separatedBy: "verify: ok (").count == 4, "\(copies)")

        let bytes = try readFile(catalog)
        let bad = verify(flipped(bytes, at: 40), as: "catalog")
        #expect(bad.status == 1 && bad.stderr.contains(root.path + "/catalog, line 12, byte ") && bad.stderr.contains("backup catalog checksum mismatch"), "\(bad.stderr)")
        let cut = verify(Array(bytes.prefix(bytes.count / 2)), as: "catalog")
        #expect(cut.status == 1 && cut.stderr.contains(root.path + "/catalog") && cut.stderr.contains("backup catalog"), "\(cut.stderr)")

        // Encrypted: catalog, manifests and schema are sealed whole.
        let env = ["STRATA_ENCRYPTION_KEY": key]
        let sealedBucket = root.path + "/sealed"
        let sealedBackup = runStrata(["backup", "create", "--data-dir", data, "--archive", "file://" + sealedBucket], environment: env)
        #expect(sealedBackup.status == 0, "\(sealedBackup.stderr)")
        let sealedCatalog = try #require(files(under: sealedBucket + "/backups", named: "catalog").first)
        let opened = runStrata(["inspect", "--verify", sealedCatalog], environment: env)
        #expect(opened.status == 0 && opened.stdout.contains("encryption: AES-256-GCM, key ") && opened.stdout.contains("format: strata-backup 1")
                && opened.stdout.contains("verify: ok (sealed file checksum and GCM tag; checksum line"), "\(opened)")
        let sealedManifest = try #require(files(under: sealedBucket + "/backups", named: "_manifest").first)
        let manifest = runStrata(["inspect", "--verify", sealedManifest], environment: env)
        #expect(manifest.status == 0 && manifest.stdout.contains("format: STRATMAN version 1, a day manifest"), "\(manifest)")
        let blind = runStrata(["inspect", "--verify", sealedCatalog])
        #expect(blind.status == 1 && blind.stderr.contains(sealedCatalog) && blind.stderr.contains("is encrypted with key"), "\(blind.stderr)")
        let sealedBytes = try readFile(sealedCatalog)
        let tampered = verify(flipped(sealedBytes, at: 50), as: "sealed-catalog", environment: env)
        #expect(tampered.status == 1 && tampered.stderr.contains("sealed-catalog, byte 0: sealed file checksum mismatch"), "\(tampered.stderr)")
    }

    @Test func foreignFilesAreRefusedSayingWhatWasExpected() {
        let csv = verify(Array(trades.utf8), as: "trades.csv")
        #expect(csv.status == 1 && csv.stderr.contains("trades.csv, byte 0: not a Strata segment, cold object, day or pack manifest, pack, write-ahead log file, schema or backup catalog: it begins with 'time,sym'; expected STRATSEG"),
                "\(csv.stderr)")
        let binary = verify([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0], as: "picture")
        #expect(binary.status == 1 && binary.stderr.contains("it begins with 89504e470d0a1a0a"), "\(binary.stderr)")
        let empty = verify([], as: "nothing")
        #expect(empty.status == 1 && empty.stderr.contains("nothing, byte 0: not a Strata segment") && empty.stderr.contains("the file is empty"), "\(empty.stderr)")
        // A name promises a kind; the error says what that kind should have begun with.
        let manifest = verify(Array(trades.utf8), as: "_manifest")
        #expect(manifest.status == 1 && manifest.stderr.contains("not a Strata day manifest (no STRATMAN magic at the start)"), "\(manifest.stderr)")
        let log = verify(Array(trades.utf8), as: "0000000000000001.wal")
        #expect(log.status == 1 && log.stderr.contains("not a Strata WAL file (no STRATWAL magic at the start)"), "\(log.stderr)")
        let schema = verify(Array("strata-schema 2\ncrc32c 00000000\n".utf8), as: "_schema")
        #expect(schema.status == 1 && schema.stderr.contains("_schema"), "\(schema.stderr)")
        // Several files: each gets its verdict, and the status says one failed.
        let mixed = runStrata(["inspect", "--verify", root.path + "/trades.csv", root.path + "/picture"])
        #expect(mixed.status == 1 && mixed.stderr.lines().count == 2, "\(mixed.stderr)")
    }

    /// Files under `directory` whose names end in `suffix`, sorted.
    func files(under directory: String, named suffix: String) -> [String] {
        var out: [String] = []
        func walk(_ dir: String) {
            for name in (try? FileSystem.list(dir)) ?? [] {
                let p = "\(dir)/\(name)"
                if FileSystem.isDirectory(p) { walk(p) } else if name.hasSuffix(suffix) { out.append(p) }
            }
        }
        walk(directory)
        return out.sorted()
    }
}
