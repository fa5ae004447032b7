import Glibc
import StrataEngine
import StrataPlatform
import StrataTestSupport
import Testing

/// `strata serve` as a process, written to with curl, stopped with SIGTERM.
@Suite struct ServeTests {
    let root = TemporaryDirectory()
    var data: String { root.path + "/data" }

    /// Starts `strata serve` on a free port; returns its pid and base URL.
    func start(_ extra: [String] = [], listen: String = "127.0.0.1:0") throws -> (pid: pid_t, url: String) {
        let pid = spawnStrata(["serve", "--data-dir", data, "--listen", listen] + extra, stdout: root.path + "/out.txt", stderr: root.path + "/err.txt")
        for _ in 0..<600 {
            let out = String(decoding: (try? readFile(root.path + "/out.txt")) ?? [], as: UTF8.self)
            if let line = out.split(separator: "\n").first(where: { $0.hasPrefix("strata: listening on ") }) {
                let port = line.split(separator: ":").last!
                return (pid, "http://127.0.0.1:\(port)")
            }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        let err = String(decoding: (try? readFile(root.path + "/err.txt")) ?? [], as: UTF8.self)
        throw StrataError(.io, "strata serve did not start: \(err)")
    }

    /// POSTs `body` with curl (gzipped first with `gzip`); returns the status code and the
    /// response body.
    func post(_ url: String, _ body: String, headers: [String] = [], gzip: Bool = false) -> (code: Int, body: String) {
        writeText(root.path + "/req.txt", body)
        if gzip { _ = system("gzip -f '\(root.path)/req.txt' && mv '\(root.path)/req.txt.gz' '\(root.path)/req.txt'") }
        return postFile(url, root.path + "/req.txt", headers: headers + (gzip ? ["Content-Encoding: gzip"] : []))
    }

    func postFile(_ url: String, _ path: String, headers: [String] = []) -> (code: Int, body: String) {
        let h = headers.map { "-H '\($0)' " }.joined()
        let status = system("curl -s -o '\(root.path)/resp.txt' -w '%{http_code}' \(h)--data-binary @'\(path)' '\(url)' > '\(root.path)/code.txt'")
        guard status == 0 else { return (0, "") }
        let code = Int(String(decoding: (try? readFile(root.path + "/code.txt")) ?? [], as: UTF8.self)) ?? 0
        return (code, String(decoding: (try? readFile(root.path + "/resp.txt")) ?? [], as: UTF8.self))
    }

    func fetch(_ url: String) -> (code: Int, body: String) {
        guard system("curl -s -o '\(root.path)/resp.txt' -w '%{http_code}' '\(url)' > '\(root.path)/code.txt'") == 0 else { return (0, "") }
        let code = Int(String(decoding: (try? readFile(root.path + "/code.txt")) ?? [], as: UTF8.self)) ?? 0
        return (code, String(decoding: (try? readFile(root.path + "/resp.txt")) ?? [], as: UTF8.self))
    }

    func get(_ url: String, headers: [String] = []) -> Int {
        let h = headers.map { "-H '\($0)' " }.joined()
        guard system("curl -s -o /dev/null -w '%{http_code}' \(h)'\(url)' > '\(root.path)/code.txt'") == 0 else { return 0 }
        return Int(String(decoding: (try? readFile(root.path + "/code.txt")) ?? [], as: UTF8.self)) ?? 0
    }

    @Test func lineProtocolOverHTTPIsDurableAndExact() throws {
        let (pid, url) = try start(["--slow-query-seconds", "0"])
        var stopped = false
        defer { if !stopped { kill(pid, SIGKILL); _ = waitForExit(pid) } }
        #expect(get(url + "/health") == 200 && get(url + "/ready") == 200)
        // Influx v2 and v1 paths, precisions, several trades in one millisecond.
        let v2 = post(url + "/api/v2/write?org=o&bucket=b&precision=ms", """
            trade,symbol=ESH4 price=4512.25,size=1i 1704205800000
            trade,symbol=ESH4 price=4512.5,size=2i 1704205800000
            trade,symbol=NQH4 price=16800.25,size=1i 1704205800001
            """, headers: ["Authorization: Token anything"])
        #expect(v2.code == 204, "\(v2)")
        let v1 = post(url + "/write?db=market&precision=s", "trade,symbol=ESH4 price=4513,size=3i 1704205801\n")
        #expect(v1.code == 204, "\(v1)")
        // A bad line among good ones: 400 naming it, the good ones written.
        let partial = post(url + "/api/v2/write?bucket=b&precision=ns", """
            trade,symbol=ESH4 price=4514,size=4i 1704205802000000000
            trade,symbol=ESH4 price=oops 1704205803000000000
            trade,symbol=ESH4 price=4515,size=5 1704205804000000000
            """)
        #expect(partial.code == 400 && partial.body.contains("\"line\":2") && partial.body.contains("\"written\":2") && partial.body.contains("'oops' is not a number"), "\(partial)")
        #expect(post(url + "/api/v2/write?precision=h", "trade,symbol=A price=1").code == 400)
        // gzip bodies, as Telegraf sends them; damaged gzip; a body that inflates past the limit.
        let zipped = post(url + "/api/v2/write?precision=s", "trade,symbol=NQH4 price=16801,size=2i 1704205805\n", gzip: true)
        #expect(zipped.code == 204, "\(zipped)")
        let damaged = post(url + "/api/v2/write", "not gzip at all", headers: ["Content-Encoding: gzip"])
        #expect(damaged.code == 400 && damaged.body.contains("not valid gzip"), "\(damaged)")
        _ = system("head -c 70000000 /dev/zero | gzip -1 > '\(root.path)/bomb.gz'")
        let bomb = postFile(url + "/api/v2/write", root.path + "/bomb.gz", headers: ["Content-Encoding: gzip"])
        #expect(bomb.code == 413 && bomb.body.contains("inflates to more than"), "\(bomb)")
        #expect(post(url + "/api/v2/write", "trade,symbol=A price=1", headers: ["Content-Encoding: br"]).code == 415)
        // Queries see the rows at once (from memory), raw or as bars, JSON or CSV.
        let json = fetch(url + "/api/v1/query?measurement=trade&symbol=ESH4,NQH4&from=2024-01-02T14:30:00Z&to=2024-01-02T14:30:02Z&time_format=ns")
        #expect(json.code == 200 && json.body == """
            [
            {"time":1704205800000000000,"symbol":"ESH4","price":4512.25,"size":1},
            {"time":1704205800000000000,"symbol":"ESH4","price":4512.5,"size":2},
            {"time":1704205801000000000,"symbol":"ESH4","price":4513,"size":3},
            {"time":1704205802000000000,"symbol":"ESH4","price":4514,"size":4},
            {"time":1704205800001000000,"symbol":"NQH4","price":16800.25,"size":1}
            ]

            """, "\(json)")
        // A date alone as `to` is the whole day.
        let bars = fetch(url + "/api/v1/query?measurement=trade&symbol=ESH4&interval=1m&ohlcv=price,size&format=csv&from=2024-01-02&to=2024-01-02")
        #expect(bars.code == 200 && bars.body == "time,symbol,open,high,low,close,volume,count,vwap\n2024-01-02T14:30:00.000000000Z,ESH4,4512.25,4515,4512.25,4515,15,5,4513.816666666667\n", "\(bars)")
        let badQuery = fetch(url + "/api/v1/query?measurement=trade&symbol=ESH4&interval=1m")
        #expect(badQuery.code == 400 && badQuery.body.contains("'interval' and 'ohlcv' go together"), "\(badQuery)")
        #expect(fetch(url + "/api/v1/query?measurement=trade&symbol=ESH4&from=yesterday").body.contains("'from' 'yesterday' is not a time"))
        // Status: valid JSON with the query log (every query is "slow" at threshold 0).
        let status = fetch(url + "/status")
        writeText(root.path + "/status.json", status.body)
        let checked = system("python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); q=d[\"queries\"]; assert q[\"recent\"]==2 and len(q[\"slow\"])==2 and \"symbol=ESH4\" in q[\"slow\"][1][\"query\"], q; assert d[\"ingest\"][\"rows_appended\"]==7 and d[\"mirror\"] is None and d[\"cache\"] is None, d; assert \"storage\" in d' '\(root.path)/status.json' 2> '\(root.path)/status-check.txt'")
        #expect(status.code == 200 && checked == 0, "\(status.body)\(String(decoding: (try? readFile(root.path + "/status-check.txt")) ?? [], as: UTF8.self))")
        // Metrics: what was written and asked, and a scrape promtool accepts.
        let scrape = fetch(url + "/metrics")
        #expect(scrape.code == 200, "\(scrape)")
        for expected in ["strata_ingest_rows_total 7", "strata_ingest_rejected_lines_total 1", "strata_rows_appended_total 7",
                         "strata_http_requests_total{route=\"/api/v2/write\",method=\"POST\",status=\"204\"} 2",
                         "strata_http_requests_total{route=\"/api/v1/query\",method=\"GET\",status=\"400\"} 2",
                         "strata_query_duration_seconds_count{kind=\"raw\"} 1", "strata_query_duration_seconds_count{kind=\"bars\"} 1",
                         "# TYPE strata_wal_fsync_duration_seconds histogram"] {
            #expect(scrape.body.contains(expected), "\(expected) not in\n\(scrape.body)")
        }
        if system("command -v promtool >/dev/null") == 0 || getenv("CI") != nil {
            writeText(root.path + "/metrics.txt", scrape.body)
            let check = system("promtool check metrics < '\(root.path)/metrics.txt' > '\(root.path)/promtool.txt' 2>&1")
            #expect(check == 0, "\(String(decoding: (try? readFile(root.path + "/promtool.txt")) ?? [], as: UTF8.self))")
        }
        // Bars as JSON with RFC 3339 times, byte for byte (after the counts above).
        let jsonBars = fetch(url + "/api/v1/query?measurement=trade&symbol=ESH4&interval=1m&ohlcv=price,size")
        #expect(jsonBars.code == 200 && jsonBars.body == """
            [
            {"time":"2024-01-02T14:30:00.000000000Z","symbol":"ESH4","open":4512.25,"high":4515,"low":4512.25,"close":4515,"volume":15,"count":5,"vwap":4513.816666666667}
            ]

            """, "\(jsonBars)")
        // SIGTERM: the server stops, flushes and closes the store.
        kill(pid, SIGTERM)
        #expect(waitForExit(pid) == 0)
        stopped = true
        #expect(String(decoding: try readFile(root.path + "/out.txt"), as: UTF8.self).contains("strata: stopped"))
        let q = runStrata(["query", "--data-dir", data, "--measurement", "trade", "--symbol", "ESH4", "--time-format", "ns"])
        #expect(q.status == 0 && q.stdout.split(separator: "\n").count == 6, "\(q.stdout)\(q.stderr)")  // header + 5 rows
        let nq = runStrata(["query", "--data-dir", data, "--measurement", "trade", "--symbol", "NQH4", "--time-format", "ns"])
        #expect(nq.stdout.contains("1704205805000000000,NQH4,16801,2"), "\(nq.stdout)")
        #expect(q.stdout.contains("1704205800000000000,ESH4,4512.25,1") && q.stdout.contains("1704205800000000000,ESH4,4512.5,2") && q.stdout.contains("1704205804000000000,ESH4,4515,5"), "\(q.stdout)")
    }

    /// InfluxData's Python client writes (plain and gzip); counts and sums read back exact,
    /// through the query API and, after a SIGTERM, through the CLI.
    @Test(.enabled(if: system("python3 -c 'import influxdb_client' 2>/dev/null") == 0 || getenv("CI") != nil, "needs influxdb-client (pip), which scripts/test installs"))
    func theInfluxPythonClientWritesExactly() throws {
        let (pid, url) = try start()
        var stopped = false
        defer { if !stopped { kill(pid, SIGKILL); _ = waitForExit(pid) } }
        var script = "\(#filePath)"
        for _ in 0..<3 { script = String(script[..<script.lastIndex(of: "/")!]) }
        script += "/scripts/clients/influx-write.py"
        let status = system("python3 '\(script)' '\(url)' 30000 > '\(root.path)/py.txt' 2>&1")
        let output = String(decoding: (try? readFile(root.path + "/py.txt")) ?? [], as: UTF8.self)
        #expect(status == 0 && output.contains("ok: 30001 rows"), "\(output)")
        kill(pid, SIGTERM)
        #expect(waitForExit(pid) == 0)
        stopped = true
        let q = runStrata(["query", "--data-dir", data, "--measurement", "trade", "--symbol", "ESH4,NQH4,005930,GZ"])
        #expect(q.status == 0 && q.stdout.split(separator: "\n").count == 30_002, "\(q.stderr)")
    }

    /// A key made by `strata keys create`: (key, keys-file line).
    func makeKey(_ name: String, _ role: String) -> (key: String, line: String) {
        let r = runStrata(["keys", "create", "--name", name, "--role", role])
        let lines = r.stdout.split(separator: "\n")
        return (String(lines[0].dropFirst("key: ".count)), String(lines[1].dropFirst("keys file line: ".count)))
    }

    /// Signs a request as a client would (Python's hmac, independent of the server's code):
    /// returns the X-Strata-* headers.
    func signed(_ name: String, _ key: String, path: String, query: String, body: String, age: Int = 0) -> [String] {
        writeText(root.path + "/sign-body.txt", body)
        let script = "import hmac,hashlib,sys,time; key=sys.argv[1]; ts=str(int(time.time())-int(sys.argv[5])); body=open(sys.argv[4],'rb').read(); msg='POST\\n'+sys.argv[2]+'\\n'+sys.argv[3]+'\\n'+ts+'\\n'+hashlib.sha256(body).hexdigest(); print(ts, hmac.new(hashlib.sha256(key.encode()).digest(), msg.encode(), hashlib.sha256).hexdigest())"
        _ = system("python3 -c \"\(script)\" '\(key)' '\(path)' '\(query)' '\(root.path)/sign-body.txt' \(age) > '\(root.path)/sig.txt'")
        let parts = String(decoding: (try? readFile(root.path + "/sig.txt")) ?? [], as: UTF8.self).split(separator: " ")
        guard parts.count == 2 else { return [] }
        return ["X-Strata-Key: \(name)", "X-Strata-Timestamp: \(parts[0])", "X-Strata-Signature: \(parts[1].trimmingNewline)"]
    }

    /// API keys: every route but /health, /ready and /ping needs one of the right role; signed
    /// requests within five minutes work; nothing says which part was wrong.
    /// GET /api/v1/latest: each symbol's last row, from memory or from segments, and at
    /// equal times the last to arrive; the same from `strata query --latest`.
    @Test func theLatestRowOfEachSymbol() throws {
        let (pid, url) = try start()
        var stopped = false
        defer { if !stopped { kill(pid, SIGKILL); _ = waitForExit(pid) } }
        let lines = """
            trade,symbol=ESH4 price=1,size=1i 1704205800
            trade,symbol=ESH4 price=3,size=3i 1704205900
            trade,symbol=NQH4 price=5,size=5i 1704205700
            trade,symbol=ESH4 price=2,size=2i 1704205850
            trade,symbol=ESH4 price=4,size=4i 1704205900

            """
        #expect(post(url + "/api/v2/write?precision=s", lines).code == 204)
        let expected = "time,symbol,price,size\n1704205900000000000,ESH4,4,4\n1704205700000000000,NQH4,5,5\n"
        let all = fetch(url + "/api/v1/latest?measurement=trade&format=csv&time_format=ns")
        #expect(all.code == 200 && all.body == expected, "\(all)")
        let one = fetch(url + "/api/v1/latest?measurement=trade&symbol=NQH4&format=csv&time_format=ns")
        #expect(one.body == "time,symbol,price,size\n1704205700000000000,NQH4,5,5\n", "\(one)")
        let json = fetch(url + "/api/v1/latest?measurement=trade&symbol=ESH4")
        #expect(json.code == 200 && json.body.contains("\"price\":4"), "\(json)")
        #expect(fetch(url + "/api/v1/latest?measurement=trade&from=2024-01-01").code == 400)
        #expect(fetch(url + "/api/v1/latest?measurement=trade&symbol=CLH4").code == 404)
        #expect(fetch(url + "/api/v1/latest?measurement=bond").code == 404)
        // The symbols, listed while their rows are still in memory: none in segments yet.
        let symbols = fetch(url + "/api/v1/symbols?measurement=trade&format=csv")
        #expect(symbols.code == 200 && symbols.body == "symbol,partitions,segments,archived_segments,rows,bytes,first,last\nESH4,0,0,0,0,0,,\nNQH4,0,0,0,0,0,,\n", "\(symbols)")
        #expect(fetch(url + "/api/v1/symbols?measurement=bond").code == 404)
        #expect(fetch(url + "/api/v1/symbols?measurement=trade&symbol=ESH4").code == 400)
        // After a clean stop the rows are in segments: the CLI answers the same.
        kill(pid, SIGTERM)
        _ = waitForExit(pid)
        stopped = true
        let cli = runStrata(["query", "--data-dir", data, "--measurement", "trade", "--latest", "--time-format", "ns"])
        #expect(cli.status == 0 && cli.stdout == expected, "\(cli.stdout)\(cli.stderr)")
        // Flushed, `strata ls` counts them.
        let ls = runStrata(["ls", "--data-dir", data, "trade"])
        #expect(ls.stdout == "symbol,partitions,segments,archived_segments,rows,bytes,first,last\n"
            + "ESH4,1,1,0,4,\(segmentBytes("ESH4")),2024-01-02T14:30:00.000000000Z,2024-01-02T14:31:40.000000000Z\n"
            + "NQH4,1,1,0,1,\(segmentBytes("NQH4")),2024-01-02T14:28:20.000000000Z,2024-01-02T14:28:20.000000000Z\n", "\(ls.stdout)\(ls.stderr)")
        let top = runStrata(["ls", "--data-dir", data, "--format", "json"])
        #expect(top.stdout.hasPrefix("[{\"measurement\":\"trade\",\"partition\":\"day\",\"layout\":\"series\",\"symbols\":2,\"partitions\":2,\"segments\":2,"), "\(top.stdout)")
        let partitions = runStrata(["ls", "--data-dir", data, "trade", "ESH4"])
        #expect(partitions.stdout.lines().count == 2 && partitions.stdout.lines()[1].hasPrefix("2024-01-02,1,0,4,"), "\(partitions.stdout)")
        #expect(runStrata(["ls", "--data-dir", data, "bond"]).stderr.contains("no measurement 'bond'"))
    }

    /// Bytes of a series' segment files on 2024-01-02.
    func segmentBytes(_ symbol: String) -> Int {
        segmentFiles(data + "/trade/" + symbol).reduce(0) { $0 + ((try? FileSystem.fileSize($1)) ?? 0) }
    }

    @Test func apiKeysRolesAndSignatures() throws {
        let writer = makeKey("feed", "write"), reader = makeKey("notebook", "read"), admin = makeKey("ops", "admin")
        #expect(writer.key.hasPrefix("strata_") && writer.line.hasPrefix("feed write sha256:") && writer.line.count == "feed write sha256:".count + 64)
        writeText(root.path + "/keys", "# Strata API keys\n\(writer.line)\n\(reader.line)\n\n\(admin.line)\n")
        // With keys it may listen beyond loopback.
        let (pid, url) = try start(["--api-keys", root.path + "/keys"], listen: "0.0.0.0:0")
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        let line = "trade,symbol=ESH4 price=1,size=1i 1704205800"
        let write = url + "/api/v2/write?precision=s"
        #expect(get(url + "/health") == 200 && get(url + "/ready") == 200 && get(url + "/ping") == 204)
        let none = post(write, line)
        #expect(none.code == 401 && none.body.contains("a valid API key is required"), "\(none)")
        #expect(post(write, line, headers: ["Authorization: Bearer strata_wrong"]).code == 401)
        #expect(post(write, line, headers: ["Authorization: Bearer \(reader.key)"]).code == 403)
        #expect(post(write, line, headers: ["Authorization: Bearer \(writer.key)"]).code == 204)
        #expect(post(url + "/write?precision=s", line, headers: ["Authorization: Token \(writer.key)"]).code == 204)
        #expect(post(write, line, headers: ["Authorization: Token \(admin.key)"]).code == 204)
        let record = "{\"symbol\": \"ESH4\", \"timestamp\": 1704205800, \"price\": 1, \"data_type\": \"quote\"}"
        #expect(post(url + "/api/v1/records", record).code == 401)
        #expect(post(url + "/api/v1/records", record, headers: ["Authorization: Bearer \(reader.key)"]).code == 403)
        #expect(post(url + "/api/v1/records", record, headers: ["Authorization: Bearer \(writer.key)"]).code == 204)
        let query = url + "/api/v1/query?measurement=trade&symbol=ESH4"
        #expect(get(query) == 401 && get(query, headers: ["Authorization: Bearer \(writer.key)"]) == 403)
        #expect(get(query, headers: ["Authorization: Bearer \(reader.key)"]) == 200 && get(query, headers: ["Authorization: Bearer \(admin.key)"]) == 200)
        // InfluxDB 3's write takes a write key; HEAD of a query a read key, as GET does.
        let v3 = url + "/api/v3/write_lp?db=m&precision=second"
        #expect(post(v3, line, headers: ["Authorization: Bearer \(writer.key)"]).code == 204 && post(v3, line, headers: ["Authorization: Bearer \(reader.key)"]).code == 403)
        #expect(exchange("HEAD", query).code == 401 && exchange("HEAD", query, headers: ["Authorization: Bearer \(reader.key)"]).code == 200)
        // /status is the admin's; /metrics the readers'.
        #expect(get(url + "/status", headers: ["Authorization: Bearer \(reader.key)"]) == 403 && get(url + "/status", headers: ["Authorization: Bearer \(admin.key)"]) == 200)
        #expect(get(url + "/metrics") == 401 && get(url + "/metrics", headers: ["Authorization: Bearer \(reader.key)"]) == 200)
        // strata status asks the server, with an admin key.
        let status = runStrata(["status", "--url", url, "--api-key", admin.key])
        #expect(status.status == 0 && status.stdout.hasPrefix("{\"store\":") && status.stdout.contains("\"scheduled\":["), "\(status.stdout)\(status.stderr)")
        let refused = runStrata(["status", "--url", url], environment: ["STRATA_API_KEY": reader.key])
        #expect(refused.status != 0 && refused.stderr.contains("/status answered 403"), "\(refused.stderr)")
        // Signed requests: right, tampered, too old, unknown key.
        let headers = signed("feed", writer.key, path: "/api/v2/write", query: "precision=s", body: line)
        #expect(headers.count == 3 && post(write, line, headers: headers).code == 204)
        #expect(post(write, line + "0", headers: headers).code == 401)
        #expect(post(write, line, headers: signed("feed", writer.key, path: "/api/v2/write", query: "precision=s", body: line, age: 600)).code == 401)
        #expect(post(write, line, headers: signed("nobody", writer.key, path: "/api/v2/write", query: "precision=s", body: line)).code == 401)
        #expect(post(write, line, headers: signed("notebook", reader.key, path: "/api/v2/write", query: "precision=s", body: line)).code == 403)
        // A bad keys file is named.
        writeText(root.path + "/bad-keys", "feed superuser sha256:00\n")
        let bad = runStrata(["serve", "--data-dir", data, "--api-keys", root.path + "/bad-keys"])
        #expect(bad.status != 0 && bad.stderr.contains("bad-keys, line 1: bad API key line (role 'superuser' is not read, write or admin)"), "\(bad.stderr)")
    }

    /// With [mirror] and [cache] configured, the server replicates and publishes what it
    /// takes, and /metrics shows both.
    @Test(.enabled(if: (getenv("STRATA_TEST_PG_DSN") != nil && getenv("STRATA_TEST_REDIS_URL") != nil) || getenv("CI") != nil,
                   "needs the PostgreSQL and Redis servers scripts/test starts"))
    func theMirrorAndThePublisherRunInsideTheServer() throws {
        let unique = "serve_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
        let config = root.path + "/strata.json"
        writeText(config, """
            {
              "data_dir": "\(data)",
              "mirror": { "dsn": "\(String(cString: getenv("STRATA_TEST_PG_DSN")!))", "schema": "\(unique)" },
              "cache": { "url": "\(String(cString: getenv("STRATA_TEST_REDIS_URL")!))", "prefix": "\(unique)" },
              "schedule": { "quality_every": "1s" }
            }
            """)
        let (pid, url) = try start(["--config", config])
        var stopped = false
        defer { if !stopped { kill(pid, SIGKILL); _ = waitForExit(pid) } }
        #expect(post(url + "/api/v2/write?precision=s", "trade,symbol=ESH4 price=1,size=1i 1704205800\ntrade,symbol=ESH4 price=2,size=2i 1704205801\ntrade,symbol=NQH4 price=3,size=3i 1704205802\n").code == 204)
        var scrape = ""
        for _ in 0..<200 {
            scrape = fetch(url + "/metrics").body
            if scrape.contains("strata_mirror_rows_replicated_total 3") && scrape.contains("strata_cache_rows_published_total 3")
                && scrape.contains("strata_quality_findings") { break }
            usleep(50_000)
        }
        #expect(scrape.contains("strata_mirror_rows_replicated_total 3") && scrape.contains("strata_mirror_lag_rows 0"), "\(scrape)")
        #expect(scrape.contains("strata_cache_rows_published_total 3") && scrape.contains("strata_cache_connected 1") && scrape.contains("strata_cache_rows_dropped_total 0"), "\(scrape)")
        // Every metric the Grafana dashboard charts is one the server exports.
        var dashboardPath = "\(#filePath)"
        for _ in 0..<3 { dashboardPath = String(dashboardPath[..<dashboardPath.lastIndex(of: "/")!]) }
        let dashboard = String(decoding: try readFile(dashboardPath + "/config/grafana/strata-dashboard.json"), as: UTF8.self)
        var names = Set<String>()
        var rest = Substring(dashboard)
        while let r = rest.range(of: "strata_") {
            let name = rest[r.lowerBound...].prefix { $0.isLowercase || $0 == "_" }
            if name.count > "strata_".count { names.insert(String(name)) }
            rest = rest[r.upperBound...]
        }
        names.remove("strata_")
        #expect(names.count >= 20, "\(names)")
        for name in names.sorted() where !name.hasPrefix("strata_overview") {
            #expect(scrape.contains(name), "the dashboard charts \(name), which /metrics lacks")
        }
        kill(pid, SIGTERM)
        #expect(waitForExit(pid) == 0)
        stopped = true
        let verify = runStrata(["mirror", "verify", "--config", config])
        #expect(verify.status == 0 && verify.stdout.contains("mirror: identical"), "\(verify.stdout)\(verify.stderr)")
    }

    /// Beyond the concurrent requests allowed, 503 with Retry-After at once; the request
    /// holding the slot (a slow upload) still completes.
    @Test func requestsBeyondTheLimitAreToldToRetry() throws {
        let (pid, url) = try start(["--max-concurrent-requests", "1"])
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        var body = ""
        for i in 0..<9_000 { body += "trade,symbol=SLOW price=\(i),size=1i \(1_704_205_800 + i)\n" }
        writeText(root.path + "/slow.txt", body)
        func finished() -> String { String(decoding: (try? readFile(root.path + "/slow-code.txt")) ?? [], as: UTF8.self) }
        var busy = (code: 0, body: "")
        var slow = ""
        // An upload that arrives while one of the polling queries holds the slot is itself
        // turned away (more likely on a loaded machine): then it is sent again.
        for _ in 0..<6 {
            busy = (0, "")
            _ = unlink(root.path + "/slow-code.txt")
            // ~400 KB at 100 KB/s: the slot is held for about four seconds.
            _ = system("curl -s -o /dev/null -w '%{http_code}' --limit-rate 100K --data-binary @'\(root.path)/slow.txt' '\(url)/api/v2/write?precision=s' > '\(root.path)/slow-code.tmp' && mv '\(root.path)/slow-code.tmp' '\(root.path)/slow-code.txt' &")
            // Once the upload has begun (curl may take a moment to start on a busy
            // machine), another request is turned away. The first poll waits for curl to
            // connect: a poll sent at the same instant takes the slot and turns the
            // upload away instead.
            usleep(300_000)
            for _ in 0..<35 where finished().isEmpty {
                busy = fetch(url + "/api/v1/query?measurement=trade&symbol=SLOW")
                if busy.code == 503 { break }
                usleep(100_000)
            }
            for _ in 0..<100 {
                slow = finished()
                if !slow.isEmpty { break }
                usleep(100_000)
            }
            if slow != "503" { break }
        }
        #expect(busy.code == 503 && busy.body.contains("more than 1 requests at once"), "\(busy)")
        #expect(slow == "204")
        #expect(fetch(url + "/api/v1/query?measurement=trade&symbol=SLOW&format=csv").body.split(separator: "\n").count == 9_001)
    }

    /// Tiering and backups on a schedule, their runs in /status and /metrics.
    @Test func tieringAndBackupsRunOnSchedule() throws {
        let (pid, url) = try start(["--tier-every", "1s", "--backup-every", "1s", "--quality-every", "never", "--tune-every", "never"])
        var stopped = false
        defer { if !stopped { kill(pid, SIGKILL); _ = waitForExit(pid) } }
        #expect(post(url + "/api/v2/write?precision=s", "trade,symbol=ESH4 price=1,size=1i 1704205800\n").code == 204)
        // A backup that ran before the write holds 0 rows; wait for one that ran after it
        // (the only summary with "rows" in it is the backup's: "backup ID: N rows, M objects
        // uploaded"), and for the tier job's first run.
        var status = ""
        let deadline = monotonicNanoseconds() + 60_000_000_000
        repeat {
            status = fetch(url + "/status").body
            if status.contains(": 1 rows, ") && status.contains("\"job\":\"tier\"") && !status.contains("\"runs\":0") { break }
            usleep(100_000)
        } while monotonicNanoseconds() < deadline
        writeText(root.path + "/status.json", status)
        let checked = system("python3 -c 'import json,re,sys; d=json.load(open(sys.argv[1])); jobs={j[\"job\"]: j for j in d[\"scheduled\"]}; assert set(jobs)=={\"tier\",\"backup\"}, jobs; assert all(j[\"runs\"]>=1 and j[\"failures\"]==0 and j[\"last_success\"] for j in jobs.values()), jobs; assert re.fullmatch(r\"backup [^ ]+: 1 rows, [0-9]+ objects uploaded\", jobs[\"backup\"][\"last_summary\"]), jobs' '\(root.path)/status.json' 2> '\(root.path)/check.txt'")
        #expect(checked == 0, "\(status)\(String(decoding: (try? readFile(root.path + "/check.txt")) ?? [], as: UTF8.self))")
        let scrape = fetch(url + "/metrics").body
        #expect(scrape.contains("strata_scheduled_failures_total{job=\"backup\"} 0") && scrape.contains("strata_scheduled_runs_total{job=\"tier\"}"), "\(scrape)")
        kill(pid, SIGTERM)
        #expect(waitForExit(pid) == 0)
        stopped = true
        let list = runStrata(["backup", "list", "--data-dir", data])
        #expect(list.status == 0 && list.stdout.split(separator: "\n").count >= 2, "\(list.stdout)\(list.stderr)")
    }

    /// JSON records in the seed's shape, the scheduled data-quality scan and auto-tuning,
    /// seen through the query API, /status and /metrics.
    @Test func jsonRecordsQualityScansAndTuningAreVisible() throws {
        let (pid, url) = try start(["--quality-every", "1s", "--tune-every", "1s"])
        var stopped = false
        defer { if !stopped { kill(pid, SIGKILL); _ = waitForExit(pid) } }
        let now = CivilTime.now() / 1_000_000_000 * 1_000_000_000
        let records = """
            [{"symbol": "005930", "timestamp": \(now / 1_000_000), "price": 71500, "volume": 120, "data_type": "trade"},
             {"symbol": "005930", "timestamp": \(now / 1_000_000), "price": 71500, "volume": 120, "data_type": "trade"},
             {"symbol": "005930", "timestamp": "\(CivilTime.format(now + 1_000_000))", "price": 0, "volume": 5, "data_type": "trade"},
             {"symbol": "005930", "timestamp": "yesterday", "price": 1, "volume": 5, "data_type": "trade"},
             {"symbol": "005930", "timestamp": \(now / 1_000_000_000), "data_type": "bar", "open_price": 10, "high_price": 9, "low_price": 8, "close_price": 9.5, "volume": 1000}]
            """
        let partial = post(url + "/api/v1/records", records)
        #expect(partial.code == 400 && partial.body.contains("\"written\":4") && partial.body.contains("\"rejected\":1"), "\(partial)")
        #expect(partial.body.contains("{\"line\":4,\"field\":\"timestamp\",\"message\":\"record 4: 'timestamp' 'yesterday' is not a time"), "\(partial.body)")
        #expect(partial.body.contains("partial write: 1 of 5 records refused, 4 written"), "\(partial.body)")
        let none = post(url + "/api/v1/records", "{\"symbol\": \"A\", \"timestamp\": \(now), \"bid\": 1.5}\n")
        #expect(none.code == 400 && none.body.contains("nothing written: the record refused; line 1: record 1: 'data_type'"), "\(none.body)")
        #expect(post(url + "/api/v1/records?measurement=quote", "{\"symbol\": \"A\", \"timestamp\": \(now), \"bid\": 1.5}\n").code == 204)
        let rows = fetch(url + "/api/v1/query?measurement=trade&symbol=005930&format=csv&time_format=ns")
        #expect(rows.body == "time,symbol,price,volume\n\(now),005930,71500,120\n\(now),005930,71500,120\n\(now + 1_000_000),005930,0,5\n", "\(rows.body)")
        // The scan runs every second; its findings reach /status and /metrics.
        var status = ""
        for _ in 0..<100 {
            status = fetch(url + "/status").body
            if status.contains("\"series\":3,") { break }
            usleep(100_000)
        }
        writeText(root.path + "/status.json", status)
        let checked = system("""
            python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); q=d["quality"]; f=q["findings"]
            assert (f["duplicate"], f["non_positive_price"], f["ohlc"], f["gap"]) == (1, 1, 1, 0), q
            assert q["series_with_findings"] == 2 and q["worst"][0]["symbol"] == "005930", q
            t=d["tuning"]; assert t["enabled"] and t["flush_rows"] == 1048576 and t["flush_rows_bounds"] == [65536, 4194304], t
            assert [j["job"] for j in d["scheduled"]] == ["tier", "quality", "tune"], d["scheduled"]
            a=d["archive"]; assert a["location"].startswith("file:///") and a["location"].endswith("/data/_archive") and a["encrypted"] is False and a["cache"]["capacity_bytes"] > 0, a' '\(root.path)/status.json' 2> '\(root.path)/check.txt'
            """)
        #expect(checked == 0, "\(status)\(String(decoding: (try? readFile(root.path + "/check.txt")) ?? [], as: UTF8.self))")
        let scrape = fetch(url + "/metrics").body
        for expected in ["strata_quality_findings{kind=\"duplicate\"} 1", "strata_quality_findings{kind=\"ohlc\"} 1",
                         "strata_quality_series_with_findings 2", "strata_out_of_order_rows_total 0", "strata_tuning_flush_rows 1048576",
                         "strata_http_requests_total{route=\"/api/v1/records\",method=\"POST\",status=\"400\"} 2"] {
            #expect(scrape.contains(expected), "\(expected) not in\n\(scrape)")
        }
        if system("command -v promtool >/dev/null") == 0 || getenv("CI") != nil {
            writeText(root.path + "/metrics.txt", scrape)
            let check = system("promtool check metrics < '\(root.path)/metrics.txt' > '\(root.path)/promtool.txt' 2>&1")
            #expect(check == 0, "\(String(decoding: (try? readFile(root.path + "/promtool.txt")) ?? [], as: UTF8.self))")
        }
        kill(pid, SIGTERM)
        #expect(waitForExit(pid) == 0)
        stopped = true
    }

    /// Symbols are instrument ids, and some have `/` (BRK/A, EUR/USD) or dots: they are
    /// stored under percent-encoded names that cannot leave the store, and read back as given.
    @Test func symbolsWithSlashesAndDotsAreStoredSafely() throws {
        let (pid, url) = try start()
        var stopped = false
        defer { if !stopped { kill(pid, SIGKILL); _ = waitForExit(pid) } }
        let body = "trade,symbol=BRK/A price=1,size=1i 1704205800\ntrade,symbol=.. price=2,size=2i 1704205800\ntrade,symbol=../../etc price=3,size=3i 1704205800\n"
        #expect(post(url + "/api/v2/write?precision=s", body).code == 204)
        let rows = fetch(url + "/api/v1/query?measurement=trade&symbol=BRK%2FA,..,..%2F..%2Fetc&format=csv&time_format=ns")
        #expect(rows.body == "time,symbol,price,size\n1704205800000000000,BRK/A,1,1\n1704205800000000000,..,2,2\n1704205800000000000,../../etc,3,3\n", "\(rows)")
        // A NUL is refused, with the line, and the valid line beside it written.
        let nul = post(url + "/api/v2/write?precision=s", "trade,symbol=A\u{0}B price=1 1704205800\ntrade,symbol=OK price=1 1704205800\n")
        #expect(nul.code == 400 && nul.body.contains("\"written\":1") && nul.body.contains("line 1"), "\(nul)")
        kill(pid, SIGTERM)
        #expect(waitForExit(pid) == 0)
        stopped = true
        let names = try FileSystem.list(data + "/trade").filter { !$0.hasPrefix("_") }.sorted()
        #expect(names == ["%2E.", "%2E.%2F..%2Fetc", "BRK%2FA", "OK"], "\(names)")
    }

    @Test func onlyLoopbackUntilThereAreKeys() {
        let r = runStrata(["serve", "--data-dir", data, "--listen", "0.0.0.0:0"])
        #expect(r.status != 0 && r.stderr.contains("loopback only"), "\(r.stderr)")
    }
}

extension Substring {
    fileprivate var trimmingNewline: Substring { last == "\n" ? dropLast() : self }
}
