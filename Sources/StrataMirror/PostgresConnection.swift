import CLibPQ
import Glibc
import StrataEngine
import StrataPlatform

/// One connection to PostgreSQL, owned by this object and closed in deinit. Not for use
/// by two threads at once (libpq's rule for a PGconn); the mirror gives each worker its own.
///
/// Errors carry PostgreSQL's SQLSTATE and message, and name the server by host, port,
/// database and user — never by the connection string, which may hold a password.
public final class PostgresConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    /// `host:port/dbname as user`, for messages.
    public let server: String

    /// Throws unless libpq can parse `dsn` and each port it names is a port, without
    /// connecting. An unknown option is named; other parse errors are not quoted, as libpq's
    /// words quote the text where they stop, which may be a password.
    public static func checkConnectionString(_ dsn: String) throws(StrataError) {
        var parseError: UnsafeMutablePointer<CChar>?
        guard let parsed = PQconninfoParse(dsn, &parseError) else {
            var known = ""
            if let parseError {
                let text = String(cString: parseError)
                if text.hasPrefix("invalid connection option ") || text.hasPrefix("invalid URI query parameter: ") {
                    known = ": " + text.split(separator: "\n").first.map(String.init)!
                }
                PQfreemem(parseError)
            }
            throw StrataError(.invalidInput, "the PostgreSQL connection string is not valid\(known) (a key=value list or a postgresql:// URI; quote values with spaces, percent-encode reserved characters in URIs)")
        }
        defer { PQconninfoFree(parsed) }
        // libpq reads the port only when it connects; a port per host, empty for the default.
        for port in (values(parsed)["port"] ?? "").split(separator: ",", omittingEmptySubsequences: false) {
            var text = port
            while text.first?.isWhitespace == true { text.removeFirst() }
            while text.last?.isWhitespace == true { text.removeLast() }
            guard text.isEmpty || Int(text).map({ (1...65_535).contains($0) }) == true else {
                // Digits are quoted; other text may be a password where the host belongs.
                let quoted = text.count <= 20 && text.allSatisfy({ $0.isASCII && $0.isNumber }) ? " (\(text))" : ""
                throw StrataError(.invalidInput, "the PostgreSQL connection string is not valid: the port\(quoted) must be a number from 1 to 65535")
            }
        }
    }

    /// Connects with a libpq connection string (`host=… port=… dbname=… user=…
    /// password=… sslmode=…`) or URI (`postgresql://user:pass@host:port/db?sslmode=…`);
    /// every libpq option passes through.
    public init(_ dsn: String) throws(StrataError) {
        try PostgresConnection.checkConnectionString(dsn)
        let described = PostgresConnection.describe(dsn)
        // Defaults the connection string may override (it is expanded after them): a
        // connect timeout, and TCP keepalives so a vanished server is noticed.
        let keywords = ["connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "dbname"]
        let values = ["10", "1", "30", "10", "3", dsn]
        // One host (the usual case): connected by polling, with verbose errors, because a
        // server's refusal during start-up (a wrong password, an unknown database) reaches a
        // client only as text, its SQLSTATE only in the verbose form; the refusal is then
        // classified by its code. Several hosts: libpq's own blocking connect, which gives
        // each address its connect_timeout and moves on to the next (failover), and tells a
        // missing password apart.
        let severalHosts = Self.options(dsn).map { o in ["host", "hostaddr"].contains { o[$0]?.contains(",") == true } } ?? false
        let connection: OpaquePointer? = withArrayOfCStrings(keywords) { k in
            withArrayOfCStrings(values) { v in severalHosts ? PQconnectdbParams(k, v, 1) : PQconnectStartParams(k, v, 1) }
        }
        guard let connection else {
            throw StrataError(.io, "cannot allocate a PostgreSQL connection to \(described)")
        }
        var timedOut: Int?
        if !severalHosts {
            PQsetErrorVerbosity(connection, PQERRORS_VERBOSE)
            timedOut = Self.finishConnecting(connection)
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            var (message, state) = PostgresConnection.startupFailure(connection)
            if let seconds = timedOut { message = "timeout expired (no answer in connect_timeout, \(seconds) s)" }
            let needsPassword = PQconnectionNeedsPassword(connection) == 1
            PQfinish(connection)
            var e = StrataError(.io, "cannot connect to PostgreSQL at \(described): \(message)")
            if let state {
                e.serviceCode = ServiceCode(scheme: "SQLSTATE", value: state)
                // Class 28 is "invalid authorization specification" (28P01: wrong password,
                // 28000: no such role or not allowed by pg_hba.conf); 42501: no privilege.
                if state.hasPrefix("28") || state == "42501" { e.code = .denied }
            } else if needsPassword {
                e.code = .denied
            }
            throw e
        }
        PQsetErrorVerbosity(connection, PQERRORS_DEFAULT)
        handle = connection
        strata_pq_silence_notices(connection)
        server = described
    }

    deinit { PQfinish(handle) }

    /// The server's version as PostgreSQL numbers it (150018 for 15.18).
    public var serverVersion: Int { Int(PQserverVersion(handle)) }

    /// Whether the connection is still usable (false after the server went away).
    public var isOK: Bool { PQstatus(handle) == CONNECTION_OK }

    /// Drives a connection started with `PQconnectStartParams` until it is made or fails.
    /// libpq leaves the wait to the caller when asked to poll: each address gets the
    /// `connect_timeout` (as libpq gives it; 0 or none waits as long as the network does).
    /// Returns the timeout in seconds when it expired, else nil.
    static func finishConnecting(_ connection: OpaquePointer) -> Int? {
        let seconds = PQconninfo(connection).map { options in
            defer { PQconninfoFree(options) }
            return values(options)["connect_timeout"].flatMap { Int($0) } ?? 0
        } ?? 0
        // libpq's rule: a timeout under 2 s is 2 s.
        let timeout: Int64? = seconds > 0 ? Int64(max(seconds, 2)) * 1_000_000_000 : nil
        var socket: Int32 = -1
        var deadline = Int64.max
        var status = PGRES_POLLING_WRITING
        while status != PGRES_POLLING_OK && status != PGRES_POLLING_FAILED {
            // Failed before it began (a name that does not resolve): nothing to wait for.
            guard PQstatus(connection) != CONNECTION_BAD else { return nil }
            let fd = PQsocket(connection)
            guard fd >= 0 else { return nil }
            if fd != socket {
                // Another address is being tried: its own time.
                socket = fd
                deadline = timeout.map { monotonicNanoseconds() + $0 } ?? .max
            }
            let left = deadline == .max ? -1 : Int32(clamping: max(0, (deadline - monotonicNanoseconds()) / 1_000_000))
            var wait = pollfd(fd: fd, events: Int16(status == PGRES_POLLING_READING ? POLLIN : POLLOUT), revents: 0)
            if poll(&wait, 1, left) == 0 && deadline != .max && monotonicNanoseconds() >= deadline { return Int(max(seconds, 2)) }
            status = PQconnectPoll(connection)
        }
        return nil
    }

    /// A failed start-up's message (one line per address tried, without libpq's LOCATION
    /// lines) and the SQLSTATE the server gave, from its verbose form `FATAL:  28P01: …`.
    static func startupFailure(_ connection: OpaquePointer) -> (message: String, sqlState: String?) {
        guard let raw = PQerrorMessage(connection) else { return ("unknown error", nil) }
        var state: String?
        var lines: [String] = []
        for line in String(cString: raw).split(separator: "\n") {
            var text = String(line.trimmingPrefix(while: { $0 == " " || $0 == "\t" }))
            if text.hasPrefix("LOCATION:") || text.isEmpty { continue }
            for severity in ["FATAL:  ", "ERROR:  ", "PANIC:  "] {
                guard let start = text.indices.first(where: { text[$0...].hasPrefix(severity) }) else { continue }
                let after = text.index(start, offsetBy: severity.count)
                let rest = text[after...]
                let code = rest.prefix(5)
                if code.count == 5, code.allSatisfy({ ($0.isASCII && $0.isNumber) || ($0 >= "A" && $0 <= "Z") }), rest.dropFirst(5).hasPrefix(": ") {
                    state = state ?? String(code)
                    text = String(text[..<after]) + String(rest.dropFirst(7))
                }
                break
            }
            lines.append(text)
        }
        return (lines.isEmpty ? "unknown error" : lines.joined(separator: "; "), state)
    }

    static func connectionMessage(_ connection: OpaquePointer) -> String {
        guard let raw = PQerrorMessage(connection) else { return "unknown error" }
        var text = String(cString: raw)
        while text.last == "\n" || text.last == " " { text.removeLast() }
        // libpq puts several lines (one per address tried); keep them on one.
        return text.split(separator: "\n").map { $0.trimmingPrefix(while: { $0 == " " || $0 == "\t" }) }.joined(separator: "; ")
    }

    /// The options a connection string sets, as libpq parses it (nil if it cannot).
    static func options(_ dsn: String) -> [String: String]? {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(dsn, &errorMessage) else {
            if let errorMessage { PQfreemem(errorMessage) }
            return nil
        }
        defer { PQconninfoFree(options) }
        return values(options)
    }

    /// The options set in what PQconninfoParse returned.
    static func values(_ options: UnsafeMutablePointer<PQconninfoOption>) -> [String: String] {
        var values: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { values[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        return values
    }

    /// Whether a connection string holds a password (key=value or URI form alike).
    public static func holdsPassword(_ dsn: String) -> Bool {
        options(dsn)?["password"].map { !$0.isEmpty } ?? false
    }

    /// `host:port/dbname as user` from a connection string, without its password.
    public static func describe(_ dsn: String) -> String {
        guard let values = options(dsn) else { return "(an unparsable connection string)" }
        let host = values["host"] ?? values["hostaddr"] ?? "localhost"
        return "\(host):\(values["port"] ?? "5432")/\(values["dbname"] ?? values["user"] ?? "postgres")" + (values["user"].map { " as \($0)" } ?? "")
    }

    func failure(_ result: OpaquePointer?, _ what: String) -> StrataError {
        var message: String
        var state: String?
        if let result, let primary = strata_pq_primary_message(result) {
            message = String(cString: primary)
            state = strata_pq_sqlstate(result).map { String(cString: $0) }
        } else {
            message = PostgresConnection.connectionMessage(handle)
        }
        if state == nil && !isOK { message = "the connection to \(server) was lost: \(message)" }
        var e = StrataError(.io, "\(what): \(message)")
        e.serviceCode = state.map { ServiceCode(scheme: "SQLSTATE", value: $0) }
        if let state, state.hasPrefix("28") || state == "42501" { e.code = .denied }
        return e
    }

    /// Runs SQL (one or more statements without parameters) and returns the last result.
    @discardableResult
    public func execute(_ sql: String) throws(StrataError) -> PostgresResult {
        let result = PQexec(handle, sql)
        return try check(result, sql)
    }

    /// Runs one statement with text parameters `$1`, `$2`, … (nil is NULL).
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?]) throws(StrataError) -> PostgresResult {
        var cStrings: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { for p in cStrings { free(p) } }
        let result = cStrings.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(buffer.count, 1)) { values in
                PQexecParams(handle, sql, Int32(parameters.count), nil, parameters.isEmpty ? nil : values, nil, nil, 0)
            }
        }
        return try check(result, sql)
    }

    func check(_ result: OpaquePointer?, _ sql: String) throws(StrataError) -> PostgresResult {
        guard let result else { throw failure(nil, PostgresConnection.statementName(sql)) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_COPY_IN else {
            let error = failure(result, PostgresConnection.statementName(sql))
            PQclear(result)
            throw error
        }
        return PostgresResult(result)
    }

    /// The first words of a statement, for messages (never its values).
    static func statementName(_ sql: String) -> String {
        let words = sql.split(whereSeparator: { $0 == " " || $0 == "\n" }).prefix(3)
        return words.joined(separator: " ")
    }

    /// `COPY … FROM STDIN`: sends the bytes that `produce` hands to its writer, then ends
    /// the copy; throws with the server's message if it rejected the data. Returns the
    /// number of rows the server reports.
    @discardableResult
    public func copy(_ sql: String, _ produce: (_ send: ([UInt8]) throws(StrataError) -> Void) throws(StrataError) -> Void) throws(StrataError) -> Int {
        let started = try execute(sql)
        guard started.status == PGRES_COPY_IN else {
            throw StrataError(.invalidInput, "\(PostgresConnection.statementName(sql)) did not start a COPY FROM STDIN")
        }
        var failed: StrataError?
        do throws(StrataError) {
            try produce { (bytes: [UInt8]) throws(StrataError) in
                guard !bytes.isEmpty else { return }
                let r = bytes.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { PQputCopyData(handle, $0.baseAddress, Int32($0.count)) }
                }
                guard r == 1 else { throw failure(nil, "COPY data") }
            }
        } catch {
            failed = error
        }
        // On a failure of ours, end the copy with an error so the server discards it.
        guard PQputCopyEnd(handle, failed == nil ? nil : "aborted by the client") == 1 else {
            throw failed ?? failure(nil, "COPY end")
        }
        var rows = 0
        var serverError: StrataError?
        while let result = PQgetResult(handle) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                rows = Int(String(cString: PQcmdTuples(result))) ?? 0
            } else if serverError == nil {
                serverError = failure(result, PostgresConnection.statementName(sql))
            }
            PQclear(result)
        }
        if let failed { throw failed }
        if let serverError { throw serverError }
        return rows
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    public func transaction<R>(_ body: () throws(StrataError) -> R) throws(StrataError) -> R {
        try execute("BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    /// `name` quoted as an SQL identifier.
    public static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacing("\"", with: "\"\"") + "\""
    }

    /// `text` quoted as an SQL string literal.
    public static func quoteLiteral(_ text: String) -> String {
        "'" + text.replacing("'", with: "''") + "'"
    }
}

