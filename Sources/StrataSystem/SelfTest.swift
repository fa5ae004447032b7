import StrataArchive
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataText

/// `strata selftest`: the whole path a row takes, end to end, in a temporary directory —
/// line protocol ingest, query, flush, compaction, tiering to a local archive, backup,
/// restore and a data-quality scan — each step checked against what was written.
public struct SelfTest {
    public struct Step: Sendable {
        public var name: String
        public var ok: Bool
        public var detail: String
        public var seconds: Double
    }

    /// What a query must give back: row count, the sum of sizes, the time span, and a
    /// hash of every row's time, price and size in order.
    struct Fingerprint: Equatable, CustomStringConvertible {
        var rows = 0
        var sizes: Int64 = 0
        var first = Int64.max
        var last = Int64.min
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325

        var description: String { "\(rows) rows, sizes summing to \(sizes)" }
    }

    static let symbols = ["STRATA-A", "STRATA/B"]
    static let days = 3
    static let rowsPerDay = 4_000
    /// 2024-01-02T00:00:00Z: days long past, so tiering moves them all.
    static let start: Int64 = 1_704_153_600_000_000_000

    let root: String
    var expected: [SeriesKey: Fingerprint] = [:]

    /// Runs every step in a new directory under $TMPDIR (removed afterwards unless `keep`);
    /// `report` sees each step as it ends. Stops at the first failure. True when all pass.
    public static func run(keep: Bool = false, report: (Step) -> Void) -> Bool {
        let root: String
        do throws(StrataError) {
            root = try FileSystem.makeTemporaryDirectory(prefix: "strata-selftest-")
        } catch {
            report(Step(name: "setup", ok: false, detail: error.description, seconds: 0))
            return false
        }
        defer { if !keep { try? FileSystem.removeTree(root) } }
        var test = SelfTest(root: root)
        return test.steps(report: report)
    }

    mutating func steps(report: (Step) -> Void) -> Bool {
        let archive: Archive
        let database: Database
        do throws(StrataError) {
            archive = Archive(objects: try LocalObjectStore(directory: "\(root)/archive"))
            var configuration = DatabaseConfiguration()
            configuration.store.coldStorage = archive
            database = try Database(directory: "\(root)/data", configuration: configuration)
        } catch {
            report(Step(name: "open", ok: false, detail: error.description, seconds: 0))
            return false
        }
        defer { try? database.close() }
        let all: [(String, (inout SelfTest) throws(StrataError) -> String)] = [
            ("ingest", { t throws(StrataError) in try t.ingest(database) }),
            ("query", { t throws(StrataError) in try t.check(database, "every row reads back") }),
            ("flush", { t throws(StrataError) in
                try database.flush()
                guard database.statistics.unflushedRows == 0 else { throw StrataError(.invalidInput, "rows are left in memory after a flush") }
                return try t.check(database, "in segments")
            }),
            ("compact", { t throws(StrataError) in
                let s = try database.compact()
                guard s.seriesDays == t.expected.count * SelfTest.days, s.segmentsAfter == s.seriesDays else {
                    throw StrataError(.invalidInput, "compaction left \(s.segmentsAfter) segments in \(s.seriesDays) series-days")
                }
                return try t.check(database, "\(s.segmentsBefore) segments into \(s.segmentsAfter)")
            }),
            ("tier", { t throws(StrataError) in
                let s = try archive.push(database, olderThan: 0)
                guard s.seriesDays == t.expected.count * SelfTest.days else {
                    throw StrataError(.invalidInput, "\(s.seriesDays) series-days archived, not \(t.expected.count * SelfTest.days)")
                }
                return try t.check(database, "\(s.seriesDays) series-days in the archive, read back from it")
            }),
            ("backup and restore", { t throws(StrataError) in try t.backupAndRestore(database, archive) }),
            ("quality", { t throws(StrataError) in try t.quality(database) }),
        ]
        for (name, body) in all {
            let started = monotonicNanoseconds()
            let outcome = Result { () throws(StrataError) in try body(&self) }
            let seconds = Double(monotonicNanoseconds() - started) / 1e9
            switch outcome {
            case .success(let detail): report(Step(name: name, ok: true, detail: detail, seconds: seconds))
            case .failure(let error):
                report(Step(name: name, ok: false, detail: error.description, seconds: seconds))
                return false
            }
        }
        return true
    }

