import CStrataSystem
import Glibc

/// A mutex with a condition variable, for the engine's background threads (WAL sync,
/// flush) and the callers that wait on them. Swift's `Mutex` has no condition; this owns
/// one pthread mutex and one pthread condition, freed in deinit.
package final class Monitor: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    package init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    package func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits for a signal; call with the lock held (inside `withLock`).
    package func wait() {
        pthread_cond_wait(condition, mutex)
    }

    /// Waits for a signal or until `nanoseconds` have passed; call with the lock held.
    package func wait(nanoseconds: Int64) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let total = Int64(now.tv_nsec) + nanoseconds % 1_000_000_000
        var deadline = timespec(tv_sec: now.tv_sec + Int(nanoseconds / 1_000_000_000 + total / 1_000_000_000),
                                tv_nsec: Int(total % 1_000_000_000))
        pthread_cond_timedwait(condition, mutex, &deadline)
    }

    package func broadcast() {
        pthread_cond_broadcast(condition)
    }
}

/// Monotonic clock in nanoseconds (for ages and latencies, never for data).
package func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// A joinable thread running `body`; the engine's background work runs on these rather
/// than on Swift's cooperative pool, which must never block in fdatasync.
public final class BackgroundThread: @unchecked Sendable {
    private var thread = pthread_t()

    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
        let r = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            _ = strata_set_thread_name(String(box.name.prefix(15)))
            box.body()
            return nil
        }, box)
        precondition(r == 0, "pthread_create failed: \(r)")
    }

    /// Lowers (or raises, as root) the calling thread's CPU priority: `niceness` 0…19.
    public static func setCurrentNiceness(_ niceness: Int32) {
        _ = strata_set_thread_niceness(niceness)
    }

    public func join() {
        pthread_join(thread, nil)
    }

    private final class Box {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
}
