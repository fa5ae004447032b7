import Glibc
@testable import StrataEngine
import StrataFormat
import StrataPlatform
import StrataTestSupport
import Testing

/// Packed measurements: every series of a partition in one pack manifest and a few pack
/// files. The format's pack manifest, and the engine's paths (writes, late rows, deletes,
/// compaction, a crash and replay) checked against the same operations on series
/// directories, which must answer identically.
@Suite struct PackTests {
    let root = TemporaryDirectory()
    let day = Day.nanosecondsPerDay
    let schema = [Field("price", .float64), Field("size", .int64)]

    func rows(_ times: [Int64], first: Int = 0) -> RowBlock {
        RowBlock(timestamps: times, columns: [Column(.float64(times.indices.map { Double(first + $0) })), Column(.int64(times.indices.map { Int64(first + $0) }))])
    }

    // MARK: Format

    func entry(_ symbol: String, segments: Int, pack: UInt64) -> PackManifest.Entry {
        var m = DayManifest()
        var locations: [PackManifest.Location] = []
        for i in 0..<segments {
            _ = m.addSegment(rows: UInt64(10 + i))
            locations.append(PackManifest.Location(pack: pack, offset: UInt64(16 + 100 * i), length: 100))
        }
        m.tombstones = segments > 1 ? [Tombstone(from: -5, to: 5, throughSegment: 1)] : []
        m.rowsFlushedThrough = WALPosition(file: 3, offset: UInt64(symbol.utf8.count))
        return PackManifest.Entry(symbol: symbol, manifest: m, locations: locations)
    }