/// Calls `body` with a NULL-terminated array of C strings.
func withArrayOfCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { for p in copies { free(p) } }
    return copies.withUnsafeBufferPointer { buffer in
        buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { body($0) }
    }
}

/// A query's result, owned by this object and freed in deinit.
public final class PostgresResult {
    let handle: OpaquePointer

    init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { PQclear(handle) }

    var status: ExecStatusType { PQresultStatus(handle) }
    public var rowCount: Int { Int(PQntuples(handle)) }
    public var columnCount: Int { Int(PQnfields(handle)) }

    /// The text of row `row`, column `column`, or nil for NULL.
    public func value(_ row: Int, _ column: Int) -> String? {
        guard row < rowCount, column < columnCount, PQgetisnull(handle, Int32(row), Int32(column)) == 0 else { return nil }
        return String(cString: PQgetvalue(handle, Int32(row), Int32(column)))
    }

    /// Every row as text values.
    public var rows: [[String?]] {
        (0..<rowCount).map { r in (0..<columnCount).map { value(r, $0) } }
    }
}

extension StrataError {
    /// PostgreSQL's five-character SQLSTATE, for errors the mirror's database reported.
    public var sqlState: String? { serviceCode?.scheme == "SQLSTATE" ? serviceCode?.value : nil }
}
