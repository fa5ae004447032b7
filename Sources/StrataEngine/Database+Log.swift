import StrataFormat
import StrataPlatform

/// A record of the write-ahead log with where it lies.
package struct LogEntry: Sendable {
    public var record: WALRecord
    public var start: WALPosition
    public var end: WALPosition
}

/// A registration made by `Database.watchLog`: once cancelled, its callback is not called
/// again (but for a call that had already begun).
package final class LogWatch: Sendable {
    let log: WriteAheadLog
    let id: UInt64

    init(log: WriteAheadLog, id: UInt64) {
        self.log = log
        self.id = id
    }

    public func cancel() { log.unwatch(id) }

    deinit { log.unwatch(id) }
}

/// A point of the log with the rows this process wrote to it before that point: the
/// difference of two marks is the rows appended in between.
package struct LogMark: Sendable, Equatable {
    package var position: WALPosition
    public var rows: Int
}

extension Database {
    /// Whether unflushed rows have reached the memory bound: appends would wait for a flush.
    /// A server answers "retry later" instead of holding the request: `countingRefusal`
    /// counts the answer (`backpressureRefusals`) and asks for a flush.
    package func isMemoryFull(countingRefusal: Bool = false) -> Bool {
        monitor.withLock {
            let full = state.memtable.used >= configuration.memoryLimit
            if full && countingRefusal { refusedForMemory() }
            return full
        }
    }

    /// The type of a measurement's field as the store has it (nil for a new field or
    /// measurement): lets a writer refuse a line that changes it before the batch.
    package func fieldType(_ measurement: String, _ field: String) -> FieldType? {
        monitor.withLock { (try? knownSchema(measurement))?.type(of: field) }
    }

    /// Where the durable part of the log ends: every acknowledged write is before it.
    package var durableLogPosition: WALPosition { wal.durablePosition }

    /// `writtenLogPosition` with the rows written before it since the store was opened.
    package var writtenLog: LogMark { wal.writtenMark }

    /// `durableLogPosition` with the rows written before it since the store was opened.
    package var durableLog: LogMark { wal.durableMark }

    /// The rows of the log's records after `position` up to `end`, counted from the
    /// records' headers (checksummed, not decoded).
    package func logRows(after position: WALPosition, through end: WALPosition) throws(StrataError) -> Int {
        try Self.logRows(walDirectory: wal.directory, after: position, through: end)
    }

    /// Where the log's records end, including those not yet durable: every append that
    /// has returned is before it.
    package var writtenLogPosition: WALPosition { wal.writtenPosition }

    /// The reader of the log that `retainLog` and `releaseLog` act for unless told: the
    /// database mirror, whose retention file is `_wal/_retain`.
    public static let mirrorReader = "mirror"

    /// The file that records `reader`'s retention: `_wal/_retain` for the mirror,
    /// `_wal/_retain.<reader>` for any other.
    static func retentionFile(_ walDirectory: String, reader: String) -> String {
        reader == mirrorReader ? "\(walDirectory)/_retain" : "\(walDirectory)/_retain.\(reader)"
    }

