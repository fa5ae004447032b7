import StrataEngine

/// The `server` section: what `strata serve` listens on and accepts. Flags and the
/// environment (`STRATA_LISTEN`, `STRATA_API_KEYS_FILE`) win over it.
public struct ServerSettings: Sendable, Equatable {
    /// HOST:PORT; port 0 picks a free port.
    public var listen = "127.0.0.1:8000"
    /// Lines `<name> <role> sha256:<hex>` from `strata keys create`; nil: no keys (loopback only).
    public var apiKeysFile: String?
    /// The line protocol tag that names the series.
    public var symbolTag = "symbol"
    public var maxConcurrentRequests = 64
    public var maxBodyBytes = 64 << 20
    public var maxLineBytes = 64 << 10
    /// Queries slower than this are listed in /status.
    public var slowQuerySeconds = 1.0

    public init() {}

    /// The host and port of `listen`, or nil when it is not HOST:PORT.
    public static func hostAndPort(_ listen: String) -> (host: String, port: Int)? {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65_535).contains(port) else {
            return nil
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return (host, port)
    }

    mutating func read(_ file: ConfigurationFile) {
        if let v = file.string("server", "listen") {
            if Self.hostAndPort(v) == nil { file.problem("server", "listen", "must be HOST:PORT (e.g. 127.0.0.1:8000, [::1]:8000), not '\(v)'") } else { listen = v }
        }
        apiKeysFile = file.string("server", "api_keys_file")
        if let v = file.string("server", "symbol_tag") {
            if v.isEmpty { file.problem("server", "symbol_tag", "must not be empty") } else { symbolTag = v }
        }
        if let v = file.integer("server", "max_concurrent_requests", in: 1...65_536) { maxConcurrentRequests = Int(v) }
        if let v = file.integer("server", "max_body_mib", in: 1...4_096) { maxBodyBytes = Int(v) << 20 }
        if let v = file.integer("server", "max_line_kib", in: 1...65_536) { maxLineBytes = Int(v) << 10 }
        if let v = file.duration("server", "slow_query") { slowQuerySeconds = Double(v) / 1e9 }
    }
}