    @Test func aPackManifestRoundTripsAndFindsEachSymbolBySearch() throws {
        let symbols = (0..<500).map { "C\($0 * 7919 % 1000)" } + ["é€", "A", "a b"]
        let manifest = PackManifest(nextPackID: 4, entries: symbols.enumerated().map { entry($1, segments: $0 % 3, pack: UInt64(1 + $0 % 3)) })
        let bytes = manifest.encode()
        let decoded = try bytes.withUnsafeBytes { try PackManifest.decode($0) }
        #expect(decoded == manifest)
        #expect(decoded.entries.map(\.symbol) == symbols.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        try bytes.withUnsafeBytes { raw in
            let view = try PackManifest.View(raw)
            for s in symbols { #expect(try view.entry(for: s)?.symbol == s) }
            for s in ["", "C", "C1000", "zz", "é"] { #expect(try view.entry(for: s) == nil) }
        }
    }

    @Test func everyDamagedByteOfAPackManifestIsAnError() throws {
        let bytes = PackManifest(nextPackID: 3, entries: ["ES", "NQ", "CL"].map { entry($0, segments: 2, pack: 2) }).encode()
        for i in bytes.indices {
            var damaged = bytes
            damaged[i] ^= 0x20
            #expect(throws: FormatError.self) { try damaged.withUnsafeBytes { try PackManifest.decode($0) } }
        }
        for cut in [0, 8, 16, 27, bytes.count - 1] {
            #expect(throws: FormatError.self) { try Array(bytes[0..<cut]).withUnsafeBytes { try PackManifest.decode($0) } }
        }
    }

    // MARK: Store

    @Test func thousandsOfSparseSeriesCostAFewFilesAndReadBackExactly() throws {
        var c = StoreConfiguration(rowsPerBlock: 64)
        c.layouts["option"] = .layout(.packed)
        let store = try Store(directory: root.path, configuration: c, create: true)
        let start = ns("2024-03-05T14:30:00Z")
        var batch: [Store.SeriesRows] = []
        for i in 0..<3_000 {
            let times = (0..<(1 + i % 7)).map { start + Int64($0 * 1_000_003 + i) }
            batch.append(Store.SeriesRows(series: try SeriesKey(measurement: "option", symbol: "SPX 240315C0\(4000 + i)"), schema: schema, rows: rows(times, first: i)))
        }
        let summary = try store.write(batch)
        #expect(summary.rows == batch.reduce(0) { $0 + $1.rows.rowCount })
        // One day: one manifest and one pack (plus `_schema` and `_layout`).
        let partition = "\(root.path)/option/_packed/2024-03-05"
        #expect(try FileSystem.list(partition).sorted() == ["0000000000000001.pack", "_manifest"])
        #expect(try FileSystem.list("\(root.path)/option").sorted() == ["_layout", "_packed", "_schema"])
        #expect(try store.layout(of: "option") == .packed)
        #expect(try store.symbols("option") == batch.map(\.series.symbol).sorted())
        for item in batch {
            let got = try store.query(item.series).rows
            #expect(got.timestamps == item.rows.timestamps)
            #expect(got.columns.map(\.values) == item.rows.columns.map(\.values), "\(item.series)")
        }
        #expect(try store.days(batch[0].series).map(\.description) == ["2024-03-05"])
        #expect(try store.query(try SeriesKey(measurement: "option", symbol: "absent")).rows.rowCount == 0)
        // A second write adds a pack; the first pack stays, shared by the series it holds.
        try store.write(Array(batch[0..<10]))
        #expect(try FileSystem.list(partition).sorted() == ["0000000000000001.pack", "0000000000000002.pack", "_manifest"])
        #expect(try store.query(batch[3].series).rows.rowCount == 2 * batch[3].rows.rowCount)
    }

    @Test func aSegmentCopiedIntoAnotherSeriesIsNamedNotRead() throws {
        var c = StoreConfiguration(rowsPerBlock: 64)
        c.layouts["option"] = .layout(.packed)
        let store = try Store(directory: root.path, configuration: c, create: true)
        let a = try SeriesKey(measurement: "option", symbol: "A"), b = try SeriesKey(measurement: "option", symbol: "B")
        let t = ns("2024-03-05T14:30:00Z")
        // Enough rows for images of their own (fewer go into a group image).
        let times = (0..<(Store.groupMaximumRows + 1)).map { t + Int64($0) }
        try store.write([Store.SeriesRows(series: a, schema: schema, rows: rows(times)), Store.SeriesRows(series: b, schema: schema, rows: rows(times))])
        let day = Day(containing: t)
        var pack = try store.packManifest("option", day)
        #expect(pack.entries.allSatisfy { $0.locations.allSatisfy { $0.firstRow == nil } })
        // B's entry pointing at A's segment image: the footer names A, so reading B fails.
        pack.entries[1].locations = pack.entries[0].locations
        try FileSystem.writeAtomically(store.packManifestPath("option", day), [pack.encode()])
        let error = #expect(throws: StrataError.self) { try store.query(b) }
        #expect(error?.message.contains("holds option/A") == true, "\(String(describing: error))")
        #expect(error?.path?.hasSuffix(".pack@16") == true, "\(String(describing: error))")
        #expect(try store.query(a).rows.rowCount == times.count)
    }

    @Test func smallSeriesShareAGroupImageAndASliceOutsideItIsNamed() throws {
        var c = StoreConfiguration(rowsPerBlock: 64)
        c.layouts["option"] = .layout(.packed)
        let store = try Store(directory: root.path, configuration: c, create: true)
        let t = ns("2024-03-05T14:30:00Z")
        var batch: [Store.SeriesRows] = []
        for k in 0..<3_000 {
            let series = try SeriesKey(measurement: "option", symbol: "C\(100_000 + k)")
            batch.append(Store.SeriesRows(series: series, schema: schema, rows: rows((0..<(1 + k % 5)).map { t + Int64(k * 10 + $0) })))
        }
        try store.write(batch)
        let day = Day(containing: t)
        var pack = try store.packManifest("option", day)
        // One group image holds every series, each a slice of it, in symbol order.
        let images = Set(pack.entries.flatMap { $0.locations.map(\.image) })
        #expect(images.count == 1)
        var next: UInt64 = 0
        for e in pack.entries {
            #expect(e.locations[0].firstRow == next)
            next += e.manifest.segments[0].rows
        }
        for item in batch.shuffled().prefix(50) {
            #expect(try store.query(item.series).rows == item.rows)
        }
        // A slice that runs past its group image's rows is damage, named with the image.
        pack.entries[pack.entries.count - 1].locations[0].firstRow = next
        try FileSystem.writeAtomically(store.packManifestPath("option", day), [pack.encode()])
        let last = try SeriesKey(measurement: "option", symbol: pack.entries[pack.entries.count - 1].symbol)
        let error = #expect(throws: StrataError.self) { try store.query(last) }
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains("rows from row \(next) of a group image of \(next) rows") == true, "\(String(describing: error))")
        #expect(error?.path?.hasSuffix(".pack@16") == true, "\(String(describing: error))")
    }

