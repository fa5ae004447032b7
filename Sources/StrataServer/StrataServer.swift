import Hummingbird
import Logging
import StrataArchive
import NIOCore
import StrataEngine
import StrataCache
import StrataFormat
import StrataMirror
import StrataSystem

/// Settings of `strata serve`.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8000
    /// The line protocol tag naming the series.
    public var symbolTag = "symbol"
    /// Bodies larger than this are refused with 413.
    public var maxBodyBytes = 64 << 20
    /// Lines longer than this are refused (each with its number).
    public var maxLineBytes = 64 << 10
    /// Queries slower than this are listed in /status.
    public var slowQuerySeconds = 1.0
    /// Requests handled at once; more get 503 with Retry-After.
    public var maxConcurrentRequests = 64
    /// API keys; with none, requests need no key (allowed on loopback only).
    public var keyring = APIKeyring()

    public init() {}
}

/// Strata over HTTP: InfluxDB line protocol writes, queries, health and readiness.
public struct StrataServer: Sendable {
    public let database: Database
    public let configuration: ServerConfiguration
    public let metrics = ServerMetrics()
    public let queries: QueryLog
    let startedAt = monotonicNanoseconds()
    /// The database mirror and the Redis publisher when they run in this process.
    public let mirror: Mirror?
    public let publisher: CachePublisher?
    /// Scheduled tiering, backups, quality scans and tuning.
    public let scheduler: Scheduler?
    /// The latest data-quality scan, and the auto-tuner, when they run.
    public let quality: QualityMonitor?
    public let tuner: AutoTuner?
    /// The archive queries read cold days from (its S3 requests are in /metrics).
    public let archive: Archive?

    public init(database: Database, configuration: ServerConfiguration, mirror: Mirror? = nil, publisher: CachePublisher? = nil,
                scheduler: Scheduler? = nil, quality: QualityMonitor? = nil, tuner: AutoTuner? = nil, archive: Archive? = nil) {
        self.archive = archive
        self.quality = quality
        self.tuner = tuner
        self.database = database
        self.configuration = configuration
        self.mirror = mirror
        self.publisher = publisher
        self.scheduler = scheduler
        queries = QueryLog(slowSeconds: configuration.slowQuerySeconds)
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.middlewares.add(MetricsMiddleware(metrics: metrics))
        router.middlewares.add(ErrorBodies(maxBodyBytes: configuration.maxBodyBytes))
        router.middlewares.add(ConcurrencyLimit(limit: configuration.maxConcurrentRequests))
        if !configuration.keyring.isEmpty {
            router.middlewares.add(AuthMiddleware(keyring: configuration.keyring, maxBodyBytes: configuration.maxBodyBytes))
        }
        router.post("api/v2/write") { request, _ in try await write(request, precision: request.uri.queryParameters["precision"]) }
        router.post("write") { request, _ in try await write(request, precision: request.uri.queryParameters["precision"]) }
        router.post("api/v1/records") { request, _ in try await writeRecords(request) }
        router.get("api/v1/query") { request, _ in query(request) }
        router.get("metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: metrics.render(self))))
        }
        router.get("status") { _, _ in status() }
        router.get("health") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n"))) }
        router.get("ready") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ready\n"))) }
        // InfluxDB's liveness check, which its clients call: 204 to GET and HEAD.
        router.get("ping") { _, _ in Response(status: .noContent) }
        router.head("ping") { _, _ in Response(status: .noContent) }
        return router
    }

    /// Every route and the methods it answers: other methods get 405 with `Allow`, other
    /// paths 404 (`ErrorBodies`), and /metrics labels requests by these paths.
    static let routes: [String: [HTTPRequest.Method]] = [
        "/api/v2/write": [.post], "/write": [.post], "/api/v1/records": [.post], "/api/v1/query": [.get],
        "/metrics": [.get], "/status": [.get], "/health": [.get], "/ready": [.get], "/ping": [.get, .head],
    ]

