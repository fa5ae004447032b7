import ArgumentParser
import Glibc
import StrataEngine
import StrataSystem

/// `--dsn`, shared by the mirror commands.
struct MirrorOption: ParsableArguments {
    @Option(help: "PostgreSQL/TimescaleDB connection string or URI (default: $TIMESCALE_DSN, else the configuration's mirror.dsn).")
    var dsn: String?
}

struct MirrorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirror",
        abstract: "The PostgreSQL/TimescaleDB mirror: its state, backfill, and a comparison with Strata.",
        discussion: "With TIMESCALE_DSN (or mirror.dsn) set, strata ingest --live replicates every row into the database as it goes, exactly once; these commands inspect and repair it.",
        subcommands: [Status.self, Sync.self, Verify.self])

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Where the mirror is: cursor, lag, extension detected.")
        @OptionGroup var store: DataDirOption
        @OptionGroup var mirror: MirrorOption

        func run() throws {
            running {
                let settings = try store.settings()
                let report = try settings.mirrorReport(dataDirectory: store.path, dsn: mirror.dsn)
                var out = Output()
                out.write("server: \(report.server)\n")
                out.write("extension: \(report.timescale ? "timescaledb \(report.timescaleVersion ?? "")" : "none (plain PostgreSQL tables and views)")\n")
                out.write("state: \(report.state)\n")
                out.write("cursor: \(report.cursor.map { "\($0.position) (next row \($0.nextSeq))" } ?? "none (never replicated)")\n")
                out.write("log end: \(report.logEnd)\n")
                out.write("lag: \(report.lagRows) rows (\(report.lagBytes) bytes of log)\n")
                out.write("retained log from: \(report.retained.map { "\($0)" } ?? "nothing retained")\n")
                out.flush()
            }
        }
    }

    struct Sync: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Backfill the mirror from Strata's data: catch up with the log, then replace each series-day.",
            discussion: "Run it after enabling the mirror on a store that has data, or when mirror status says \"needs sync\" (then without filters). Re-running it is harmless.")
        @OptionGroup var store: DataDirOption
        @OptionGroup var mirror: MirrorOption
        @Option(help: "Only this measurement.") var measurement: String?
        @Option(parsing: .unconditional, help: "First time (a time or date).") var from: String?
        @Option(parsing: .unconditional, help: "Last time (inclusive); a date alone means the whole day.") var to: String?

        func run() throws {
            running {
                let (lo, hi) = (try from.map { try parseTime($0, option: "--from") } ?? .min, try to.map { try parseRangeEnd($0, option: "--to") } ?? .max)
                let started = now()
                let summary = try withStore(store, archive: nil) { instance in
                    try instance.syncMirror(dsn: mirror.dsn, measurement: measurement, from: lo, to: hi)
                }
                var out = Output()
                out.write("series-days replaced: \(summary.seriesDays)\n")
                out.write("rows: \(summary.rows)\n")
                if summary.gapFilled { out.write("log gap: the cursor moved to the log's end; every series-day was replaced\n") }
                out.write("seconds: \(format3(now() - started))\n")
                out.flush()
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare row counts and sums per series-day between Strata and the mirror; exit 1 naming each difference.")
        @OptionGroup var store: DataDirOption
        @OptionGroup var mirror: MirrorOption
        @Option(help: "Only this measurement.") var measurement: String?
        @Option(help: "Only this day (YYYY-MM-DD).") var day: String?

        func run() throws {
            running {
                let onlyDay = try day.map { d in
                    guard let parsed = Day(d) else { throw ValidationError("--day must be YYYY-MM-DD, not '\(d)'") }
                    return parsed
                }
                let (compared, differences) = try withStore(store, archive: nil) { instance in
                    try instance.verifyMirror(dsn: mirror.dsn, measurement: measurement, day: onlyDay)
                }
                var out = Output()
                for d in differences { out.write("differs: \(d)\n") }
                out.write("series-days compared: \(compared)\n")
                out.write(differences.isEmpty ? "mirror: identical\n" : "mirror: \(differences.count) series-days differ\n")
                out.flush()
                if !differences.isEmpty { Glibc.exit(1) }
            }
        }
    }
}
