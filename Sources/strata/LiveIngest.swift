import ArgumentParser
import Glibc
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem
import StrataText

extension Ingest {
    /// `ingest --live`: CSV rows through the write-ahead log in batches.
    func runLive() {
        running {
            // Flags over the configuration file's store and tiers settings.
            var configuration = try store.settings().database
            configuration.store = try storeConfiguration()
            if let fsync { configuration.fsync = FsyncPolicy(parsing: fsync)! }
            if let flushRows { configuration.flushRows = flushRows }
            if let memoryMiB { configuration.memoryLimit = memoryMiB << 20 }
            configuration.walFileSize = walFileSize
            if let compactAfter { configuration.compactAfterSegments = compactAfter }
            if let crashAt { configuration.crashHook = CrashHook(parsing: crashAt)! }
            var options = try csvOptions()
            options.batchRows = batchRows
            let started = now()
            var acknowledged = 0
            let ackEnabled = ack
            let source = file == "-" ? "<stdin>" : file
            var settings = try store.settings()
            settings.database = configuration
            let exitBeforeCommit = mirrorExitBeforeCommit
            // The mirror and the Redis publisher replicate alongside; ingest never waits for them.
            let instance = try StrataInstance(directory: store.path, settings: settings, archive: nil, services: [.mirror, .cache],
                                              adjustMirror: { $0.exitBeforeCommit = exitBeforeCommit }, events: reportEvent)
            let wasNew = isNew(instance.database.store)
            if !wasNew { try refuseConflicts(instance.database.store) }
            instance.start()
            let database = instance.database
            let report: IngestReport
            do {
                let sink: CSVIngester.Sink = { (batch, line) throws(StrataError) in
                    try database.appendBlocking(batch)
                    acknowledged += batch.reduce(0) { $0 + $1.rows.rowCount }
                    if ackEnabled { Output.standardOutputNow("ack \(acknowledged) \(line)\n") }
                }
                if file == "-" {
                    report = try ingestStream(options: options, database: database, sink: sink)
                } else {
                    let mapped = try MappedFile(path: file)
                    mapped.adviseWillNeed()
                    report = try mapped.withUnsafeBytes { raw in
                        try CSVIngester(store: database.store, options: options).ingest(raw, source: source, sink: sink)
                    }
                }
            } catch {
                reportUnpublished(instance.stop())
                try? instance.close()
                throw error
            }
            let waitStarted = now()
            let stopped = instance.finish(mirrorSeconds: 30, cacheSeconds: 10)
            // Time spent after the ingest waiting for the mirror and the publisher.
            let replicaWait = now() - waitStarted
            reportUnpublished(stopped)
            try instance.close()
            // The ingest itself (and closing the store), not the wait for the replicas.
            let seconds = max(now() - started - replicaWait, 1e-9)
            for issue in report.issues { Output.standardError("strata: \(source): \(issue)\n") }
            if report.badRowCount > report.issues.count {
                Output.standardError("strata: \(source): … and \(report.badRowCount - report.issues.count) more bad rows\n")
            }
            let stats = database.statistics
            var out = Output()
            out.write("rows written: \(acknowledged)\n")
            out.write("rows rejected: \(report.badRowCount)\n")
            out.write("series: \(report.series)\n")
            out.write(try partitionLine(database.store, wasNew: wasNew))
            out.write("fsync: \(database.configuration.fsync)\n")
            if let s = stopped.mirror {
                out.write("mirror: \(s.rowsReplicated) rows replicated to \(s.server ?? "the database")"
                          + (stopped.mirrorCaughtUp ? "" : "; behind (the next run catches up): \(s.lastError ?? "not caught up in 30 s")") + "\n")
            }
            if stopped.mirror != nil || stopped.cache != nil {
                out.write("replicas wait seconds: \(format3(replicaWait))\n")
            }
            if let s = stopped.cache {
                out.write("cache: \(s.rowsPublished) rows published to \(s.server)" + (s.rowsDropped > 0 ? ", \(s.rowsDropped) dropped" : "")
                          + (stopped.cachePublished ? "" : "; behind: \(s.lastError ?? "not published in 10 s")") + "\n")
            }
            out.write("appends: \(stats.appends)\n")
            out.write("wal fsyncs: \(stats.wal.syncs)\n")
            out.write("flushes: \(stats.flushes)\n")
            out.write("segments written: \(stats.segmentsWritten)\n")
            out.write("seconds: \(format3(seconds))\n")
            out.write("rows/s: \(Int(Double(acknowledged) / seconds))\n")
            out.flush()
            if report.badRowCount > 0 { Glibc.exit(2) }
        }
    }

    /// Reads standard input piece by piece, each ending at a line break outside quotes,
    /// and ingests each piece (with the header line in front) as it arrives. Field types
    /// are fixed by the first piece.
    func ingestStream(options first: CSVIngestOptions, database: Database, sink: @escaping CSVIngester.Sink) throws -> IngestReport {
        var options = first
        var total = IngestReport()
        var header: [UInt8]? = nil
        var pending: [UInt8] = []
        var nextLine = 2  // stream line number of the first line after the header in `pending`
        var inQuotes = false
        var scanned = 0  // bytes of `pending` already scanned for quotes and line breaks
        var boundary = -1  // last line break outside quotes in `pending`
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var atEnd = false
        while !atEnd {
            let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw StrataError(.io, "read: \(String(cString: strerror(errno)))", path: "<stdin>") }
            if n == 0 { atEnd = true } else { pending.append(contentsOf: chunk[0..<n]) }
            while scanned < pending.count {
                let b = pending[scanned]
                if b == UInt8(ascii: "\"") { inQuotes.toggle() } else if b == UInt8(ascii: "\n") && !inQuotes { boundary = scanned }
                scanned += 1
            }
            var end = boundary + 1
            if atEnd { end = pending.count }
            if header == nil {
                guard let h = pending.firstIndex(of: UInt8(ascii: "\n")), h < end || atEnd else { continue }
                header = Array(pending[...h])
                pending.removeFirst(h + 1)
                scanned -= h + 1
                boundary -= h + 1
                end -= h + 1
            }
            guard end > 0 else { continue }
            let piece = Array(pending[..<end])
            pending.removeFirst(end)
            scanned -= end
            boundary = -1
            options.lineOffset = nextLine - 2  // the piece's line 2 is the stream's `nextLine`
            let input = header! + piece
            let report = try input.withUnsafeBufferPointer { raw in
                try CSVIngester(store: database.store, options: options).ingest(raw, source: "<stdin>", sink: sink)
            }
            nextLine += piece.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
            // Later pieces keep the types this one settled on.
            options.schema = report.schema
            total.rowsRead += report.rowsRead
            total.rowsWritten += report.rowsWritten
            total.badRowCount += report.badRowCount
            total.issues += report.issues.prefix(max(0, 100 - total.issues.count))
            total.series = max(total.series, report.series)
            total.schema = report.schema
        }
        return total
    }
}

extension Output {
    /// Writes to standard output at once, unbuffered: for progress lines another process
    /// reads while this one runs (and may be killed).
    static func standardOutputNow(_ s: String) {
        var s = s
        s.withUTF8 { raw in
            var done = 0
            while done < raw.count {
                let n = Glibc.write(1, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                done += n
            }
        }
    }
}
