import Glibc
import StrataEngine
import StrataPlatform

/// Where and how to reach an S3 bucket.
public struct S3Configuration: Sendable {
    /// `https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:8333`, …
    public var endpoint: String
    public var bucket: String
    public var region: String
    public var accessKey: String
    public var secretKey: String
    /// Prepended to every key (`strata/` puts everything under that folder).
    public var prefix: String = ""
    /// `https://endpoint/bucket/key` (path style) or `https://bucket.endpoint/key`
    /// (virtual-hosted style, which AWS prefers).
    public var pathStyle = true
    /// Objects larger than this go up in parts of this size (S3's minimum is 5 MiB).
    public var partSize = 8 << 20
    /// Parts uploaded at once.
    public var parallelParts = 4
    /// Tries per request on 5xx, throttling and network errors, with exponential backoff
    /// and full jitter between them.
    public var maxAttempts = 5
    public var initialBackoffMilliseconds = 100
    public var maxBackoffMilliseconds = 5_000
    public var connectTimeoutMilliseconds = 5_000
    public var requestTimeoutMilliseconds = 300_000
    /// A transfer slower than 1 KiB/s for this long is abandoned (and retried), so a
    /// stalled connection fails long before the request timeout.
    public var stallTimeoutMilliseconds = 30_000
    /// Check the server's TLS certificate (always on, except for a test server).
    public var verifyTLS = true

    public init(endpoint: String, bucket: String, region: String = "us-east-1", accessKey: String, secretKey: String) {
        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        self.accessKey = accessKey
        self.secretKey = secretKey
    }

    /// From S3_ENDPOINT, S3_BUCKET, S3_REGION, S3_ACCESS_KEY, S3_SECRET_KEY and S3_PREFIX
    /// (S3_PATH_STYLE=0 for virtual-hosted addressing; S3_PART_SIZE_MIB, S3_PARALLEL_PARTS),
    /// as `variable` looks them up (the environment by default); nil when S3_BUCKET is unset.
    public static func fromEnvironment(_ variable: (String) -> String? = Environment.variable) throws(StrataError) -> S3Configuration? {
        func env(_ name: String) -> String? {
            guard let v = variable(name), !v.isEmpty else { return nil }
            return v
        }
        guard let bucket = env("S3_BUCKET") else { return nil }
        var missing: [String] = []
        let endpoint = env("S3_ENDPOINT") ?? "https://s3.\(env("S3_REGION") ?? "us-east-1").amazonaws.com"
        let access = env("S3_ACCESS_KEY") ?? env("AWS_ACCESS_KEY_ID")
        let secret = env("S3_SECRET_KEY") ?? env("AWS_SECRET_ACCESS_KEY")
        if access == nil { missing.append("S3_ACCESS_KEY") }
        if secret == nil { missing.append("S3_SECRET_KEY") }
        guard missing.isEmpty else {
            throw StrataError(.invalidInput, "an S3 bucket is named but \(missing.joined(separator: " and ")) \(missing.count == 1 ? "is" : "are") not set")
        }
        var c = S3Configuration(endpoint: endpoint, bucket: bucket, region: env("S3_REGION") ?? "us-east-1",
                                accessKey: access!, secretKey: secret!)
        c.prefix = normalizedPrefix(env("S3_PREFIX") ?? "")
        if let style = env("S3_PATH_STYLE") { c.pathStyle = style != "0" && style != "false" }
        if let text = env("S3_PART_SIZE_MIB") {
            guard let mib = Int(text), mib >= 5, mib <= 5120 else { throw StrataError(.invalidInput, "S3_PART_SIZE_MIB must be 5…5120, not '\(text)'") }
            c.partSize = mib << 20
        }
        if let text = env("S3_PARALLEL_PARTS") {
            guard let n = Int(text), n >= 1, n <= 64 else { throw StrataError(.invalidInput, "S3_PARALLEL_PARTS must be 1…64, not '\(text)'") }
            c.parallelParts = n
        }
        try c.validate()
        return c
    }

