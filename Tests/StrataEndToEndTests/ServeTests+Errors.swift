import Glibc
import StrataEngine
import StrataPlatform
import StrataTestSupport
import Testing

/// What `strata serve` says when something is wrong: with the request (a JSON body and the
/// right status, before any of the answer is sent), with its address, with Redis.
extension ServeTests {
    /// A request with curl: status, response headers (lower-cased names) and body.
    func exchange(_ method: String, _ url: String, body: String? = nil, headers: [String] = []) -> (code: Int, headers: [String: String], body: String) {
        let h = headers.map { "-H '\($0)' " }.joined()
        var data = ""
        if let body {
            writeText(root.path + "/req.txt", body)
            data = "--data-binary @'\(root.path)/req.txt' "
        }
        // HEAD with -X would wait for a body that never comes.
        let verb = method == "HEAD" ? "-I " : "-X \(method) "
        let status = system("curl -s \(verb)\(h)\(data)-D '\(root.path)/head.txt' -o '\(root.path)/resp.txt' -w '%{http_code}' '\(url)' > '\(root.path)/code.txt'")
        guard status == 0 else { return (0, [:], "") }
        var fields: [String: String] = [:]
        for line in String(decoding: (try? readFile(root.path + "/head.txt")) ?? [], as: UTF8.self).split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = String(line[line.index(after: colon)...].drop { $0 == " " })
        }
        let code = Int(String(decoding: (try? readFile(root.path + "/code.txt")) ?? [], as: UTF8.self)) ?? 0
        return (code, fields, String(decoding: (try? readFile(root.path + "/resp.txt")) ?? [], as: UTF8.self))
    }

    /// Fields, measurements and symbols that are not there are refused with a JSON error
    /// and a status, never a 200 whose body ends in an error; the same on disk as in memory.
    @Test func queriesNamingWhatIsNotThereAreRefusedBeforeTheStatus() throws {
        var (pid, url) = try start()
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        #expect(post(url + "/api/v2/write?precision=s", "trade,symbol=ESH4 price=1,size=1i,venue=\"X\" 1704205800\n").code == 204)
        for round in ["in memory", "on disk"] {
            let bars = url + "/api/v1/query?measurement=trade&symbol=ESH4&interval=1m"
            for format in ["json", "csv"] {
                let r = exchange("GET", bars + "&ohlcv=nope,size&format=\(format)")
                #expect(r.code == 400 && r.headers["content-type"] == "application/json"
                        && r.body == "{\"code\":\"invalid\",\"message\":\"'ohlcv': measurement 'trade' has no field 'nope'\"}\n", "\(round): \(r)")
            }
            let text = exchange("GET", bars + "&ohlcv=venue")
            #expect(text.code == 400 && text.body.contains("'ohlcv': field 'venue' is string; bars need float or int fields"), "\(round): \(text)")
            let measurement = exchange("GET", url + "/api/v1/query?measurement=nosuch&symbol=ESH4")
            #expect(measurement.code == 404 && measurement.body == "{\"code\":\"not found\",\"message\":\"no measurement 'nosuch'\"}\n", "\(round): \(measurement)")
            let symbol = exchange("GET", url + "/api/v1/query?measurement=trade&symbol=ESH4,NOPE&format=csv")
            #expect(symbol.code == 404 && symbol.body == "{\"code\":\"not found\",\"message\":\"measurement 'trade' has no symbol 'NOPE'\"}\n", "\(round): \(symbol)")
            let good = exchange("GET", url + "/api/v1/query?measurement=trade&symbol=ESH4&interval=1m&ohlcv=price,size&format=csv")
            #expect(good.code == 200 && good.body.hasSuffix("\n2024-01-02T14:30:00.000000000Z,ESH4,1,1,1,1,1,1,1\n"), "\(round): \(good)")
            guard round == "in memory" else { break }
            // Restarted: the rows are in a segment now, none in memory.
            kill(pid, SIGTERM)
            #expect(waitForExit(pid) == 0)
            (pid, url) = try start()
        }
    }

    /// A port already in use is named with its address, before the store is touched.
    @Test func aBusyPortIsNamedBeforeTheStoreIsOpened() throws {
        let (pid, url) = try start()
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        let port = url.split(separator: ":").last!
        let other = root.path + "/other"
        let r = runStrata(["serve", "--data-dir", other, "--listen", "127.0.0.1:\(port)"])
        #expect(r.status == 1 && r.stderr == "strata: cannot listen on 127.0.0.1:\(port): address already in use\n", "\(r)")
        #expect(!FileSystem.exists(other), "the store was created")
        #expect(get(url + "/health") == 200)
    }

    /// Every error has a JSON body with a code in words; Influx's /ping answers; a known
    /// path asked with the wrong method is a 405 that says what it takes.
    @Test func errorsHaveJSONBodiesAndPingAnswers() throws {
        let (pid, url) = try start(["--max-body-mib", "1"])
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        let line = "trade,symbol=A price=1 1704205800\n"
        let large = exchange("POST", url + "/api/v2/write?precision=s", body: String(repeating: line, count: 40_000))
        #expect(large.code == 413 && large.headers["content-type"] == "application/json"
                && large.body == "{\"code\":\"request too large\",\"message\":\"the body is larger than 1 MiB (--max-body-mib)\"}\n", "\(large)")
        let br = exchange("POST", url + "/api/v2/write", body: line, headers: ["Content-Encoding: br"])
        #expect(br.code == 415 && br.body.hasPrefix("{\"code\":\"unsupported media type\",\"message\":\"Content-Encoding 'br'"), "\(br)")
        let method = exchange("GET", url + "/api/v2/write")
        #expect(method.code == 405 && method.headers["allow"] == "POST"
                && method.body == "{\"code\":\"method not allowed\",\"message\":\"/api/v2/write takes POST, not GET\"}\n", "\(method)")
        let unknown = exchange("GET", url + "/nosuch")
        #expect(unknown.code == 404 && unknown.body == "{\"code\":\"not found\",\"message\":\"no route GET /nosuch\"}\n", "\(unknown)")
        #expect(exchange("GET", url + "/ping").code == 204 && exchange("HEAD", url + "/ping").code == 204)
        // NaN and infinities: refused, without pointing at an option the server lacks.
        let infinite = exchange("POST", url + "/api/v2/write?precision=s", body: "trade,symbol=A price=1e400 1704205800\n")
        #expect(infinite.code == 400 && infinite.body.contains("field 'price': '1e400' is not a finite number (NaN and infinities are refused)")
                && !infinite.body.contains("option"), "\(infinite)")
        let scrape = fetch(url + "/metrics").body
        for expected in ["strata_http_requests_total{route=\"/api/v2/write\",method=\"POST\",status=\"413\"} 1",
                         "strata_http_requests_total{route=\"/api/v2/write\",method=\"GET\",status=\"405\"} 1",
                         "strata_http_requests_total{route=\"/ping\",method=\"HEAD\",status=\"204\"} 1"] {
            #expect(scrape.contains(expected), "\(expected) not in\n\(scrape)")
        }
    }

    /// Redis and PostgreSQL away at start: one line each on standard error naming them (not
    /// their passwords), writes unaffected; and one line when Redis comes back.
    @Test func unreachableServersAreLoggedOnceAndSoIsTheirReturn() throws {
        // Ports nothing listens on (yet).
        _ = system("python3 -c 'import socket; s, t = socket.socket(), socket.socket(); s.bind((\"127.0.0.1\", 0)); t.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1], t.getsockname()[1])' > '\(root.path)/ports.txt'")
        let ports = String(decoding: try readFile(root.path + "/ports.txt"), as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        let (port, pgPort) = (ports[0], ports[1])
        let config = root.path + "/strata.json"
        writeText(config, """
            { "data_dir": "\(data)",
              "mirror": { "dsn": "postgresql://strata:pg-sekret@127.0.0.1:\(pgPort)/market" },
              "cache": { "url": "redis://:sekret-word@127.0.0.1:\(port)", "prefix": "t" } }
            """)
        let (pid, url) = try start(["--config", config])
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        func errors() -> String { String(decoding: (try? readFile(root.path + "/err.txt")) ?? [], as: UTF8.self) }
        var err = ""
        for _ in 0..<600 where !(err.contains("strata: Redis publisher") && err.contains("strata: mirror")) {  // up to 30 s
            usleep(50_000)
            err = errors()
        }
        let lines = err.split(separator: "\n").sorted()
        #expect(lines.count == 2 && lines.allSatisfy { $0.hasSuffix("; retrying in the background (writes go on)") }, "\(err)")
        #expect(lines.first?.hasPrefix("strata: Redis publisher: cannot connect to Redis at 127.0.0.1:\(port)/0: ") == true, "\(err)")
        #expect(lines.last?.hasPrefix("strata: mirror: cannot connect to PostgreSQL at 127.0.0.1:\(pgPort)/market as strata: ") == true, "\(err)")
        #expect(post(url + "/api/v2/write?precision=s", "trade,symbol=A price=1 1704205800\n").code == 204)
        // Redis coming back needs redis-server (scripts/redis-server installs it). In CI it must
        // be there, as for the other service suites; elsewhere this half is reported as
        // cancelled (skipped), not passed.
        let redisInstalled = system("command -v redis-server > /dev/null") == 0
        if !redisInstalled && getenv("CI") == nil { try Test.cancel("redis-server is not installed: Redis coming back was not tested") }
        try #require(redisInstalled, "redis-server is not installed (scripts/redis-server installs it)")
        // Redis starts: the publisher connects on its next retry (backoff at most 5 s).
        let redis = "redis-server --port \(port) --bind 127.0.0.1 --requirepass sekret-word --save '' --appendonly no --daemonize yes --pidfile '\(root.path)/redis.pid' --dir '\(root.path)'"
        #expect(system(redis + " > /dev/null") == 0)
        defer { _ = system("kill $(cat '\(root.path)/redis.pid')") }
        for _ in 0..<1_200 where !err.contains("reached again") {  // up to 60 s
            usleep(50_000)
            err = errors()
        }
        #expect(err.hasSuffix("strata: Redis publisher: Redis at 127.0.0.1:\(port)/0 reached again; publishing\n"), "\(err)")
        #expect(err.split(separator: "\n").count == 3 && !err.contains("sekret"), "\(err)")
    }

    /// Redis away until SIGTERM: the rows it never got are counted, and one line says so.
    @Test func rowsRedisNeverGotAreNamedAtStop() throws {
        let config = root.path + "/strata.json"
        writeText(config, """
            { "data_dir": "\(data)", "cache": { "url": "redis://127.0.0.1:1", "prefix": "t" } }
            """)
        let (pid, url) = try start(["--config", config])
        var stopped = false
        defer { if !stopped { kill(pid, SIGKILL); _ = waitForExit(pid) } }
        let lines = (0..<1_500).map { "trade,symbol=A price=1 \(1_704_205_800 + $0)" }.joined(separator: "\n")
        #expect(post(url + "/api/v2/write?precision=s", lines + "\n").code == 204)
        kill(pid, SIGTERM)
        #expect(waitForExit(pid) == 0)
        stopped = true
        let err = String(decoding: try readFile(root.path + "/err.txt"), as: UTF8.self)
        #expect(err.hasSuffix("strata: Redis publisher: 1,500 rows not published (Redis unreachable); strata cache warm republishes the last hour\n"), "\(err)")
    }
}
