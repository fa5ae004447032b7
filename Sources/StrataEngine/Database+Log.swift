import StrataFormat
import StrataPlatform

/// A record of the write-ahead log with where it lies.
public struct LogEntry: Sendable {
    public var record: WALRecord
    public var start: WALPosition
    public var end: WALPosition
}

/// A point of the log with the rows this process wrote to it before that point: the
/// difference of two marks is the rows appended in between.
public struct LogMark: Sendable, Equatable {
    public var position: WALPosition
    public var rows: Int
}

extension Database {
    /// Whether unflushed rows have reached the memory bound: appends would wait for a flush.
    /// A server answers "retry later" instead of holding the request: `countingRefusal`
    /// counts the answer (`backpressureRefusals`) and asks for a flush.
    public func isMemoryFull(countingRefusal: Bool = false) -> Bool {
        monitor.withLock {
            let full = state.memoryBytes + state.reservedBytes >= configuration.memoryLimit
            if full && countingRefusal { refusedForMemory() }
            return full
        }
    }

    /// The type of a measurement's field as the store has it (nil for a new field or
    /// measurement): lets a writer refuse a line that changes it before the batch.
    public func fieldType(_ measurement: String, _ field: String) -> FieldType? {
        monitor.withLock { (try? knownSchema(measurement))?.type(of: field) }
    }

    /// Where the durable part of the log ends: every acknowledged write is before it.
    public var durableLogPosition: WALPosition { wal.durablePosition }

    /// `writtenLogPosition` with the rows written before it since the store was opened.
    public var writtenLog: LogMark { wal.writtenMark }

    /// `durableLogPosition` with the rows written before it since the store was opened.
    public var durableLog: LogMark { wal.durableMark }

    /// The rows of the log's records after `position` up to `end`, counted from the
    /// records' headers (checksummed, not decoded).
    public func logRows(after position: WALPosition, through end: WALPosition) throws(StrataError) -> Int {
        try Self.logRows(walDirectory: wal.directory, after: position, through: end)
    }

    /// Where the log's records end, including those not yet durable: every append that
    /// has returned is before it.
    public var writtenLogPosition: WALPosition { wal.writtenPosition }

    var retentionPath: String { "\(wal.directory)/_retain" }

    /// Where log files are kept from for a reader of the log, if anywhere.
    public var logRetention: WALPosition? { monitor.withLock { state.logRetention } }

    /// The start of the oldest log file there is.
    public var oldestLogPosition: WALPosition {
        let first = (try? WriteAheadLog.files(in: wal.directory).first?.sequence) ?? nil
        return WALPosition(file: first ?? wal.currentSequence, offset: 0)
    }

    /// Keeps the log files from `position` on until a later call moves it (or
    /// `releaseLog`): a reader of the log — the database mirror — needs them even after
    /// their rows are in segments. Persisted in `_wal/_retain`, so it holds across restarts.
    public func retainLog(from position: WALPosition) throws(StrataError) {
        let changed = monitor.withLock { () -> Bool in
            defer { state.logRetention = position }
            return state.logRetention != position
        }
        guard changed else { return }
        try FileSystem.writeAtomically(retentionPath, [ChecksummedText.encode("strata-log-retention 1\n\(position.file) \(position.offset)\n")])
    }

    /// Lets the log files go again once their rows are in segments.
    public func releaseLog() throws(StrataError) {
        monitor.withLock { state.logRetention = nil }
        try FileSystem.remove(retentionPath)
    }

    /// The retention point `_wal/_retain` records, if any.
    static func loadRetention(_ walDirectory: String) throws(StrataError) -> WALPosition? {
        let path = "\(walDirectory)/_retain"
        guard FileSystem.exists(path) else { return nil }
        let lines = try ChecksummedText.decode(try MappedFile(path: path).withUnsafeBytes { Array($0) }, path: path, kind: "log retention file")
        let words = lines.count == 2 ? lines[1].split(separator: " ") : []
        guard lines.first == "strata-log-retention 1", words.count == 2, let f = UInt64(words[0]), let o = UInt64(words[1]) else {
            throw StrataError(.corrupt, "not a log retention file", path: path)
        }
        return WALPosition(file: f, offset: o)
    }

    /// Reads the durable records after `position` (the end of the last record read before,
    /// or `.zero` for the oldest record there is), in order, handing each to `body`, until
    /// about `maxBytes` of records are read or the durable end is reached. Returns the
    /// position to read after next time: the end of the last record read, or the start of
    /// the next file once a finished file is read to its end. Throws `.notFound` if the log
    /// at `position` is gone (its file was removed: the reader fell behind the retention).
    public func readLog(after position: WALPosition, maxBytes: Int = 16 << 20,
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
    public static func logFiles(_ directory: String) throws(StrataError) -> [(sequence: UInt64, size: Int)] {
        var out: [(sequence: UInt64, size: Int)] = []
        for file in try WriteAheadLog.files(in: "\(directory)/_wal") { out.append((file.sequence, try FileSystem.fileSize(file.path))) }
        return out
    }

    /// The rows of a data directory's log after `position`, without opening it.
    public static func logRows(_ directory: String, after position: WALPosition) throws(StrataError) -> Int {
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
    public static func logRetention(_ directory: String) throws(StrataError) -> WALPosition? {
        try loadRetention("\(directory)/_wal")
    }
}
