import Glibc
import Hummingbird
import NIOCore
import StrataEngine
import StrataPlatform
import StrataSystem
import StrataText
import Synchronization

/// Recent queries for `/status`: latency percentiles over the last 1,024, and the last
/// 100 slower than the threshold.
public final class QueryLog: Sendable {
    public struct Slow: Sendable {
        public var at: Int64
        public var query: String
        public var seconds: Double
    }

    let slowSeconds: Double
    private let state = Mutex<(latencies: [Double], next: Int, slow: [Slow])>(([], 0, []))

    public init(slowSeconds: Double) { self.slowSeconds = slowSeconds }

    func record(query: String, seconds: Double, at: Int64) {
        state.withLock {
            if $0.latencies.count < 1_024 { $0.latencies.append(seconds) } else { $0.latencies[$0.next] = seconds }
            $0.next = ($0.next + 1) % 1_024
            if seconds >= slowSeconds {
                $0.slow.append(Slow(at: at, query: query, seconds: seconds))
                if $0.slow.count > 100 { $0.slow.removeFirst() }
            }
        }
    }

    /// (count, p50, p99) of the recent latencies, and the slow queries.
    func summary() -> (count: Int, p50: Double, p99: Double, slow: [Slow]) {
        let (latencies, slow) = state.withLock { ($0.latencies, $0.slow) }
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> Double {
            sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)]
        }
        return (sorted.count, percentile(0.5), percentile(0.99), slow)
    }
}

