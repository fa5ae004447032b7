import Glibc
@testable import StrataEngine
import StrataFormat
import StrataPlatform
import StrataTestSupport
import Testing

/// Reading the write-ahead log in order from a position, as the database mirror does, and
/// keeping the log files it still needs.
@Suite struct LogReaderTests {
    let root = TemporaryDirectory()
    let es = try! SeriesKey(measurement: "trade", symbol: "ESH4")
    let base = ns("2024-01-02T14:30:00Z")

    /// A store of many small log files; `maxRetainedLogBytes` bounds what readers may keep.
    func open(_ policy: FsyncPolicy = .always, maxRetainedLogBytes: Int? = nil) throws -> Database {
        var c = DatabaseConfiguration()
        c.fsync = policy
        c.walFileSize = 1 << 12  // many small files
        if let maxRetainedLogBytes { c.maxRetainedLogBytes = maxRetainedLogBytes }
        return try Database(directory: root.path, configuration: c)
    }

    /// Every `seq` the log holds after `position`, reading `maxBytes` at a time.
    func readAll(_ db: Database, after position: WALPosition = .zero, maxBytes: Int = 1 << 20) throws -> (seqs: [Int64], end: WALPosition, deletes: Int) {
        var seqs: [Int64] = [], deletes = 0
        var at = position
        while true {
            var n = 0
            let next = try db.readLog(after: at, maxBytes: maxBytes) { (entry: LogEntry) throws(StrataError) in
                n += 1
                #expect(entry.start >= at && entry.end > entry.start)
                switch entry.record {
                case .rows(_, _, _, let rows):
                    if case .int64(let v) = rows.columns[2].values { seqs += v }
                case .delete: deletes += 1
                }
            }
            if next == at { return (seqs, at, deletes) }
            at = next
        }
    }

    @Test func theLogIsReadInOrderAcrossFilesAndChunks() throws {
        let db = try open()
        for i in 0..<200 {
            try db.appendBlocking([Store.SeriesRows(series: es, schema: TradeRows.schema, rows: TradeRows.rows([base + Int64(i)], firstSeq: Int64(i)))])
        }
        try db.deleteBlocking(es, from: base, to: base + 9)
        #expect(walFilesCount() > 3)
        let all = try readAll(db)
        #expect(all.seqs == Array(0..<200) && all.deletes == 1)
        #expect(all.end == db.durableLogPosition)
        // In small chunks, from a position in the middle: the same order, nothing twice.
        #expect(try readAll(db, maxBytes: 100).seqs == Array(0..<200))
        var middle = WALPosition.zero
        var count = 0
        _ = try db.readLog(after: .zero, maxBytes: 2_000) { (entry: LogEntry) throws(StrataError) in
            count += 1
            middle = entry.end
        }
        #expect(try readAll(db, after: middle).seqs == Array(Int64(count)..<200))
        // Rows counted from record headers: all of them, those after a point, and the
        // durable mark's count of what this process wrote.
        let end = db.durableLogPosition
        #expect(try db.logRows(after: .zero, through: end) == 200)
        #expect(try db.logRows(after: middle, through: end) == 200 - count)
        #expect(try Database.logRows(root.path, after: middle) == 200 - count)
        #expect(db.durableLog == LogMark(position: end, rows: 200))
        try db.close()
    }

    @Test func retainedLogFilesOutliveFlushesAndRestarts() throws {
        var db = try open()
        for i in 0..<100 {
            try db.appendBlocking([Store.SeriesRows(series: es, schema: TradeRows.schema, rows: TradeRows.rows([base + Int64(i)], firstSeq: Int64(i)))])
        }
        try db.retainLog(from: .zero)
        try db.flush()
        #expect(try readAll(db).seqs == Array(0..<100))
        try db.close()
        db = try open()
        #expect(try readAll(db).seqs == Array(0..<100))
        // The reader moves on: files before its position may go at the next flush.
        let end = try readAll(db).end
        try db.retainLog(from: end)
        try db.appendBlocking([Store.SeriesRows(series: es, schema: TradeRows.schema, rows: TradeRows.rows([base + 100], firstSeq: 100))])
        try db.flush()
        #expect(try readAll(db, after: end).seqs == [100])
        #expect { try db.readLog(after: WALPosition(file: 1, offset: 16)) { (_: LogEntry) throws(StrataError) in } } throws: {
            ($0 as? StrataError)?.code == .notFound
        }
        // Without retention the log goes as before.
        try db.releaseLog()
        try db.flush()
        #expect(!FileSystem.exists(root.path + "/_wal/_retain"))
        try db.close()
        // Rows are in Strata once, whatever the log still holds.
        db = try open()
        #expect(TradeRows.seqs(try db.query(es)) == Array(0...100))
        try db.close()
    }

    /// A clean close says so, so readers do not recover a store whose log is only kept for
    /// the mirror; a crash does not.
    @Test func aCleanCloseIsMarkedSoRetainedLogsNeedNoRecovery() throws {
        let db = try open()
        try db.retainLog(from: .zero)
        try db.appendBlocking([Store.SeriesRows(series: es, schema: TradeRows.schema, rows: TradeRows.rows([base], firstSeq: 0))])
        #expect(try Database.needsRecovery(root.path))
        try db.close()
        #expect(try !Database.needsRecovery(root.path))
        let again = try open()
        try again.appendBlocking([Store.SeriesRows(series: es, schema: TradeRows.schema, rows: TradeRows.rows([base + 1], firstSeq: 1))])
        again.simulateCrash()
        #expect(try Database.needsRecovery(root.path))
        let third = try open()
        #expect(TradeRows.seqs(try third.query(es)) == [0, 1])
        try third.close()
    }

    /// A mirror that is down for long must not fill the disk: past the bound, the log is let go.
    @Test func retentionIsDroppedPastItsBound() throws {
        let db = try open(.none, maxRetainedLogBytes: 1 << 14)
        try db.retainLog(from: .zero)
        for i in 0..<200 {
            try db.appendBlocking([Store.SeriesRows(series: es, schema: TradeRows.schema, rows: TradeRows.rows([base + Int64(i)], firstSeq: Int64(i)))])
        }
        try db.flush()
        #expect(db.logRetention == nil && !FileSystem.exists(root.path + "/_wal/_retain"))
        #expect { try db.readLog(after: WALPosition(file: 1, offset: 16)) { (_: LogEntry) throws(StrataError) in } } throws: {
            ($0 as? StrataError)?.code == .notFound
        }
        try db.close()
    }

    /// Under `interval`, only what the sync thread has made durable is read.
    @Test func onlyDurableRecordsAreRead() throws {
        let db = try open(.interval(milliseconds: 60_000))
        try db.appendBlocking([Store.SeriesRows(series: es, schema: TradeRows.schema, rows: TradeRows.rows([base], firstSeq: 0))])
        #expect(try readAll(db).seqs.isEmpty)
        try db.close()
    }

    func walFilesCount() -> Int {
        ((try? FileSystem.list("\(root.path)/_wal")) ?? []).filter { $0.hasSuffix(".wal") }.count
    }
}
