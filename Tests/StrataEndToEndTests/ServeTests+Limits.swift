import Glibc
import StrataEngine
import StrataPlatform
import StrataTestSupport
import Testing

/// What cannot be stored is refused before it is acknowledged, in time linear in the body.
extension ServeTests {
    /// A line with 200,000 fields, or lines that together give a measurement more fields than
    /// it may have, are refused with 400 at once; the store keeps working and reopens.
    @Test func tooManyFieldsAreRefusedBeforeTheyAreAcknowledged() throws {
        // Lines up to 8 MiB, so that the field limit, not the line limit, is what refuses.
        writeText(root.path + "/strata.json", "{\"server\": {\"max_line_kib\": 8192}}\n")
        var (pid, url) = try start(["--config", root.path + "/strata.json"])
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        let write = url + "/api/v2/write?precision=s"
        let huge = "trade,symbol=A " + (0..<200_000).map { "f\($0)=1" }.joined(separator: ",") + " 1704205800\n"
        let started = monotonicNanoseconds()
        let one = post(write, huge)
        let seconds = Double(monotonicNanoseconds() - started) / 1e9
        #expect(one.code == 400 && one.body.contains("more than 1024 fields in the line"), "\(one.code) \(one.body.prefix(300))")
        // Linear: about a second here; quadratic parsing took minutes (a bound far from both).
        #expect(seconds < 60, "200,000 keys took \(seconds) s")
        // Two lines of 600 new fields each: each fits, together they do not; nothing is written.
        let first = "trade,symbol=B " + (0..<600).map { "a\($0)=1" }.joined(separator: ",") + " 1704205800"
        let second = "trade,symbol=B " + (0..<600).map { "b\($0)=1" }.joined(separator: ",") + " 1704205801"
        let both = post(write, first + "\n" + second + "\n")
        #expect(both.code == 400 && both.body.contains("measurement 'trade' would have 1200 fields; the limit is 1024"), "\(both.code) \(both.body.prefix(300))")
        #expect(post(write, "trade,symbol=C price=1 1704205800\n").code == 204)
        // The store is whole: a kill and a restart replay its log.
        kill(pid, SIGKILL)
        _ = waitForExit(pid)
        (pid, url) = try start(["--config", root.path + "/strata.json"])
        let rows = fetch(url + "/api/v1/query?measurement=trade&symbol=C&format=csv&time_format=ns")
        #expect(rows.code == 200 && rows.body == "time,symbol,price\n1704205800000000000,C,1\n", "\(rows)")
        let records = exchange("POST", url + "/api/v1/records", body: "{\"symbol\":\"D\",\"data_type\":\"trade\",\"timestamp\":1704205800,"
                               + (0..<2_000).map { "\"k\($0)\":1" }.joined(separator: ",") + "}")
        #expect(records.code == 400 && records.body.contains("a measurement may have at most 1024"), "\(records.code) \(records.body.prefix(300))")
    }
}

extension ServeTests {
    /// A write that would make the store hold more series than `store.max_series` is refused
    /// whole before it is acknowledged; stored series stay writable, also after a restart
    /// that replays the log.
    @Test func seriesBeyondTheStoreLimitAreRefusedBeforeTheyAreAcknowledged() throws {
        writeText(root.path + "/strata.json", "{\"store\": {\"max_series\": 3}}\n")
        var (pid, url) = try start(["--config", root.path + "/strata.json"])
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        let write = url + "/api/v2/write?precision=s"
        #expect(post(write, "trade,symbol=A price=1 1704205800\nquote,symbol=A bid=1 1704205800\n").code == 204)
        let over = post(write, "trade,symbol=B price=2 1704205801\ntrade,symbol=C price=3 1704205802\n")
        #expect(over.code == 400 && over.body.contains("the write would give the store 4 series") && over.body.contains("the limit is 3 (store.max_series)"), "\(over)")
        #expect(post(write, "trade,symbol=A price=4 1704205803\ntrade,symbol=B price=5 1704205804\n").code == 204)
        // After kill -9 the three series are known again from the log: A and B take rows, D does not.
        kill(pid, SIGKILL)
        _ = waitForExit(pid)
        (pid, url) = try start(["--config", root.path + "/strata.json"])
        #expect(post(url + "/api/v2/write?precision=s", "trade,symbol=B price=6 1704205805\n").code == 204)
        let refused = post(url + "/api/v2/write?precision=s", "trade,symbol=D price=7 1704205806\n")
        #expect(refused.code == 400 && refused.body.contains("trade/D is new"), "\(refused)")
        let rows = fetch(url + "/api/v1/query?measurement=trade&symbol=A,B&format=csv&time_format=ns")
        #expect(rows.code == 200 && rows.body == "time,symbol,price\n1704205800000000000,A,1\n1704205803000000000,A,4\n1704205804000000000,B,5\n1704205805000000000,B,6\n", "\(rows)")
        for refusedSymbol in ["C", "D"] {
            let none = fetch(url + "/api/v1/query?measurement=trade&symbol=\(refusedSymbol)")
            #expect(none.code == 404 && none.body.contains("has no symbol '\(refusedSymbol)'"), "\(none)")
        }
    }
}

