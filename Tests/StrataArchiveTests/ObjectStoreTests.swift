import Dispatch
import Glibc
import StrataArchive
import StrataEngine
import StrataPlatform
import StrataSystem
import Synchronization
import Testing

/// The S3 server the test script started (scripts/s3-server), if any.
enum S3TestServer {
    static func env(_ name: String) -> String? {
        guard let v = getenv(name), v.pointee != 0 else { return nil }
        return String(cString: v)
    }

    /// Whether to run the S3 tests: when the server is there, and always in CI (where a
    /// missing server must fail the run, not skip the tests).
    static var enabled: Bool { env("STRATA_TEST_S3_ENDPOINT") != nil || env("CI") != nil }

    /// A store on a fresh bucket of the test server.
    static func store(bucket: String, change: (inout S3Configuration) -> Void = { _ in }) throws -> S3ObjectStore {
        guard env("STRATA_TEST_S3_ENDPOINT") != nil else {
            throw StrataError(.invalidInput, "STRATA_TEST_S3_ENDPOINT is not set: run the tests with scripts/test, which starts the S3 server")
        }
        var c = S3Configuration(endpoint: env("STRATA_TEST_S3_ENDPOINT")!, bucket: bucket,
                                accessKey: env("STRATA_TEST_S3_ACCESS_KEY")!, secretKey: env("STRATA_TEST_S3_SECRET_KEY")!)
        c.maxAttempts = 3
        c.initialBackoffMilliseconds = 20
        change(&c)
        let store = try S3ObjectStore(c)
        try store.createBucketIfMissing()
        return store
    }