    // MARK: Database, against series directories

    /// The same operations on a packed and a series database, compared after every step.
    @Test(arguments: [PartitionPeriod.day, .month])
    func aPackedDatabaseAnswersExactlyAsSeriesDirectoriesDo(_ period: PartitionPeriod) throws {
        func configuration(_ layout: MeasurementLayout) -> DatabaseConfiguration {
            var c = DatabaseConfiguration()
            c.fsync = .none
            c.compactAfterSegments = 4
            c.store = StoreConfiguration(rowsPerBlock: 16)
            c.store.layouts["q"] = .layout(layout)
            c.store.partitions["q"] = .period(period)
            return c
        }
        let dirs = ["\(root.path)/series", "\(root.path)/packed"]
        let configs = [configuration(.series), configuration(.packed)]
        var dbs = try zip(dirs, configs).map { try Database(directory: $0, configuration: $1) }
        var rng = LinearCongruential(state: 17 + UInt64(period.rawValue.count))
        let symbols = (0..<60).map { try! SeriesKey(measurement: "q", symbol: "S\($0)") }
        let start = ns("2024-01-30T00:00:00Z")
        func compare(_ step: String) throws {
            for s in symbols {
                let a = try dbs[0].query(s).rows, b = try dbs[1].query(s).rows
                #expect(a.timestamps == b.timestamps, "\(step) \(s)")
                #expect(a.columns.map(\.values) == b.columns.map(\.values), "\(step) \(s)")
            }
            #expect(try dbs[0].store.symbols("q") == dbs[1].store.symbols("q"), "\(step)")
        }
        var next = 0
        for round in 0..<12 {
            var batch: [Store.SeriesRows] = []
            for s in symbols where rng.next() % 3 == 0 {
                // Times over three days, with repeats: equal times keep their arrival order.
                let times = (0..<Int(1 + rng.next() % 40)).map { _ in start + Int64(rng.next() % 3) * day + Int64(rng.next() % 50) * 1_000_000_000 }
                batch.append(Store.SeriesRows(series: s, schema: schema, rows: rows(times, first: next)))
                next += times.count
            }
            for db in dbs { try db.appendBlocking(batch) }
            if round % 2 == 1 { for db in dbs { try db.flush() } }
            if round % 4 == 2 {
                let s = symbols[Int(rng.next() % 60)]
                let from = start + Int64(rng.next() % 3) * day, to = from + Int64(rng.next() % 40) * 1_000_000_000
                for db in dbs { try db.deleteBlocking(s, from: from, to: to) }
            }
            if round == 7 { for db in dbs { _ = try db.compact() } }
            try compare("round \(round)")
            if round % 5 == 4 {
                // A crash: whatever was not flushed comes back from the log.
                for db in dbs { db.simulateCrash() }
                dbs = try zip(dirs, configs).map { try Database(directory: $0, configuration: $1) }
                try compare("after crash in round \(round)")
            }
        }
        for db in dbs { try db.flush() }
        _ = try dbs[1].compact()
        try compare("compacted")
        // Compacted, each partition of the packed store is one pack and one manifest.
        let partitions = try FileSystem.list("\(dirs[1])/q/_packed")
        #expect(partitions.count == (period == .day ? 3 : 2))
        for partition in partitions {
            let files = try FileSystem.list("\(dirs[1])/q/_packed/\(partition)")
            #expect(files.count == 2 && files.contains("_manifest") && files.contains { $0.hasSuffix(".pack") }, "\(partition): \(files)")
        }
        // Not a comparison of two empty stores: rows were written, and deletes took some.
        let total = try symbols.reduce(0) { $0 + (try dbs[1].query($1).rows.rowCount) }
        #expect(total > 1_000 && total < next, "\(total) of \(next)")
        let seriesFiles = try countFiles(dirs[0] + "/q"), packedFiles = try countFiles(dirs[1] + "/q")
        #expect(packedFiles * 10 < seriesFiles, "\(packedFiles) files packed, \(seriesFiles) in series directories")
        for db in dbs { try db.close() }
    }

