import Crypto
import StrataEngine
import StrataPlatform

/// What an API key may do: `read` (queries, metrics), `write` (line protocol writes) or
/// `admin` (everything, status included).
public enum Role: String, Sendable, CaseIterable {
    case read, write, admin

    /// Whether a key of this role may use a route that needs `required`.
    public func allows(_ required: Role) -> Bool { self == .admin || self == required }
}

/// An API key as the server knows it: a name, a role and the SHA-256 of the key. The key
/// itself is never stored.
public struct APIKey: Sendable, Equatable {
    public var name: String
    public var role: Role
    public var hash: [UInt8]
}

/// The server's API keys, from a keys file: one key per line,
///
///     <name> <role> sha256:<64 hex digits>
///
/// with `#` comments and blank lines. `strata keys create` makes a key and its line.
public struct APIKeyring: Sendable {
    public var keys: [APIKey] = []

    public init(keys: [APIKey] = []) { self.keys = keys }

    public var isEmpty: Bool { keys.isEmpty }
    public var count: Int { keys.count }

    public static func load(_ path: String) throws(StrataError) -> APIKeyring {
        let bytes = try MappedFile(path: path).withUnsafeBytes { Array($0) }
        return try parse(String(decoding: bytes, as: UTF8.self), source: path)
    }

    public static func parse(_ text: String, source: String) throws(StrataError) -> APIKeyring {
        var ring = APIKeyring()
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if words.isEmpty { continue }
            func bad(_ why: String) -> StrataError {
                StrataError(.invalidInput, "bad API key line (\(why)); expected '<name> <role> sha256:<64 hex digits>'", path: source, line: n + 1)
            }
            guard words.count == 3 else { throw bad("\(words.count) words") }
            guard let role = Role(rawValue: String(words[1])) else { throw bad("role '\(words[1])' is not read, write or admin") }
            guard words[2].hasPrefix("sha256:"), let hash = Self.bytes(hex: words[2].dropFirst(7)), hash.count == 32 else {
                throw bad("the hash is not sha256: and 64 hex digits")
            }
            let name = String(words[0])
            guard !ring.keys.contains(where: { $0.name == name }) else { throw bad("the name '\(name)' is used twice") }
            ring.keys.append(APIKey(name: name, role: role, hash: hash))
        }
        return ring
    }

    /// The key whose SHA-256 is that of `token`; every key is compared, in constant time.
    public func authenticate(_ token: String) -> APIKey? {
        let hash = Array(SHA256.hash(data: Array(token.utf8)))
        var found: APIKey?
        for key in keys where Self.constantTimeEqual(key.hash, hash) { found = key }
        return found
    }

    public func key(named name: String) -> APIKey? { keys.first { $0.name == name } }

    /// A new random key (32 bytes, base64url, prefixed `strata_`) and its keys-file line.
    public static func newKey(name: String, role: Role) -> (key: String, line: String) {
        var generator = SystemRandomNumberGenerator()
        let random = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let key = "strata_" + base64URL(random)
        return (key, "\(name) \(role.rawValue) sha256:\(hexString(SHA256.hash(data: Array(key.utf8))))")
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    static func bytes(hex text: Substring) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: chars.count, by: 2) {
            guard let v = UInt8(String(decoding: chars[i..<(i + 2)], as: UTF8.self), radix: 16) else { return nil }
            out.append(v)
        }
        return out
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var out = ""
        var i = 0
        while i + 2 < bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int(v >> UInt32(shift) & 63)]) }
            i += 3
        }
        let rest = bytes.count - i
        if rest > 0 {
            let v = UInt32(bytes[i]) << 16 | (rest > 1 ? UInt32(bytes[i + 1]) << 8 : 0)
            for shift in [18, 12, 6].prefix(rest + 1) { out.append(alphabet[Int(v >> UInt32(shift) & 63)]) }
        }
        return out
    }
}
