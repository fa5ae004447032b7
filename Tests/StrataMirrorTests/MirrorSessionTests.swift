@testable import StrataMirror
import StrataFormat
import Testing

/// What a mirror session does next, decided from events alone: each test feeds a sequence
/// of events and checks the exact action each one answers, without a database or a log.
@Suite struct MirrorSessionTests {
    let ms: Int64 = 1_000_000
    func at(_ file: UInt64, _ offset: UInt64) -> WALPosition { WALPosition(file: file, offset: offset) }
    func cursor(_ file: UInt64, _ offset: UInt64, seq: Int64) -> MirrorCursor { MirrorCursor(position: at(file, offset), nextSeq: seq) }

    /// A session connected at `c` (whose backlog this process counted through `c`), told to
    /// look at the log.
    func running(at c: MirrorCursor, batchBytes: Int = 1 << 20, exitBeforeCommit: Bool = false) -> MirrorSession {
        var s = MirrorSession(batchBytes: batchBytes, quietMilliseconds: 50, pollMilliseconds: 20, exitBeforeCommit: exitBeforeCommit, now: 0)
        #expect(s.connected(cursor: c, countedThrough: c.position) == .retainLog(from: .position(c.position)))
        #expect(s.logRetained() == .report(.connected(c)))  // nothing missed: no count
        #expect(s.statusReported() == .checkLog)
        return s
    }

    // MARK: Connecting

    @Test func aFirstConnectionKeepsTheWholeLogAndCountsTheBacklog() {
        var s = MirrorSession(batchBytes: 1 << 20, quietMilliseconds: 50, pollMilliseconds: 20, now: 0)
        #expect(s.connected(cursor: .start, countedThrough: nil) == .retainLog(from: .oldestFile))
        #expect(s.logRetained() == .countBacklog(after: .zero))
        #expect(s.backlogCounted() == .report(.connected(.start)))
        #expect(s.statusReported() == .checkLog)
    }

    @Test func aCommitTheLastSessionDidNotSeeIsCountedAsReplicated() {
        let c = cursor(3, 900, seq: 5_000)
        var s = MirrorSession(batchBytes: 1 << 20, quietMilliseconds: 50, pollMilliseconds: 20, now: 0)
        #expect(s.connected(cursor: c, countedThrough: at(3, 100)) == .retainLog(from: .position(at(3, 900))))
        #expect(s.logRetained() == .countMissedRows(after: at(3, 100), through: at(3, 900)))
        #expect(s.backlogCounted() == .report(.connected(c)))
        #expect(s.statusReported() == .checkLog)
    }

    @Test func aCursorBehindTheOneSeenOrNeverCountedCountsTheBacklogAgain() {
        // The database went back (restored from a backup): the count starts over.
        var s = MirrorSession(batchBytes: 1 << 20, quietMilliseconds: 50, pollMilliseconds: 20, now: 0)
        #expect(s.connected(cursor: cursor(2, 50, seq: 7), countedThrough: at(3, 900)) == .retainLog(from: .position(at(2, 50))))
        #expect(s.logRetained() == .countBacklog(after: at(2, 50)))
        // A cursor past the start, and no count yet.
        var t = MirrorSession(batchBytes: 1 << 20, quietMilliseconds: 50, pollMilliseconds: 20, now: 0)
        #expect(t.connected(cursor: cursor(4, 16, seq: 1), countedThrough: nil) == .retainLog(from: .position(at(4, 16))))
        #expect(t.logRetained() == .countBacklog(after: at(4, 16)))
    }

    // MARK: Pacing

    @Test func caughtUpReportsAndPausesThenLooksAgain() {
        var s = running(at: cursor(1, 100, seq: 9))
        #expect(s.tick(durable: at(1, 100), now: 5 * ms) == .read(after: at(1, 100)))
        #expect(s.batchRead(end: at(1, 100), rows: 0, deletes: 0) == .report(.caughtUp(durable: at(1, 100))))
        #expect(s.statusReported() == .pause(milliseconds: 20))
        #expect(s.tick(durable: at(1, 100), now: 30 * ms) == .read(after: at(1, 100)))
    }

    @Test func aGrowingLogBelowABatchWaitsForAQuietMoment() {
        var s = running(at: cursor(1, 16, seq: 0))
        #expect(s.tick(durable: at(1, 1_000), now: 0) == .wait(milliseconds: 20))
        #expect(s.tick(durable: at(1, 2_000), now: 40 * ms) == .wait(milliseconds: 20))  // grew: still busy
        #expect(s.tick(durable: at(1, 2_000), now: 80 * ms) == .wait(milliseconds: 20))  // 40 ms quiet
        #expect(s.tick(durable: at(1, 2_000), now: 91 * ms) == .read(after: at(1, 16)))  // 51 ms quiet
    }

