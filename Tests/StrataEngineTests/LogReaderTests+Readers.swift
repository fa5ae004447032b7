import Glibc
@testable import StrataEngine
import StrataFormat
import StrataPlatform
import StrataTestSupport
import Synchronization
import Testing

/// Any number of readers of the write-ahead log, each with its own retention, woken by the
/// log when records become durable rather than polling for them.
extension LogReaderTests {
    func append(_ db: Database, _ range: Range<Int>) throws {
        for i in range {
            try db.appendBlocking([Store.SeriesRows(series: es, schema: TradeRows.schema, rows: TradeRows.rows([base + Int64(i)], firstSeq: Int64(i)))])
        }
    }

    func walSequences() -> [UInt64] {
        ((try? WriteAheadLog.files(in: "\(root.path)/_wal")) ?? []).map(\.sequence)
    }

    @Test func eachReaderKeepsItsOwnRetentionAcrossRestarts() throws {
        var db = try open()
        try append(db, 0..<100)
        let middle = WALPosition(file: walSequences()[walSequences().count / 2], offset: 16)
        try db.retainLog(from: .zero)                       // the mirror, from the start
        try db.retainLog(from: middle, for: "analytics")   // another reader, from the middle
        try db.flush()
        #expect(walSequences().first == 1, "the mirror keeps every file")
        #expect(db.logRetention == .zero && db.logRetention(for: "analytics") == middle)
        #expect(FileSystem.exists(root.path + "/_wal/_retain") && FileSystem.exists(root.path + "/_wal/_retain.analytics"))
        try db.close()
        db = try open()
        #expect(db.logRetention(for: Database.mirrorReader) == .zero && db.logRetention(for: "analytics") == middle)
        // The mirror lets go: files before the other reader's position go at the next flush,
        // its own stay.
        try db.releaseLog()
        try append(db, 100..<101)
        try db.flush()
        #expect(walSequences().first == middle.file, "\(walSequences())")
        try db.releaseLog(for: "analytics")
        try append(db, 101..<102)
        try db.flush()
        #expect(db.logRetention == nil && !FileSystem.exists(root.path + "/_wal/_retain.analytics"))
        #expect(walSequences().first ?? 0 > middle.file)
        try db.close()
    }

    /// `_retain.mirror` is no retention file (the mirror's is `_retain`): it keeps nothing.
    @Test func aRetentionFileNamedForTheMirrorIsNotOne() throws {
        var db = try open()
        try db.retainLog(from: WALPosition(file: 1, offset: 16), for: "other")
        try db.close()
        // A copy of a valid retention file under the mirror's name.
        try FileSystem.rename(root.path + "/_wal/_retain.other", root.path + "/_wal/_retain.mirror")
        db = try open()
        #expect(db.logRetention == nil && db.logRetention(for: Database.mirrorReader) == nil)
        try db.close()
    }

    /// Past the bound, retentions are dropped oldest first until the rest fit.
    @Test func theOldestRetentionIsDroppedFirstPastTheBound() throws {
        let db = try open(.none, maxRetainedLogBytes: 1 << 14)
        try db.retainLog(from: .zero)
        try append(db, 0..<200)
        let recent = WALPosition(file: walSequences().last!, offset: 16)
        try db.retainLog(from: recent, for: "recent")
        try db.flush()
        #expect(db.logRetention(for: Database.mirrorReader) == nil && db.logRetention(for: "recent") == recent)
        try db.close()
    }

    @Test(arguments: [FsyncPolicy.none, .always, .interval(milliseconds: 5)])
    func aWatcherIsWokenWhenRecordsBecomeDurable(_ policy: FsyncPolicy) throws {
        let db = try open(policy)
        let wakes = Atomic<Int>(0)
        let watch = db.watchLog { wakes.add(1, ordering: .relaxed) }
        try append(db, 0..<3)
        // Woken on the thread that made them durable, which may be the sync thread: wait
        // for it (a condition, not a time).
        for _ in 0..<10_000 where wakes.load(ordering: .relaxed) == 0 { usleep(1_000) }
        #expect(wakes.load(ordering: .relaxed) > 0)
        watch.cancel()
        let after = wakes.load(ordering: .relaxed)
        try append(db, 3..<4)
        try db.close()
        #expect(wakes.load(ordering: .relaxed) == after, "a cancelled watch is not called")
    }

    @Test func aWokenServiceThreadStopsPausing() {
        let t = ServiceThread(name: "test")
        t.wake()
        #expect(t.pauseOutcome(nanoseconds: 60_000_000_000) == .woken)
        #expect(t.pauseOutcome(nanoseconds: 1_000_000) == .timedOut)
    }
}
