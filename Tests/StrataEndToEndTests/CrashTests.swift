import Glibc
@testable import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem
import StrataTestSupport
import Testing

/// The crash harness: a child `strata ingest --live --ack` is killed with SIGKILL at random
/// moments, or ends itself at a chosen step of a flush or compaction; after each crash the
/// store is reopened and checked: every acknowledged row is there exactly once, no segment
/// fails its checksums, no file is left that no manifest lists, and ingest continues with
/// the rows that are missing, as a feed handler that resends unacknowledged rows would.
@Suite(.serialized) struct CrashTests {
    static let symbols = ["ESH4", "NQH4", "CLH4"]
    /// 23:59:50 UTC, so that the rows cross into the next day.
    static let base = ns("2024-01-02T23:59:50Z")
    /// Kills in the random-kill test: 50, or STRATA_CRASH_KILLS for a soak.
    static let kills = getenv("STRATA_CRASH_KILLS").flatMap { Int(String(cString: $0)) } ?? 50
    /// Enough rows that the kills never run out of them.
    static let total = max(400_000, kills * 8_000)
    static let lines = (0..<total).map { line($0) }

    /// Row `seq` of the feed: three symbols interleaved, 50 µs apart, every 5th time repeated.
    static func time(_ seq: Int) -> Int64 { base + Int64(seq - seq % 5 / 4) * 50_000 }

    static func line(_ seq: Int, symbol: String? = nil) -> String {
        let time = time(seq)
        let price = 100 + Double(seq % 89) * 0.25
        return "\(time),\(symbol ?? symbols[seq % 3]),\(price),\(seq % 5 + 1),\(seq)\n"
    }

    /// The feed's symbols: the three futures, or (`sparse`) 10,000 contracts in turn.
    var sparse = false
    static let contracts = 10_000
    var feedSymbols: [String] { sparse ? (0..<Self.contracts).map { "C\($0)" } : Self.symbols }
    func symbol(_ seq: Int) -> String { sparse ? "C\(seq % Self.contracts)" : Self.symbols[seq % 3] }

    static func csv(_ seqs: [Int]) -> String {
        "time,symbol,price,size,seq\n" + seqs.map { lines[$0] }.joined()
    }

    func csv(_ seqs: [Int]) -> String {
        sparse ? "time,symbol,price,size,seq\n" + seqs.map { Self.line($0, symbol: symbol($0)) }.joined() : Self.csv(seqs)
    }

    let root = TemporaryDirectory()
    var data: String { "\(root.path)/data" }

    /// Runs one child on `seqs`; kills it after `killAfterMicroseconds` unless nil, counted
    /// from its first acknowledgement when `afterFirstAck` (so that the kill lands while
    /// rows flow, however long the child takes to start), else from its start.
    /// Returns the exit status and the rows it acknowledged.
    func runChild(_ seqs: [Int], extra: [String], killAfterMicroseconds: UInt32?, afterFirstAck: Bool = false) throws -> (status: Int32, acknowledged: [Int]) {
        let input = "\(root.path)/input.csv"
        writeText(input, csv(seqs))
        let pid = spawnStrata(["ingest", "--data-dir", data, "--measurement", "trade", "--live", "--ack",
                               "--time-unit", "ns", "--schema", "price:float,size:int,seq:int"] + extra + [input],
                              stdout: "\(root.path)/ack.txt", stderr: "\(root.path)/err.txt")
        if let delay = killAfterMicroseconds {
            if afterFirstAck {
                var waited = 0
                while ((try? FileSystem.fileSize("\(root.path)/ack.txt")) ?? 0) == 0 && waited < 10_000 && kill(pid, 0) == 0 {
                    usleep(1_000)
                    waited += 1
                }
            }
            usleep(delay)
            kill(pid, SIGKILL)
        }
        let status = waitForExit(pid)
        // "ack ROWS LINE": rows of lines 2…LINE of this input are durable.
        let acks = String(decoding: try readFile("\(root.path)/ack.txt"), as: UTF8.self).lines().filter { $0.hasPrefix("ack ") }
        var acknowledged: [Int] = []
        if let last = acks.last {
            let parts = last.split(separator: " ")
            #expect(parts.count == 3 && parts[0] == "ack", "ack line '\(last)'")
            if parts.count == 3, let lineNumber = Int(parts[2]) { acknowledged = Array(seqs.prefix(lineNumber - 1)) }
        }
        if status != 0 && status != 128 + SIGKILL && status != CrashHook.exitStatus {
            let err = String(decoding: (try? readFile("\(root.path)/err.txt")) ?? [], as: UTF8.self)
            Issue.record("child exited with \(status): \(err.prefix(500))")
        }
        return (status, acknowledged)
    }