    /// Whether `name` may name a reader of the log: 1–64 of `a–z 0–9 -`.
    package static func isReaderName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }

    /// Where log files are kept from for the readers of the log: the oldest of their
    /// retentions, if any reader keeps one.
    package var logRetention: WALPosition? { monitor.withLock { state.retentions.values.min() } }

    /// Where log files are kept from for `reader`, if it keeps them.
    package func logRetention(for reader: String) -> WALPosition? { monitor.withLock { state.retentions[reader] } }

    /// The start of the oldest log file there is.
    package var oldestLogPosition: WALPosition {
        let first = (try? WriteAheadLog.files(in: wal.directory).first?.sequence) ?? nil
        return WALPosition(file: first ?? wal.currentSequence, offset: 0)
    }

    /// Keeps the log files from `position` on for `reader` until a later call moves it (or
    /// `releaseLog`): a reader of the log — the database mirror, or any other with a name of
    /// its own — needs them even after their rows are in segments. Each reader has its own
    /// retention; a file goes when no reader keeps it. Persisted (`_wal/_retain`, or
    /// `_wal/_retain.<reader>`), so it holds across restarts.
    public func retainLog(from position: WALPosition, for reader: String = Database.mirrorReader) throws(StrataError) {
        precondition(Self.isReaderName(reader), "a log reader's name is 1–64 of a–z 0–9 -")
        // The state and its file change together: a release racing with this (past the
        // bound, on the flush thread) leaves both as one or the other left them.
        try retentionFiles.withLock { () throws(StrataError) in
            let changed = monitor.withLock { () -> Bool in
                defer { state.retentions[reader] = position }
                return state.retentions[reader] != position
            }
            guard changed else { return }
            try FileSystem.writeAtomically(Self.retentionFile(wal.directory, reader: reader),
                                           [ChecksummedText.encode("strata-log-retention 1\n\(position.file) \(position.offset)\n")])
        }
    }

    /// Lets `reader`'s log files go again once their rows are in segments (and no other
    /// reader keeps them).
    package func releaseLog(for reader: String = Database.mirrorReader) throws(StrataError) {
        try retentionFiles.withLock { () throws(StrataError) in
            monitor.withLock { state.retentions[reader] = nil }
            try FileSystem.remove(Self.retentionFile(wal.directory, reader: reader))
        }
    }

    /// The retention points the log directory's retention files record, by reader.
    static func loadRetentions(_ walDirectory: String) throws(StrataError) -> [String: WALPosition] {
        var out: [String: WALPosition] = [:]
        for name in try FileSystem.list(walDirectory) where name == "_retain" || name.hasPrefix("_retain.") {
            let reader = name == "_retain" ? mirrorReader : String(name.dropFirst("_retain.".count))
            // `_retain.mirror` is no retention file: the mirror's is `_retain`.
            guard isReaderName(reader), name == "_retain" || reader != mirrorReader else { continue }
            out[reader] = try loadRetention("\(walDirectory)/\(name)")
        }
        return out
    }

    /// The retention point one retention file records.
    static func loadRetention(_ path: String) throws(StrataError) -> WALPosition {
        let lines = try ChecksummedText.decode(try MappedFile(path: path).withUnsafeBytes { Array($0) }, path: path, kind: "log retention file")
        let words = lines.count == 2 ? lines[1].split(separator: " ") : []
        guard lines.first == "strata-log-retention 1", words.count == 2, let f = UInt64(words[0]), let o = UInt64(words[1]) else {
            throw StrataError(.corrupt, "not a log retention file", path: path)
        }
        return WALPosition(file: f, offset: o)
    }

    /// Calls `wake` (on the thread that made them durable) whenever records become durable,
    /// until the returned watch is cancelled: a reader of the log waits for it instead of
    /// polling. `wake` must return quickly (signal a thread, not read the log).
    package func watchLog(_ wake: @escaping @Sendable () -> Void) -> LogWatch {
        LogWatch(log: wal, id: wal.watch(wake))
    }

    /// Reads the durable records after `position` (the end of the last record read before,
    /// or `.zero` for the oldest record there is), in order, handing each to `body`, until
    /// about `maxBytes` of records are read or the durable end is reached. Returns the
    /// position to read after next time: the end of the last record read, or the start of
    /// the next file once a finished file is read to its end. Throws `.notFound` if the log
    /// at `position` is gone (its file was removed: the reader fell behind the retention).
    package func readLog(after position: WALPosition, maxBytes: Int = 16 << 20,
                        _ body: (LogEntry) throws(StrataError) -> Void) throws(StrataError) -> WALPosition {
        let durable = wal.durablePosition
        // Nothing new since the last call: no directory listing, no scanning.
        if position != .zero && position >= durable { return position }
        let files = try WriteAheadLog.files(in: wal.directory).filter { $0.sequence <= durable.file }
        var at = position
        if at == .zero {
            guard let first = files.first else { return position }
            at = WALPosition(file: first.sequence, offset: UInt64(WALLayout.headerSize))
        }
        guard var index = files.firstIndex(where: { $0.sequence == at.file }) else {
            throw StrataError(.notFound, "the write-ahead log at \(at) is gone (its file was removed); the reader fell behind", path: wal.directory)
        }
        var read = 0
        while index < files.count && read < maxBytes {
            let file = files[index]
            let mapped = try MappedFile(path: file.path)
            let limit = file.sequence == durable.file ? Int(durable.offset) : mapped.size
            var last = at
            // Records start where the previous call stopped: no file is scanned twice.
            let outcome = try mapped.withUnsafeBytes { bytes in
                Result { () throws(StrataError) in
                    try Self.scanLog(UnsafeRawBufferPointer(rebasing: bytes[..<min(limit, bytes.count)]), sequence: file.sequence, path: file.path,
                                     from: Int(at.offset)) { (entry: LogEntry) throws(StrataError) in
                        guard read < maxBytes else { return }
                        try body(entry)
                        read += Int(entry.end.offset - entry.start.offset)
                        last = entry.end
                    }
                }
            }.get()
            if case .corrupt(let offset, let reason) = outcome, read < maxBytes {
                // Damage in the middle: what follows it cannot be read in order.
                throw StrataError(.corrupt, "damaged write-ahead log: \(reason); the records after it cannot be replicated", path: file.path, offset: offset)
            }
            at = last
            // A finished file read to its end: continue in the next one.
            let finished = file.sequence < durable.file && read < maxBytes
            guard finished, index + 1 < files.count else { break }
            index += 1
            at = WALPosition(file: files[index].sequence, offset: UInt64(WALLayout.headerSize))
        }
        return at
    }
}