    /// A bucket name no other test uses.
    static func bucket(_ name: String) -> String {
        "strata-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }
}

final class TemporaryDirectory {
    let path: String
    init() {
        var template = Array("/tmp/strata-archive-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }
    deinit { _ = system("rm -rf '\(path)'") }
}

/// The contract every object store keeps, checked on the local directory and on S3.
func checkObjectStoreContract(_ store: any ObjectStore) throws {
    let keys = ["trade/ESH4/2024/01/02/0000000000000001.strata", "trade/BTC%2FUSD/2024/01/02/a b+c=d.strata",
                "trade/ESH4/2024/01/03/0000000000000002.strata", "quote/ü/x"]
    for (i, key) in keys.enumerated() { try store.put(key, Array(repeating: UInt8(i), count: 100 + i)) }
    #expect(try store.get(keys[1]) == Array(repeating: 1, count: 101))
    #expect(try store.get(keys[0], range: 10..<20) == Array(repeating: 0, count: 10))
    #expect(try store.get(keys[0], range: 95..<200) == Array(repeating: 0, count: 5))
    #expect(try store.get(keys[0], range: 500..<600) == [])
    #expect(try store.head(keys[2])?.size == 102)
    #expect(try store.head("trade/none") == nil)
    #expect(try store.list(prefix: "trade/ESH4/").map(\.key) == [keys[0], keys[2]])
    #expect(try store.list(prefix: "").map(\.key) == keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
    #expect(try store.list(prefix: "trade/ESH4/2024/01/0").map(\.size) == [100, 102])
    // Overwrite, delete, and delete again.
    try store.put(keys[0], [9, 9, 9])
    #expect(try store.get(keys[0]) == [9, 9, 9])
    try store.delete(keys[0])
    try store.delete(keys[0])
    #expect(try store.head(keys[0]) == nil)
    #expect(throws: StrataError.self) { try store.get(keys[0]) }
    #expect(throws: StrataError.self) { try store.put("trade/../x", [1]) }
    #expect(throws: StrataError.self) { try store.put("", [1]) }
}

@Suite struct LocalObjectStoreTests {
    let root = TemporaryDirectory()

    @Test func keepsTheContract() throws {
        try checkObjectStoreContract(try LocalObjectStore(directory: root.path + "/objects"))
    }
}

@Suite struct S3ConfigurationTests {
    @Test func prefixesAreNormalisedAndBadOnesNamed() throws {
        #expect(normalizedPrefix("/strata") == "strata/" && normalizedPrefix("a/b//") == "a/b/" && normalizedPrefix("/") == "")
        for bad in ["a//b/", "../x/", "a/./", "x\u{1}/"] {
            var c = S3Configuration(endpoint: "http://127.0.0.1:1", bucket: "bkt", accessKey: "k", secretKey: "s")
            c.prefix = bad
            #expect(throws: StrataError.self, "\(bad)") { try c.validate() }
        }
        var c = S3Configuration(endpoint: "http://127.0.0.1:1", bucket: "bkt", accessKey: "k", secretKey: "s")
        c.prefix = "strata"
        #expect { try c.validate() } throws: { ($0 as? StrataError)?.message.contains("must end with '/'") == true }
        c.prefix = "tenant-1/strata/"
        try c.validate()
    }

    @Test(arguments: ["ab", "x..y", "-bad", "bad-", "Bad_Bucket", "192.168.1.1", String(repeating: "a", count: 64), ""])
    func bucketNamesS3WouldRefuseAreNamed(_ bucket: String) {
        let c = S3Configuration(endpoint: "http://127.0.0.1:1", bucket: bucket, accessKey: "k", secretKey: "s")
        #expect { try c.validate() } throws: { ($0 as? StrataError)?.message.contains("S3 bucket name '\(bucket)' must be 3–63") == true }
    }

    @Test(arguments: ["abc", "market-data", "strata.archive.2024", "a1-b2.c3"])
    func bucketNamesS3TakesAreTaken(_ bucket: String) throws {
        try S3Configuration(endpoint: "http://127.0.0.1:1", bucket: bucket, accessKey: "k", secretKey: "s").validate()
    }
}

@Suite(.enabled(if: S3TestServer.enabled, "needs the S3 server scripts/test starts")) struct S3ObjectStoreTests {
    @Test func keepsTheContract() throws {
        try checkObjectStoreContract(try S3TestServer.store(bucket: S3TestServer.bucket("contract")))
    }

    @Test func keepsTheContractWithAPrefix() throws {
        let store = try S3TestServer.store(bucket: S3TestServer.bucket("prefix")) { $0.prefix = "node-a/strata/" }
        try checkObjectStoreContract(store)
    }

    @Test func largeObjectsGoUpInParallelParts() throws {
        let store = try S3TestServer.store(bucket: S3TestServer.bucket("multipart")) {
            $0.partSize = 5 << 20
            $0.parallelParts = 3
        }
        var bytes = [UInt8](repeating: 0, count: (12 << 20) + 3)
        var x: UInt64 = 88172645463325252
        for i in bytes.indices {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            bytes[i] = UInt8(truncatingIfNeeded: x)
        }
        try store.put("big/object", bytes)
        #expect(try store.head("big/object")?.size == bytes.count)
        #expect(try store.get("big/object") == bytes)
        // A range across the part boundary.
        let range = ((5 << 20) - 10)..<((5 << 20) + 10)
        #expect(try store.get("big/object", range: range) == Array(bytes[range]))
    }

    @Test func listingPagesThroughMoreThanAThousandKeys() throws {
        let store = try S3TestServer.store(bucket: S3TestServer.bucket("list"))
        let keys = (0..<1_100).map { "many/\(String(repeating: "0", count: 4 - String($0).count))\($0)" }
        let errors = ErrorCollector()
        DispatchQueue.concurrentPerform(iterations: 8) { w in
            for k in stride(from: w, to: keys.count, by: 8) {
                do { try store.put(keys[k], [UInt8(k & 0xff)]) } catch { errors.add(error) }
            }
        }
        #expect(errors.isEmpty)
        let listed = try store.list(prefix: "many/")
        #expect(listed.count == 1_100)
        #expect(listed.map(\.key) == keys)
    }

    @Test func aWrongSecretKeyIsAClearErrorWithoutTheSecret() throws {
        let right = try S3TestServer.store(bucket: "strata-wrong-key")
        var c = S3Configuration(endpoint: right.configuration.endpoint, bucket: "strata-wrong-key",
                                accessKey: S3TestServer.env("STRATA_TEST_S3_ACCESS_KEY")!, secretKey: "not-the-secret-4711")
        c.maxAttempts = 2
        let store = try S3ObjectStore(c)
        #expect { try store.put("x", [1]) } throws: { error in
            guard let e = error as? StrataError else { return false }
            return e.code == .denied && e.description.contains("S3_SECRET_KEY") && !e.description.contains("not-the-secret-4711")
        }
        var unknown = c
        unknown.accessKey = "nobody"
        #expect { try S3ObjectStore(unknown).list(prefix: "") } throws: { error in
            guard let e = error as? StrataError else { return false }
            return e.code == .denied && e.description.contains("S3_ACCESS_KEY")
        }
    }

