import Glibc
import StrataEngine
import StrataMirror
import StrataPlatform
import Testing

/// The throw-away cluster that scripts/test starts (scripts/pg-server).
enum PostgresTestServer {
    static func env(_ name: String) -> String? {
        guard let v = getenv(name), v.pointee != 0 else { return nil }
        return String(cString: v)
    }

    static var dsn: String? { env("STRATA_TEST_PG_DSN") }
    /// In CI the server must be there: tests fail rather than skip without it.
    static var enabled: Bool { dsn != nil || env("CI") != nil }

    static func connect() throws(StrataError) -> PostgresConnection {
        guard let dsn else { throw StrataError(.notFound, "STRATA_TEST_PG_DSN is not set: run the tests with scripts/test") }
        return try PostgresConnection(dsn)
    }

    /// The test DSN with one setting replaced (`password`, `port`, …).
    static func dsn(replacing key: String, with value: String) -> String {
        (dsn ?? "").split(separator: " ").map { $0.hasPrefix("\(key)=") ? "\(key)=\(value)" : String($0) }.joined(separator: " ")
    }

    /// A schema of its own for one test, dropped first if a previous run left it.
    static func schema(_ name: String) throws -> String {
        let schema = "strata_test_\(name)"
        let c = try connect()
        try c.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE; CREATE SCHEMA \(schema)")
        return schema
    }
}

@Suite(.enabled(if: PostgresTestServer.enabled, "needs the PostgreSQL server scripts/test starts"))
struct PostgresConnectionTests {
    @Test func statementsParametersAndNulls() throws {
        let c = try PostgresTestServer.connect()
        #expect(c.serverVersion >= 150000)
        let r = try c.execute("SELECT $1::int + 1, $2::text, $3::text", ["41", "it's", nil])
        #expect(r.rowCount == 1 && r.columnCount == 3)
        #expect(r.value(0, 0) == "42" && r.value(0, 1) == "it's" && r.value(0, 2) == nil)
        #expect(c.server.hasPrefix("127.0.0.1:") && c.server.hasSuffix("/postgres as strata"))
    }

