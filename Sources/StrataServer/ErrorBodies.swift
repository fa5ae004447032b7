import HTTPTypes
import Hummingbird

/// The errors Hummingbird raises itself, given the JSON bodies the routes' own errors have
/// (`StrataServer.error`): no route for the path is a 404 naming it; a known path asked
/// with another method a 405 with `Allow`; a body over the limit a 413 naming it.
struct ErrorBodies: RouterMiddleware {
    typealias Context = BasicRequestContext
    let maxBodyBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            let path = request.uri.path
            switch error.status {
            case .notFound:
                // The routes answer for themselves: a not-found raised here is the router's.
                guard let allowed = StrataServer.routes[path] else {
                    return StrataServer.error(.notFound, "no route \(request.method) \(path)")
                }
                let methods = allowed.map(\.rawValue).joined(separator: ", ")
                var headers = HTTPFields()
                headers[.allow] = methods
                return StrataServer.error(.methodNotAllowed, "\(path) takes \(methods), not \(request.method)", headers: headers)
            case .contentTooLarge:
                return StrataServer.error(.contentTooLarge, "the body is larger than \(maxBodyBytes >> 20) MiB (--max-body-mib)")
            default:
                return StrataServer.error(error.status, (error as? HTTPError)?.body ?? error.status.reasonPhrase)
            }
        }
    }
}
