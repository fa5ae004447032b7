import NIOCore
import NIOPosix
import StrataPlatform

/// Threads for the server's blocking work — reading segments, fetching cold days from the
/// archive (a blocking libcurl call), rendering /metrics and /status — so that no request
/// handler blocks Swift's cooperative pool, whose few threads every other request shares.
/// More threads than cores: most of the wait is on the disk or on S3, not on a processor.
final class BlockingWork: Sendable {
    private let pool: NIOThreadPool

    init(threads: Int) {
        pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
    }

    /// The threads for a server on this machine: twice the cores, at least 8.
    static func defaultThreads() -> Int { max(8, 2 * System.coreCount) }

    /// Lets the work in progress finish and stops the threads; later work is refused (`.busy`).
    func shutdown() async {
        try? await pool.shutdownGracefully()
    }

    /// Runs `body` on one of the threads and returns what it returned or threw.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws(StrataError) -> T) async throws(StrataError) -> T {
        try await result(body).get()
    }

    /// `run`, with the outcome as a value.
    func result<T: Sendable>(_ body: @escaping @Sendable () throws(StrataError) -> T) async -> Result<T, StrataError> {
        do {
            return try await pool.runIfActive { Result { () throws(StrataError) in try body() } }
        } catch {
            // The pool stopped, or the request was cancelled, before the work ran.
            return .failure(StrataError(.busy, "the server is stopping: \(error)"))
        }
    }
}