    @Test func aMissingBucketIsNamed() throws {
        let right = try S3TestServer.store(bucket: S3TestServer.bucket("exists")).configuration
        var c = S3Configuration(endpoint: right.endpoint, bucket: "strata-no-such-bucket-\(getpid())",
                                accessKey: right.accessKey, secretKey: right.secretKey)
        c.maxAttempts = 1
        #expect { try S3ObjectStore(c).list(prefix: "") } throws: { error in
            guard let e = error as? StrataError else { return false }
            return e.code == .notFound && e.description.contains("strata-no-such-bucket")
        }
    }

    @Test func checkDepsTellsAMissingBucketFromAnExistingOne() throws {
        let right = try S3TestServer.store(bucket: S3TestServer.bucket("deps"))
        #expect(try right.bucketExists())
        var c = right.configuration
        c.bucket = "strata-no-such-bucket-\(getpid())"
        c.bucket = "strata-made-by-upload-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fresh = try S3ObjectStore(c)
        // check-deps says what the first upload does: it makes the bucket.
        let missing = DependencyCheck.archive(StoreArchive(Archive(objects: fresh)))
        #expect(missing.ok == true && missing.detail == "reachable; the bucket '\(c.bucket)' does not exist yet: the first upload makes it (strata archive init makes it now), new objects unencrypted", "\(missing)")
        try fresh.put("a", [1, 2, 3])
        #expect(try fresh.bucketExists() && fresh.get("a") == [1, 2, 3])
        let present = DependencyCheck.archive(StoreArchive(Archive(objects: try S3ObjectStore(c))))
        #expect(present.ok == true && present.detail == "reachable, new objects unencrypted", "\(present)")
        #expect(try S3ObjectStore(c).createBucketIfMissing() == false)
    }

    @Test func anUnreachableServerIsRetriedThenReported() throws {
        var c = S3Configuration(endpoint: "http://127.0.0.1:9", bucket: "bkt", accessKey: "a", secretKey: "s")
        c.maxAttempts = 3
        c.initialBackoffMilliseconds = 10
        let store = try S3ObjectStore(c)
        #expect { try store.get("k") } throws: { error in
            guard let e = error as? StrataError else { return false }
            return e.code == .io && e.description.contains("after 3 attempts") && e.description.contains("127.0.0.1:9")
        }
        // Each attempt counts, as a request and as an error (for /metrics).
        let counted = try #require(store.requestStatistics)
        #expect(counted.requests == ["GET": 3] && counted.errors == ["GET": 3] && counted.retries == 2)
        #expect(counted.lastError?.contains("127.0.0.1:9") == true && counted.lastErrorAt != nil, "\(counted)")
    }

    @Test func requestsAreCounted() throws {
        let store = try S3TestServer.store(bucket: S3TestServer.bucket("counted"))
        let before = try #require(store.requestStatistics)
        try store.put("a", Array(repeating: 7, count: 1_000))
        _ = try store.get("a")
        #expect(try store.head("missing") == nil)  // a 404 to HEAD is an answer, not an error
        let after = try #require(store.requestStatistics)
        #expect(after.requests["PUT", default: 0] - before.requests["PUT", default: 0] == 1)
        #expect(after.requests["GET", default: 0] - before.requests["GET", default: 0] == 1)
        #expect(after.requests["HEAD", default: 0] - before.requests["HEAD", default: 0] == 1)
        #expect(after.errors == before.errors && after.bytesSent - before.bytesSent == 1_000 && after.bytesReceived - before.bytesReceived == 1_000)
    }
}

final class ErrorCollector: Sendable {
    private let errors = Mutex<[String]>([])
    func add(_ e: Error) { errors.withLock { $0.append("\(e)") } }
    var isEmpty: Bool { errors.withLock { $0.isEmpty } }
}
