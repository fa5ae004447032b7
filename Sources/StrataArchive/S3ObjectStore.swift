import Crypto
import Dispatch
import Glibc
import StrataEngine
import StrataPlatform
import Synchronization

/// Objects in an S3 bucket (AWS, SeaweedFS, MinIO, …) over libcurl, every request signed
/// with SigV4 and carrying `x-amz-content-sha256`. Uploads carry `Content-MD5`, so the
/// server refuses a body that arrived damaged; objects above the part size go up as a
/// multipart upload with parts in parallel, aborted if any part fails. 5xx, throttling
/// and network errors are retried with exponential backoff and full jitter; S3's error
/// codes become messages that say what to fix. Secrets never appear in messages.
public final class S3ObjectStore: ObjectStore, @unchecked Sendable {
    public let configuration: S3Configuration
    let signer: SigV4
    /// Idle curl handles, reused across requests (each keeps its connection alive).
    private let idle = Mutex<[CurlEasy]>([])
    private let counters = Mutex(ObjectStoreStatistics())
    /// Whether the bucket is known to exist (checked before the first upload).
    private let bucketKnown = Mutex(false)

    public var requestStatistics: ObjectStoreStatistics? { counters.withLock { $0 } }

    public init(_ configuration: S3Configuration) throws(StrataError) {
        try configuration.validate()
        self.configuration = configuration
        signer = SigV4(accessKey: configuration.accessKey, secretKey: configuration.secretKey, region: configuration.region)
    }

    public var location: String {
        "s3://\(configuration.bucket)/\(configuration.prefix)"
    }

    // MARK: Requests

    struct Request {
        var method: String
        /// Key below the prefix; nil for a bucket-level request.
        var key: String?
        var query: [(String, String)] = []
        var headers: [(String, String)] = []
        var body: [UInt8] = []
    }

    /// The URL and the Host header of a request.
    func address(_ key: String?, _ query: [(String, String)]) -> (url: String, host: String, path: String) {
        let (scheme, endpointHost) = configuration.schemeAndHost
        let objectPath = key.map { "/" + SigV4.encode(configuration.prefix + $0, slash: false) } ?? "/"
        let host: String
        let path: String
        if configuration.pathStyle {
            host = endpointHost
            path = "/\(configuration.bucket)" + (key == nil ? "" : objectPath)
        } else {
            host = "\(configuration.bucket).\(endpointHost)"
            path = objectPath
        }
        let queryString = SigV4.canonicalQuery(query)
        return ("\(scheme)://\(host)\(path)" + (queryString.isEmpty ? "" : "?\(queryString)"), host, path)
    }

    /// Sends a request, retrying what may succeed on another try. Statuses in `accept`
    /// are returned; any other is turned into an error.
    func send(_ request: Request, accept: Set<Int> = [200, 204, 206]) throws(StrataError) -> HTTPResponse {
        let payloadHash = request.body.isEmpty ? SigV4.emptyPayloadHash : SigV4.payloadHash(request.body)
        var attempt = 0
        var rng = SystemRandomNumberGenerator()
        while true {
            attempt += 1
            let (url, host, path) = address(request.key, request.query)
            let signed = signer.sign(method: request.method, path: path, query: request.query,
                                     headers: [("host", host)] + request.headers.filter { $0.0.lowercased() == "range" },
                                     payloadHash: payloadHash, amzDate: Self.amzDate())
            let outcome: Result<HTTPResponse, StrataError> = withHandle { (handle) throws(StrataError) in
                try handle.perform(method: request.method, url: url, headers: request.headers + signed, body: request.body,
                                   connectTimeoutMilliseconds: configuration.connectTimeoutMilliseconds,
                                   timeoutMilliseconds: configuration.requestTimeoutMilliseconds,
                                   stallMilliseconds: configuration.stallTimeoutMilliseconds, verifyTLS: configuration.verifyTLS)
            }
            var failure: StrataError
            var retryable: Bool
            let received = (try? outcome.get().body.count) ?? 0
            let accepted = (try? outcome.get()).map { accept.contains($0.status) } ?? false
            counters.withLock {
                $0.requests[request.method, default: 0] += 1
                $0.bytesSent += request.body.count
                $0.bytesReceived += received
                if !accepted { $0.errors[request.method, default: 0] += 1 }
            }
            switch outcome {
            case .success(let response):
                if accept.contains(response.status) { return response }
                (failure, retryable) = error(for: response, request)
            case .failure(let e):
                failure = e
                retryable = true  // refused, reset, timed out: the server may be back soon
            }
            guard retryable && attempt < configuration.maxAttempts else {
                if attempt > 1 { failure.message += " (after \(attempt) attempts)" }
                let described = failure.description
                counters.withLock {
                    $0.lastError = described
                    $0.lastErrorAt = CivilTime.now()
                }
                throw failure
            }
            counters.withLock { $0.retries += 1 }
            // Full jitter: a random wait up to an exponentially growing cap.
            let cap = min(configuration.maxBackoffMilliseconds, configuration.initialBackoffMilliseconds << min(attempt - 1, 20))
            usleep(UInt32(Int.random(in: 0...max(cap, 1), using: &rng)) * 1000)
        }
    }