extension StrataServer {
    /// GET /status: storage by tier and measurement, query latency and slow queries, the
    /// engine's counters, the mirror's and the Redis publisher's state (JSON, admin role).
    func status() -> Response {
        let s = database.statistics
        var fields: [String] = []
        fields.append("\"store\":\(TextFormat.jsonString(database.store.directory))")
        fields.append("\"uptime_seconds\":\(TextFormat.double(Double(monotonicNanoseconds() - startedAt) / 1e9))")
        if let census = metrics.storage(database) {
            let gb = 1024.0 * 1024 * 1024
            var measurements: [String] = []
            for (name, m) in census.measurements.sorted(by: { $0.key < $1.key }) {
                measurements.append("{\"measurement\":\(TextFormat.jsonString(name)),\"series\":\(m.series),\"series_days\":\(m.seriesDays),"
                                    + "\"warm\":{\"rows\":\(m.warmRows),\"bytes\":\(m.warmBytes)},\"cold\":{\"rows\":\(m.coldRows),\"bytes\":\(m.coldBytes)},"
                                    + "\"total_size_gb\":\(Self.round(Double(m.warmBytes + m.coldBytes) / gb))}")
            }
            fields.append("\"storage\":{\"warm_bytes\":\(census.warmBytes),\"cold_bytes\":\(census.coldBytes),\"memory_bytes\":\(s.memoryBytes),"
                          + "\"total_size_gb\":\(Self.round(Double(census.warmBytes + census.coldBytes) / gb)),\"measurements\":[\(measurements.joined(separator: ","))]}")
        }
        let q = queries.summary()
        let slow = q.slow.map { "{\"at\":\(TextFormat.jsonString(CivilTime.format($0.at))),\"seconds\":\(Self.round($0.seconds)),\"query\":\(TextFormat.jsonString($0.query))}" }
        fields.append("\"queries\":{\"recent\":\(q.count),\"p50_seconds\":\(Self.round(q.p50)),\"p99_seconds\":\(Self.round(q.p99)),"
                      + "\"slow_threshold_seconds\":\(Self.round(queries.slowSeconds)),\"slow\":[\(slow.joined(separator: ","))]}")
        let quarantined = (try? database.store.quarantined()) ?? []
        fields.append("\"quarantined\":[" + quarantined.map(TextFormat.jsonString).joined(separator: ",") + "]")
        fields.append("\"ingest\":{\"appends\":\(s.appends),\"rows_appended\":\(s.rowsAppended),\"unflushed_rows\":\(s.unflushedRows),"
                      + "\"flushes\":\(s.flushes),\"flush_failures\":\(s.flushFailures),\"flush_error\":\(s.flushError.map(TextFormat.jsonString) ?? "null"),"
                      + "\"compactions\":\(s.compactions),\"wal_fsyncs\":\(s.wal.syncs),\"backpressure_waits\":\(s.backpressureWaits)}")
        if let m = instance?.mirror?.status {
            fields.append("\"mirror\":{\"state\":\(TextFormat.jsonString(m.state.rawValue)),\"server\":\(TextFormat.jsonString(m.server ?? "")),"
                          + "\"timescale\":\(m.timescale.map { "\($0)" } ?? "null"),\"rows_replicated\":\(m.rowsReplicated),"
                          + "\"lag_rows\":\(m.lagRows.map { "\($0)" } ?? "null"),\"lag_seconds\":\(Self.round(m.lagSeconds)),\"failures\":\(m.failures),"
                          + "\"needs_backfill\":\(m.needsBackfill),\"last_error\":\(m.lastError.map(TextFormat.jsonString) ?? "null")}")
        } else {
            fields.append("\"mirror\":null")
        }
        if let c = instance?.publisher?.status {
            fields.append("\"cache\":{\"state\":\(TextFormat.jsonString(c.state.rawValue)),\"server\":\(TextFormat.jsonString(c.server)),"
                          + "\"connected\":\(c.connected),\"rows_published\":\(c.rowsPublished),\"rows_dropped\":\(c.rowsDropped),"
                          + "\"lag_rows\":\(c.lagRows),\"lag_seconds\":\(Self.round(c.lagSeconds)),\"last_error\":\(c.lastError.map(TextFormat.jsonString) ?? "null")}")
        } else {
            fields.append("\"cache\":null")
        }
        fields.append("\"archive\":\(instance.flatMap(archiveJSON) ?? "null")")
        let jobs = (instance?.scheduler.state ?? []).map { item -> String in
            let r = item.record
            func time(_ t: Int64?) -> String { t.map { TextFormat.jsonString(CivilTime.format($0)) } ?? "null" }
            return "{\"job\":\(TextFormat.jsonString(item.job.name)),\"schedule\":\(TextFormat.jsonString(item.job.schedule.description)),\"runs\":\(r.runs),"
                + "\"failures\":\(r.failures),\"last_start\":\(time(r.lastStart)),\"last_seconds\":\(r.lastSeconds.map(Self.round) ?? "null"),"
                + "\"last_success\":\(time(r.lastSuccess)),\"last_summary\":\(r.lastSummary.map(TextFormat.jsonString) ?? "null"),"
                + "\"last_failure\":\(time(r.lastFailure)),\"last_error\":\(r.lastError.map(TextFormat.jsonString) ?? "null")}"
        }
        fields.append("\"scheduled\":[\(jobs.joined(separator: ","))]")
        fields.append("\"quality\":\(instance.map { Self.qualityJSON($0.quality.summary, outOfOrder: s.outOfOrderRows) } ?? "null")")
        fields.append("\"tuning\":\(instance?.tuner.map(tuningJSON) ?? "null")")
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "{" + fields.joined(separator: ",") + "}\n")))
    }

    /// The latest data-quality scan: totals by kind and the series with most findings.
    static func qualityJSON(_ summary: QualityMonitor.Summary?, outOfOrder: Int) -> String {
        guard let q = summary else { return "{\"scanned_at\":null,\"out_of_order_rows\":\(outOfOrder)}" }
        func time(_ t: Int64) -> String { TextFormat.jsonString(CivilTime.format(t)) }
        let totals = QualityReport.Kind.allCases.map { "\(TextFormat.jsonString($0.rawValue)):\(q.totals[$0] ?? 0)" }.joined(separator: ",")
        let worst = q.worst.map(\.json)
        return "{\"scanned_at\":\(time(q.scannedAt)),\"from\":\(time(q.from)),\"to\":\(time(q.to)),\"series\":\(q.series),\"rows\":\(q.rows),"
            + "\"series_with_findings\":\(q.seriesWithIssues),\"findings\":{\(totals)},\"out_of_order_rows\":\(outOfOrder),"
            + "\"worst\":[\(worst.joined(separator: ","))]}"
    }

    /// The archive: where it is, whether new objects are sealed, its block cache, and (S3)
    /// its requests and the last one that failed for good.
    func archiveJSON(_ instance: StrataInstance) -> String? {
        guard let archive = instance.archive else { return nil }
        let c = archive.cacheStatistics
        var fields = ["\"location\":\(TextFormat.jsonString(archive.location))", "\"encrypted\":\(archive.isEncrypted)",
                      "\"cache\":{\"capacity_bytes\":\(c.capacity),\"bytes\":\(c.bytes),\"hits\":\(c.hits),\"misses\":\(c.misses)}"]
        if let r = archive.requestStatistics {
            fields.append("\"requests\":\(r.requests.values.reduce(0, +))")
            fields.append("\"request_errors\":\(r.errors.values.reduce(0, +))")
            fields.append("\"retries\":\(r.retries)")
            fields.append("\"last_error\":\(r.lastError.map(TextFormat.jsonString) ?? "null")")
            fields.append("\"last_error_at\":\(r.lastErrorAt.map { TextFormat.jsonString(CivilTime.format($0)) } ?? "null")")
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// The auto-tuner's bounds, current values and latest changes.
    func tuningJSON(_ tuner: AutoTuner) -> String {
        let b = tuner.bounds
        let mib = 1 << 20
        var fields = ["\"enabled\":\(b.enabled)", "\"flush_rows\":\(database.flushRows)",
                      "\"flush_rows_bounds\":[\(b.flushRows.lowerBound),\(b.flushRows.upperBound)]"]
        if let c = instance?.archive?.cacheStatistics {
            fields.append("\"cache_mib\":\(c.capacity / mib)")
            fields.append("\"cache_mib_bounds\":[\(b.cacheBytes.lowerBound / mib),\(b.cacheBytes.upperBound / mib)]")
        }
        let (latest, total) = tuner.changes
        let changes = latest.map {
            "{\"at\":\(TextFormat.jsonString(CivilTime.format($0.at))),\"setting\":\(TextFormat.jsonString($0.setting)),\"from\":\($0.from),\"to\":\($0.to),"
                + "\"reason\":\(TextFormat.jsonString($0.reason))}"
        }
        fields.append("\"changes_total\":\(total)")
        fields.append("\"changes\":[\(changes.joined(separator: ","))]")
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func round(_ v: Double) -> String { TextFormat.double((v * 1e6).rounded() / 1e6) }
}
