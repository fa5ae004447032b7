import Glibc
import StrataEngine
import StrataTestSupport
import Testing

/// What InfluxDB's clients and other HTTP readers expect of the server, checked with curl
/// byte for byte and then with the real clients (influxdb-client, influxdb3-python, polars).
extension ServeTests {
    /// /health, /ready and /ping in InfluxDB 2's shapes, its version headers on every
    /// response, and HEAD wherever GET answers (the same status and headers, no body).
    @Test func healthReadyPingAndHeadAnswerAsInfluxDB() throws {
        let (pid, url) = try start()
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        let health = exchange("GET", url + "/health")
        #expect(health.code == 200 && health.headers["content-type"] == "application/json; charset=utf-8"
                && health.body == "{\"name\":\"strata\",\"message\":\"ready for queries and writes\",\"status\":\"pass\",\"checks\":[],\"version\":\"\(StrataVersion.number)\",\"commit\":\"\"}\n", "\(health)")
        let ready = exchange("GET", url + "/ready")
        #expect(ready.code == 200 && ready.body.hasPrefix("{\"status\":\"ready\",\"started\":\"20") && ready.body.contains("\"up\":\""), "\(ready)")
        for path in ["/ping", "/health", "/api/v1/query?measurement=x&symbol=y"] {
            let r = exchange("GET", url + path)
            #expect(r.headers["x-influxdb-version"] == StrataVersion.number && r.headers["x-influxdb-build"] == "OSS", "\(path): \(r)")
        }
        #expect(post(url + "/api/v2/write?precision=s", "trade,symbol=ESH4 price=1,size=1i 1704205800\n").code == 204)
        let query = url + "/api/v1/query?measurement=trade&symbol=ESH4&format=csv"
        let get = exchange("GET", query)
        let head = exchange("HEAD", query)
        #expect(get.code == 200 && get.body.hasSuffix("ESH4,1,1\n"), "\(get)")
        // The query's whole length (object-store readers ask it first), then a byte range.
        #expect(head.code == 200 && head.headers["content-type"] == "text/csv; charset=utf-8"
                && head.headers["content-length"] == "\(get.body.utf8.count)" && head.headers["accept-ranges"] == "bytes", "\(head)")
        let range = exchange("GET", query, headers: ["Range: bytes=5-"])
        #expect(range.code == 206 && range.body == String(get.body.dropFirst(5)) && range.headers["content-range"] == "bytes 5-\(get.body.utf8.count - 1)/\(get.body.utf8.count)", "\(range)")
        #expect(exchange("GET", query, headers: ["Range: bytes=-4"]).body == "1,1\n")
        #expect(exchange("GET", query, headers: ["Range: bytes=9999-"]).code == 416)
        #expect(exchange("HEAD", url + "/api/v1/query?measurement=trade&symbol=NOPE").code == 404)
        let port = url.split(separator: ":").last!
        for path in ["/api/v1/query?measurement=trade&symbol=ESH4", "/api/v1/query?measurement=trade&symbol=NOPE", "/metrics", "/status", "/health", "/ready", "/ping"] {
            // Raw HTTP: the answer to HEAD ends with its headers, whatever its length says.
            writeText(root.path + "/raw.sh", "exec 3<>/dev/tcp/127.0.0.1/\(port); printf 'HEAD \(path) HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' >&3; cat <&3\n")
            let status = system("timeout 10 bash '\(root.path)/raw.sh' > '\(root.path)/raw.txt'")
            let raw = String(decoding: (try? readFile(root.path + "/raw.txt")) ?? [], as: UTF8.self)
            let code = exchange("GET", url + path).code
            #expect(status == 0 && raw.hasPrefix("HTTP/1.1 \(code) ") && raw.hasSuffix("\r\n\r\n"), "\(path): \(raw)")
        }
        // A scheduled job that has not succeeded yet has no last-success sample, not 0 (1970).
        let scrape = fetch(url + "/metrics").body
        #expect(scrape.contains("strata_scheduled_runs_total{job=\"tier\"}") && !scrape.contains("_last_success_timestamp_seconds{job=\"tier\"} 0\n"), "\(scrape)")
        let method = exchange("HEAD", url + "/api/v2/write")
        #expect(method.code == 405 && method.headers["allow"] == "POST", "\(method)")
    }

    /// InfluxDB 3's write endpoint: precision auto (per timestamp) or named, accept_partial,
    /// no_sync; refused lines in its shape (`error`, `data`) beside Strata's fields.
    @Test func influxDB3WriteEndpoint() throws {
        let (pid, url) = try start()
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        let v3 = url + "/api/v3/write_lp?db=market"
        // auto: seconds, milliseconds and nanoseconds in one body, each read by its magnitude.
        let auto = exchange("POST", v3, body: "trade,symbol=A price=1 1704205800\ntrade,symbol=A price=2 1704205801000\ntrade,symbol=A price=3 1704205802000000000\n")
        #expect(auto.code == 204 && auto.headers["warning"] == nil, "\(auto)")
        #expect(exchange("POST", v3 + "&precision=second&no_sync=true", body: "trade,symbol=A price=4 1704205803\n").code == 204)
        #expect(exchange("POST", v3 + "&precision=ms", body: "trade,symbol=A price=5 1704205804000\n").code == 204)
        let rows = fetch(url + "/api/v1/query?measurement=trade&symbol=A&format=csv&time_format=ns").body
        #expect(rows == "time,symbol,price\n1704205800000000000,A,1\n1704205801000000000,A,2\n1704205802000000000,A,3\n1704205803000000000,A,4\n1704205804000000000,A,5\n", "\(rows)")
        let strict = exchange("POST", v3 + "&precision=second&accept_partial=false", body: "trade,symbol=B price=1 1704205800\ntrade,symbol=B price=oops 1704205801\n")
        #expect(strict.code == 400 && strict.body.contains("\"error\":\"parsing failed for write_lp endpoint\"")
                && strict.body.contains("\"data\":[{\"original_line\":\"trade,symbol=B price=oops 1704205801\",\"line_number\":2,\"error_message\":")
                && strict.body.contains("\"written\":0") && strict.body.contains("nothing written: 1 of 2 lines refused (accept_partial=false)"), "\(strict)")
        #expect(exchange("GET", url + "/api/v1/query?measurement=trade&symbol=B").code == 404, "accept_partial=false wrote a row")
        let partial = exchange("POST", v3 + "&precision=second", body: "trade,symbol=B price=1 1704205800\ntrade,symbol=B price=oops 1704205801\n")
        #expect(partial.code == 400 && partial.body.contains("\"error\":\"partial write of line protocol occurred\"") && partial.body.contains("\"written\":1"), "\(partial)")
        #expect(exchange("POST", v3 + "&precision=hour", body: "trade,symbol=B price=1 1\n").body.contains("unknown precision 'hour'"))
        #expect(exchange("POST", v3 + "&no_sync=maybe", body: "trade,symbol=B price=1 1\n").body.contains("'no_sync' is true or false, not 'maybe'"))
    }

    /// A body whose times all fall before 1971 is stored as sent (InfluxDB's semantics) and
    /// the reply says so; the same times with their right precision get no warning.
    @Test func aWriteThatLandsIn1970IsWarnedAbout() throws {
        let (pid, url) = try start()
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        let ms = "trade,symbol=A price=1 1704205800000\ntrade,symbol=A price=2 1704205801000\n"
        let plain = exchange("POST", url + "/api/v2/write", body: ms)
        #expect(plain.code == 204 && plain.headers["warning"]?.hasPrefix("199 strata \"every timestamp of this write falls before 1971 (read with precision=ns)") == true, "\(plain)")
        #expect(exchange("POST", url + "/api/v2/write?precision=ms", body: ms).headers["warning"] == nil)
        // Stored as sent: one row in January 1970, two in 2024.
        let rows = fetch(url + "/api/v1/query?measurement=trade&symbol=A&format=csv&time_format=ns").body
        #expect(rows.hasPrefix("time,symbol,price\n1704205800000,A,1\n1704205801000,A,2\n1704205800000000000,A,1\n"), "\(rows)")
    }

    /// Unknown or repeated query parameters are refused by name; a symbol with a comma is
    /// queried with `\,` or a repeated `symbol=`, by HTTP and by the CLI.
    @Test func queryParametersAreCheckedAndSymbolsMayHoldCommas() throws {
        let (pid, url) = try start()
        var stopped = false
        defer { if !stopped { kill(pid, SIGKILL); _ = waitForExit(pid) } }
        #expect(post(url + "/api/v2/write?precision=s", "trade,symbol=BRK\\ A\\,B price=1 1704205800\ntrade,symbol=ESH4 price=2 1704205800\n").code == 204)
        let typo = exchange("GET", url + "/api/v1/query?measurement=trade&symbol=ESH4&form=csv")
        #expect(typo.code == 400 && typo.body == "{\"code\":\"invalid\",\"message\":\"unknown parameter 'form' (known: measurement, symbol, from, to, interval, ohlcv, tz, offset, format, time_format)\"}\n", "\(typo)")
        let twice = exchange("GET", url + "/api/v1/query?measurement=trade&symbol=ESH4&format=csv&format=json")
        #expect(twice.code == 400 && twice.body.contains("the parameter 'format' is given more than once"), "\(twice)")
        let base = url + "/api/v1/query?measurement=trade&format=csv&time_format=ns"
        let escaped = fetch(base + "&symbol=BRK%20A%5C%2CB,ESH4")
        #expect(escaped.code == 200 && escaped.body == "time,symbol,price\n1704205800000000000,\"BRK A,B\",1\n1704205800000000000,ESH4,2\n", "\(escaped)")
        let repeated = fetch(base + "&symbol=BRK%20A%5C%2CB&symbol=ESH4")
        #expect(repeated.body == escaped.body, "\(repeated)")
        // A symbol named again is answered once; a list is bounded.
        let again = fetch(base + "&symbol=" + Array(repeating: "ESH4", count: 2_000).joined(separator: ","))
        #expect(again.code == 200 && again.body == "time,symbol,price\n1704205800000000000,ESH4,2\n", "\(again.code) \(again.body.prefix(200))")
        let many = exchange("GET", base + "&symbol=" + (0..<1_001).map { "S\($0)" }.joined(separator: ","))
        #expect(many.code == 400 && many.body.contains("1001 symbols in one query; the limit is 1000"), "\(many.code) \(many.body.prefix(200))")
        kill(pid, SIGTERM)
        #expect(waitForExit(pid) == 0)
        stopped = true
        let cli = runStrata(["query", "--data-dir", data, "--measurement", "trade", "--symbol", "BRK A\\,B", "--time-format", "ns"])
        #expect(cli.status == 0 && cli.stdout == "time,symbol,price\n1704205800000000000,\"BRK A,B\",1\n", "\(cli)")
    }

    /// influxdb-client, influxdb3-python and polars, unchanged, against the server.
    @Test(.enabled(if: system("python3 -c 'import influxdb_client, influxdb_client_3, polars' 2>/dev/null") == 0 || getenv("CI") != nil,
                   "needs influxdb-client, influxdb3-python and polars (pip), which scripts/test installs"))
    func realClientsWorkUnchanged() throws {
        let (pid, url) = try start()
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        var script = "\(#filePath)"
        for _ in 0..<3 { script = String(script[..<script.lastIndex(of: "/")!]) }
        let status = system("python3 '\(script)/scripts/clients/influx-compat.py' '\(url)' > '\(root.path)/py.txt' 2>&1")
        let output = String(decoding: (try? readFile(root.path + "/py.txt")) ?? [], as: UTF8.self)
        #expect(status == 0 && output.hasPrefix("ok: "), "\(output)")
    }
}
