import HTTPTypes
import Hummingbird
import NIOCore
import StrataEngine
import StrataPlatform
import StrataText

/// What InfluxDB's clients expect of a server besides its write API: the shapes of
/// /health, /ready and /ping, the version headers on every response, and HEAD wherever GET
/// is answered.
extension StrataServer {
    static let warningField = HTTPField.Name("Warning")!
    static let influxVersionField = HTTPField.Name("X-Influxdb-Version")!
    static let influxBuildField = HTTPField.Name("X-Influxdb-Build")!

    /// GET /health: InfluxDB 2's health check (`influxdb-client`'s `health()` reads it).
    func health() -> Response {
        let body = "{\"name\":\"strata\",\"message\":\"ready for queries and writes\",\"status\":\"pass\",\"checks\":[],\"version\":\(TextFormat.jsonString(StrataVersion.number)),\"commit\":\"\"}\n"
        return Self.json(body)
    }

    /// GET /ready: InfluxDB 2's readiness (`ready()`): when the server started and its uptime;
    /// 503 naming the error while flushes fail (rows pile up in memory until the bound).
    func ready() -> Response {
        let s = database.statistics
        if let error = s.writeError {
            return Self.error(.serviceUnavailable, "not ready: writes are refused: \(error)")
        }
        if let error = s.flushError {
            return Self.error(.serviceUnavailable, "not ready: flushes are failing (rows stay in memory and in the log, and are tried again): \(error)")
        }
        let up = Double(monotonicNanoseconds() - startedAt) / 1e9
        let body = "{\"status\":\"ready\",\"started\":\(TextFormat.jsonString(CivilTime.format(startedAtWallClock))),\"up\":\(TextFormat.jsonString(Self.goDuration(up)))}\n"
        return Self.json(body)
    }

    static func json(_ body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// A duration as Go prints one (InfluxDB's `up`), to the millisecond: `1h2m3.5s`.
    static func goDuration(_ seconds: Double) -> String {
        let millis = Int64((max(0, seconds) * 1_000).rounded(.down))
        let h = millis / 3_600_000, m = millis / 60_000 % 60, ms = millis % 60_000
        var text = "\(ms / 1_000)"
        if ms % 1_000 != 0 {
            var fraction = String(ms % 1_000 + 1_000).dropFirst()
            while fraction.last == "0" { fraction = fraction.dropLast() }
            text += "." + fraction
        }
        return (h > 0 ? "\(h)h" : "") + (h > 0 || m > 0 ? "\(m)m" : "") + text + "s"
    }
}

/// Adds InfluxDB's version headers to every response (its clients' `version()` and
/// `build()` read them from /ping).
struct InfluxHeaders: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[StrataServer.influxVersionField] = StrataVersion.number
        response.headers[StrataServer.influxBuildField] = "OSS"
        return response
    }
}

/// Registers `handler` for GET and HEAD: HEAD answers with the same status and headers and
/// no body (polars and fsspec ask HEAD before they read a URL). A query's parameters are
/// checked and its first symbol read, as for GET, but nothing is streamed.
func getAndHead(_ router: Router<BasicRequestContext>, _ path: RouterPath,
                _ handler: @escaping @Sendable (Request, BasicRequestContext) async throws -> Response) {
    router.get(path, use: handler)
    router.head(path) { request, context in
        var response = try await handler(request, context)
        response.body = ResponseBody(contentLength: response.body.contentLength) { writer in try await writer.finish(nil) }
        return response
    }
}