extension ServeTests {
    /// A name whose directory name would not fit a file system is refused when written, not
    /// found out by every later flush.
    @Test func namesThatCannotBeDirectoriesAreRefusedWhenWritten() throws {
        let (pid, url) = try start()
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        let percent = String(repeating: "%", count: 86)  // 86 bytes, 258 as %25…
        let r = post(url + "/api/v2/write?precision=s", "trade,symbol=\(percent) price=1 1704205800\ntrade,symbol=A price=1 1704205800\n")
        #expect(r.code == 400 && r.body.contains("takes 258 bytes as a directory name") && r.body.contains("the limit is 255") && r.body.contains("\"written\":1"), "\(r)")
        writeText(root.path + "/t.csv", "time,symbol,price\n2024-01-02,\(percent),1\n")
        let ingest = runStrata(["ingest", "--data-dir", root.path + "/other", "--measurement", "trade", root.path + "/t.csv"])
        #expect(ingest.status != 0 && ingest.stderr.contains("takes 258 bytes as a directory name"), "\(ingest)")
    }

    /// A flush that fails is loud: standard error, /ready 503, /metrics and /status name
    /// it; the rows stay, and once the cause is gone it flushes by itself and says so.
    @Test func aFailingFlushIsLoudAndRecoversByItself() throws {
        writeText(root.path + "/strata.json", "{\"tiers\": {\"flush_age\": \"1s\"}}\n")
        let (pid, url) = try start(["--config", root.path + "/strata.json"])
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        // A file where the measurement's directory goes: every flush of it fails.
        writeText(data + "/blocked", "not a directory")
        #expect(post(url + "/api/v2/write?precision=s", "blocked,symbol=A price=1 1704205800\n").code == 204)
        var ready = 0
        for _ in 0..<200 where ready != 503 {
            usleep(50_000)
            ready = get(url + "/ready")
        }
        #expect(ready == 503)
        let body = exchange("GET", url + "/ready").body
        #expect(body.contains("not ready: flushes are failing") && body.contains("blocked"), "\(body)")
        let scrape = fetch(url + "/metrics").body
        #expect(scrape.contains("strata_flush_failing 1") && !scrape.contains("strata_flush_failures_total 0"), "\(scrape)")
        #expect(fetch(url + "/status").body.contains("\"flush_error\":\""))
        let errors = String(decoding: (try? readFile(root.path + "/err.txt")) ?? [], as: UTF8.self)
        #expect(errors.contains("strata: flush: ") && errors.contains("the rows stay in memory and in the log and are tried again"), "\(errors)")
        // The cause removed: the next attempt (within the 5 s backoff) flushes.
        _ = unlink(data + "/blocked")
        for _ in 0..<300 where ready != 200 {
            usleep(50_000)
            ready = get(url + "/ready")
        }
        #expect(ready == 200)
        let later = String(decoding: (try? readFile(root.path + "/err.txt")) ?? [], as: UTF8.self)
        #expect(later.contains("strata: flush: flushing again"), "\(later)")
        #expect(fetch(url + "/metrics").body.contains("strata_flush_failing 0"))
        #expect(FileSystem.isDirectory(data + "/blocked/A"))
        #expect(fetch(url + "/api/v1/query?measurement=blocked&symbol=A&format=csv&time_format=ns").body == "time,symbol,price\n1704205800000000000,A,1\n")
    }
}

