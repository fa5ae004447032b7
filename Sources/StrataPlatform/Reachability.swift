/// Whether a service a background thread talks to (the mirror's database, the cache's
/// Redis) is being reached, turned into the changes worth one log line each: the first
/// failure (at start, or after it was reached) and the first success after failures.
/// Retries in between say nothing more. A value that takes events, tested without a network.
public struct Reachability: Sendable, Equatable {
    public enum Change: Sendable {
        /// The service could not be reached or failed; retries follow.
        case failing(StrataError)
        /// Reached again after failing.
        case recovered
    }

    public private(set) var isFailing = false

    public init() {}

    /// An attempt or the connection failed: a change only if it was not failing already.
    public mutating func failed(_ error: StrataError) -> Change? {
        defer { isFailing = true }
        return isFailing ? nil : .failing(error)
    }

    /// The service was reached: a change only if it was failing.
    public mutating func reached() -> Change? {
        defer { isFailing = false }
        return isFailing ? .recovered : nil
    }
}
