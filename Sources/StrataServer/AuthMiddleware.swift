import Crypto
import Glibc
import HTTPTypes
import Hummingbird
import NIOCore
import StrataEngine

/// API keys on every route but /health, /ready and /ping.
///
/// A request carries its key as `Authorization: Bearer KEY` or Influx's
/// `Authorization: Token KEY`, or is signed instead:
///
///     X-Strata-Key: <key name>
///     X-Strata-Timestamp: <seconds since the epoch, within 5 minutes of the server's clock>
///     X-Strata-Signature: hex(HMAC-SHA256(SHA-256(key), method \n path \n query \n timestamp \n hex(SHA-256(body))))
///
/// (the HMAC key is the key's SHA-256, which is what the server holds). Without a valid key
/// or signature: 401; with a key whose role does not cover the route: 403. Neither says
/// which part was wrong.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let keyring: APIKeyring
    let maxBodyBytes: Int
    static let window: Int64 = 300

    /// The role a route needs; nil for the open ones.
    static func required(_ method: HTTPRequest.Method, _ path: String) -> Role? {
        switch (method, path) {
        case (_, "/health"), (_, "/ready"), (_, "/ping"): nil
        case (.post, "/api/v2/write"), (.post, "/write"), (.post, "/api/v3/write_lp"), (.post, "/api/v1/records"): .write
        case (.get, "/api/v1/query"), (.get, "/metrics"), (.head, "/api/v1/query"), (.head, "/metrics"): .read
        default: .admin
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let required = Self.required(request.method, request.uri.path) else { return try await next(request, context) }
        var request = request
        let key: APIKey?
        if request.headers[Self.signatureField] != nil {
            // What the headers alone can refuse is refused before a byte of the body is
            // read: an unknown key name, a stale time, a malformed signature.
            if let signer = signedBy(request) {
                let body: ByteBuffer
                do {
                    body = try await BodyReader(limit: maxBodyBytes).collect(request)
                } catch let refusal as BodyReader.Refusal {
                    return StrataServer.refusal(refusal, limit: maxBodyBytes)
                }
                // The route reads the body again: hand it on whole.
                request.body = RequestBody(buffer: body)
                key = body.withUnsafeReadableBytes { verifySignature(request, signer, body: $0) }
            } else {
                key = nil
            }
        } else {
            key = request.headers[.authorization].flatMap(Self.token).flatMap(keyring.authenticate)
        }
        guard let key else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Bearer realm=\"strata\""
            return StrataServer.error(.unauthorized, "a valid API key is required (Authorization: Bearer KEY or Token KEY, or a signed request)", headers: headers)
        }
        guard key.role.allows(required) else {
            return StrataServer.error(.forbidden, "this key may not use \(request.method) \(request.uri.path)")
        }
        return try await next(request, context)
    }

    /// The key from `Bearer KEY` or `Token KEY` (schemes are case-insensitive).
    static func token(_ header: String) -> String? {
        for scheme in ["bearer ", "token "] where header.count > scheme.count && header.prefix(scheme.count).lowercased() == scheme {
            return String(header.dropFirst(scheme.count)).trimmingSpaces
        }
        return nil
    }

    static let keyField = HTTPField.Name("X-Strata-Key")!
    static let timestampField = HTTPField.Name("X-Strata-Timestamp")!
    static let signatureField = HTTPField.Name("X-Strata-Signature")!

    /// The key, time stamp and signature of a signed request whose headers are in order: a
    /// known key name (names are not secret; keys are), a time within the window, a
    /// signature of 64 hex digits. Nil refuses it before its body is read.
    func signedBy(_ request: Request) -> (key: APIKey, stamp: String, signature: [UInt8])? {
        guard let name = request.headers[Self.keyField], let key = keyring.key(named: name),
              let stamp = request.headers[Self.timestampField], let seconds = Int64(stamp),
              let signature = request.headers[Self.signatureField].flatMap({ APIKeyring.bytes(hex: Substring($0)) }),
              signature.count == 32 else { return nil }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        guard abs(Int64(now.tv_sec) - seconds) <= Self.window else { return nil }
        return (key, stamp, signature)
    }

    /// The key of a correctly signed request (its headers checked by `signedBy`).
    func verifySignature(_ request: Request, _ signer: (key: APIKey, stamp: String, signature: [UInt8]), body: UnsafeRawBufferPointer) -> APIKey? {
        let expected = Self.signature(hashedKey: signer.key.hash, method: request.method.rawValue, path: request.uri.path,
                                      query: request.uri.query ?? "", timestamp: signer.stamp, body: body)
        return APIKeyring.constantTimeEqual(expected, signer.signature) ? signer.key : nil
    }

    /// HMAC-SHA256 of the request's canonical form under the key's SHA-256.
    static func signature(hashedKey: [UInt8], method: String, path: String, query: String, timestamp: String, body: UnsafeRawBufferPointer) -> [UInt8] {
        let bodyHash = hexString(SHA256.hash(data: body))
        let message = "\(method)\n\(path)\n\(query)\n\(timestamp)\n\(bodyHash)"
        return Array(HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: hashedKey)))
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
