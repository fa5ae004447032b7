/// When to try a service again: exponential backoff with jitter, started over by a success.
/// A value that takes events (a failure, a success, the clock) and answers when to connect,
/// so the policy is tested without a network.
package struct ReconnectSchedule: Sendable, Equatable {
    package let initialMilliseconds: Int
    package let maxMilliseconds: Int
    /// The next wait's upper bound.
    package private(set) var backoffMilliseconds: Int
    /// When the next attempt is due (monotonic nanoseconds); nil while connected.
    package private(set) var retryAt: Int64? = 0
    package private(set) var consecutiveFailures = 0

    package init(initialMilliseconds: Int, maxMilliseconds: Int) {
        precondition(initialMilliseconds > 0 && maxMilliseconds >= initialMilliseconds, "a backoff grows from a positive start")
        self.initialMilliseconds = initialMilliseconds
        self.maxMilliseconds = maxMilliseconds
        backoffMilliseconds = initialMilliseconds
    }

    /// Whether an attempt is due at `now`.
    package func isDue(_ now: Int64) -> Bool { retryAt.map { now >= $0 } ?? false }

    /// An attempt (or the connection) failed at `now`: the next attempt waits a random time
    /// between half the backoff and the backoff (jitter keeps many clients from retrying
    /// together), and the backoff doubles up to the maximum. Returns the wait.
    @discardableResult
    package mutating func failed(at now: Int64, random: (ClosedRange<Int>) -> Int = { Int.random(in: $0) }) -> Int {
        let wait = random(backoffMilliseconds / 2...backoffMilliseconds)
        retryAt = now + Int64(wait) * 1_000_000
        backoffMilliseconds = min(backoffMilliseconds * 2, maxMilliseconds)
        consecutiveFailures += 1
        return wait
    }

    /// Connected: no attempt is due, and the next failure starts from the initial backoff.
    package mutating func connected() {
        retryAt = nil
        backoffMilliseconds = initialMilliseconds
        consecutiveFailures = 0
    }
}
