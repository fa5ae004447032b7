import StrataEngine
import StrataPlatform

/// The hot tier as another process sees it, for `strata cache status`: the server, the
/// counters the publishing process writes to Redis each second (if one runs), and the
/// streams and last hashes under the prefix. Reads only the store's identity (a running
/// ingest may hold the store).
public struct CacheReport: Sendable {
    public var server: String
    public var redisVersion: String?
    /// The running publisher's counters (`<prefix>:publisher:<store>:status`), nil when no
    /// publisher of this store has written them in the last 10 s.
    public var publisher: [String: String]?
    public var streams = 0
    public var entries = 0
    public var lastHashes = 0

    public static func inspect(dataDirectory: String, configuration: CacheConfiguration) throws(StrataError) -> CacheReport {
        let store = try Store(directory: dataDirectory).identity()
        let connection = try RedisConnection(configuration.url, timeoutMilliseconds: configuration.timeoutMilliseconds)
        let keys = CacheKeys(prefix: configuration.prefix)
        var report = CacheReport(server: connection.server)
        report.redisVersion = try connection.serverVersion()
        let status = try connection.command("HGETALL", keys.status(store: store)).array ?? []
        if !status.isEmpty {
            var map: [String: String] = [:]
            for i in stride(from: 0, to: status.count - 1, by: 2) { map[status[i].text ?? ""] = status[i + 1].text ?? "" }
            report.publisher = map
        }
        // Every key under the prefix: streams, last hashes (SCAN, a page at a time).
        var cursor = "0"
        var streams: [String] = []
        repeat {
            let page = try connection.command("SCAN", cursor, "MATCH", "\(keys.prefix):*", "COUNT", "1000").array ?? []
            guard page.count == 2, let next = page[0].text else { break }
            cursor = next
            for key in (page[1].array ?? []).compactMap(\.text) {
                if key.hasPrefix("\(keys.prefix):last:") {
                    report.lastHashes += 1
                } else if keys.series(ofStream: key) != nil {
                    streams.append(key)
                }
            }
        } while cursor != "0"
        report.streams = streams.count
        var lengths = RESPWriter()
        for key in streams { lengths.command(["XLEN", key]) }
        report.entries = Int(try connection.send(lengths).compactMap(\.integer).reduce(0, +))
        return report
    }
}
