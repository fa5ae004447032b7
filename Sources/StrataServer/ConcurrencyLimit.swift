import Hummingbird
import Synchronization

/// At most `limit` requests at once (bodies, parsing and rows in flight are bounded with
/// them); the others get 503 with `Retry-After: 1` at once instead of queueing without end.
/// /health, /ready and /ping are not counted: they read no body and must answer while
/// writers hold every slot.
struct ConcurrencyLimit: RouterMiddleware {
    typealias Context = BasicRequestContext
    let limit: Int
    /// A body declared larger than this is refused (413) before anything else.
    let maxBodyBytes: Int
    let counter = Counter()

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if ["/health", "/ready", "/ping"].contains(request.uri.path) { return try await next(request, context) }
        if BodyReader(limit: maxBodyBytes).declaredTooLarge(request) {
            return StrataServer.refusal(.tooLarge, limit: maxBodyBytes)
        }
        guard counter.value.add(1, ordering: .acquiringAndReleasing).newValue <= limit else {
            counter.value.subtract(1, ordering: .acquiringAndReleasing)
            var headers = HTTPFields()
            headers[.retryAfter] = "1"
            return StrataServer.error(.serviceUnavailable, "more than \(limit) requests at once; retry in a second", headers: headers)
        }
        defer { counter.value.subtract(1, ordering: .acquiringAndReleasing) }
        return try await next(request, context)
    }
}
