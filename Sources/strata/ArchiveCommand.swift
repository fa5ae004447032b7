import ArgumentParser
import Glibc
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem
import StrataText

/// `--archive`, shared by the commands that read or move archived data.
struct ArchiveOption: ParsableArguments {
    @Option(name: .long, help: "Archive: file:///DIR or s3://BUCKET[/PREFIX] (default: $STRATA_ARCHIVE, else s3:// if S3_BUCKET is set, else archive.url, else the archive the store's days were last pushed to, else <data-dir>/_archive). S3 credentials come from S3_ACCESS_KEY and S3_SECRET_KEY, the endpoint from S3_ENDPOINT. With STRATA_ENCRYPTION_KEY_FILE or STRATA_ENCRYPTION_KEY set, new objects are encrypted with the first key.")
    var archive: String?

    /// The archive of a store's command: its data directory and configuration file.
    func open(_ store: DataDirOption) throws -> StoreArchive {
        try open(dataDirectory: store.path, settings: try store.settings())
    }

    /// The archive named by `--archive`, else the environment, else the configuration
    /// file, else the one the store recorded when its days were pushed there, else
    /// `<data-dir>/_archive` (nil data directory: there is no default).
    func open(dataDirectory: String?, settings: StrataConfiguration) throws -> StoreArchive {
        try usage { () throws(StrataError) in try settings.openArchive(named: archive, dataDirectory: dataDirectory) }
    }

    /// The archive and key of an object named by its key (as `archive ls` prints it) or by
    /// its URL (`s3://BUCKET/KEY` or `file:///DIR/KEY`); see `openArchiveObject`.
    func object(_ name: String, _ store: DataDirOption) throws -> (StoreArchive, String) {
        let settings = try store.settings()
        return try usage { () throws(StrataError) in try settings.openArchiveObject(name, archive: archive, dataDirectory: store.path) }
    }
}

/// `body`'s result; arguments that name nothing usable (an invalid-input error about no
/// file) are a usage error, as the other options' are.
func usage<R>(_ body: () throws(StrataError) -> R) throws -> R {
    do throws(StrataError) {
        return try body()
    } catch {
        if error.code == .invalidInput, error.path == nil { throw ValidationError(error.message) }
        throw error
    }
}