    // MARK: Batches

    @Test func aFullBatchIsReadAppliedKeptFromAndReported() {
        let c = cursor(1, 16, seq: 10)
        var s = running(at: c, batchBytes: 4_096)
        // 5,984 bytes of backlog, a batch and more: read at once although the log just grew.
        #expect(s.tick(durable: at(1, 6_000), now: 0) == .read(after: at(1, 16)))
        #expect(s.batchRead(end: at(1, 4_200), rows: 300, deletes: 2) == .report(.replicating(durable: at(1, 6_000))))
        #expect(s.statusReported() == .apply(through: at(1, 4_200), expected: c, exitBeforeCommit: false))
        let committed = cursor(1, 4_200, seq: 310)
        #expect(s.batchCommitted(committed) == .retainLog(from: .position(at(1, 4_200))))
        #expect(s.logRetained() == .report(.committed(committed, rows: 300, deletes: 2, lagBytes: 1_800)))
        #expect(s.statusReported() == .checkLog)
        // The next read goes from the new cursor (1,800 bytes left, the log quiet for 100 ms).
        #expect(s.tick(durable: at(1, 6_000), now: 100 * ms) == .read(after: at(1, 4_200)))
    }

    @Test func theLagInBytesIsWhatIsLeftInTheCursorsFile() {
        // The log went on into file 2: a lower bound of a batch.
        var s = running(at: cursor(1, 16, seq: 0), batchBytes: 4_096)
        #expect(s.tick(durable: at(2, 100), now: 0) == .read(after: at(1, 16)))
        #expect(s.batchRead(end: at(1, 4_000), rows: 10, deletes: 0) == .report(.replicating(durable: at(2, 100))))
        #expect(s.statusReported() == .apply(through: at(1, 4_000), expected: cursor(1, 16, seq: 0), exitBeforeCommit: false))
        #expect(s.batchCommitted(cursor(1, 4_000, seq: 10)) == .retainLog(from: .position(at(1, 4_000))))
        #expect(s.logRetained() == .report(.committed(cursor(1, 4_000, seq: 10), rows: 10, deletes: 0, lagBytes: 4_096)))
        // The read went past the end seen at the tick (the log grew meanwhile): none left.
        var t = running(at: cursor(1, 16, seq: 0), batchBytes: 4_096)
        #expect(t.tick(durable: at(1, 5_000), now: 0) == .read(after: at(1, 16)))
        #expect(t.batchRead(end: at(1, 5_200), rows: 52, deletes: 0) == .report(.replicating(durable: at(1, 5_000))))
        #expect(t.statusReported() == .apply(through: at(1, 5_200), expected: cursor(1, 16, seq: 0), exitBeforeCommit: false))
        #expect(t.batchCommitted(cursor(1, 5_200, seq: 52)) == .retainLog(from: .position(at(1, 5_200))))
        #expect(t.logRetained() == .report(.committed(cursor(1, 5_200, seq: 52), rows: 52, deletes: 0, lagBytes: 0)))
    }

    @Test func theCrashHookRidesOnTheApply() {
        var s = running(at: cursor(1, 16, seq: 0), batchBytes: 64, exitBeforeCommit: true)
        #expect(s.tick(durable: at(1, 116), now: 0) == .read(after: at(1, 16)))
        #expect(s.batchRead(end: at(1, 116), rows: 1, deletes: 0) == .report(.replicating(durable: at(1, 116))))
        #expect(s.statusReported() == .apply(through: at(1, 116), expected: cursor(1, 16, seq: 0), exitBeforeCommit: true))
    }

    // MARK: Stopping

    @Test func aStopEndsTheSessionWhereverItWaits() {
        // During a wait for a quiet moment.
        var s = running(at: cursor(1, 16, seq: 0))
        #expect(s.tick(durable: at(1, 1_000), now: 0) == .wait(milliseconds: 20))
        #expect(s.stopRequested() == .end)
        #expect(s.tick(durable: at(1, 1_000), now: 30 * ms) == .end)
        // During the pause of a caught-up mirror.
        var t = running(at: cursor(1, 100, seq: 3))
        #expect(t.tick(durable: at(1, 100), now: 0) == .read(after: at(1, 100)))
        #expect(t.batchRead(end: at(1, 100), rows: 0, deletes: 0) == .report(.caughtUp(durable: at(1, 100))))
        #expect(t.statusReported() == .pause(milliseconds: 20))
        #expect(t.stopRequested() == .end)
        // At the look after a commit; events still under way answer `end` too.
        var u = running(at: cursor(1, 16, seq: 0), batchBytes: 64)
        #expect(u.tick(durable: at(1, 116), now: 0) == .read(after: at(1, 16)))
        #expect(u.batchRead(end: at(1, 116), rows: 1, deletes: 0) == .report(.replicating(durable: at(1, 116))))
        #expect(u.stopRequested() == .end)
        #expect(u.statusReported() == .end)
        #expect(u.batchCommitted(cursor(1, 116, seq: 1)) == .end)
        #expect(u.logRetained() == .end)
    }

