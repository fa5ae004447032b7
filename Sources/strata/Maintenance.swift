import ArgumentParser
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem

struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete the rows of one symbol in a time range.",
        discussion: """
        Removes every row of the series with FROM ≤ time ≤ TO that is in the store now, also \
        in archived days; rows written afterwards (corrections) are kept. Queries stop \
        returning the rows at once; the space is given back when the day is compacted \
        (strata compact; archived segments keep their rows, hidden by the tombstone, until \
        they are restored and compacted).
        """)

    @OptionGroup var store: DataDirOption
    @OptionGroup var archiveOption: ArchiveOption
    @Option(help: "Measurement.") var measurement: String
    @Option(help: "Symbol.") var symbol: String
    @Option(parsing: .unconditional, help: "First time deleted (inclusive): RFC 3339, a date, or an epoch integer.") var from: String
    @Option(parsing: .unconditional, help: "Last time deleted (inclusive); a date alone means the whole day.") var to: String

    func run() throws {
        running {
            let fromNs = try parseTime(from, option: "--from")
            let toNs = try parseRangeEnd(to, option: "--to")
            if fromNs > toNs { throw ValidationError("--from is after --to") }
            let series = try SeriesKey(measurement: measurement, symbol: symbol)
            // With the archive, as `query` reads: the rows are counted across every tier,
            // and the tombstone covers archived segments too (readers apply it to them).
            let archive = try archiveOption.open(store)
            let before = try withStore(store, archive: archive) { instance in
                let database = instance.database
                // A typo is an error, not "0 rows deleted".
                _ = try database.existingSeries(measurement: measurement, symbols: [symbol])
                let before = try database.query(series, from: fromNs, to: toNs, fields: []).rows.rowCount
                try database.deleteBlocking(series, from: fromNs, to: toNs)
                return before
            }
            var out = Output()
            out.write("rows deleted: \(before)\n")
            out.flush()
        }
    }
}

struct Compact: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge each series-day's segments into one and purge deleted rows.",
        discussion: """
        Every series-day (optionally only those of one measurement, symbol or day) that has \
        more than one segment, or deleted ranges, is rewritten as one segment with codecs \
        chosen anew; the switch is atomic and readers never see both versions.
        """)

    @OptionGroup var store: DataDirOption
    @Option(help: "Only this measurement.") var measurement: String?
    @Option(help: "Only this symbol.") var symbol: String?
    @Option(help: "Only this day (YYYY-MM-DD).") var day: String?

    func run() throws {
        running {
            var onlyDay: Day? = nil
            if let day {
                guard let d = Day(day) else { throw ValidationError("--day '\(day)' is not a date (YYYY-MM-DD)") }
                onlyDay = d
            }
            let started = now()
            let summary = try withDatabase(store.path) { database in
                try database.compact(measurement: measurement, symbol: symbol, day: onlyDay)
            }
            let seconds = max(now() - started, 1e-9)
            var out = Output()
            out.write("series-days compacted: \(summary.seriesDays)\n")
            out.write("segments: \(summary.segmentsBefore) -> \(summary.segmentsAfter)\n")
            out.write("rows: \(summary.rows)\n")
            out.write("bytes: \(summary.bytesBefore) -> \(summary.bytesAfter)\n")
            out.write("deleted ranges purged: \(summary.tombstonesPurged)\n")
            out.write("seconds: \(format3(seconds))\n")
            out.flush()
        }
    }
}

/// Brings a store whose last writer crashed up to date before reading it: its log is
/// replayed into segments, as the next writer would. A store another process has open
/// is read as it is on disk, with a note.
func recoverIfNeeded(_ path: String) throws {
    guard FileSystem.isDirectory(path), try Database.needsRecovery(path) else { return }
    let opened: Database
    do throws(StrataError) {
        opened = try Database(directory: path)
    } catch {
        guard error.code == .conflict else { throw error }
        Output.standardError("strata: note: another process is writing this store; rows it has not flushed yet are not shown\n")
        return
    }
    for damage in opened.recovery.damage { Output.standardError("strata: recovery: \(damage)\n") }
    try opened.close()
}

/// Runs `body` on the store of `store`'s data directory, opened through the composition root
/// (`StrataInstance`) with its settings and `archive` (cold days read and written there) and
/// no services running, and closes it (also when `body` throws; its error is the one
/// reported). The directory must exist already.
func withStore<R>(_ store: DataDirOption, archive: StoreArchive?, _ body: (StrataInstance) throws -> R) throws -> R {
    try requireDataDirectory(store.path)
    let instance = try StrataInstance(directory: store.path, settings: try store.settings(), archive: archive, services: [], events: reportEvent)
    return try closing(instance, { try $0.close() }, body)
}

/// Throws unless `path` is a directory (the store a command names must exist).
func requireDataDirectory(_ path: String) throws(StrataError) {
    guard FileSystem.isDirectory(path) else {
        throw StrataError(.notFound, "no Strata data directory here (use --data-dir or STRATA_DATA_DIR)", path: path)
    }
}

/// Runs `body` on `resource` and then `close`s it, also when `body` throws (its error is
/// then the one reported).
func closing<T, R>(_ resource: T, _ close: (T) throws -> Void, _ body: (T) throws -> R) throws -> R {
    let result: R
    do {
        result = try body(resource)
    } catch {
        try? close(resource)
        throw error
    }
    try close(resource)
    return result
}

/// Runs `body` on the live database of the data directory at `path` and closes it (also
/// when `body` throws; its error is the one reported). Unless `creating`, the directory
/// must exist already.
func withDatabase<R>(_ path: String, configuration: DatabaseConfiguration = DatabaseConfiguration(), creating: Bool = false,
                     _ body: (Database) throws -> R) throws -> R {
    if !creating { try requireDataDirectory(path) }
    return try closing(try Database(directory: path, configuration: configuration), { try $0.close() }, body)
}