    @Test func errorsCarrySQLStateAndTheServersMessage() throws {
        let c = try PostgresTestServer.connect()
        #expect { try c.execute("SELECT * FROM no_such_table") } throws: {
            let e = $0 as! StrataError
            return e.sqlState == "42P01" && e.message.contains("no_such_table") && e.description.contains("(SQLSTATE 42P01)")
        }
        #expect { try c.execute("SELEC 1") } throws: { ($0 as! StrataError).sqlState == "42601" }
        // The connection stays usable after an error.
        #expect(try c.execute("SELECT 1").value(0, 0) == "1")
    }

    @Test func aWrongPasswordIsDeniedWithoutShowingIt() throws {
        let wrong = "not-the-password-\(getpid())"
        #expect { try PostgresConnection(PostgresTestServer.dsn(replacing: "password", with: wrong)) } throws: {
            let e = $0 as! StrataError
            return e.code == .denied && e.message.contains("password authentication failed") && !e.message.contains(wrong)
                && e.message.contains("127.0.0.1:")
        }
    }

    /// A refusal at start-up is classified by the SQLSTATE the server gave, not by its words:
    /// a wrong password is class 28 (denied), a database that does not exist is 3D000 (not a
    /// denial), and the message keeps the server's words without libpq's LOCATION line.
    @Test func startUpRefusalsAreClassifiedByTheirCode() throws {
        #expect { try PostgresConnection(PostgresTestServer.dsn(replacing: "password", with: "wrong-\(getpid())")) } throws: {
            let e = $0 as! StrataError
            return e.code == .denied && e.sqlState == "28P01" && !e.message.contains("LOCATION")
        }
        #expect { try PostgresConnection(PostgresTestServer.dsn(replacing: "dbname", with: "no_such_db_\(getpid())")) } throws: {
            let e = $0 as! StrataError
            return e.code == .io && e.sqlState == "3D000" && e.message.contains("FATAL:  database \"no_such_db_") && e.message.contains("does not exist")
        }
    }

    /// A connection that fails before it begins (here a Unix socket that does not exist)
    /// is an error at once, even with connect_timeout=0 (wait as long as the network does):
    /// polling a connection that has no socket must not wait.
    @Test func aConnectionThatFailsBeforeItBeginsIsAnErrorAtOnce() throws {
        #expect {
            try PostgresConnection("host=/tmp/strata-no-socket-\(getpid()) dbname=postgres user=strata connect_timeout=0")
        } throws: {
            let e = $0 as! StrataError
            return e.code == .io && e.message.contains("cannot connect to PostgreSQL")
        }
    }

    @Test func anUnreachableServerIsAClearError() throws {
        // A port nothing listens on.
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &length) } }
        let port = UInt16(bigEndian: address.sin_port)
        close(s)
        #expect { try PostgresConnection(PostgresTestServer.dsn(replacing: "port", with: "\(port)")) } throws: {
            let e = $0 as! StrataError
            // libpq's several lines become one, without its indenting tabs.
            return e.code == .io && e.message.contains("cannot connect to PostgreSQL at 127.0.0.1:\(port)") && e.message.contains("refused")
                && !e.message.contains("\t") && !e.message.contains("\n")
        }
    }

    @Test func anUnparsableConnectionStringIsRefusedWithoutEchoingIt() {
        for dsn in ["postgresql://quant:p%zzsecret@db.example/ticks", "host=db.example password=has secret spaces"] {
            #expect { try PostgresConnection(dsn) } throws: {
                let e = $0 as! StrataError
                return e.code == .invalidInput && !e.message.contains("secret") && e.message.contains("not valid")
            }
        }
    }

    @Test func connectionStringsAreDescribedWithoutPasswords() {
        #expect(PostgresConnection.describe("host=db.example port=6543 dbname=ticks user=quant password=hunter2 sslmode=require")
                == "db.example:6543/ticks as quant")
        #expect(PostgresConnection.describe("postgresql://quant:hunter2@db.example:6543/ticks?sslmode=require") == "db.example:6543/ticks as quant")
        #expect(!PostgresConnection.describe("host='unterminated").contains("unterminated"))
    }

    @Test func copyLoadsRowsAndABadRowFailsTheWholeCopy() throws {
        let c = try PostgresTestServer.connect()
        let schema = try PostgresTestServer.schema("copy")
        try c.execute("CREATE TABLE \(schema).t (n bigint, s text)")
        let rows = try c.copy("COPY \(schema).t FROM STDIN") { (send: ([UInt8]) throws(StrataError) -> Void) throws(StrataError) in
            var chunk: [UInt8] = []
            for n in 0..<100_000 {
                chunk += Array("\(n)\tv\(n)\n".utf8)
                if chunk.count > 1 << 16 { try send(chunk); chunk = [] }
            }
            try send(chunk)
        }
        #expect(rows == 100_000)
        #expect(try c.execute("SELECT count(*), sum(n) FROM \(schema).t").rows == [["100000", "4999950000"]])
        #expect { try c.copy("COPY \(schema).t FROM STDIN") { (send: ([UInt8]) throws(StrataError) -> Void) throws(StrataError) in try send(Array("1\ta\nnot-a-number\tb\n".utf8)) } } throws: {
            ($0 as! StrataError).sqlState == "22P02"
        }
        #expect(try c.execute("SELECT count(*) FROM \(schema).t").value(0, 0) == "100000")
        // A failure on our side while sending aborts the copy; nothing of it stays.
        #expect { try c.copy("COPY \(schema).t FROM STDIN") { (send: ([UInt8]) throws(StrataError) -> Void) throws(StrataError) in
            try send(Array("7\tx\n".utf8))
            throw StrataError(.io, "the source failed")
        } } throws: { ($0 as! StrataError).message == "the source failed" }
        #expect(try c.execute("SELECT count(*) FROM \(schema).t").value(0, 0) == "100000")
    }

    @Test func aTransactionRollsBackWhenItsBodyThrows() throws {
        let c = try PostgresTestServer.connect()
        let schema = try PostgresTestServer.schema("tx")
        try c.execute("CREATE TABLE \(schema).t (n int)")
        #expect(throws: StrataError.self) {
            try c.transaction { () throws(StrataError) in
                try c.execute("INSERT INTO \(schema).t VALUES (1)")
                throw StrataError(.io, "stop")
            }
        }
        try c.transaction { () throws(StrataError) in try c.execute("INSERT INTO \(schema).t VALUES (2)") }
        #expect(try c.execute("SELECT array_agg(n) FROM \(schema).t").value(0, 0) == "{2}")
    }
}

final class TemporaryDirectory {
    let path: String
    init() {
        var template = Array("/tmp/strata-mirror-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }
    deinit { _ = system("rm -rf '\(path)'") }
}
