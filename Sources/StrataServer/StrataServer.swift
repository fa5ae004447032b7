import Hummingbird
import Logging
import NIOCore
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem
import StrataText

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
    let startedAtWallClock = CivilTime.now()
    /// The store's services (archive, mirror, Redis publisher, scheduled jobs, quality,
    /// tuning) when the server runs over a whole instance; nil over a bare database.
    public let instance: StrataInstance?
    /// Where reads, archive fetches and the /metrics and /status pages run (off the async pool).
    let blocking: BlockingWork

    /// The server over a store opened with its services (`strata serve`).
    public init(instance: StrataInstance, configuration: ServerConfiguration) {
        self.init(database: instance.database, instance: instance, configuration: configuration)
    }

    /// The server over a bare database: writes and queries, no services.
    public init(database: Database, configuration: ServerConfiguration) {
        self.init(database: database, instance: nil, configuration: configuration)
    }

    private init(database: Database, instance: StrataInstance?, configuration: ServerConfiguration) {
        blocking = BlockingWork(threads: BlockingWork.defaultThreads())
        self.database = database
        self.instance = instance
        self.configuration = configuration
        queries = QueryLog(slowSeconds: configuration.slowQuerySeconds)
    }

    /// Stops the threads that run reads and pages, once the application has stopped.
    public func shutdown() async {
        await blocking.shutdown()
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.middlewares.add(MetricsMiddleware(metrics: metrics))
        router.middlewares.add(InfluxHeaders())
        router.middlewares.add(ErrorBodies(maxBodyBytes: configuration.maxBodyBytes))
        router.middlewares.add(ConcurrencyLimit(limit: configuration.maxConcurrentRequests, maxBodyBytes: configuration.maxBodyBytes))
        if !configuration.keyring.isEmpty {
            router.middlewares.add(AuthMiddleware(keyring: configuration.keyring, maxBodyBytes: configuration.maxBodyBytes))
        }
        router.post("api/v2/write") { request, _ in try await write(request, api: .v2) }
        router.post("write") { request, _ in try await write(request, api: .v1) }
        router.post("api/v3/write_lp") { request, _ in try await write(request, api: .v3) }
        router.post("api/v1/records") { request, _ in try await writeRecords(request) }
        getAndHead(router, "api/v1/query") { request, _ in await query(request) }
        getAndHead(router, "api/v1/latest") { request, _ in await query(request, latest: true) }
        getAndHead(router, "api/v1/symbols") { request, _ in await listSymbols(request) }
        getAndHead(router, "metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            switch await blocking.result({ [self] () throws(StrataError) in metrics.render(self) }) {
            case .success(let page): return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: page)))
            case .failure(let error): return Self.retryLater(error.message)
            }
        }
        getAndHead(router, "status") { _, _ in
            switch await blocking.result({ [self] () throws(StrataError) in status() }) {
            case .success(let page): page
            case .failure(let error): Self.retryLater(error.message)
            }
        }
        getAndHead(router, "health") { _, _ in health() }
        getAndHead(router, "ready") { _, _ in ready() }
        // InfluxDB's liveness check, which its clients call: 204 to GET and HEAD.
        getAndHead(router, "ping") { _, _ in Response(status: .noContent) }
        return router
    }

    /// Every route and the methods it answers: other methods get 405 with `Allow`, other
    /// paths 404 (`ErrorBodies`), and /metrics labels requests by these paths.
    static let routes: [String: [HTTPRequest.Method]] = [
        "/api/v2/write": [.post], "/write": [.post], "/api/v3/write_lp": [.post], "/api/v1/records": [.post], "/api/v1/query": [.get, .head], "/api/v1/latest": [.get, .head], "/api/v1/symbols": [.get, .head],
        "/metrics": [.get, .head], "/status": [.get, .head], "/health": [.get, .head], "/ready": [.get, .head], "/ping": [.get, .head],
    ]

    /// An application serving `router()`; `onRunning` gets the port it listens on (useful
    /// with port 0).
    public func application(logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol {
        // A connection that stays idle (no request, or a request head that never ends) a minute is closed.
        Application(router: router(), server: .http1(configuration: .init(additionalChannelHandlers: [ParseErrorBodies()], idleTimeout: .seconds(60))),
                    configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Strata"),
                    onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
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
