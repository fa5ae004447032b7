import ArgumentParser
import Glibc
import StrataEngine
import StrataPlatform
import StrataSystem

/// `--url`, shared by the cache commands.
struct CacheOption: ParsableArguments {
    @Option(help: "Redis URL, redis://[user:password@]host[:port][/db] (default: $REDIS_URL, else the configuration's cache.url).")
    var url: String?
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
                let settings = try store.settings()
                let report = try settings.cacheReport(dataDirectory: store.path, url: cache.url)
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
                let settings = try store.settings()
                try recoverIfNeeded(store.path)
                let archive = try archiveOption.open(store)
                let symbols = Set(Names.splitList(symbol ?? "").filter { !$0.isEmpty })
                let started = now()
                let summary = try settings.warmCache(dataDirectory: store.path, url: cache.url, archive: archive, measurement: measurement, symbols: symbols)
                var out = Output()
                out.write("series: \(summary.series)\n")
                out.write("rows published: \(summary.rows)\n")
                out.write("seconds: \(format3(now() - started))\n")
                out.flush()
            }
        }
    }
}