    /// Format.md's independent reader (Tests/Conformance/strata_reader.py, written from the
    /// format alone) reads a packed store and agrees with the engine on every series.
    @Test func theIndependentReaderReadsAPackedStore() throws {
        var c = DatabaseConfiguration()
        c.fsync = .none
        c.store = StoreConfiguration(rowsPerBlock: 8)
        c.store.layouts["opt"] = .layout(.packed)
        c.store.partitions["opt"] = .period(.week)
        let db = try Database(directory: root.path + "/data", configuration: c)
        let ints = [Field("size", .int64), Field("seq", .int64)]
        let start = ns("2024-03-01T14:30:00Z")
        let symbols = (0..<200).map { try! SeriesKey(measurement: "opt", symbol: "O\($0)") }
        var seq: Int64 = 0
        for round in 0..<3 {
            var batch: [Store.SeriesRows] = []
            for (i, s) in symbols.enumerated() where (i + round) % 3 != 0 {
                let times = (0..<(1 + (i * 7 + round) % 23)).map { start + Int64(($0 * 37 + i) % 11) * day / 2 }
                let n = Int64(times.count)
                batch.append(Store.SeriesRows(series: s, schema: ints, rows: RowBlock(timestamps: times, columns: [
                    Column(.int64(times.map { $0 % 97 })), Column(.int64(Array(seq..<(seq + n))))])))
                seq += n
            }
            try db.appendBlocking(batch)
            try db.flush()
        }
        try db.deleteBlocking(symbols[4], from: start, to: start + day)
        try db.close()
        let out = root.path + "/out"
        _ = system("mkdir -p '\(out)'")
        let reader = String(#filePath).components(separatedBy: "/Tests/")[0] + "/Tests/Conformance/strata_reader.py"
        let status = system("python3 '\(reader)' dump '\(root.path)/data' '\(out)' >'\(out)/seen.json' 2>'\(out)/err'")
        let err = String(decoding: (try? readFile(out + "/err")) ?? [], as: UTF8.self)
        #expect(status == 0, "\(err)")
        let index = String(decoding: try readFile(out + "/series.tsv"), as: UTF8.self).lines()
        #expect(index.count == symbols.count)
        let store = try Store(directory: root.path + "/data", configuration: c.store)
        for line in index {
            let parts = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            let rows = try store.query(try SeriesKey(measurement: parts[1], symbol: parts[2])).rows
            var expected = "time,symbol,size,seq\n"
            if case .int64(let size) = rows.columns[0].values, case .int64(let seq) = rows.columns[1].values {
                for i in 0..<rows.rowCount { expected += "\(rows.timestamps[i]),\(parts[2]),\(size[i]),\(seq[i])\n" }
            }
            let python = String(decoding: try readFile("\(out)/\(parts[0]).py.csv"), as: UTF8.self)
            #expect(python == expected, "\(parts[2])")
        }
        let seen = String(decoding: try readFile(out + "/seen.json"), as: UTF8.self)
        #expect(seen.contains("\"packed measurements\": 1") && seen.contains("\"days with tombstones\""), "\(seen)")
        // A damaged byte in a pack is found and named by the segment image it hits.
        let partition = root.path + "/data/opt/_packed/" + (try FileSystem.list(root.path + "/data/opt/_packed").sorted()[0])
        let pack = partition + "/" + (try FileSystem.list(partition).first { $0.hasSuffix(".pack") }!)
        var bytes = try readFile(pack)
        bytes[bytes.count / 2] ^= 0x10
        writeFile(pack, bytes)
        let damaged = system("python3 '\(reader)' dump '\(root.path)/data' '\(out)' >/dev/null 2>'\(out)/err'")
        let complaint = String(decoding: (try? readFile(out + "/err")) ?? [], as: UTF8.self)
        #expect(damaged != 0 && complaint.contains(".pack@"), "\(complaint)")
    }

    /// A damaged pack manifest, and packs whose manifest was lost, are moved aside at open
    /// with their partitions; the other partitions serve, and nothing is deleted.
    @Test func aDamagedPackedPartitionIsMovedAsideAndTheRestServes() throws {
        var c = DatabaseConfiguration()
        c.fsync = .none
        c.store.layouts["opt"] = .layout(.packed)
        let symbols = (0..<5).map { try! SeriesKey(measurement: "opt", symbol: "O\($0)") }
        let start = ns("2024-03-01T14:30:00Z")
        do {
            let db = try Database(directory: root.path, configuration: c)
            for d in 0..<3 {
                try db.appendBlocking(symbols.map { Store.SeriesRows(series: $0, schema: schema, rows: rows([start + Int64(d) * day, start + Int64(d) * day + 1])) })
            }
            try db.close()
        }
        let partitions = try FileSystem.list(root.path + "/opt/_packed").sorted()
        #expect(partitions == ["2024-03-01", "2024-03-02", "2024-03-03"])
        let first = root.path + "/opt/_packed/2024-03-01/_manifest"
        var bytes = try readFile(first)
        bytes[bytes.count / 2] ^= 0x01
        writeFile(first, bytes)
        _ = unlink(root.path + "/opt/_packed/2024-03-02/_manifest")
        let db = try Database(directory: root.path, configuration: c)
        #expect(db.recovery.quarantined.count == 2, "\(db.recovery.quarantined)")
        #expect(db.recovery.damage.contains { $0.message.contains("checksum") && $0.path == first })
        #expect(db.recovery.damage.contains { $0.message.contains("pack files without a pack manifest") })
        #expect(try FileSystem.list(root.path + "/opt/_packed") == ["2024-03-03"])
        #expect(try db.query(symbols[0]).rows.timestamps == [start + 2 * day, start + 2 * day + 1])
        #expect(try db.store.quarantined().sorted() == ["opt/_packed/2024-03-01", "opt/_packed/2024-03-02"])
        // The partition made again numbers its packs above the copy moved aside, so a pack's
        // path never names two contents (backups reference packs by path).
        try db.appendBlocking([Store.SeriesRows(series: symbols[0], schema: schema, rows: rows([start + 5]))])
        try db.flush()
        let again = try FileSystem.list(root.path + "/opt/_packed/2024-03-01").filter { $0.hasSuffix(".pack") }
        let aside = try FileSystem.list(root.path + "/_damaged/opt/_packed/2024-03-01").filter { $0.hasSuffix(".pack") }
        #expect(again.count == 1 && !aside.isEmpty && again[0] > aside.max()!, "\(again) after \(aside)")
        try db.close()
    }

    /// A series emptied by a delete keeps its entry: its next segment gets a new id (archive
    /// keys and backups take an id for one segment), and replay knows what it applied.
    @Test func aSeriesEmptiedByADeleteNeverReusesASegmentID() throws {
        var c = DatabaseConfiguration()
        c.fsync = .none
        c.store.layouts["bar"] = .layout(.packed)
        let db = try Database(directory: root.path, configuration: c)
        let s = try SeriesKey(measurement: "bar", symbol: "SPY")
        let t = ns("2024-03-01T21:00:00Z")
        try db.appendBlocking([Store.SeriesRows(series: s, schema: schema, rows: rows([t]))])
        try db.flush()
        try db.deleteBlocking(s, from: t, to: t)
        _ = try db.compact()
        let key = SeriesDay(s, Day(containing: t))
        let emptied = try db.store.manifest(key)
        #expect(emptied.segments.isEmpty && emptied.nextSegmentID == 2 && emptied.deletesAppliedThrough > .zero)
        try db.appendBlocking([Store.SeriesRows(series: s, schema: schema, rows: rows([t], first: 7))])
        try db.flush()
        #expect(try db.store.manifest(key).segments.map(\.id) == [2])
        #expect(try db.query(s).rows.columns[1].values == .int64([7]))
        try db.close()
    }

    func countFiles(_ dir: String) throws -> Int {
        var n = 0
        for name in try FileSystem.list(dir) {
            let path = "\(dir)/\(name)"
            n += FileSystem.isDirectory(path) ? 1 + (try countFiles(path)) : 1
        }
        return n
    }
}

/// Knuth's MMIX linear congruential generator, high bits only: enough to make these
/// operations vary, and the same on every run.
struct LinearCongruential {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 33
    }
}