extension ServeTests {
    /// With keys, what the headers alone can refuse is refused before the body is read: a
    /// signed request for an unknown key or an old time gets 401 while its body has not
    /// come. Auth schemes are case-insensitive.
    @Test func signedRequestsAreRefusedFromTheirHeaders() throws {
        let writer = makeKey("feed", "write")
        writeText(root.path + "/keys", writer.line + "\n")
        let (pid, url) = try start(["--api-keys", root.path + "/keys"])
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        let line = "trade,symbol=A price=1 1704205800"
        #expect(post(url + "/api/v2/write?precision=s", line, headers: ["Authorization: bearer \(writer.key)"]).code == 204)
        #expect(post(url + "/api/v2/write?precision=s", line, headers: ["Authorization: TOKEN \(writer.key)"]).code == 204)
        let port = url.split(separator: ":").last!
        for (name, age) in [("nobody", 0), ("feed", 600)] {
            // The headers of a 1 MB body, and no body: the answer may not wait for it.
            let stamp = "$(( $(date +%s) - \(age) ))"
            writeText(root.path + "/raw.sh", """
                exec 3<>/dev/tcp/127.0.0.1/\(port)
                printf 'POST /api/v2/write?precision=s HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 1000000\\r\\nX-Strata-Key: \(name)\\r\\nX-Strata-Timestamp: %s\\r\\nX-Strata-Signature: \(String(repeating: "ab", count: 32))\\r\\n\\r\\n' "\(stamp)" >&3
                timeout 10 head -c 12 <&3

                """)
            let started = monotonicNanoseconds()
            _ = system("bash '\(root.path)/raw.sh' > '\(root.path)/raw.txt' 2>&1")
            let seconds = Double(monotonicNanoseconds() - started) / 1e9
            let raw = String(decoding: (try? readFile(root.path + "/raw.txt")) ?? [], as: UTF8.self)
            // The answer comes without the body, which never comes (waiting for it would end
            // in the timeout's empty output).
            #expect(raw == "HTTP/1.1 401", "\(name), \(age) s old: '\(raw)' after \(seconds) s")
        }
    }
}

extension ServeTests {
    /// Slow bodies cannot take the server down: with every request slot held by a body that
    /// stalls, /health and /ready still answer; a stalled body is cut off with 408 after 10 s,
    /// which frees its slot; a declared body over the limit gets 413 before it is sent.
    @Test func slowBodiesAreCutOffAndHealthStillAnswers() throws {
        let (pid, url) = try start(["--max-concurrent-requests", "4", "--max-body-mib", "1"])
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        let port = url.split(separator: ":").last!
        writeText(root.path + "/slow.py", """
            import socket, sys, time, urllib.request
            port = int(sys.argv[1])
            def head(length):
                return (f"POST /api/v2/write?precision=s HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: {length}\\r\\n\\r\\n").encode()
            # Twelve writers, three times the slots, each sending 10 bytes of 1,000 and stalling.
            slow = []
            for _ in range(12):
                s = socket.create_connection(("127.0.0.1", port))
                s.sendall(head(1000) + b"trade,symb")
                slow.append(s)
            time.sleep(0.5)
            started = time.time()
            for path in ("/health", "/ready", "/ping"):
                code = urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2).status
                assert code in (200, 204), (path, code)
            print("health", round(time.time() - started, 3))
            # A body declared over the limit: 413 at once, nothing sent.
            big = socket.create_connection(("127.0.0.1", port))
            big.settimeout(2)
            big.sendall(head(50 << 20))
            print("big", big.recv(12).decode())
            # The stalled ones are cut off with 408 after 10 s.
            answers = []
            for s in slow:
                s.settimeout(15)
                answers.append(s.recv(12).decode())
            print("slow", answers.count("HTTP/1.1 408"), "408", answers.count("HTTP/1.1 503"), "503", round(time.time() - started, 1))
            # Their slots are free again.
            body = b"trade,symbol=A price=1 1704205800\\n"
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v2/write?precision=s", data=body, method="POST")
            print("write", urllib.request.urlopen(request, timeout=5).status)
            """)
        let status = system("python3 '\(root.path)/slow.py' \(port) > '\(root.path)/slow.txt' 2>&1")
        let out = String(decoding: (try? readFile(root.path + "/slow.txt")) ?? [], as: UTF8.self)
        #expect(status == 0, "\(out)")
        let lines = out.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("health ") } && lines.contains("big HTTP/1.1 413") && lines.contains("write 204"), "\(out)")
        let slow = lines.first { $0.hasPrefix("slow ") } ?? ""
        // The four that had slots are cut off; the eight beyond them were turned away at once.
        #expect(slow.hasPrefix("slow 4 408 8 503 "), "\(out)")
    }
}

