import ArgumentParser
import Glibc
import StrataCache
import StrataEngine
import StrataPlatform
import StrataSystem

/// `--url`, shared by the cache commands.
struct CacheOption: ParsableArguments {
    @Option(help: "Redis URL, redis://[user:password@]host[:port][/db] (default: $REDIS_URL, else the configuration's cache.url).")
    var url: String?

    func configuration(_ store: DataDirOption) throws -> CacheConfiguration {
        let settings = try store.settings()
        if let url {
            var c = try settings.cache() ?? CacheConfiguration(url: try RedisURL(parsing: url))
            c.url = try RedisURL(parsing: url)
            return c
        }
        guard let c = try settings.cache() else {
            throw ValidationError("no Redis: give --url, or set REDIS_URL or cache.url in the configuration")
        }
        return c
    }
}

struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "The Redis hot tier: its state, and republishing the last hour.",
        discussion: "With REDIS_URL (or cache.url) set, strata ingest --live publishes every row to a Redis stream per series and the latest row to a hash; these commands inspect and refill it.",
        subcommands: [Status.self, Warm.self])

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Whether Redis answers, the publisher's lag and drops, and the streams under the prefix.")
        @OptionGroup var store: DataDirOption
        @OptionGroup var cache: CacheOption

        func run() throws {
            running {
                let c = try cache.configuration(store)
                let report = try CacheReport.inspect(dataDirectory: store.path, configuration: c)
                var out = Output()
                out.write("server: \(report.server) (Redis \(report.redisVersion ?? "?"))\n")
                if let p = report.publisher {
                    out.write("publisher: \(p["state"] ?? "?") (pid \(p["pid"] ?? "?"))\n")
                    out.write("rows published: \(p["rows_published"] ?? "?")\n")
                    out.write("rows dropped: \(p["rows_dropped"] ?? "?")\n")
                    out.write("lag: \(p["lag_rows"] ?? "?") rows, \(p["lag_seconds"] ?? "?") s\n")
                } else {
                    out.write("publisher: none running for this store\n")
                }
                out.write("streams: \(report.streams) (\(report.entries) entries)\n")
                out.write("last hashes: \(report.lastHashes)\n")
                out.flush()
            }
        }
    }

    struct Warm: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Republish each series' last window of rows (default 1 hour) from Strata's data, e.g. after Redis restarted empty.",
            discussion: "Safe beside a running publisher: rows older than a stream's first entry are put in front of it, and a last hash is only replaced by a newer row.")
        @OptionGroup var store: DataDirOption
        @OptionGroup var cache: CacheOption
        @OptionGroup var archiveOption: ArchiveOption
        @Option(help: "Only this measurement.") var measurement: String?
        @Option(help: "Only these symbols, separated by commas (\\, is a comma within a symbol).") var symbol: String?

        func run() throws {
            running {
                let c = try cache.configuration(store)
                try recoverIfNeeded(store.path)
                var configuration = StoreConfiguration()
                configuration.coldStorage = try archiveOption.open(store)
                let target = try Store(directory: store.path, configuration: configuration)
                let symbols = Set(Names.splitList(symbol ?? "").filter { !$0.isEmpty })
                // A typo is an error, not "series: 0".
                if let measurement {
                    _ = try target.existingSeries(measurement: measurement, symbols: symbols.isEmpty ? nil : symbols.sorted())
                } else if !symbols.isEmpty {
                    let known = try Set(target.measurements().flatMap { m throws(StrataError) in try target.symbols(m) })
                    if let missing = symbols.sorted().first(where: { !known.contains($0) }) {
                        throw StrataError(.notFound, "no measurement has a symbol '\(missing)'", path: target.directory, field: "symbol")
                    }
                }
                let started = now()
                let connection = try RedisConnection(c.url, timeoutMilliseconds: c.timeoutMilliseconds)
                let summary = try CacheWarm.warm(store: target, connection: connection, configuration: c, measurement: measurement, symbols: symbols)
                var out = Output()
                out.write("series: \(summary.series)\n")
                out.write("rows published: \(summary.rows)\n")
                out.write("seconds: \(format3(now() - started))\n")
                out.flush()
            }
        }
    }
}