    /// Opens the store as a restarted server would and checks it. Returns the rows present.
    func check(acknowledged: Set<Int>, cycle: String, layout: String = "auto") throws -> Set<Int> {
        // The layout the writers ask for: this open flushes what it replays, and may be what
        // makes the measurement.
        let db = try Database(directory: data, configuration: {
            var c = DatabaseConfiguration()
            c.fsync = .none
            c.store.layouts["trade"] = LayoutChoice(layout)
            return c
        }())
        defer { try? db.close() }
        var present = Set<Int>()
        var duplicates = 0
        for symbol in feedSymbols {
            let series = try SeriesKey(measurement: "trade", symbol: symbol)
            let result = try db.query(series)
            guard result.rows.rowCount > 0 else { continue }
            let seqs = TradeRows.seqs(result)
            for (i, s) in seqs.enumerated() {
                if !present.insert(Int(s)).inserted { duplicates += 1 }
                // Every value is the one sent.
                if result.rows.timestamps[i] != Self.time(Int(s)) || self.symbol(Int(s)) != symbol {
                    Issue.record("\(cycle): row \(s) came back as time \(result.rows.timestamps[i]) in \(symbol)")
                    break
                }
            }
        }
        #expect(duplicates == 0, "\(cycle): \(duplicates) rows twice")
        let missing = acknowledged.subtracting(present)
        #expect(missing.isEmpty, "\(cycle): \(missing.count) acknowledged rows lost, e.g. \(missing.sorted().prefix(5))")
        // Every live segment passes its checksums; no file outside the manifests remains.
        let packed = try db.store.layout(of: "trade") == .packed
        var packsUsed: [String: Set<String>] = [:]
        for key in try db.store.seriesDays() {
            let manifest = try db.store.manifest(key)
            let segments = try db.store.openDay(key, manifest).segments
            for segment in segments { try segment.verify() }
            if packed {
                // A packed partition holds its manifest and the packs its series' segments lie in.
                let dir = db.store.dayPath(key.series, key.day)
                for segment in segments { packsUsed[dir, default: [DayManifest.fileName]].insert(String(segment.location.split(separator: "/").last!.split(separator: "@")[0])) }
                continue
            }
            let listed = Set(manifest.segments.map { SegmentID($0.id).fileName } + [DayManifest.fileName])
            let files = try FileSystem.list(db.store.dayPath(key.series, key.day))
            #expect(Set(files) == listed, "\(cycle): \(key) holds \(files), its manifest lists \(listed.sorted())")
        }
        for (dir, used) in packsUsed {
            let files = try FileSystem.list(dir)
            #expect(Set(files) == used, "\(cycle): \(dir) holds \(files), its manifest locates segments in \(used.sorted())")
        }
        return present
    }

    @Test func killedAtRandomMomentsLosesNoAcknowledgedRow() throws {
        let kills = Self.kills
        var generator = SyntheticTicks.Random(seed: 20241126)
        var present = Set<Int>()
        var crashesWithRowsOnDisk = 0
        var cycles = 0
        let policies = ["always", "interval:5", "none"]
        for cycle in 0..<kills {
            let remaining = (0..<Self.total).filter { !present.contains($0) }
            if remaining.isEmpty { break }
            let extra = ["--fsync", policies[cycle % 3], "--batch-rows", String(50 + Int(generator.next() % 400)),
                         "--flush-rows", "3000", "--compact-after", "3", "--wal-file-size", "65536"]
            // Most kills count from the first acknowledgement, some from the start (so
            // start-up and recovery are killed too).
            let fromAck = cycle % 5 != 0
            let delay = UInt32(fromAck ? generator.next() % 100_000 : 20_000 + generator.next() % 150_000)
            let run = try runChild(remaining, extra: extra, killAfterMicroseconds: delay, afterFirstAck: fromAck)
            let before = present.count
            present = try check(acknowledged: present.union(run.acknowledged), cycle: "kill \(cycle) after \(delay) µs")
            if present.count > before { crashesWithRowsOnDisk += 1 }
            cycles += 1
        }
        #expect(cycles == kills, "the rows ran out after \(cycles) kills")
        // The kills landed while rows were flowing, not only before the child started.
        #expect(crashesWithRowsOnDisk >= kills / 2)
        // Finally the rest goes in without a kill, and everything is there once.
        let remaining = (0..<Self.total).filter { !present.contains($0) }
        let run = try runChild(remaining, extra: ["--flush-rows", "5000"], killAfterMicroseconds: nil)
        #expect(run.status == 0)
        let final = try check(acknowledged: present.union(run.acknowledged), cycle: "final")
        #expect(final.count == Self.total)
    }

    /// SIGKILL during live ingest of 10,000 sparse contracts (6 trades each), which go into
    /// packed partitions: no acknowledged row is lost or doubled.
    @Test func killedDuringSparseIngestLosesNoAcknowledgedRow() throws {
        var sparse = CrashTests()
        sparse.sparse = true
        let total = 6 * Self.contracts
        var generator = SyntheticTicks.Random(seed: 20261207)
        var present = Set<Int>()
        var crashesWithRowsOnDisk = 0
        for cycle in 0..<6 {
            let remaining = (0..<total).filter { !present.contains($0) }
            if remaining.isEmpty { break }
            let extra = ["--fsync", cycle % 2 == 0 ? "always" : "none", "--batch-rows", String(500 + Int(generator.next() % 2_000)),
                         "--flush-rows", "200", "--compact-after", "3", "--layout", "packed"]
            let delay = UInt32(generator.next() % 400_000)
            let run = try sparse.runChild(remaining, extra: extra, killAfterMicroseconds: delay, afterFirstAck: true)
            let before = present.count
            present = try sparse.check(acknowledged: present.union(run.acknowledged), cycle: "sparse kill \(cycle) after \(delay) µs", layout: "packed")
            if present.count > before { crashesWithRowsOnDisk += 1 }
        }
        #expect(crashesWithRowsOnDisk >= 3)
        let remaining = (0..<total).filter { !present.contains($0) }
        let run = try sparse.runChild(remaining, extra: ["--layout", "packed"], killAfterMicroseconds: nil)
        #expect(run.status == 0)
        #expect(try sparse.check(acknowledged: present.union(run.acknowledged), cycle: "sparse final", layout: "packed").count == total)
        #expect(FileSystem.isDirectory(sparse.data + "/trade/_packed") && !FileSystem.isDirectory(sparse.data + "/trade/C1"))
    }