    public func validate() throws(StrataError) {
        try Self.checkEndpoint(endpoint)
        try Self.checkBucket(bucket, prefix: prefix)
        guard partSize >= 5 << 20 else { throw StrataError(.invalidInput, "S3 part size must be at least 5 MiB") }
        guard parallelParts >= 1, maxAttempts >= 1 else { throw StrataError(.invalidInput, "S3 parallelParts and maxAttempts must be at least 1") }
    }

    /// Throws unless `endpoint` is `http://` or `https://`, a host and, if any, a port
    /// 1…65535 (a path may follow).
    public static func checkEndpoint(_ endpoint: String) throws(StrataError) {
        guard let scheme = ["http://", "https://"].first(where: { endpoint.hasPrefix($0) }) else {
            throw StrataError(.invalidInput, "S3 endpoint '\(endpoint)' must start with http:// or https://")
        }
        let authority = endpoint.dropFirst(scheme.count).prefix { $0 != "/" }
        let afterHost = authority.hasPrefix("[") ? authority.firstIndex(of: "]").map(authority.index(after:)) : authority.firstIndex(of: ":")
        let host = authority[..<(afterHost ?? authority.endIndex)]
        guard !host.isEmpty else { throw StrataError(.invalidInput, "S3 endpoint '\(endpoint)' names no host") }
        let port = authority[(afterHost ?? authority.endIndex)...]
        guard port.isEmpty || (port.hasPrefix(":") && Int(port.dropFirst()).map({ (1...65_535).contains($0) }) == true) else {
            throw StrataError(.invalidInput, "S3 endpoint '\(endpoint)': the port must be a number from 1 to 65535")
        }
    }

    /// Throws unless S3 takes `bucket` as a bucket's name and `prefix` (as `normalizedPrefix`
    /// makes it) as the start of a key.
    public static func checkBucket(_ bucket: String, prefix: String) throws(StrataError) {
        // S3's naming rules: 3–63 characters of a-z, 0-9, '-' and '.', beginning and ending
        // with a letter or digit, no '..', and not an IP address.
        let bytes = Array(bucket.utf8)
        let alphanumeric = { (b: UInt8) in (b >= 97 && b <= 122) || (b >= 48 && b <= 57) }
        let isIPAddress = bucket.split(separator: ".", omittingEmptySubsequences: false).count == 4
            && bucket.split(separator: ".").allSatisfy { UInt8($0) != nil }
        guard (3...63).contains(bytes.count), bytes.allSatisfy({ alphanumeric($0) || $0 == 45 || $0 == 46 }),
              alphanumeric(bytes.first!), alphanumeric(bytes.last!), !bucket.contains(".."), !isIPAddress else {
            throw StrataError(.invalidInput, "S3 bucket name '\(bucket)' must be 3–63 lower-case letters, digits, '-' or '.', begin and end with a letter or digit, hold no '..' and not be an IP address")
        }
        if !prefix.isEmpty {
            guard prefix.hasSuffix("/") else { throw StrataError(.invalidInput, "S3 prefix '\(prefix)' must end with '/'") }
            do throws(StrataError) {
                try validateObjectKey(prefix + "x")
            } catch {
                throw StrataError(.invalidInput, "S3 prefix '\(prefix)': \(error.message)")
            }
        }
    }

    /// Scheme and host[:port] of the endpoint, without any path.
    var schemeAndHost: (scheme: String, host: String) {
        let scheme = endpoint.hasPrefix("https://") ? "https" : "http"
        var rest = Substring(endpoint.dropFirst(scheme.count + 3))
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        return (scheme, String(rest))
    }
}

/// A key prefix as given (`strata`, `/strata/`, `a/b`) in the form keys are joined to:
/// no leading slash, one trailing slash, or empty.
public func normalizedPrefix(_ prefix: String) -> String {
    var p = Substring(prefix)
    while p.hasPrefix("/") { p = p.dropFirst() }
    while p.hasSuffix("/") { p = p.dropLast() }
    return p.isEmpty ? "" : p + "/"
}
