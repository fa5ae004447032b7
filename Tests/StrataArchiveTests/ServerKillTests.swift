import Glibc
import StrataArchive
import StrataEngine
import StrataFormat
import StrataPlatform
import Synchronization
import Testing

/// An S3 server of the test's own (scripts/s3-server), which it may kill and restart.
final class OwnS3Server {
    let dir: String
    var endpoint = "", access = "", secret = ""
    var pid: pid_t = 0
    static let script: String = {
        // Tests/StrataArchiveTests/<this file> → the repository's scripts/s3-server.
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path + "/scripts/s3-server"
    }()

    init() throws {
        let tmp = TemporaryDirectory()
        dir = tmp.path + "-s3"
        try run("start")
    }

    func run(_ command: String) throws {
        let out = dir + ".env"
        guard system("'\(Self.script)' \(command) '\(dir)' > '\(out)'") == 0 else {
            throw StrataError(.io, "scripts/s3-server \(command) failed")
        }
        let text = String(decoding: (try MappedFile(path: out)).withUnsafeBytes { Array($0) }, as: UTF8.self)
        for line in text.split(separator: "\n") {
            let parts = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "STRATA_TEST_S3_ENDPOINT": endpoint = parts[1]
            case "STRATA_TEST_S3_ACCESS_KEY": access = parts[1]
            case "STRATA_TEST_S3_SECRET_KEY": secret = parts[1]
            case "STRATA_TEST_S3_PID": pid = pid_t(parts[1]) ?? 0
            default: break
            }
        }
    }

    deinit { _ = system("'\(Self.script)' stop '\(dir)' >/dev/null 2>&1; rm -f '\(dir).env'") }
}

/// Kills the server just before the `n`-th upload reaches it.
final class KillingStore: ObjectStore {
    let inner: any ObjectStore
    let serverProcess: pid_t
    let puts = Mutex(0)
    let killAt: Int
    init(_ inner: any ObjectStore, serverProcess: pid_t, killAt: Int) {
        self.inner = inner
        self.serverProcess = serverProcess
        self.killAt = killAt
    }
    var location: String { inner.location }
    func put(_ key: String, _ bytes: [UInt8]) throws(StrataError) {
        if puts.withLock({ $0 += 1; return $0 }) == killAt { kill(serverProcess, SIGKILL) }
        try inner.put(key, bytes)
    }
    func get(_ key: String, range: Range<Int>?) throws(StrataError) -> [UInt8] { try inner.get(key, range: range) }
    func getTail(_ key: String, count: Int) throws(StrataError) -> (bytes: [UInt8], objectSize: Int) { try inner.getTail(key, count: count) }
    func head(_ key: String) throws(StrataError) -> ObjectInfo? { try inner.head(key) }
    func list(prefix: String) throws(StrataError) -> [ObjectInfo] { try inner.list(prefix: prefix) }
    func delete(_ key: String) throws(StrataError) { try inner.delete(key) }
}

@Suite(.enabled(if: S3TestServer.enabled, "needs SeaweedFS, which scripts/test installs"), .serialized)
struct ServerKillTests {
    @Test func theServerKilledDuringATieringRunLosesNothingAndALaterRunFinishes() async throws {
        let server = try OwnS3Server()
        var c = S3Configuration(endpoint: server.endpoint, bucket: "strata-killed", accessKey: server.access, secretKey: server.secret)
        c.maxAttempts = 2
        c.initialBackoffMilliseconds = 10
        c.connectTimeoutMilliseconds = 1000
        let s3 = try S3ObjectStore(c)
        try s3.createBucketIfMissing()
        let scenario = TieringScenario(objects: KillingStore(s3, serverProcess: server.pid, killAt: 3))
        let data = scenario.root.path + "/data"
        let db = try Database(directory: data, configuration: scenario.configuration())
        try await scenario.fill(db)
        let before = try scenario.answers(db)
        // The third upload finds the server gone: the run stops with an error.
        #expect { try scenario.archive.push(db, olderThan: 0) } throws: { ($0 as? StrataError)?.code == .io }
        let local = try db.store.seriesDays().filter { try db.store.manifest($0).cold.isEmpty }
        #expect(local.count == 4)  // two days went before the kill, four are still local
        try db.close()

        // Server back (same data): everything answers as before, and a second run finishes.
        try server.run("restart")
        // Its S3 gateway answers before its volume server is back (InternalError meanwhile):
        // wait until an object can be written and read, as an operator would before rerunning.
        var serving = false
        for _ in 0..<150 where !serving {
            serving = (try? s3.put("probe", [1])) != nil && (try? s3.get("probe", range: nil)) == [1]
            if !serving { usleep(200_000) }
        }
        #expect(serving, "the restarted server never served an object")
        try s3.delete("probe")
        let again = try Database(directory: data, configuration: scenario.configuration())
        #expect(try scenario.answers(again) == before)
        let pushed = try scenario.archive.push(again, olderThan: 0)
        #expect(pushed.seriesDays == 4)
        #expect(try again.store.seriesDays().allSatisfy { try again.store.manifest($0).segments.isEmpty })
        #expect(try scenario.answers(again) == before)
        try again.close()
    }
}