    @Test(arguments: CrashHook.Point.allCases)
    func aCrashAtEachStepOfAWriteLosesNothing(_ point: CrashHook.Point) throws {
        try crashAtEachStep(point, layout: "series")
    }

    /// The same in packed partitions, whose series switch together with one pack manifest.
    @Test(arguments: CrashHook.Point.allCases)
    func aCrashAtEachStepOfAPackedWriteLosesNothing(_ point: CrashHook.Point) throws {
        try crashAtEachStep(point, layout: "packed")
    }

    func crashAtEachStep(_ point: CrashHook.Point, layout: String) throws {
        var present = Set<Int>()
        // Crash at the 1st and the 2nd time the step is reached. Compaction runs on the
        // flush thread after flushes, so how often it runs depends on how far ingest gets
        // ahead of that thread. A 1 MiB memory bound (32,768 rows of this schema) caps
        // that: every 32,768 rows force a flush on the flush thread whatever the timing,
        // so the first run reaches a second flush of a day, and compacts it, within
        // 65,537 rows, and the second run, whose days already hold two segments, within
        // 32,769 more.
        let total = 120_000
        for hits in [1, 2] {
            let remaining = (0..<total).filter { !present.contains($0) }
            let extra = ["--fsync", "always", "--batch-rows", "1000", "--flush-rows", "2000", "--compact-after", "2",
                         "--memory-mib", "1", "--crash-at", "\(point.rawValue):\(hits)", "--layout", layout]
            let run = try runChild(remaining, extra: extra, killAfterMicroseconds: nil)
            #expect(run.status == CrashHook.exitStatus, "\(point):\(hits) was never reached")
            present = try check(acknowledged: present.union(run.acknowledged), cycle: "\(point):\(hits)", layout: layout)
        }
        let remaining = (0..<total).filter { !present.contains($0) }
        let run = try runChild(remaining, extra: ["--flush-rows", "4000", "--layout", layout], killAfterMicroseconds: nil)
        #expect(run.status == 0)
        #expect(try check(acknowledged: present.union(run.acknowledged), cycle: "\(point) final", layout: layout).count == total)
        #expect(FileSystem.isDirectory(data + "/trade/_packed") == (layout == "packed"))
    }
}

/// Write errors (here: the file size limit, which fails writes the way a full disk does)
/// reach the writer as a clear error, and the store stays consistent.
@Suite struct WriteErrorTests {
    let root = TemporaryDirectory()

    @Test func aFailingLogWriteStopsIngestWithAClearErrorAndLosesNoAcknowledgedRow() throws {
        let data = "\(root.path)/data"
        let input = "\(root.path)/in.csv"
        writeText(input, CrashTests.csv(Array(0..<30_000)))
        // 64 KiB of file size: the log's first file fills up long before the input ends.
        let command = "trap '' XFSZ; ulimit -f 128; exec '\(strataBinary())' ingest --data-dir '\(data)' --measurement trade --live --ack "
            + "--time-unit ns --schema price:float,size:int,seq:int --batch-rows 200 '\(input)' >'\(root.path)/out' 2>'\(root.path)/err'"
        let raw = system("sh -c \"\(command)\"")
        let status = (raw >> 8) & 0xff
        let err = String(decoding: try readFile("\(root.path)/err"), as: UTF8.self)
        #expect(status == 1, "\(err)")
        #expect(err.contains("write-ahead log failed") && err.contains("File too large") && err.contains("\(data)/_wal/"), "\(err)")
        let acks = String(decoding: try readFile("\(root.path)/out"), as: UTF8.self).lines().filter { $0.hasPrefix("ack ") }
        let acknowledged = acks.last.map { Int($0.split(separator: " ")[1])! } ?? 0
        #expect(acknowledged > 0 && acknowledged < 30_000)
        // Reopened without the limit: every acknowledged row is there, once.
        let db = try Database(directory: data)
        var seqs: [Int64] = []
        for symbol in CrashTests.symbols { seqs += TradeRows.seqs(try db.query(try SeriesKey(measurement: "trade", symbol: symbol))) }
        #expect(Set(seqs).count == seqs.count)
        #expect(Set(seqs).isSuperset(of: (0..<Int64(acknowledged))))
        try db.close()
    }
}