    /// An application serving `router()`; `onRunning` gets the port it listens on (useful
    /// with port 0).
    public func application(logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol {
        Application(router: router(), configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Strata"),
                    onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
    }

    /// POST /api/v2/write and /write: line protocol in, rows durable before the reply.
    func write(_ request: Request, precision: Substring?) async throws -> Response {
        guard let unit = TimeUnit(influxPrecision: precision.map(String.init) ?? "ns") else {
            return Self.error(.badRequest, "unknown precision '\(precision ?? "")': use ns, us, ms or s")
        }
        var options = LineProtocolOptions()
        options.precision = unit
        options.symbolTag = configuration.symbolTag
        options.maxLineBytes = configuration.maxLineBytes
        options.now = CivilTime.now()
        let database = self.database
        options.knownType = { measurement, field in database.fieldType(measurement, field) }
        return try await ingest(request, unit: "lines") { body in body.withUnsafeReadableBytes { LineProtocol.parse($0, options: options) } }
    }

    /// POST /api/v1/records: JSON records (`symbol`, `timestamp`, `data_type`, fields), an
    /// array or one per line; `measurement=` names the measurement of records without
    /// `data_type`.
    func writeRecords(_ request: Request) async throws -> Response {
        var options = JSONRecords.Options()
        options.measurement = request.uri.queryParameters["measurement"].map(String.init)
        let database = self.database
        options.knownType = { measurement, field in database.fieldType(measurement, field) }
        return try await ingest(request, unit: "records") { body in JSONRecords.parse(Array(buffer: body), options: options) }
    }

    /// What both write routes do: read the body (inflating gzip within the size limit),
    /// refuse it at the memory bound, parse it, append the valid rows durably, and report
    /// the refused ones with their numbers.
    /// 503 with Retry-After: nothing was written, the client sends the same body again.
    static func retryLater(_ reason: String) -> Response {
        var headers = HTTPFields()
        headers[.retryAfter] = "1"
        return error(.serviceUnavailable, "\(reason); retry in a second", headers: headers)
    }

    func ingest(_ request: Request, unit: String, parse: (ByteBuffer) -> IngestBatch) async throws -> Response {
        let encoding = request.headers[.contentEncoding]?.lowercased() ?? "identity"
        guard encoding == "identity" || encoding == "gzip" else {
            return Self.error(.unsupportedMediaType, "Content-Encoding '\(encoding)' is not supported (gzip is)")
        }
        var request = request
        var body = try await request.collectBody(upTo: configuration.maxBodyBytes)
        if encoding == "gzip" {
            do throws(StrataError) {
                let inflated = try body.withUnsafeReadableBytes { (raw) throws(StrataError) in try Gzip.decompress(raw, limit: configuration.maxBodyBytes) }
                body = ByteBuffer(bytes: inflated)
            } catch {
                return Self.error(error.message.contains("limit") ? .contentTooLarge : .badRequest, error.message)
            }
        }
        // Rows wait in memory for a flush beyond the bound: the client retries instead.
        guard !database.isMemoryFull(countingRefusal: true) else {
            return Self.retryLater("unflushed rows are at the memory bound")
        }
        let batch = parse(body)
        metrics.bytesReceived.increment(by: Int64(body.readableBytes))
        metrics.linesRejected.increment(by: Int64(batch.badLines))
        if !batch.series.isEmpty {
            do throws(StrataError) {
                try await database.append(batch.series, waitingForMemory: false)
            } catch where error.code == .busy {
                return Self.retryLater(error.message)
            } catch {
                return Self.error(error.code == .invalidInput || error.code == .conflict ? .badRequest : .internalServerError,
                                  error.description, extra: ["written": "0", "rejected": "\(batch.rows + batch.badLines)"])
            }
        }
        metrics.rowsWritten.increment(by: Int64(batch.rows))
        guard batch.badLines == 0 else {
            let first = batch.issues[0]
            let total = batch.rows + batch.badLines
            let message = (batch.rows == 0 ? "nothing written: \(total == 1 ? "the" : "all \(total)") \(total == 1 ? String(unit.dropLast()) : unit) refused"
                                            : "partial write: \(batch.badLines) of \(total) \(unit) refused, \(batch.rows) written")
                + "; line \(first.line): \(first.message)"
            var extra = ["written": "\(batch.rows)", "rejected": "\(batch.badLines)", "line": "\(first.line)"]
            extra["errors"] = "[" + batch.issues.map { issue in
                "{\"line\":\(issue.line),\(issue.field.map { "\"field\":\(TextFormat.jsonString($0))," } ?? "")\"message\":\(TextFormat.jsonString(issue.message))}"
            }.joined(separator: ",") + "]"
            return Self.error(.badRequest, message, extra: extra)
        }
        return Response(status: .noContent)
    }

    /// An InfluxDB-style error body: `{"code": …, "message": …}` plus details.
    static func error(_ status: HTTPResponse.Status, _ message: String, extra: [String: String] = [:], headers: HTTPFields = HTTPFields()) -> Response {
        // InfluxDB's words for its error codes, which its clients know.
        let code = switch status {
        case .badRequest: "invalid"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        case .notFound: "not found"
        case .methodNotAllowed: "method not allowed"
        case .contentTooLarge: "request too large"
        case .unsupportedMediaType: "unsupported media type"
        case .serviceUnavailable: "unavailable"
        case .internalServerError: "internal error"
        default: status.reasonPhrase.lowercased()
        }
        var fields = ["\"code\":\(TextFormat.jsonString(code))", "\"message\":\(TextFormat.jsonString(message))"]
        for (key, value) in extra.sorted(by: { $0.key < $1.key }) {
            // Numbers and arrays go in as they are; the rest are strings.
            fields.append("\(TextFormat.jsonString(key)):\(value.first == "[" || Int(value) != nil ? value : TextFormat.jsonString(value))")
        }
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "{" + fields.joined(separator: ",") + "}\n")))
    }
}

extension TimeUnit {
    /// The write API's `precision`: ns, us, ms or s.
    public init?(influxPrecision text: String) {
        switch text {
        case "ns", "n": self = .ns
        case "us", "u", "µs": self = .us
        case "ms": self = .ms
        case "s": self = .s
        default: return nil
        }
    }
}
