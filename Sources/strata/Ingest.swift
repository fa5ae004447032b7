import ArgumentParser
import Glibc
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataText

struct Ingest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a CSV file (with a header row) into the store.",
        discussion: """
        Time is RFC 3339 / ISO 8601 (fractional seconds, optional zone; no zone = UTC) or an \
        epoch integer. Other columns become fields, typed int, float, bool or string by \
        their values unless --schema says. Empty values are nulls. NaN and Inf are refused \
        unless --allow-nonfinite. Bad rows are reported with their line and reason and the \
        valid rows written; with --strict nothing is written if any row is bad.

        With --live the rows go through the write-ahead log in batches (--batch-rows), as a \
        server's appends do, and standard input is read as a stream: each batch is durable \
        under --fsync before the next is read (--ack prints "ack ROWS LINE" for each). \
        Without --live the whole file is written as segments at once.
        """)

    @OptionGroup var store: DataDirOption
    @Option(help: "Measurement (data type) the rows belong to, e.g. trade.") var measurement: String
    @Option(help: "Column holding the time (default: time, timestamp, ts, ts_utc, datetime or date, else the first column).")
    var timeColumn: String?
    @Option(help: "Column holding the symbol (default: symbol, ticker or sym).") var symbolColumn: String?
    @Option(help: "Symbol of every row, for files without a symbol column.") var symbol: String?
    @Option(help: "Unit of epoch-integer times: s, ms, us or ns (default: guessed from magnitude).") var timeUnit: String?
    @Option(help: "Field types, e.g. price:float,size:int,venue:string.") var schema: String?
    @Flag(help: "Write nothing if any row is bad.") var strict = false
    @Flag(help: "Accept NaN, Inf and -Inf in float fields.") var allowNonfinite = false
    @Option(help: "Rows per block (default 8192).") var rowsPerBlock: Int = 8192
    @Option(help: "Partition period of a new measurement: day, week, month, year or auto, which picks from the rows' spacing (default: the configuration's measurements section, else store.partition, else auto).")
    var partition: String?
    @Option(help: "Layout of a new measurement: series (a directory per symbol), packed (every symbol of a partition in a few files: options chains, bars of many stocks) or auto, which packs 64 or more symbols of 1,024 rows or fewer per partition (default: the configuration's measurements section, else store.layout, else auto).")
    var layout: String?
    @Flag(help: "Write through the write-ahead log in batches, as a server does.") var live = false
    @Option(help: "With --live: always, interval:<ms> or none (default: the configuration's, else always).") var fsync: String?
    @Option(help: "With --live: rows per append (default 1000).") var batchRows: Int = 1000
    @Option(help: "With --live: flush a series into segments at this many rows (default 1048576).") var flushRows: Int?
    @Option(name: .customLong("memory-mib"), help: "With --live: memory for unflushed rows, in MiB (default 512).") var memoryMiB: Int?
    @Flag(help: "With --live: print \"ack ROWS LINE\" when each batch is durable.") var ack = false
    @Option(help: .hidden) var walFileSize: Int = 64 << 20
    @Option(help: .hidden) var compactAfter: Int?
    @Option(help: .hidden) var crashAt: String?
    @Flag(help: .hidden) var mirrorExitBeforeCommit = false
    @Argument(help: "CSV file, or - for standard input.") var file: String

    func validate() throws {
        if symbol != nil && symbolColumn != nil { throw ValidationError("give --symbol or --symbol-column, not both") }
        if let timeUnit, TimeUnit(rawValue: timeUnit) == nil { throw ValidationError("--time-unit must be s, ms, us or ns, not '\(timeUnit)'") }
        if rowsPerBlock < 1 || rowsPerBlock > 1 << 20 { throw ValidationError("--rows-per-block must be 1…1048576") }
        if let fsync, FsyncPolicy(parsing: fsync) == nil { throw ValidationError("--fsync must be always, none or interval:<ms> (1…60000), not '\(fsync)'") }
        if batchRows < 1 || batchRows > 1 << 20 { throw ValidationError("--batch-rows must be 1…1048576") }
        if let flushRows, flushRows < 1 { throw ValidationError("--flush-rows must be at least 1") }
        if let memoryMiB, memoryMiB < 1 { throw ValidationError("--memory-mib must be at least 1") }
        if let crashAt, CrashHook(parsing: crashAt) == nil { throw ValidationError("--crash-at: unknown point '\(crashAt)'") }
        if live && strict { throw ValidationError("--strict needs the whole file before writing; it does not go with --live") }
        if let partition, PartitionChoice(partition) == nil { throw ValidationError("--partition must be day, week, month, year or auto, not '\(partition)'") }
        if let layout, LayoutChoice(layout) == nil { throw ValidationError("--layout must be series, packed or auto, not '\(layout)'") }
    }

    func run() throws {
        if live { return runLive() }
        running {
            let options = try csvOptions()
            let target = try Store(directory: store.path, configuration: try storeConfiguration(), create: true)
            let wasNew = isNew(target)
            if !wasNew { try refuseConflicts(target) }
            let ingester = CSVIngester(store: target, options: options)
            let started = now()
            let report: IngestReport
            if file == "-" {
                let data = readStandardInput()
                report = try data.withUnsafeBufferPointer { try ingester.ingest($0, source: "<stdin>") }
            } else {
                let mapped = try MappedFile(path: file)
                mapped.adviseWillNeed()
                report = try mapped.withUnsafeBytes { try ingester.ingest($0, source: file) }
            }
            let seconds = max(now() - started, 1e-9)
            let source = file == "-" ? "<stdin>" : file
            for issue in report.issues { Output.standardError("strata: \(source): \(issue)\n") }
            if report.badRowCount > report.issues.count {
                Output.standardError("strata: \(source): … and \(report.badRowCount - report.issues.count) more bad rows\n")
            }
            for note in report.notes { Output.standardError("strata: \(source): note: \(note)\n") }
            var out = Output()
            if strict && report.badRowCount > 0 {
                Output.standardError("strata: \(source): \(report.badRowCount) bad rows; nothing written (--strict)\n")
                Glibc.exit(1)
            }
            let rate = Double(report.rowsWritten) / seconds
            let perRow = report.rowsWritten > 0 ? Double(report.bytesWritten) / Double(report.rowsWritten) : 0
            out.write("rows written: \(report.rowsWritten)\n")
            out.write("rows rejected: \(report.badRowCount)\n")
            out.write("series: \(report.series)\n")
            out.write(try partitionLine(target, wasNew: wasNew))
            out.write("segments: \(report.segments.count)\n")
            out.write("schema: \(report.schema.map(\.description).joined(separator: ","))\n")
            if let unit = report.timeUnit { out.write("epoch time unit: \(unit.rawValue)\n") }
            out.write("seconds: \(String(format3(seconds)))\n")
            out.write("rows/s: \(Int(rate))\n")
            out.write("bytes: \(report.bytesWritten)\n")
            out.write("bytes/row: \(format3(perRow))\n")
            out.flush()
            if report.badRowCount > 0 { Glibc.exit(2) }
        }
    }

    /// The configuration file's store settings with the flags' rows per block and partition.
    func storeConfiguration() throws -> StoreConfiguration {
        var c = try store.settings().database.store
        c.rowsPerBlock = rowsPerBlock
        if let partition { c.partitions[measurement] = PartitionChoice(partition)! }
        if let layout { c.layouts[measurement] = LayoutChoice(layout)! }
        return c
    }

    /// Whether `measurement` has no series yet in `target` (this ingest makes it).
    func isNew(_ target: Store) -> Bool {
        ((try? target.symbols(measurement)) ?? []).isEmpty
    }

    /// A --partition or --layout other than what an existing measurement keeps is refused
    /// before anything is read: they apply to a new measurement, and rows are not written
    /// in a shape the user did not ask for.
    func refuseConflicts(_ target: Store) throws {
        if let partition, let asked = PartitionChoice(partition), asked != .auto {
            let kept = try target.partitionPeriod(of: measurement)
            if asked != .period(kept) {
                throw StrataError(.conflict, "measurement '\(measurement)' has \(kept) partitions, not \(asked): --partition applies to a new measurement (leave it out, or use another measurement)",
                                  field: "partition")
            }
        }
        if let layout, let asked = LayoutChoice(layout), asked != .auto {
            let kept = try target.layout(of: measurement)
            if asked != .layout(kept) {
                throw StrataError(.conflict, "measurement '\(measurement)' is \(kept), not \(asked): --layout applies to a new measurement (leave it out, or use another measurement)",
                                  field: "layout")
            }
        }
    }

    /// "partition: <period>", saying how it was chosen when this ingest made the measurement.
    func partitionLine(_ target: Store, wasNew: Bool) throws -> String {
        let period = try target.partitionPeriod(of: measurement)
        if wasNew {
            let choice = partition.flatMap(PartitionChoice.init) ?? target.configuration.partitions[measurement] ?? target.configuration.defaultPartition
            let how = choice == .auto ? "auto: from the rows' spacing; --partition or the configuration's measurements section sets it"
                : partition != nil ? "--partition \(choice)" : "the configuration's"
            return "partition: \(period) (\(how))\n" + (try layoutLine(target, wasNew: true))
        }
        return "partition: \(period)\n" + (try layoutLine(target, wasNew: false))
    }

    /// "layout: <layout>", saying how it was chosen when this ingest made the measurement.
    func layoutLine(_ target: Store, wasNew: Bool) throws -> String {
        let kept = try target.layout(of: measurement)
        if wasNew {
            let choice = layout.flatMap(LayoutChoice.init) ?? target.configuration.layouts[measurement] ?? target.configuration.defaultLayout
            let how = choice == .auto ? "auto: \(LayoutChoice.autoMinimumSeries) or more symbols of \(LayoutChoice.autoMaximumRows) rows or fewer per partition are packed; --layout sets it"
                : layout != nil ? "--layout \(choice)" : "the configuration's"
            return "layout: \(kept) (\(how))\n"
        }
        return "layout: \(kept)\n"
    }

    /// The CSV reading options the flags give (the same for bulk and live ingest).
    func csvOptions() throws -> CSVIngestOptions {
        var options = CSVIngestOptions(measurement: measurement)
        options.timeColumn = timeColumn
        options.symbolColumn = symbolColumn
        options.symbol = symbol
        options.timeUnit = timeUnit.flatMap(TimeUnit.init(rawValue:))
        options.strict = strict
        options.allowNonFinite = allowNonfinite
        if let schema { options.schema = try parseSchema(schema) }
        return options
    }

    func parseSchema(_ text: String) throws -> [Field] {
        try text.split(separator: ",").map { part in
            let pieces = part.split(separator: ":", maxSplits: 1)
            guard pieces.count == 2, let type = FieldType(name: String(pieces[1])) else {
                throw ValidationError("--schema entry '\(part)' is not name:type with type int, float, bool or string")
            }
            return Field(String(pieces[0]), type)
        }
    }
}

func format3(_ v: Double) -> String {
    let scaled = (v * 1000).rounded()
    let whole = Int64(scaled / 1000)
    let frac = Int64(abs(scaled.truncatingRemainder(dividingBy: 1000)))
    let f = String(frac)
    return "\(whole).\(String(repeating: "0", count: 3 - f.count))\(f)"
}

func readStandardInput() -> [UInt8] {
    var data: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        data.append(contentsOf: chunk[0..<n])
    }
    return data
}
