/// A background loop that can be stopped: `start` runs the body on its own thread; the
/// body checks `isStopping` and sleeps with `pause`, which `stop` cuts short before it
/// joins the thread. The mirror, the Redis publisher and the server's scheduler run on one.
public final class ServiceThread: @unchecked Sendable {
    public let name: String
    private let monitor = Monitor()
    // Guarded by `monitor`:
    private var stopping = false
    private var thread: BackgroundThread?

    public init(name: String) { self.name = name }

    /// Starts `body` unless it is running already.
    public func start(_ body: @escaping @Sendable () -> Void) {
        monitor.withLock {
            guard thread == nil else { return }
            stopping = false
            thread = BackgroundThread(name: name, body)
        }
    }

    /// Asks the body to stop, wakes it from `pause`, and waits for it to return.
    public func stop() {
        let t = monitor.withLock { () -> BackgroundThread? in
            stopping = true
            monitor.broadcast()
            return thread
        }
        t?.join()
        monitor.withLock { thread = nil }
    }

    public var isStopping: Bool { monitor.withLock { stopping } }

    /// Sleeps up to `nanoseconds` unless stopped meanwhile; returns false when stopping.
    public func pause(nanoseconds: Int64) -> Bool {
        monitor.withLock {
            if !stopping { monitor.wait(nanoseconds: nanoseconds) }
            return !stopping
        }
    }

    public func pause(milliseconds: Int) -> Bool { pause(nanoseconds: Int64(milliseconds) * 1_000_000) }
}
