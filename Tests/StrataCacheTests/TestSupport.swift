import Glibc
import StrataCache
import StrataEngine
import StrataPlatform

/// The throw-away Redis that scripts/test starts (scripts/redis-server): a password for the
/// default user and for an ACL user named strata.
enum RedisTestServer {
    static func env(_ name: String) -> String? {
        guard let v = getenv(name), v.pointee != 0 else { return nil }
        return String(cString: v)
    }

    static var urlText: String? { env("STRATA_TEST_REDIS_URL") }
    /// In CI the server must be there: tests fail rather than skip without it.
    static var enabled: Bool { urlText != nil || env("CI") != nil }

    static var url: RedisURL {
        get throws {
            guard let urlText else { throw StrataError(.notFound, "STRATA_TEST_REDIS_URL is not set: run the tests with scripts/test") }
            return try RedisURL(parsing: urlText)
        }
    }

    static func connect() throws -> RedisConnection { try RedisConnection(try url) }

    /// A key prefix of its own for one test.
    static func prefix(_ name: String) -> String { "strata-test-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" }
}

func runScript(_ name: String, _ arguments: String...) -> Int32 {
    var root = "\(#filePath)"
    for _ in 0..<3 { root = String(root[..<root.lastIndex(of: "/")!]) }
    let status = system("'\(root)/scripts/\(name)' " + arguments.map { "'\($0)'" }.joined(separator: " ") + " >/dev/null 2>&1")
    return (status >> 8) & 0xFF
}

final class TemporaryDirectory {
    let path: String
    init() {
        var template = Array("/tmp/strata-cache-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }
    deinit { _ = system("rm -rf '\(path)'") }
}

/// Waits up to `seconds` for `condition`.
func eventually(_ seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = monotonicNanoseconds() + Int64(seconds * 1e9)
    while monotonicNanoseconds() < deadline {
        if try condition() { return true }
        usleep(10_000)
    }
    return try condition()
}
