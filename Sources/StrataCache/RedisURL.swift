import StrataEngine
import StrataPlatform

/// Where a Redis server is and how to log in: `redis://[user:password@]host[:port][/db]`
/// (REDIS_URL or `[cache] url`). User and password may be percent-encoded. The password
/// never appears in `description` or in any error.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var database: Int
    public var user: String?
    public var password: String?

    public init(host: String, port: Int = 6379, database: Int = 0, user: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.password = password
    }

    /// `host:port/db`, with the user when there is one; never the password.
    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "\(h):\(port)/\(database)" + (user.map { " as \($0)" } ?? "")
    }

    /// Parses a URL; errors name what is wrong without repeating a password.
    public init(parsing text: String) throws(StrataError) {
        func bad(_ reason: String) -> StrataError {
            StrataError(.invalidInput, "bad Redis URL (\(reason)); expected redis://[user:password@]host[:port][/db]", field: "REDIS_URL")
        }
        guard !text.isEmpty else { throw bad("it is empty") }
        if text.hasPrefix("rediss://") {
            throw bad("TLS (rediss://) is not supported: Debian's hiredis 0.14 has no TLS; reach a TLS server through a local tunnel such as stunnel")
        }
        guard text.hasPrefix("redis://") else {
            let scheme = text.firstIndex(of: ":").map { String(text[..<$0]) } ?? ""
            throw bad(scheme.isEmpty || scheme.count > 16 ? "no redis:// scheme" : "scheme \(scheme):// is not redis://")
        }
        var rest = Substring(text.dropFirst("redis://".count))
        if rest.contains("?") || rest.contains("#") { throw bad("query parameters and fragments are not supported") }
        var user: String?, password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let u = credentials[..<colon]
                user = u.isEmpty ? nil : try Self.percentDecoded(u, what: "user", bad)
                password = try Self.percentDecoded(credentials[credentials.index(after: colon)...], what: "password", bad)
            } else {
                // redis://secret@host: a password alone, as Redis's own clients read it.
                password = try Self.percentDecoded(credentials, what: "password", bad)
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !db.isEmpty {
                guard let n = Int(db), n >= 0, n <= 1_000_000 else { throw bad("the database\(Self.quoted(db)) must be a number from 0 to 1000000") }
                database = n
            }
        }
        var host = rest, port = 6379
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw bad("an IPv6 address without ]") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65_535).contains(p) else { throw bad("the port\(Self.quoted(after.dropFirst())) must be 1…65535") }
                port = p
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            let p = rest[rest.index(after: colon)...]
            guard let n = Int(p), (1...65_535).contains(n) else { throw bad("the port\(Self.quoted(p)) must be 1…65535") }
            port = n
        }
        guard !host.isEmpty else { throw bad("no host") }
        guard host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "%") }) else { throw bad("the host has characters a host name cannot have") }
        self.init(host: String(host), port: port, database: database, user: user, password: password)
    }

    /// A port or database as written, when it is digits; otherwise it may be a password
    /// written where the host belongs (`redis://user:secret`), so it is not repeated.
    static func quoted(_ text: Substring) -> String {
        !text.isEmpty && text.count <= 20 && text.allSatisfy(\.isASCII) && text.allSatisfy(\.isNumber) ? " (\(text))" : ""
    }

    static func percentDecoded(_ text: Substring, what: String, _ bad: (String) -> StrataError) throws(StrataError) -> String {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let b = bytes.popFirst() {
            if b == UInt8(ascii: "%") {
                guard bytes.count >= 2, let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) else {
                    throw bad("the \(what) has a % not followed by two hex digits")
                }
                out.append(v)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(b)
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw bad("the \(what) is not UTF-8 once decoded") }
        return s
    }
}