extension ServeTests {
    /// A tmpfs of `megabytes` mounted under the test's directory (needs root); unmount it
    /// with `unmount`.
    func mountTmpfs(megabytes: Int) throws -> String {
        let disk = root.path + "/disk"
        try FileSystem.makeDirectories(disk)
        guard system("mount -t tmpfs -o size=\(megabytes)m tmpfs '\(disk)'") == 0 else {
            throw StrataError(.io, "cannot mount a tmpfs at \(disk)")
        }
        return disk
    }

    func unmount(_ disk: String) { _ = system("umount -l '\(disk)'") }

    /// Fills the file system of `disk` but for `kib` KiB.
    func fill(_ disk: String, leaving kib: Int) {
        _ = system("dd if=/dev/zero of='\(disk)/filler' bs=64k 2>/dev/null; truncate -s -\(kib)K '\(disk)/filler'")
    }

    /// Line protocol of `count` trades of symbol A with random values (so that the log's
    /// records do not compress to nothing), one a millisecond from `first`.
    static func randomTrades(_ count: Int, first: Int) -> String {
        var rng = SystemRandomNumberGenerator()
        return (0..<count).map {
            "trade,symbol=A price=\(Double.random(in: 1..<2, using: &rng)),size=\(Int.random(in: 0..<1 << 40, using: &rng))i \(first + $0)"
        }.joined(separator: "\n") + "\n"
    }

    /// A full disk refuses writes cleanly (503, nothing of them stored) and /ready says so;
    /// once space is freed, /ready and writes come back by themselves, with no restart; after
    /// a kill every acknowledged row is there exactly once. Needs root, for a small tmpfs.
    @Test(.enabled(if: getuid() == 0, "mounts a tmpfs"))
    func aFullDiskRefusesWritesUntilThereIsSpaceAgain() throws {
        let disk = try mountTmpfs(megabytes: 6)
        defer { unmount(disk) }
        let data = disk + "/data"
        var (pid, base) = try start(["--data-dir", data])
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        fill(disk, leaving: 32)
        var acknowledged = 0
        var refused: (code: Int, body: String)? = nil
        for batch in 0..<400 where refused == nil {
            let r = post(base + "/api/v2/write?precision=ms", Self.randomTrades(1_000, first: 1_704_205_800_000 + batch * 1_000))
            if r.code == 204 { acknowledged += 1_000 } else { refused = r }
        }
        #expect(refused?.code == 503 && refused?.body.contains("no space left on the device of the write-ahead log") == true
                && refused?.body.contains("writes resume by themselves once space is freed") == true, "\(String(describing: refused))")
        #expect(get(base + "/ready") == 503 && get(base + "/health") == 200)
        #expect(exchange("GET", base + "/ready").body.contains("not ready: writes are refused"))
        // Space freed: ready again without a write, then writes are taken.
        _ = unlink(disk + "/filler")
        #expect(get(base + "/ready") == 200)
        #expect(post(base + "/api/v2/write?precision=s", "trade,symbol=A price=1,size=1i 1800000000\n").code == 204)
        acknowledged += 1
        // Killed and restarted: every acknowledged row, once.
        kill(pid, SIGKILL)
        _ = waitForExit(pid)
        _ = unlink(root.path + "/out.txt")
        (pid, base) = try start(["--data-dir", data])
        let rows = fetch(base + "/api/v1/query?measurement=trade&symbol=A&format=csv&time_format=ns").body.split(separator: "\n").dropFirst()
        #expect(rows.count == acknowledged && Set(rows).count == acknowledged, "\(rows.count) rows, \(acknowledged) acknowledged")
    }
}