    /// Runs `body` with an idle handle (or a new one), returning it to the pool after.
    func withHandle<R>(_ body: (CurlEasy) throws(StrataError) -> R) -> Result<R, StrataError> {
        let handle: CurlEasy
        if let h = idle.withLock({ $0.popLast() }) {
            handle = h
        } else {
            do { handle = try CurlEasy() } catch { return .failure(error) }
        }
        let result = Result { () throws(StrataError) in try body(handle) }
        idle.withLock { $0.append(handle) }
        return result
    }

    /// What went wrong, in words that say what to fix, and whether to try again.
    func error(for response: HTTPResponse, _ request: Request) -> (StrataError, Bool) {
        let text = Substring(String(decoding: response.body, as: UTF8.self))
        let code = XMLText.value("Code", in: text) ?? ""
        let message = XMLText.value("Message", in: text) ?? ""
        let what = "\(request.method) \(request.key.map { "s3://\(configuration.bucket)/\(configuration.prefix)\($0)" } ?? "s3://\(configuration.bucket)")"
        let detail = code.isEmpty ? "HTTP \(response.status)" : "\(code)\(message.isEmpty ? "" : ": \(message)")"
        let retryable = [500, 502, 503, 504, 429].contains(response.status)
            || ["SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling"].contains(code)
        switch code {
        case "InvalidAccessKeyId":
            return (StrataError(.denied, "\(what): S3 does not know the access key (\(detail)); check S3_ACCESS_KEY"), false)
        case "SignatureDoesNotMatch":
            return (StrataError(.denied, "\(what): S3 rejected the request signature (\(detail)); the secret key is probably wrong, check S3_SECRET_KEY (or S3_REGION)"), false)
        case "AccessDenied":
            return (StrataError(.denied, "\(what): access denied (\(detail)); the credentials lack permission for this bucket or key"), false)
        case "NoSuchBucket":
            return (StrataError(.notFound, "\(what): bucket '\(configuration.bucket)' does not exist at \(configuration.endpoint) (\(detail))"), false)
        case "NoSuchKey":
            return (StrataError(.notFound, "\(what): no such object"), false)
        default:
            if response.status == 403 {
                return (StrataError(.denied, "\(what): access denied (HTTP 403); check S3_ACCESS_KEY, S3_SECRET_KEY and the bucket's permissions"), false)
            }
            if response.status == 404 {
                return (StrataError(.notFound, "\(what): not found (HTTP 404)"), false)
            }
            return (StrataError(.io, "\(what): \(detail)"), retryable)
        }
    }