    /// Line protocol for every series, in two batches per day (so each day gets two
    /// segments), with one exact duplicate row and one zero price planted for the quality step.
    mutating func ingest(_ database: Database) throws(StrataError) -> String {
        var options = LineProtocolOptions()
        options.now = CivilTime.now()
        var total = 0
        for day in 0..<Self.days {
            for half in 0..<2 {
                var text = ""
                for (n, symbol) in Self.symbols.enumerated() {
                    let series = try SeriesKey(measurement: "trade", symbol: symbol)
                    var ticks = SyntheticTicks(seed: UInt64(1 + n * 100 + day), start: Self.start + Int64(day) * Day.nanosecondsPerDay)
                    ticks.sessionNanoseconds = 20 * 3_600_000_000_000
                    let rows = ticks.trades(count: Self.rowsPerDay)
                    guard case .float64(let prices) = rows.columns[0].values, case .int64(let sizes) = rows.columns[1].values else { continue }
                    let half = half == 0 ? 0..<(Self.rowsPerDay / 2) : (Self.rowsPerDay / 2)..<Self.rowsPerDay
                    // Strictly increasing times, so that the only duplicate is the planted one.
                    let times = rows.timestamps.indices.map { rows.timestamps[$0] + Int64($0) }
                    for i in half {
                        let line = "trade,symbol=\(symbol) price=\(prices[i]),size=\(sizes[i])i \(times[i])\n"
                        text += line
                        expected[series, default: Fingerprint()].add(times[i], prices[i], sizes[i])
                        if day == 1 && n == 0 && i == 10 {
                            text += line  // the planted duplicate
                            expected[series, default: Fingerprint()].add(times[i], prices[i], sizes[i])
                        }
                        if day == 2 && n == 1 && i == 20 {
                            text += "trade,symbol=\(symbol) price=0,size=1i \(times[i])\n"  // the planted zero price
                            expected[series, default: Fingerprint()].add(times[i], 0, 1)
                        }
                    }
                }
                var bytes = Array(text.utf8)
                let batch = bytes.withUnsafeMutableBytes { LineProtocol.parse(UnsafeRawBufferPointer($0), options: options) }
                if let issue = batch.issues.first { throw StrataError(.invalidInput, "line \(issue.line): \(issue.message)") }
                try database.appendBlocking(batch.series)
                total += batch.rows
                if half == 0 { try database.flush() }
            }
        }
        let want = expected.values.reduce(0) { $0 + $1.rows }
        guard total == want else { throw StrataError(.invalidInput, "\(total) rows parsed, not \(want)") }
        return "\(total) rows of \(expected.count) series over \(Self.days) days through line protocol"
    }

    /// Every series reads back as written.
    func check(_ database: Database, _ what: String) throws(StrataError) -> String {
        for (series, want) in expected.sorted(by: { $0.key < $1.key }) {
            let got = try Self.fingerprint(database.query(series).rows)
            guard got == want else { throw StrataError(.corrupt, "\(series): read \(got), wrote \(want)") }
        }
        return "\(what): \(expected.values.reduce(0) { $0 + $1.rows }) rows match"
    }

    func backupAndRestore(_ database: Database, _ archive: Archive) throws(StrataError) -> String {
        let backups = Backups(objects: archive.objects)
        let made = try backups.create(database)
        let restored = try backups.restore(made.catalog.id, into: "\(root)/restored")
        var configuration = DatabaseConfiguration()
        configuration.store.coldStorage = archive
        let copy = try Database(directory: "\(root)/restored", configuration: configuration)
        defer { try? copy.close() }
        _ = try check(copy, "restored")
        return "backup \(made.catalog.id) (\(made.catalog.rows) rows) restored: \(restored.seriesDays) series-days match"
    }

    /// The scan finds exactly what was planted.
    func quality(_ database: Database) throws(StrataError) -> String {
        let scanner = QualityScanner(policy: QualityPolicy())
        var found: [QualityReport.Kind: Int] = [:]
        for series in expected.keys {
            let report = try scanner.scan(database, series)
            for (kind, n) in report.counts { found[kind, default: 0] += n }
        }
        guard found[.duplicate] == 1, found[.nonPositivePrice] == 1 else {
            throw StrataError(.invalidInput, "expected 1 duplicate and 1 non-positive price, found \(found[.duplicate] ?? 0) and \(found[.nonPositivePrice] ?? 0)")
        }
        return "found the planted duplicate and zero price"
    }

    static func fingerprint(_ rows: RowBlock) -> Fingerprint {
        var f = Fingerprint()
        guard rows.columns.count == 2, case .float64(let prices) = rows.columns[0].values, case .int64(let sizes) = rows.columns[1].values else { return f }
        for i in rows.timestamps.indices { f.add(rows.timestamps[i], prices[i], sizes[i]) }
        return f
    }
}

extension SelfTest.Fingerprint {
    mutating func add(_ time: Int64, _ price: Double, _ size: Int64) {
        for v in [UInt64(bitPattern: time), price.bitPattern, UInt64(bitPattern: size)] { hash = (hash ^ v) &* 0x100_0000_01b3 }
        rows += 1
        sizes += size
        first = min(first, time)
        last = max(last, time)
    }
}