extension Database {
    /// Decodes the valid records of one log file's bytes from `start` on, in order, handing
    /// each with its positions to `body` (nothing more after `body` throws, which is
    /// rethrown); returns how the file ended.
    static func scanLog(_ bytes: UnsafeRawBufferPointer, sequence: UInt64, path: String, from start: Int = WALLayout.headerSize,
                        _ body: (LogEntry) throws(StrataError) -> Void) throws(StrataError) -> WALLayout.End {
        var failure: StrataError?
        let end = WALLayout.scan(bytes, from: start) { offset, payload in
            guard failure == nil else { return }
            do throws(StrataError) {
                let record: WALRecord
                do throws(FormatError) {
                    record = try WALRecord.decode(payload, baseOffset: offset + WALLayout.recordHeaderSize)
                } catch {
                    throw StrataError.corrupt(error, path: path)
                }
                try body(LogEntry(record: record, start: WALPosition(file: sequence, offset: UInt64(offset)),
                                  end: WALPosition(file: sequence, offset: UInt64(offset + WALLayout.recordHeaderSize + payload.count))))
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return end
    }

    /// The log files of a data directory and their sizes, oldest first, without opening it.
    package static func logFiles(_ directory: String) throws(StrataError) -> [(sequence: UInt64, size: Int)] {
        var out: [(sequence: UInt64, size: Int)] = []
        for file in try WriteAheadLog.files(in: "\(directory)/_wal") { out.append((file.sequence, try FileSystem.fileSize(file.path))) }
        return out
    }

    /// The rows of a data directory's log after `position`, without opening it.
    package static func logRows(_ directory: String, after position: WALPosition) throws(StrataError) -> Int {
        try logRows(walDirectory: "\(directory)/_wal", after: position, through: nil)
    }

    static func logRows(walDirectory: String, after position: WALPosition, through end: WALPosition?) throws(StrataError) -> Int {
        var rows = 0
        for file in try WriteAheadLog.files(in: walDirectory) where file.sequence >= position.file && file.sequence <= end?.file ?? .max {
            let mapped = try MappedFile(path: file.path)
            let limit = end.map { file.sequence == $0.file ? min(Int($0.offset), mapped.size) : mapped.size } ?? mapped.size
            let from = file.sequence == position.file ? Int(position.offset) : WALLayout.headerSize
            var failure: StrataError?
            mapped.withUnsafeBytes { bytes in
                _ = WALLayout.scan(UnsafeRawBufferPointer(rebasing: bytes[..<min(limit, bytes.count)]), from: from) { offset, payload in
                    guard failure == nil else { return }
                    do throws(FormatError) {
                        rows += try WALRecord.rowCount(payload, baseOffset: offset + WALLayout.recordHeaderSize)
                    } catch {
                        failure = StrataError.corrupt(error, path: file.path)
                    }
                }
            }
            if let failure { throw failure }
        }
        return rows
    }

    /// The retention point of a data directory's log, without opening it.
    package static func logRetention(_ directory: String, for reader: String = mirrorReader) throws(StrataError) -> WALPosition? {
        let path = retentionFile("\(directory)/_wal", reader: reader)
        return FileSystem.exists(path) ? try loadRetention(path) : nil
    }
}
