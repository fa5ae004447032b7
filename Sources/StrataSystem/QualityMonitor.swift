import StrataEngine
import StrataPlatform
import Synchronization

/// Scans every series for data-quality problems on `strata serve`'s schedule and keeps the
/// latest summary for /status and /metrics.
public final class QualityMonitor: Sendable {
    /// The latest scan of every series.
    public struct Summary: Sendable {
        /// Wall clock of the scan (ns) and the stretch of data it covered.
        public var scannedAt: Int64
        public var from: Int64
        public var to: Int64
        public var series = 0
        public var rows = 0
        public var seriesWithIssues = 0
        public var totals: [QualityReport.Kind: Int] = [:]
        /// The series with the most findings, most first (at most `worstKept`).
        public var worst: [QualityReport] = []
    }

    public static let worstKept = 20
    public let database: Database
    public let scanner: QualityScanner
    private let latest = Mutex<Summary?>(nil)
    /// Each series' out-of-order count at the previous scan.
    private let seen = Mutex<[SeriesKey: Int]>([:])

    public init(database: Database, policy: QualityPolicy) {
        self.database = database
        scanner = QualityScanner(policy: policy)
    }

    public var summary: Summary? { latest.withLock { $0 } }

    /// Every series with local data or unflushed rows.
    public static func allSeries(_ database: Database) throws(StrataError) -> [SeriesKey] {
        var out = Set(database.seriesInMemory())
        for m in try database.store.measurements() {
            for s in try database.store.symbols(m) { out.insert(try SeriesKey(measurement: m, symbol: s)) }
        }
        return out.sorted()
    }

    /// Scans the last `policy.lookback` before `now` of every series; out-of-order
    /// arrivals are those counted since the previous scan.
    @discardableResult
    public func scan(now: Int64 = CivilTime.now()) throws(StrataError) -> Summary {
        let from = now - scanner.policy.lookback
        var summary = Summary(scannedAt: now, from: from, to: now)
        let arrivals = database.arrivals
        let before = seen.withLock { previous in
            defer { previous = arrivals.mapValues(\.outOfOrderRows) }
            return previous
        }
        for series in try Self.allSeries(database) {
            var report = try scanner.scan(database, series, from: from, to: now)
            if let a = arrivals[series], a.outOfOrderRows > before[series, default: 0] {
                let late = a.outOfOrderRows - before[series, default: 0]
                report.counts[.outOfOrder] = late
                report.examples.append(QualityReport.Finding(kind: .outOfOrder, time: a.newest,
                                                             detail: "\(late) rows arrived after a newer row of the series since the previous scan"))
            }
            summary.series += 1
            summary.rows += report.rows
            guard report.issues > 0 else { continue }
            summary.seriesWithIssues += 1
            for (kind, n) in report.counts { summary.totals[kind, default: 0] += n }
            report.examples = Array(report.examples.prefix(3))
            summary.worst.append(report)
            if summary.worst.count > Self.worstKept * 2 { Self.trim(&summary.worst) }
        }
        Self.trim(&summary.worst)
        latest.withLock { $0 = summary }
        return summary
    }

    static func trim(_ worst: inout [QualityReport]) {
        worst.sort { ($0.issues, $1.series) > ($1.issues, $0.series) }
        if worst.count > worstKept { worst.removeLast(worst.count - worstKept) }
    }
}
