import Glibc
import StrataCache
import StrataEngine
import StrataPlatform
import Testing

@Suite(.enabled(if: RedisTestServer.enabled, "needs the Redis server scripts/test starts"))
struct RedisConnectionTests {
    @Test func pipelinesRepliesAndErrorsAsValues() throws {
        let c = try RedisTestServer.connect()
        let key = RedisTestServer.prefix("conn")
        var w = RESPWriter()
        w.command(["SET", key, "a\r\nb"])
        w.command(["GET", key])
        w.command(["INCR", key])  // not an integer: an error reply, not a thrown error
        w.command(["DEL", key])
        w.command(["GET", key])
        w.command(["XADD", key + ":s", "5-0", "time", "5000000"])
        w.command(["XINFO", "STREAM", key + ":s"])
        let replies = try c.send(w)
        #expect(replies.count == 7)
        #expect(replies[0] == .status("OK") && replies[1] == .string(Array("a\r\nb".utf8)))
        #expect(replies[2].errorMessage?.contains("not an integer") == true)
        #expect(replies[3] == .integer(1) && replies[4] == .null && replies[5].text == "5-0")
        #expect(replies[6].array?.contains(.string(Array("last-generated-id".utf8))) == true)
        _ = try c.command("DEL", key + ":s")
    }

    @Test func theACLUserAndTheDatabaseNumberAreUsed() throws {
        var url = try RedisTestServer.url
        url.user = "strata"
        url.database = 3
        let c = try RedisConnection(url)
        let key = RedisTestServer.prefix("db")
        _ = try c.command("SET", key, "3")
        #expect(try c.command("CLIENT", "INFO").text?.contains("db=3 ") == true)
        #expect(try c.command("ACL", "WHOAMI").text == "strata")
        #expect(try RedisTestServer.connect().command("EXISTS", key) == .integer(0))  // database 0
        _ = try c.command("DEL", key)
    }

    @Test func aWrongOrMissingPasswordIsDeniedWithoutShowingIt() throws {
        var url = try RedisTestServer.url
        url.password = "wrong-\(getpid())"
        #expect { try RedisConnection(url) } throws: { error in
            let e = error as! StrataError
            return e.code == .denied && e.message.contains("WRONGPASS") && !e.description.contains("wrong-\(getpid())")
                && e.message.contains("127.0.0.1:\(url.port)/0")
        }
        url.password = nil
        #expect { try RedisConnection(url) } throws: { error in
            let e = error as! StrataError
            return e.code == .denied && e.message.contains("NOAUTH")
        }
    }

    @Test func anUnreachableServerIsNamed() throws {
        var url = try RedisTestServer.url
        url.port = 1
        #expect { try RedisConnection(url, timeoutMilliseconds: 500) } throws: { error in
            let e = error as! StrataError
            return e.code == .io && e.message.hasPrefix("cannot connect to Redis at 127.0.0.1:1/0: ") && !e.description.contains(url.password ?? "-")
        }
    }
}