    /// The current time as SigV4 wants it: 20130524T000000Z.
    static func amzDate() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }

    /// Whether the bucket exists (one HEAD of the bucket); wrong credentials or a bucket
    /// of another account are errors.
    public func bucketExists() throws(StrataError) -> Bool {
        try send(Request(method: "HEAD", key: nil), accept: [200, 404]).status == 200
    }

    /// Makes the bucket when it does not exist (a HEAD of it, then a PUT with the region's
    /// location outside us-east-1); returns whether it made it. Every upload makes sure of
    /// the bucket this way once, so the first push to a new bucket works on any S3 server
    /// whose credentials may create buckets (SeaweedFS and MinIO also make one on a first
    /// PUT; AWS does not).
    @discardableResult
    public func createBucketIfMissing() throws(StrataError) -> Bool {
        if bucketKnown.withLock({ $0 }) { return false }
        var made = false
        if try !bucketExists() {
            let body = configuration.region == "us-east-1" ? "" :
                "<CreateBucketConfiguration><LocationConstraint>\(XMLText.escape(configuration.region))</LocationConstraint></CreateBucketConfiguration>"
            // 409: made meanwhile by another writer (BucketAlreadyOwnedByYou).
            made = try send(Request(method: "PUT", key: nil, body: Array(body.utf8)), accept: [200, 204, 409]).status != 409
        }
        bucketKnown.withLock { $0 = true }
        return made
    }

    // MARK: ObjectStore

    public func prepareForWrites() throws(StrataError) {
        try createBucketIfMissing()
    }

    public func put(_ key: String, _ bytes: [UInt8]) throws(StrataError) {
        try validateObjectKey(key)
        try createBucketIfMissing()
        if bytes.count > configuration.partSize { return try putMultipart(key, bytes) }
        let md5 = Array(Insecure.MD5.hash(data: bytes))
        // Content-MD5 makes the server check the body it received against our MD5 and
        // refuse it if they differ. (The ETag is not compared: with SSE-KMS it is no MD5.)
        _ = try send(Request(method: "PUT", key: key,
                             headers: [("Content-Type", "application/octet-stream"), ("Content-MD5", Base64.encode(md5))],
                             body: bytes))
    }

    public func get(_ key: String, range: Range<Int>?) throws(StrataError) -> [UInt8] {
        try validateObjectKey(key)
        var headers: [(String, String)] = []
        if let range {
            if range.isEmpty { return [] }
            headers.append(("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)"))
        }
        let response = try send(Request(method: "GET", key: key, headers: headers), accept: [200, 206, 416])
        if response.status == 416 { return [] }  // the range starts past the end
        if let range, response.status == 200 {
            // A server that ignores Range sends everything: cut it here.
            let lower = min(range.lowerBound, response.body.count), upper = min(range.upperBound, response.body.count)
            return Array(response.body[lower..<upper])
        }
        return response.body
    }

    public func getTail(_ key: String, count: Int) throws(StrataError) -> (bytes: [UInt8], objectSize: Int) {
        try validateObjectKey(key)
        precondition(count > 0, "a tail of at least one byte")
        let response = try send(Request(method: "GET", key: key, headers: [("Range", "bytes=-\(count)")]), accept: [200, 206])
        // "Content-Range: bytes 100-199/200" gives the total; a 200 is the whole object.
        if response.status == 206, let total = response.header("Content-Range")?.split(separator: "/").last.flatMap({ Int($0) }) {
            return (response.body, total)
        }
        return (Array(response.body.suffix(count)), response.body.count)
    }

    public func head(_ key: String) throws(StrataError) -> ObjectInfo? {
        try validateObjectKey(key)
        let response = try send(Request(method: "HEAD", key: key), accept: [200, 404])
        if response.status == 404 { return nil }
        return ObjectInfo(key: key, size: Int(response.header("Content-Length") ?? "") ?? 0,
                          etag: response.header("ETag").map(Self.unquoted))
    }

    public func list(prefix: String) throws(StrataError) -> [ObjectInfo] {
        var out: [ObjectInfo] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", configuration.prefix + prefix)]
            if let token { query.append(("continuation-token", token)) }
            let response = try send(Request(method: "GET", key: nil, query: query))
            let text = Substring(String(decoding: response.body, as: UTF8.self))
            for contents in XMLText.elements("Contents", in: text) {
                guard let key = XMLText.value("Key", in: contents) else { continue }
                guard key.hasPrefix(configuration.prefix) else { continue }
                out.append(ObjectInfo(key: String(key.dropFirst(configuration.prefix.count)),
                                      size: Int(XMLText.value("Size", in: contents) ?? "") ?? 0,
                                      etag: XMLText.value("ETag", in: contents).map(Self.unquoted)))
            }
            token = XMLText.value("IsTruncated", in: text) == "true" ? XMLText.value("NextContinuationToken", in: text) : nil
        } while token != nil
        return out
    }

    public func delete(_ key: String) throws(StrataError) {
        try validateObjectKey(key)
        _ = try send(Request(method: "DELETE", key: key), accept: [200, 204, 404])
    }

    static func unquoted(_ etag: String) -> String {
        var e = Substring(etag)
        if e.hasPrefix("W/") { e = e.dropFirst(2) }
        while e.first == "\"" { e.removeFirst() }
        while e.last == "\"" { e.removeLast() }
        return String(e)
    }
}

/// Standard base64 (for Content-MD5 and key files).
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [table[Int(v >> 18 & 63)], table[Int(v >> 12 & 63)], table[Int(v >> 6 & 63)], table[Int(v & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            out += [table[Int(v >> 18 & 63)], table[Int(v >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [table[Int(v >> 18 & 63)], table[Int(v >> 12 & 63)], table[Int(v >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of padded standard base64, or nil if `text` is not that.
    static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 4 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt32? {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(c - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(c - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): 62
            case UInt8(ascii: "/"): 63
            default: nil
            }
        }
        var out: [UInt8] = []
        for start in stride(from: 0, to: chars.count, by: 4) {
            let quad = chars[start..<(start + 4)]
            let padding = quad.reversed().prefix { $0 == UInt8(ascii: "=") }.count
            guard padding <= 2, start + 4 == chars.count || padding == 0 else { return nil }
            var v: UInt32 = 0
            for c in quad.prefix(4 - padding) {
                guard let d = value(c) else { return nil }
                v = v << 6 | d
            }
            v <<= UInt32(6 * padding)
            let bytes = [UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)]
            out += bytes.prefix(3 - padding)
        }
        return out
    }
}
