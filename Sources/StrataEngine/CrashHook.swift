import Glibc
import StrataPlatform
import Synchronization

/// A test hook that ends the process at a named step of a write, to prove that a crash
/// there loses nothing. Production code passes `.none`; the crash tests configure a point
/// and how many times it must be reached first.
package final class CrashHook: Sendable {
    package enum Point: String, Sendable, CaseIterable {
        /// New segment and manifest files are written under temporary names.
        case segmentsWritten = "segments-written"
        /// New segments are under their final names; no manifest names them yet.
        case segmentsRenamed = "segments-renamed"
        /// The first manifest of a write is switched; the others are not.
        case firstManifestRenamed = "first-manifest-renamed"
        /// A flush's segments are live; its WAL files are not yet removed.
        case flushCommitted = "flush-committed"
        /// A compaction's merged segment is live; the old files are not yet removed.
        case compactionCommitted = "compaction-committed"
        /// A WAL record is written; the append has not returned.
        case walAppended = "wal-appended"
    }

    /// Exit status of a process ended by the hook.
    package static let exitStatus: Int32 = 86
    package static let none = CrashHook(nil)

    let point: Point?
    let remaining: Mutex<Int>

    /// Crashes the `hits`-th time `point` is reached.
    package init(_ point: Point?, hits: Int = 1) {
        self.point = point
        remaining = Mutex(hits)
    }

    /// Parses `NAME` or `NAME:HITS`.
    package convenience init?(parsing text: String) {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard let point = Point(rawValue: String(parts[0])) else { return nil }
        let hits = parts.count == 2 ? Int(parts[1]) : 1
        guard let hits, hits >= 1 else { return nil }
        self.init(point, hits: hits)
    }

    func check(_ reached: Point) throws(StrataError) {
        guard reached == point else { return }
        let crash = remaining.withLock { n in
            n -= 1
            return n == 0
        }
        if crash { _exit(CrashHook.exitStatus) }
    }
}