    @Test func anEventTheSessionDidNotAskForIsAProgrammerError() async {
        await #expect(processExitsWith: .failure) {
            var s = MirrorSession(batchBytes: 1 << 20, quietMilliseconds: 50, pollMilliseconds: 20, now: 0)
            _ = s.connected(cursor: .start, countedThrough: nil)
            _ = s.batchRead(end: WALPosition(file: 1, offset: 100), rows: 1, deletes: 0)
        }
    }

    // MARK: A whole session

    /// Plays a session against a log of one file, durable through offset 10,016 (a row per
    /// 100 bytes after a 16-byte header), with a clock that moves 1 ms per look and the
    /// length of each wait; stops at the second pause.
    @Test func aDrivenSessionReplicatesTheBacklogInBatchesThenPausesCaughtUp() {
        let durable = at(1, 10_016)
        var s = MirrorSession(batchBytes: 4_000, quietMilliseconds: 50, pollMilliseconds: 20, now: 0)
        var status = MirrorStatus()
        var retained: [MirrorSession.LogBound] = []
        var reads: [WALPosition] = []
        var clock: Int64 = 0, waits = 0, pauses = 0, lastRows = 0, steps = 0
        var action = s.connected(cursor: .start, countedThrough: nil)
        func look() -> MirrorSession.Action {
            clock += ms
            return s.tick(durable: durable, now: clock)
        }
        while action != .end && steps < 100 {
            steps += 1
            switch action {
            case .retainLog(let bound): retained.append(bound); action = s.logRetained()
            case .countBacklog(let after): #expect(after == .zero); action = s.backlogCounted()
            case .countMissedRows: Issue.record("nothing was seen before"); action = s.backlogCounted()
            case .report(let change): status.record(change); action = s.statusReported()
            case .checkLog: action = look()
            case .wait(let milliseconds):
                waits += 1
                clock += Int64(milliseconds) * ms
                action = look()
            case .pause:
                pauses += 1
                action = pauses == 2 ? s.stopRequested() : look()
            case .read(let after):
                reads.append(after)
                let from = max(after.offset, 16)
                let end = min(durable.offset, from + 4_000)
                lastRows = Int(end - from) / 100
                action = s.batchRead(end: end == from ? after : at(1, end), rows: lastRows, deletes: 0)
            case .apply(let through, let expected, let crash):
                #expect(!crash && expected == status.cursor)
                action = s.batchCommitted(MirrorCursor(position: through, nextSeq: expected.nextSeq + Int64(lastRows)))
            case .end: break
            }
        }
        #expect(action == .end)
        #expect(retained == [.oldestFile, .position(at(1, 4_016)), .position(at(1, 8_016)), .position(durable)])
        // The first two batches are full; the last 2,000 bytes wait 3 × 20 ms for a quiet moment.
        #expect(reads == [.zero, at(1, 4_016), at(1, 8_016), durable, durable])
        #expect(waits == 3 && pauses == 2)
        #expect(status.cursor == MirrorCursor(position: durable, nextSeq: 100))
        #expect(status.rowsReplicated == 100 && status.deletesReplicated == 0 && status.batches == 3)
        #expect(status.state == .caughtUp && status.durable == durable && status.lagBytes == 0)
    }

    @Test func aStatusRecordsWhatTheSessionReports() {
        var s = MirrorStatus()
        s.state = .retrying
        s.lastError = "connection refused"
        s.lagBytes = 77
        s.record(.connected(cursor(1, 16, seq: 4)))
        #expect(s.cursor == cursor(1, 16, seq: 4) && s.lastError == nil && s.state == .retrying)
        s.record(.replicating(durable: at(1, 900)))
        #expect(s.state == .replicating && s.durable == at(1, 900) && s.lagBytes == 77)
        s.record(.committed(cursor(1, 500, seq: 20), rows: 16, deletes: 1, lagBytes: 400))
        s.record(.committed(cursor(1, 900, seq: 30), rows: 10, deletes: 0, lagBytes: 0))
        #expect(s.cursor == cursor(1, 900, seq: 30) && s.rowsReplicated == 26 && s.deletesReplicated == 1)
        #expect(s.batches == 2 && s.lagBytes == 0 && s.state == .replicating)
        s.lagBytes = 5
        s.record(.caughtUp(durable: at(1, 950)))
        #expect(s.state == .caughtUp && s.durable == at(1, 950) && s.lagBytes == 0 && s.batches == 2)
    }
}
