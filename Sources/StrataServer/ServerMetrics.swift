import Glibc
import Hummingbird
import Prometheus
import StrataEngine
import StrataPlatform
import StrataSystem
import Synchronization

/// The server's metrics in Prometheus's text format (`GET /metrics`): what the server
/// counts as it goes (swift-prometheus), and the engine's counters and the storage census
/// read at scrape time (the census from memory: the store keeps it as manifests change).
public final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    /// When counting the storage census last failed.
    private let censusFailedAt = Mutex<Int64?>(nil)
    let rowsWritten: Counter
    let bytesReceived: Counter
    let linesRejected: Counter

    static let latencyBuckets: [Duration] = [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                                              .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                                              .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(10)]

    public init() {
        rowsWritten = registry.makeCounter(descriptor: .init(namespace: "strata", metricName: "ingest_rows", unitName: "total",
                                                             helpText: "Rows written through the HTTP write endpoints."))
        bytesReceived = registry.makeCounter(descriptor: .init(namespace: "strata", metricName: "ingest_bytes", unitName: "total",
                                                               helpText: "Line protocol bytes received by the write endpoints (after gzip)."))
        linesRejected = registry.makeCounter(descriptor: .init(namespace: "strata", metricName: "ingest_rejected_lines", unitName: "total",
                                                               helpText: "Line protocol lines refused as malformed or conflicting."))
        // Both kinds from the start, so that dashboards have series before the first query.
        for kind in ["raw", "bars"] { _ = queryHistogram(kind) }
    }

    func queryHistogram(_ kind: String) -> DurationHistogram {
        registry.makeDurationHistogram(descriptor: .init(namespace: "strata", subsystem: "query", metricName: "duration", unitName: "seconds",
                                                         helpText: "Query latency by kind (raw rows or bars), until the last byte is written."),
                                       labels: [("kind", kind)], buckets: Self.latencyBuckets)
    }

    /// One finished HTTP request.
    func request(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(descriptor: .init(namespace: "strata", subsystem: "http", metricName: "requests", unitName: "total",
                                               helpText: "HTTP requests by route, method and status."),
                             labels: [("route", route), ("method", method), ("status", String(status))]).increment()
        registry.makeDurationHistogram(descriptor: .init(namespace: "strata", subsystem: "http", metricName: "request_duration", unitName: "seconds",
                                                         helpText: "HTTP request latency by route, until the response head is ready."),
                                       labels: [("route", route)], buckets: Self.latencyBuckets).record(duration)
    }

    /// One finished query (`raw` or `bars`).
    func query(kind: String, duration: Duration) {
        queryHistogram(kind).record(duration)
    }

    /// The whole exposition: the registry's metrics, then the engine's.
    func render(_ server: StrataServer) -> [UInt8] {
        let database = server.database, mirror = server.instance?.mirror?.status, cache = server.instance?.publisher?.status
        let scheduled = server.instance?.scheduler.state ?? []
        var out: [UInt8] = []
        registry.emit(into: &out)
        var text = ""
        let s = database.statistics
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples { text += "\(name)\(sample.labels) \(sample.value)\n" }
        }
        metric("strata_appends_total", "counter", "Appends (batches) accepted by the store since it was opened.", [("", "\(s.appends)")])
        metric("strata_rows_appended_total", "counter", "Rows appended through the write-ahead log since the store was opened.", [("", "\(s.rowsAppended)")])
        metric("strata_flushes_total", "counter", "Memtable flushes into segments.", [("", "\(s.flushes)")])
        metric("strata_rows_flushed_total", "counter", "Rows flushed into segments.", [("", "\(s.rowsFlushed)")])
        metric("strata_segments_written_total", "counter", "Segment files written by flushes and compactions.", [("", "\(s.segmentsWritten)")])
        metric("strata_quarantined", "gauge", "Damaged series-days and schema files kept aside in <data-dir>/_damaged (the rest of the store serves).",
               [("", "\((try? server.database.store.quarantined().count) ?? 0)")])
        metric("strata_flush_failures_total", "counter", "Flush attempts that failed (the rows stay in memory and in the log, and are tried again).", [("", "\(s.flushFailures)")])
        metric("strata_flush_failing", "gauge", "1 while flushes are failing (/ready answers 503 meanwhile).", [("", s.flushError == nil ? "0" : "1")])
        metric("strata_compactions_total", "counter", "Series-day compactions.", [("", "\(s.compactions)")])
        metric("strata_deletes_total", "counter", "Deleted time ranges.", [("", "\(s.deletes)")])
        metric("strata_backpressure_waits_total", "counter", "Appends that waited because unflushed rows reached the memory bound.", [("", "\(s.backpressureWaits)")])
        metric("strata_backpressure_refusals_total", "counter", "Writes refused with 503 because unflushed rows were at the memory bound.", [("", "\(s.backpressureRefusals)")])
        metric("strata_memtable_bytes", "gauge", "Bytes of rows in memory, not yet in segments.", [("", "\(s.memoryBytes)")])
        metric("strata_memtable_peak_bytes", "gauge", "The most bytes rows in memory took since the store was opened.", [("", "\(s.memoryPeakBytes)")])
        metric("strata_memtable_rows", "gauge", "Rows in memory, not yet in segments.", [("", "\(s.unflushedRows)")])
        metric("strata_wal_records_total", "counter", "Write-ahead log records written.", [("", "\(s.wal.records)")])
        metric("strata_wal_bytes_total", "counter", "Write-ahead log bytes written.", [("", "\(s.wal.bytes)")])
        var cumulative = 0
        var buckets: [(labels: String, value: String)] = []
        for (i, bound) in WALStatistics.syncBucketBounds.enumerated() {
            cumulative += s.wal.syncBuckets[i]
            buckets.append(("{le=\"\(Self.seconds(bound))\"}", "\(cumulative)"))
        }
        buckets.append(("{le=\"+Inf\"}", "\(s.wal.syncs)"))
        text += "# HELP strata_wal_fsync_duration_seconds Write-ahead log fdatasync latency.\n# TYPE strata_wal_fsync_duration_seconds histogram\n"
        for b in buckets { text += "strata_wal_fsync_duration_seconds_bucket\(b.labels) \(b.value)\n" }
        text += "strata_wal_fsync_duration_seconds_sum \(Self.seconds(s.wal.syncNanoseconds))\nstrata_wal_fsync_duration_seconds_count \(s.wal.syncs)\n"
        if let m = mirror {
            metric("strata_mirror_rows_replicated_total", "counter", "Rows the database mirror committed since the server started.", [("", "\(m.rowsReplicated)")])
            metric("strata_mirror_failures_total", "counter", "Failed mirror sessions (each retried with backoff).", [("", "\(m.failures)")])
            metric("strata_mirror_lag_rows", "gauge", "Durable rows not yet in the mirror's database.", [("", "\(m.lagRows ?? 0)")])
            metric("strata_mirror_lag_seconds", "gauge", "Seconds since the mirror was last caught up with the durable log (0 when caught up).", [("", "\(m.lagSeconds)")])
        }
        if let c = cache {
            metric("strata_cache_rows_published_total", "counter", "Rows published to Redis.", [("", "\(c.rowsPublished)")])
            metric("strata_cache_rows_dropped_total", "counter", "Rows not published to Redis (it was away or slow, or refused them).", [("", "\(c.rowsDropped)")])
            metric("strata_cache_lag_rows", "gauge", "Durable rows not yet confirmed by Redis.", [("", "\(c.lagRows)")])
            metric("strata_cache_connected", "gauge", "1 while the Redis publisher is connected.", [("", c.connected ? "1" : "0")])
        }
        if !scheduled.isEmpty {
            metric("strata_scheduled_runs_total", "counter", "Runs of scheduled work (tier, backup) since the server started.",
                   scheduled.map { ("{job=\"\($0.job.name)\"}", "\($0.record.runs)") })
            metric("strata_scheduled_failures_total", "counter", "Failed runs of scheduled work.",
                   scheduled.map { ("{job=\"\($0.job.name)\"}", "\($0.record.failures)") })
            // A job that has not succeeded yet has no sample (not 0, which would read as 1970).
            let succeeded = scheduled.compactMap { s in s.record.lastSuccess.map { ("{job=\"\(s.job.name)\"}", Self.seconds($0)) } }
            if !succeeded.isEmpty {
                metric("strata_scheduled_last_success_timestamp_seconds", "gauge", "When scheduled work last succeeded (Unix time; no sample: not yet).", succeeded)
            }
        }
        metric("strata_out_of_order_rows_total", "counter", "Rows that arrived with a time earlier than a row of their series already written.",
               [("", "\(s.outOfOrderRows)")])
        if let q = server.instance?.quality.summary {
            metric("strata_quality_findings", "gauge", "Data-quality findings of the latest scan (the last quality.lookback of every series), by kind.",
                   QualityReport.Kind.allCases.map { ("{kind=\"\($0.rawValue)\"}", "\(q.totals[$0] ?? 0)") })
            metric("strata_quality_series_with_findings", "gauge", "Series with at least one finding in the latest data-quality scan.",
                   [("", "\(q.seriesWithIssues)")])
            metric("strata_quality_last_scan_timestamp_seconds", "gauge", "When the latest data-quality scan ran (Unix time).", [("", Self.seconds(q.scannedAt))])
        }
        if let tuner = server.instance?.tuner {
            metric("strata_tuning_flush_rows", "gauge", "Unflushed rows of a series that make it due for a flush (auto-tuned).", [("", "\(database.flushRows)")])
            if let c = server.instance?.archive?.cacheStatistics {
                metric("strata_archive_cache_capacity_bytes", "gauge", "Bound of the archive's decompressed-block cache (auto-tuned).", [("", "\(c.capacity)")])
                metric("strata_archive_cache_bytes", "gauge", "Bytes held by the archive's decompressed-block cache.", [("", "\(c.bytes)")])
                metric("strata_archive_cache_hits_total", "counter", "Archive block reads served from the cache.", [("", "\(c.hits)")])
                metric("strata_archive_cache_misses_total", "counter", "Archive block reads fetched from the object store.", [("", "\(c.misses)")])
            }
            metric("strata_tuning_changes_total", "counter", "Settings changed by auto-tuning since the server started.", [("", "\(tuner.changes.total)")])
        }
        if let s3 = server.instance?.archive?.requestStatistics {
            let methods = Set(s3.requests.keys).union(s3.errors.keys).sorted()
            metric("strata_s3_requests_total", "counter", "Requests to the S3 archive (retries included), by method.",
                   methods.map { ("{method=\"\($0)\"}", "\(s3.requests[$0] ?? 0)") })
            metric("strata_s3_request_errors_total", "counter", "S3 requests that failed (error status or no answer), by method.",
                   methods.map { ("{method=\"\($0)\"}", "\(s3.errors[$0] ?? 0)") })
            metric("strata_s3_retries_total", "counter", "S3 requests retried after a failure.", [("", "\(s3.retries)")])
            metric("strata_s3_sent_bytes_total", "counter", "Bytes sent to S3 in request bodies.", [("", "\(s3.bytesSent)")])
            metric("strata_s3_received_bytes_total", "counter", "Bytes received from S3 in response bodies.", [("", "\(s3.bytesReceived)")])
        }
        if let c = storage(database) {
            let names = c.measurements.keys.sorted()
            func label(_ m: String) -> String { m.replacingQuotes }
            metric("strata_storage_bytes", "gauge", "Bytes of segments by tier (warm: local disk, cold: archive) and measurement.",
                   names.flatMap { m in [("{tier=\"warm\",measurement=\"\(label(m))\"}", "\(c.measurements[m]!.warmBytes)"),
                                         ("{tier=\"cold\",measurement=\"\(label(m))\"}", "\(c.measurements[m]!.coldBytes)")] })
            metric("strata_stored_rows", "gauge", "Rows in segments by tier and measurement (deleted rows count until compaction).",
                   names.flatMap { m in [("{tier=\"warm\",measurement=\"\(label(m))\"}", "\(c.measurements[m]!.warmRows)"),
                                         ("{tier=\"cold\",measurement=\"\(label(m))\"}", "\(c.measurements[m]!.coldRows)")] })
            metric("strata_series", "gauge", "Series (symbols) with data in segments, by measurement.",
                   names.map { m in ("{measurement=\"\(label(m))\"}", "\(c.measurements[m]!.series)") })
        }
        out.append(contentsOf: text.utf8)
        return out
    }

    /// The storage census: counted once, then kept by the store as its manifests change. A
    /// count that failed (a damaged manifest) is tried again 30 s later, not at every scrape.
    func storage(_ database: Database) -> StorageCensus? {
        let now = monotonicNanoseconds()
        if let failedAt = censusFailedAt.withLock({ $0 }), now - failedAt < 30_000_000_000 { return nil }
        do throws(StrataError) {
            return try database.store.census()
        } catch {
            censusFailedAt.withLock { $0 = now }
            return nil
        }
    }

    static func seconds(_ nanoseconds: Int64) -> String {
        let s = Double(nanoseconds) / 1e9
        return s.description
    }
}

extension String {
    /// A label value: backslashes, quotes and newlines escaped.
    fileprivate var replacingQuotes: String {
        var out = ""
        for c in self {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}

/// Counts every request and its latency by route.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let route = Self.route(request.uri.path)
        do {
            let response = try await next(request, context)
            metrics.request(route: route, method: request.method.rawValue, status: response.status.code, duration: ContinuousClock.now - started)
            return response
        } catch let error as HTTPError {
            metrics.request(route: route, method: request.method.rawValue, status: error.status.code, duration: ContinuousClock.now - started)
            throw error
        } catch {
            metrics.request(route: route, method: request.method.rawValue, status: 500, duration: ContinuousClock.now - started)
            throw error
        }
    }

    /// Known routes by name, everything else as "other" (so labels stay few).
    static func route(_ path: String) -> String {
        StrataServer.routes[path] == nil ? "other" : path
    }
}
