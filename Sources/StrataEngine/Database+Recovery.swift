import StrataFormat
import StrataPlatform

extension Database {
    /// Brings the store to the state of the last acknowledged write (leftovers of crashed
    /// writes are already removed, and the new WAL file started): replays the WAL files
    /// `old` in order (records already in segments,
    /// by the manifests' watermarks, are skipped), flushes the replayed rows, then removes
    /// the old WAL files. A torn or damaged file is replayed up to the damage, reported,
    /// and moved to `_wal/damaged/`.
    func recover(_ old: [(sequence: UInt64, path: String)]) throws(StrataError) {
        var report = RecoveryReport()
        var manifests: [SeriesDay: DayManifest] = [:]
        func manifest(_ key: SeriesDay) throws(StrataError) -> DayManifest {
            if let m = manifests[key] { return m }
            let m = try store.manifest(key)
            manifests[key] = m
            return m
        }
        var damaged: [String] = []
        for file in old {
            report.walFiles += 1
            let mapped = try MappedFile(path: file.path)
            let outcome: Result<WALLayout.End, StrataError> = mapped.withUnsafeBytes { bytes in
                do throws(FormatError) {
                    try WALLayout.verifyHeader(bytes)
                } catch {
                    // A crash while the file was being created leaves a short header.
                    return .success(bytes.count < WALLayout.headerSize && bytes.allSatisfy { $0 == 0 } || bytes.count < 8
                                    ? .torn(offset: 0) : .corrupt(offset: error.offset ?? 0, reason: error.message))
                }
                return Result { () throws(StrataError) in
                    try Self.scanLog(bytes, sequence: file.sequence, path: file.path) { (entry: LogEntry) throws(StrataError) in
                        report.records += 1
                        try replay(entry.record, start: entry.start, end: entry.end, report: &report, manifest: manifest)
                        if case .delete = entry.record { manifests = [:] }
                        if monitor.withLock({ state.memtable.bytes >= configuration.memoryLimit / 2 }) {
                            // Memory is bounded during replay too; the log files stay until
                            // the whole log is replayed.
                            _ = try writer.withLock { () throws(StrataError) in try flush(all: true, removingLogFiles: false) }
                            manifests = [:]
                        }
                    }
                }
            }
            switch outcome {
            case .failure(let error): throw error
            case .success(.clean): break
            case .success(.torn(let offset)):
                // The usual end of a log cut by a crash: the last write never completed.
                if offset < mapped.size || offset < WALLayout.headerSize {
                    report.damage.append(StrataError(.corrupt, "torn record at the end of the write-ahead log; \(mapped.size - offset) bytes dropped",
                                                     path: file.path, offset: offset))
                }
            case .success(.corrupt(let offset, let reason)):
                report.damage.append(StrataError(.corrupt, "damaged write-ahead log: \(reason); records from here to the end of this file (\(mapped.size - offset) bytes) are lost",
                                                 path: file.path, offset: offset))
                damaged.append(file.path)
            }
        }
        // Damaged files get a second name outside the log before the flush below removes
        // them from it, so that the bytes after the damage stay available for inspection.
        if !damaged.isEmpty {
            let quarantine = "\(wal.directory)/damaged"
            try FileSystem.makeDirectories(quarantine)
            for path in damaged {
                var target = "\(quarantine)/\(path.split(separator: "/").last!)"
                while FileSystem.exists(target) { target += ".again" }
                try FileSystem.link(path, target)
                report.quarantined.append(target)
            }
            try FileSystem.syncDirectory(quarantine)
        }
        do throws(StrataError) {
            _ = try writer.withLock { () throws(StrataError) in try flush(all: true, removingLogFiles: false) }
            try removeObsoleteWALFiles()
        } catch where error.isOutOfSpace {
            // A full disk does not keep the store shut: the replayed rows stay in memory
            // (and in the log files, which stay), the flush thread tries again, and /ready
            // says why meanwhile.
            monitor.withLock { state.lastFlushError = error }
            report.damage.append(StrataError(.io, "the replayed rows could not be flushed yet (\(error.message)); they stay in memory and in the log, and are flushed once there is space", path: error.path))
        }
        recovery = report
    }

    /// Applies one WAL record during recovery, skipping what the manifests say is done.
    private func replay(_ record: WALRecord, start: WALPosition, end: WALPosition, report: inout RecoveryReport,
                        manifest: (SeriesDay) throws(StrataError) -> DayManifest) throws(StrataError) {
        switch record {
        case .rows(let measurement, let symbol, let schema, let rows):
            let series = try SeriesKey(measurement: measurement, symbol: symbol)
            var keep: [Int] = []
            var pendingByDay: [Day: Bool] = [:]
            let offset = configuration.store.dayOffsetSeconds
            // A measurement with no recorded period has flushed nothing yet: any period will do.
            let period = try store.partitionPeriod(of: measurement)
            for (i, t) in rows.timestamps.enumerated() {
                let day = Day(containing: t, offsetSeconds: offset, period: period)
                let pending: Bool
                if let known = pendingByDay[day] {
                    pending = known
                } else {
                    pending = start >= (try manifest(SeriesDay(series, day))).rowsFlushedThrough
                    pendingByDay[day] = pending
                }
                if pending { keep.append(i) }
            }
            report.rowsAlreadyFlushed += rows.rowCount - keep.count
            guard !keep.isEmpty else { return }
            let kept = keep.count == rows.rowCount ? rows : rows.gather(keep)
            report.rowsRecovered += kept.rowCount
            try monitor.withLock { () throws(StrataError) in
                var known = try knownSchema(measurement)
                _ = try known.merge(schema, measurement: measurement)
                state.schemas[measurement] = known
                let chunk = RowChunk(schema: schema, rows: kept)
                // Arrived long ago: due at once, should the flush at the end of recovery fail.
                insert(chunk, bytes: chunk.estimatedBytes, series: series, start: start, end: end, now: -(1 << 62))
                state.series.insert(series)
            }
        case .delete(let measurement, let symbol, let from, let to):
            let series = try SeriesKey(measurement: measurement, symbol: symbol)
            report.deletes += 1
            try replayDelete(series, from: from, to: to, start: start, end: end)
        }
    }
}
