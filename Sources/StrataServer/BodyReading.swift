import Hummingbird
import NIOCore
import StrataEngine
import StrataPlatform
import Synchronization

/// Reading request bodies so that a slow or oversized one cannot hold the server: a body
/// whose `Content-Length` is over the limit is refused before a byte of it is read, and one
/// that stalls (no byte for `stallSeconds`) or takes too long in all (`totalSeconds`, plus a
/// second per MiB) is cut off with 408 and its connection closed.
struct BodyReader: Sendable {
    var limit: Int
    var stallSeconds = 10.0
    var totalSeconds = 30.0

    /// Why a body was not read.
    enum Refusal: Error {
        case tooLarge, tooSlow(String)
    }

    /// The size a request declares, if it is over the limit (refused at once).
    func declaredTooLarge(_ request: Request) -> Bool {
        guard let text = request.headers[.contentLength], let n = Int(text) else { return false }
        return n > limit
    }

    /// The whole body, within the limit and the time allowed.
    func collect(_ request: Request) async throws -> ByteBuffer {
        if declaredTooLarge(request) { throw Refusal.tooLarge }
        let body = request.body
        let limit = self.limit
        let progress = Progress()
        let declared = request.headers[.contentLength].flatMap(Int.init) ?? 0
        let allowed = Int64((totalSeconds + Double(declared) / Double(1 << 20)) * 1e9)
        let stall = Int64(stallSeconds * 1e9)
        return try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask {
                var buffer = ByteBuffer()
                for try await chunk in body {
                    guard buffer.readableBytes + chunk.readableBytes <= limit else { throw Refusal.tooLarge }
                    var chunk = chunk
                    buffer.writeBuffer(&chunk)
                    progress.last.store(monotonicNanoseconds(), ordering: .relaxed)
                }
                return buffer
            }
            group.addTask {
                // The watchdog: nil when the body stalls or runs out of time.
                while true {
                    try await Task.sleep(for: .milliseconds(200))
                    let now = monotonicNanoseconds()
                    if now - progress.last.load(ordering: .relaxed) > stall || now - progress.started > allowed { return nil }
                }
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let buffer = first else {
                throw Refusal.tooSlow(declared > 0 ? "the body of \(declared) bytes did not arrive in time" : "the body did not arrive in time")
            }
            return buffer
        }
    }

    final class Progress: Sendable {
        let started = monotonicNanoseconds()
        let last = Atomic<Int64>(monotonicNanoseconds())
    }
}

extension StrataServer {
    /// The answer to a body that was refused: 413 for its size, 408 (closing the connection)
    /// for its pace.
    static func refusal(_ refusal: BodyReader.Refusal, limit: Int) -> Response {
        switch refusal {
        case .tooLarge:
            return error(.contentTooLarge, "the body is larger than \(limit >> 20) MiB (--max-body-mib)")
        case .tooSlow(let why):
            var headers = HTTPFields()
            headers[.connection] = "close"
            return error(.requestTimeout, "\(why): a body may not pause for 10 s, and must arrive within 30 s plus a second per MiB", headers: headers)
        }
    }
}
