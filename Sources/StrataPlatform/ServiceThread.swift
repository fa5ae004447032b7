/// A background loop that can be stopped: `start` runs the body on its own thread; the
/// body checks `isStopping` and sleeps with `pause`, which `stop` cuts short before it
/// joins the thread. The mirror, the Redis publisher and the server's scheduler run on one.
package final class ServiceThread: @unchecked Sendable {
    package let name: String
    private let monitor = Monitor()
    // Guarded by `monitor`:
    private var stopping = false
    /// Set by `wake`, cleared by the `pause` it cuts short.
    private var woken = false
    private var thread: BackgroundThread?

    package init(name: String) { self.name = name }

    /// Starts `body` unless it is running already.
    package func start(_ body: @escaping @Sendable () -> Void) {
        monitor.withLock {
            guard thread == nil else { return }
            stopping = false
            thread = BackgroundThread(name: name, body)
        }
    }

    /// Asks the body to stop, wakes it from `pause`, and waits for it to return.
    package func stop() {
        let t = monitor.withLock { () -> BackgroundThread? in
            stopping = true
            monitor.broadcast()
            return thread
        }
        t?.join()
        monitor.withLock { thread = nil }
    }

    package var isStopping: Bool { monitor.withLock { stopping } }

    /// How a `pause` ended.
    package enum PauseOutcome: Sendable, Equatable {
        case timedOut, woken, stopping
    }

    /// Sleeps up to `nanoseconds` unless woken (`wake`) or stopped meanwhile; returns false
    /// when stopping.
    package func pause(nanoseconds: Int64) -> Bool { pauseOutcome(nanoseconds: nanoseconds) != .stopping }

    /// `pause`, saying how it ended.
    package func pauseOutcome(nanoseconds: Int64) -> PauseOutcome {
        monitor.withLock {
            if !stopping && !woken { monitor.wait(nanoseconds: nanoseconds) }
            defer { woken = false }
            return stopping ? .stopping : woken ? .woken : .timedOut
        }
    }

    /// Sleeps `nanoseconds` unless stopped meanwhile, whatever wakes it (a wake stays for
    /// the next `pause`); returns false when stopping. For a body that waits on purpose — for
    /// a quiet moment while the log grows — rather than for work.
    package func sleep(nanoseconds: Int64) -> Bool {
        let deadline = monotonicNanoseconds() + nanoseconds
        return monitor.withLock {
            while !stopping {
                let left = deadline - monotonicNanoseconds()
                if left <= 0 { break }
                monitor.wait(nanoseconds: left)
            }
            return !stopping
        }
    }

    /// Cuts the body's current or next `pause` short: there is work (the log has new records).
    package func wake() {
        monitor.withLock {
            woken = true
            monitor.broadcast()
        }
    }

    package func pause(milliseconds: Int) -> Bool { pause(nanoseconds: Int64(milliseconds) * 1_000_000) }
}