extension ServeTests {
    /// A damaged manifest does not stop the server: the series-day is kept aside, the rest
    /// serves, and /status, /metrics, stderr and `strata stats` say so.
    @Test func aDamagedManifestIsIsolatedAndReported() throws {
        writeText(root.path + "/t.csv", "time,symbol,price\n2024-01-02T14:30:00Z,A,1\n2024-01-02T14:30:00Z,B,2\n")
        #expect(runStrata(["ingest", "--data-dir", data, "--measurement", "trade", root.path + "/t.csv"]).status == 0)
        let manifest = data + "/trade/A/2024-01-02/_manifest"
        var bytes = try readFile(manifest)
        bytes[bytes.count - 1] ^= 0x01
        writeFile(manifest, bytes)
        let (pid, url) = try start()
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        let errors = String(decoding: (try? readFile(root.path + "/err.txt")) ?? [], as: UTF8.self)
        #expect(errors.contains("strata: recovery: ") && errors.contains("moved to \(data)/_damaged/trade/A/2024-01-02"), "\(errors)")
        #expect(fetch(url + "/api/v1/query?measurement=trade&symbol=B&format=csv").body.hasSuffix(",B,2\n"))
        #expect(fetch(url + "/status").body.contains("\"quarantined\":[\"trade/A/2024-01-02\"]"))
        #expect(fetch(url + "/metrics").body.contains("strata_quarantined 1"))
        kill(pid, SIGTERM)
        _ = waitForExit(pid)
        let stats = runStrata(["stats", "--data-dir", data])
        #expect(stats.status == 0 && stats.stderr.contains("kept aside in \(data)/_damaged, not counted above: trade/A/2024-01-02"), "\(stats)")
    }
}

extension ServeTests {
    /// Requests the HTTP parser refuses (a 100 KB URL, a 100 KB header, bad framing) get a
    /// JSON body like every other error.
    @Test func requestsTheParserRefusesGetJSONBodies() throws {
        let (pid, url) = try start()
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        let port = url.split(separator: ":").last!
        writeText(root.path + "/raw.py", """
            import socket, sys
            def raw(req):
                s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.settimeout(5)
                s.sendall(req); out = b""
                while True:
                    d = s.recv(65536)
                    if not d: break
                    out += d
                return out.decode()
            for req in (b"GET /api/v1/query?measurement=" + b"x" * 100000 + b" HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n",
                        b"GET /ping HTTP/1.1\\r\\nHost: x\\r\\nX-Big: " + b"y" * 100000 + b"\\r\\n\\r\\n",
                        b"POST /api/v2/write HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: abc\\r\\n\\r\\n"):
                print(repr(raw(req)))
            """)
        _ = system("python3 '\(root.path)/raw.py' \(port) > '\(root.path)/raw.txt' 2>&1")
        let lines = String(decoding: (try? readFile(root.path + "/raw.txt")) ?? [], as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 3, "\(lines)")
        for line in lines {
            #expect(line.hasPrefix("'HTTP/1.1 400 Bad Request") && line.contains("Content-Type: application/json")
                    && line.contains("{\"code\":\"invalid\",\"message\":\"the request"), "\(line)")
        }
        #expect(lines.first?.contains("larger than 80 KiB") == true && lines.last?.contains("content-length") == true, "\(lines)")
    }
}

extension ServeTests {
    /// A restart on a disk too full to flush what the log replays still starts: the rows
    /// are served from memory, /ready says why it is not ready, and once space is freed they
    /// are flushed without another restart.
    @Test(.enabled(if: getuid() == 0, "mounts a tmpfs"))
    func aRestartOnAFullDiskStartsAndFlushesLater() throws {
        let disk = try mountTmpfs(megabytes: 8)
        defer { unmount(disk) }
        let data = disk + "/data"
        var (pid, url) = try start(["--data-dir", data])
        #expect(post(url + "/api/v2/write?precision=ms", Self.randomTrades(20_000, first: 1_704_205_800_000)).code == 204)
        kill(pid, SIGKILL)
        _ = waitForExit(pid)
        // Room for a new log file, not for the segment the replay would write.
        fill(disk, leaving: 12)
        _ = unlink(root.path + "/out.txt")
        (pid, url) = try start(["--data-dir", data])
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        #expect(get(url + "/ready") == 503)
        let rows = { self.fetch(url + "/api/v1/query?measurement=trade&symbol=A&format=csv&time_format=ns").body.split(separator: "\n").count - 1 }
        #expect(rows() == 20_000)
        _ = unlink(disk + "/filler")
        var ready = 0
        for _ in 0..<300 where ready != 200 {
            usleep(50_000)
            ready = get(url + "/ready")
        }
        #expect(ready == 200)
        #expect(try FileSystem.list(data + "/trade/A").count == 1 && rows() == 20_000)
    }
}