struct ArchiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "Move old days to the archive (S3 or a directory), list, read and restore them.",
        subcommands: [Init.self, Push.self, List.self, Cat.self, Restore.self])

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the archive ready: its S3 bucket, or its directory, is made if it does not exist.",
            discussion: "Uploads make a missing bucket too; init makes it now, so that credentials that may not create buckets are found out before the first push.")
        @OptionGroup var store: DataDirOption
        @OptionGroup var archiveOption: ArchiveOption

        func run() throws {
            running {
                let archive = try archiveOption.open(store)
                let done = try archive.prepare()
                Output.standardOutputNow("\(archive.location): \(done)\n")
            }
        }
    }

    struct Push: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Archive every series-day that ended more than --older-than ago (default 180d).",
            discussion: "Each day is compacted, converted into a cold object, uploaded and verified; only then is the local segment removed. Queries keep answering for archived days.")
        @OptionGroup var store: DataDirOption
        @OptionGroup var archiveOption: ArchiveOption
        @Option(help: "Age of the days to archive: 0s (everything), 7d, 180d, … (default: the configuration's archive_after, else 180d)") var olderThan: String?
        @Option(help: "Only this measurement.") var measurement: String?

        func run() throws {
            running {
                let settings = try store.settings()
                guard let age = try olderThan.map({ try parseDuration($0) }) ?? settings.tiers.archiveAfter else {
                    throw ValidationError("the configuration sets archive_after = \"never\"; give --older-than to archive anyway")
                }
                let archive = try archiveOption.open(store)
                let started = now()
                let summary = try withStore(store, archive: archive) { try $0.pushToArchive(olderThan: age, measurement: measurement) }
                var out = Output()
                out.write("series-days archived: \(summary.seriesDays)\n")
                // What "old" meant, so that nothing archived is not a mystery.
                out.write("older than: \(durationText(age))\(olderThan == nil ? " (the configuration's archive_after, else 180d; --older-than 0s archives every flushed day)" : "")\n")
                out.write("rows: \(summary.rows)\n")
                out.write("local bytes freed: \(summary.localBytes)\n")
                out.write("object bytes: \(summary.objectBytes)\n")
                out.write("archive: \(archive.location)\n")
                out.write("seconds: \(format3(now() - started))\n")
                out.flush()
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List archived objects: key, day, rows, bytes (CSV).")
        @OptionGroup var store: DataDirOption
        @OptionGroup var archiveOption: ArchiveOption
        @Option(help: "Only this measurement.") var measurement: String?
        @Option(help: "Only this symbol (with --measurement).") var symbol: String?
        @Option(parsing: .unconditional, help: "First day (a time or date).") var from: String?
        @Option(parsing: .unconditional, help: "Last day.") var to: String?

        func run() throws {
            running {
                if symbol != nil && measurement == nil { throw ValidationError("--symbol needs --measurement") }
                let archive = try archiveOption.open(store)
                let lo = try from.map { Day(containing: try parseTime($0, option: "--from")) } ?? Day(daysSinceEpoch: -1_000_000)
                let hi = try to.map { Day(containing: try parseRangeEnd($0, option: "--to")) } ?? Day(daysSinceEpoch: 1_000_000)
                var out = Output()
                out.write("key,measurement,symbol,day,rows,bytes\n")
                for item in try archive.list(measurement: measurement, symbol: symbol, days: lo...hi) {
                    out.write("\(item.key),\(item.measurement),\(item.symbol),\(item.day),\(item.rows),\(item.bytes)\n")
                }
                out.flush()
            }
        }
    }

    struct Cat: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the rows of an archived object as CSV.")
        @OptionGroup var store: DataDirOption
        @OptionGroup var archiveOption: ArchiveOption
        @Argument(help: "Object key, as archive ls prints it, or the object's URL: s3://BUCKET/KEY (as aws s3 ls shows it) or file:///DIR/KEY.") var key: String

        func run() throws {
            running {
                let (archive, key) = try archiveOption.object(key, store)
                let result = try archive.rows(of: key)
                let rows = result.rows
                // The same text as strata query's CSV, written in pieces.
                var writer = ResultWriter(format: .csv, timeFormat: .rfc3339)
                var text = ""
                writer.beginRows(result.schema, into: &text)
                var out = Output()
                var start = 0
                repeat {
                    let end = min(rows.rowCount, start + 4_096)
                    writer.rows(result, range: start..<end, into: &text)
                    out.write(text)
                    text = ""
                    start = end
                } while start < rows.rowCount
                writer.end(into: &text)
                out.write(text)
                out.flush()
            }
        }
    }

    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Bring archived days of a symbol back to local disk (the archive keeps its copies).")
        @OptionGroup var store: DataDirOption
        @OptionGroup var archiveOption: ArchiveOption
        @Option(help: "Measurement.") var measurement: String
        @Option(help: "Symbol.") var symbol: String
        @Option(parsing: .unconditional, help: "First time.") var from: String
        @Option(parsing: .unconditional, help: "Last time (inclusive); a date alone means the whole day.") var to: String

        func run() throws {
            running {
                let archive = try archiveOption.open(store)
                let series = try SeriesKey(measurement: measurement, symbol: symbol)
                let (fromNs, toNs) = (try parseTime(from, option: "--from"), try parseRangeEnd(to, option: "--to"))
                let restored = try withStore(store, archive: archive) { try $0.restoreFromArchive(series: series, from: fromNs, to: toNs) }
                var out = Output()
                out.write("segments restored: \(restored)\n")
                out.flush()
            }
        }
    }
}
