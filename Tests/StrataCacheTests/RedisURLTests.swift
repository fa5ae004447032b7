import StrataCache
import StrataEngine
import StrataPlatform
import Testing

@Suite struct RedisURLTests {
    @Test(arguments: [
        ("redis://localhost", RedisURL(host: "localhost")),
        ("redis://127.0.0.1:6380/2", RedisURL(host: "127.0.0.1", port: 6380, database: 2)),
        ("redis://:s3cr%40t@cache.internal:7000/", RedisURL(host: "cache.internal", port: 7000, password: "s3cr@t")),
        ("redis://feed:pa:ss@[::1]:6379/1", RedisURL(host: "::1", port: 6379, database: 1, user: "feed", password: "pa:ss")),
        ("redis://justpassword@h", RedisURL(host: "h", password: "justpassword")),
    ])
    func urlsParse(_ text: String, _ expected: RedisURL) throws {
        #expect(try RedisURL(parsing: text) == expected)
    }

    @Test(arguments: [
        ("", "it is empty"),
        ("localhost:6379", "scheme localhost:// is not redis://"),
        ("http://h", "scheme http:// is not redis://"),
        ("rediss://h", "TLS (rediss://) is not supported"),
        ("redis://h:0", "the port (0) must be 1…65535"),
        ("redis://h:99999", "the port (99999) must be 1…65535"),
        ("redis://h:abc", "the port must be 1…65535"),
        ("redis://h/x", "the database must be a number from 0 to 1000000"),
        ("redis://:pw@", "no host"),
        ("redis://h?timeout=1", "query parameters"),
        ("redis://:%zz@h", "the password has a % not followed by two hex digits"),
        ("redis://[::1:6379", "an IPv6 address without ]"),
        ("redis://ho st", "the host has characters"),
    ])
    func badURLsAreNamed(_ text: String, _ reason: String) {
        #expect { try RedisURL(parsing: text) } throws: { error in
            let e = error as! StrataError
            return e.code == .invalidInput && e.message.contains(reason) && e.message.contains("expected redis://") && e.field == "REDIS_URL"
        }
    }

    @Test func passwordsAppearNowhere() {
        let url = try! RedisURL(parsing: "redis://feed:hunter2@cache:6380/3")
        #expect(url.description == "cache:6380/3 as feed")
        #expect { try RedisURL(parsing: "redis://feed:hunter2@cache:port") } throws: { !"\($0)".contains("hunter2") }
        // A URL without its host: the password sits where the port goes, and is not repeated.
        for text in ["redis://default:hunter2", "redis://:hunter2", "redis://[::1]:hunter2", "redis://h/hunter2"] {
            #expect(throws: StrataError.self) { try RedisURL(parsing: text) }
            #expect { try RedisURL(parsing: text) } throws: { !"\($0)".contains("hunter2") }
        }
    }
}

@Suite struct RESPWriterTests {
    @Test func commandsAreFramedAsRESP() {
        var w = RESPWriter()
        w.command(["SET", "k", "välue"])
        w.begin(arguments: 3)
        w.argument("XADD")
        w.argument(Int64.min)
        w.argument(bytes: [0, 13, 10])
        #expect(w.commands == 2)
        let expected = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nvälue\r\n*3\r\n$4\r\nXADD\r\n$20\r\n-9223372036854775808\r\n$3\r\n\0\r\n\r\n"
        #expect(w.bytes == Array(expected.utf8))
        w.removeAll()
        #expect(w.isEmpty && w.bytes.isEmpty)
        w.begin(arguments: 2)
        w.argument(0)
        w.argument(Int64.max)
        #expect(String(decoding: w.bytes, as: UTF8.self) == "*2\r\n$1\r\n0\r\n$19\r\n9223372036854775807\r\n")
    }
}
