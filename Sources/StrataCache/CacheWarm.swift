import Glibc
import StrataEngine
import StrataFormat
import StrataPlatform

/// `strata cache warm`: republishes each series' last window of rows from Strata's own
/// data, e.g. after Redis restarted empty. It works beside a running publisher: the rows
/// go to a temporary stream, and one script (atomic in Redis) appends what the live stream
/// holds and renames it into place; a `last` hash is only replaced by a newer row.
public enum CacheWarm {
    public struct Summary: Sendable {
        public var series = 0
        public var rows = 0
    }

    public static func warm(store: Store, connection: RedisConnection, configuration: CacheConfiguration,
                            measurement: String? = nil, symbols: Set<String> = []) throws(StrataError) -> Summary {
        let encoder = configuration.encoder
        var lastDay: [SeriesKey: Day] = [:]
        for key in try store.seriesDays() {
            if let measurement, key.series.measurement != measurement { continue }
            if !symbols.isEmpty && !symbols.contains(key.series.symbol) { continue }
            if lastDay[key.series].map({ $0.daysSinceEpoch < key.day.daysSinceEpoch }) ?? true { lastDay[key.series] = key.day }
        }
        var summary = Summary()
        let window = Int64(configuration.windowSeconds * 1e9)
        for (series, day) in lastDay.sorted(by: { ($0.key.measurement, $0.key.symbol) < ($1.key.measurement, $1.key.symbol) }) {
            // The newest row: in the last day (a day earlier covers exchange-day offsets).
            let tail = try store.query(series, from: Day(daysSinceEpoch: day.daysSinceEpoch - 1).startNanoseconds)
            guard let newest = tail.rows.timestamps.max() else { continue }
            let result = try store.query(series, from: newest.subtractingSaturating(window), to: newest)
            summary.rows += try republish(series, result, encoder: encoder, connection: connection)
            summary.series += 1
        }
        return summary
    }

    /// Puts `result`'s rows older than the live stream's first entry in front of it, and the
    /// newest row into the `last` hash if that holds an older one. Returns the rows added.
    static func republish(_ series: SeriesKey, _ result: QueryResult, encoder: CacheEncoder, connection: RedisConnection) throws(StrataError) -> Int {
        let key = encoder.keys.stream(series)
        let first = try connection.command("XRANGE", key, "-", "+", "COUNT", "1").array?.first?.array?.first?.text.flatMap { StreamID($0) }
        let rows = result.rows
        let older = first.map { f in rows.timestamps.prefix { $0 / 1_000_000 < f.milliseconds }.count } ?? rows.rowCount
        var commands = RESPWriter()
        if older > 0 {
            // Built under a temporary name that expires if this stops half way.
            let temporary = "\(key):warm:\(getpid()):\(UInt32.random(in: 0...UInt32.max))"
            var id = StreamID.zero
            var start = 0
            while start < older {
                let end = min(older, start + 5_000)
                id = encoder.appendRows(series, schema: result.schema, rows: rows, range: start..<end, after: id, into: &commands, key: temporary)
                commands.command(["PEXPIRE", temporary, "600000"])
                try refuse(connection.sendCheckingErrors(commands), "warming \(key)")
                commands.removeAll()
                start = end
            }
            commands.command(["EVAL", mergeScript, "2", key, temporary, id.description])
        }
        if rows.rowCount > 0 {
            // The newest row; of equal times, the last to arrive.
            var newest = 0
            for r in 1..<rows.rowCount where rows.timestamps[r] >= rows.timestamps[newest] { newest = r }
            encoder.appendLastIfNewer(series, schema: result.schema, rows: rows, row: newest, into: &commands)
        }
        try refuse(connection.sendCheckingErrors(commands), "warming \(key)")
        return older
    }

    /// KEYS[1] the live stream, KEYS[2] the warmed one, ARGV[1] the warmed one's newest id:
    /// the live entries after it follow the warmed ones, then the warmed stream takes the
    /// live one's name and keeps no expiry. Atomic in Redis, so it holds the server for a
    /// time proportional to the live stream's length, and the live stream's consumer groups
    /// do not carry over.
    static let mergeScript = """
        local function id(text)
          local ms, seq = string.match(text, '^(%d+)-(%d+)$')
          return tonumber(ms), tonumber(seq)
        end
        local lastMs, lastSeq = id(ARGV[1])
        local entries = redis.call('XRANGE', KEYS[1], '-', '+')
        for _, e in ipairs(entries) do
          local ms, seq = id(e[1])
          if ms > lastMs or (ms == lastMs and seq > lastSeq) then
            redis.call('XADD', KEYS[2], e[1], unpack(e[2]))
          end
        end
        redis.call('RENAME', KEYS[2], KEYS[1])
        redis.call('PERSIST', KEYS[1])
        return #entries
        """

    static func refuse(_ errors: [(index: Int, message: String)], _ what: String) throws(StrataError) {
        if let e = errors.first { throw StrataError(.invalidInput, "Redis refused \(what): \(e.message)") }
    }
}
