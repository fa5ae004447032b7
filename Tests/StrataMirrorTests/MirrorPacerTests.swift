@testable import StrataMirror
import StrataFormat
import Testing

/// When the mirror reads the log, decided from the log's end, its cursor and the clock alone.
@Suite struct MirrorPacerTests {
    let ms: Int64 = 1_000_000
    func at(_ file: UInt64, _ offset: UInt64) -> WALPosition { WALPosition(file: file, offset: offset) }

    @Test func caughtUpReadsAtOnce() {
        var p = MirrorPacer(batchBytes: 1 << 20, quietMilliseconds: 50, now: 0)
        #expect(p.next(durable: at(1, 100), cursor: at(1, 100), now: 0) == .read)
    }

    @Test func aSmallBacklogWaitsWhileTheLogGrowsThenGoesWhenItIsQuiet() {
        var p = MirrorPacer(batchBytes: 1 << 20, quietMilliseconds: 50, now: 0)
        #expect(p.next(durable: at(1, 1_000), cursor: at(1, 16), now: 0) == .wait)
        #expect(p.next(durable: at(1, 2_000), cursor: at(1, 16), now: 40 * ms) == .wait)   // grew: still busy
        #expect(p.next(durable: at(1, 2_000), cursor: at(1, 16), now: 80 * ms) == .wait)   // 40 ms quiet
        #expect(p.next(durable: at(1, 2_000), cursor: at(1, 16), now: 91 * ms) == .read)   // 51 ms quiet
    }

    @Test func aFullBatchOrAnotherFileGoesAtOnce() {
        var p = MirrorPacer(batchBytes: 4_096, quietMilliseconds: 50, now: 0)
        #expect(p.next(durable: at(1, 5_000), cursor: at(1, 16), now: 0) == .read)
        var q = MirrorPacer(batchBytes: 4_096, quietMilliseconds: 50, now: 0)
        #expect(q.next(durable: at(2, 100), cursor: at(1, 16), now: 0) == .read)
    }

    @Test func noRecordWaitsLongerThanTheBound() {
        var p = MirrorPacer(batchBytes: 1 << 20, quietMilliseconds: 50, maxWaitNanoseconds: 1_000 * 1_000_000, now: 0)
        var t: Int64 = 0
        var offset: UInt64 = 100
        // The log grows every 10 ms, never quiet: the first record waits at most the bound.
        while p.next(durable: at(1, offset), cursor: at(1, 16), now: t) == .wait {
            t += 10 * ms
            offset += 100
            #expect(t <= 1_000 * ms + 10 * ms)
        }
        #expect(t >= 1_000 * ms)
    }
}
