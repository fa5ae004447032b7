import CHiredis
import Glibc
import StrataEngine
import StrataPlatform

/// One connection to a Redis server: the only owner of its `redisContext`, freed in deinit.
/// Logs in (AUTH, with the URL's user if any), selects the database, and checks both before
/// the initialiser returns; socket reads and writes time out. Commands go as RESP pipelines
/// (`RESPWriter`), one write and then one reply per command. After an I/O error the
/// connection is broken for good: make a new one. Safe to share between threads (calls are
/// serialised).
public final class RedisConnection: @unchecked Sendable {
    private let context: UnsafeMutablePointer<redisContext>
    private let lock = Monitor()
    /// Replies of commands sent with `write` and not read yet (guarded by `lock`): replies
    /// come in order, so nothing else may be sent until they are read.
    private var unread = 0
    public let url: RedisURL

    /// `host:port/db [as user]`, for messages (never the password).
    public var server: String { url.description }

    public init(_ url: RedisURL, timeoutMilliseconds: Int = 5_000) throws(StrataError) {
        self.url = url
        let timeout = timeval(tv_sec: timeoutMilliseconds / 1000, tv_usec: (timeoutMilliseconds % 1000) * 1000)
        guard let c = redisConnectWithTimeout(url.host, Int32(url.port), timeout) else {
            throw StrataError(.io, "cannot connect to Redis at \(url): out of memory")
        }
        if c.pointee.err != 0 {
            let reason = String(cString: strata_redis_errstr(c))
            redisFree(c)
            throw StrataError(.io, "cannot connect to Redis at \(url): \(reason)")
        }
        context = c
        _ = redisSetTimeout(c, timeout)
        _ = redisEnableKeepAlive(c)
        var login = RESPWriter()
        if let password = url.password {
            login.command(url.user.map { ["AUTH", $0, password] } ?? ["AUTH", password])
        }
        login.command(["SELECT", String(url.database)])
        let sentAuth = url.password != nil
        for (index, reply) in try send(login).enumerated() {
            guard let e = reply.errorMessage else { continue }
            // A refused AUTH, or an error whose kind (the reply's first word, RESP's error
            // code) says the client is not allowed, is a denial; Redis's message never
            // repeats the password.
            let kind = e.prefix { $0 != " " }
            let denied = (sentAuth && index == 0) || ["WRONGPASS", "NOAUTH", "NOPERM"].contains(kind)
            throw StrataError(denied ? .denied : .invalidInput, "Redis at \(url) refused the connection: \(e)")
        }
    }

    deinit { redisFree(context) }

    /// Sends the commands and returns their replies, in order. Error replies are values
    /// (`.error`); a lost connection or a timeout throws.
    public func send(_ commands: RESPWriter) throws(StrataError) -> [RedisReply] {
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.commands)
        try exchange(commands) { _, reply in replies.append(Self.convert(reply)) }
        return replies
    }

    /// The server's `redis_version` from INFO server (nil if it does not say).
    public func serverVersion() throws(StrataError) -> String? {
        let info = try command("INFO", "server").text ?? ""
        return info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("redis_version:") }.map { String($0.dropFirst("redis_version:".count)) }
    }

    /// Sends one command and returns its reply.
    public func command(_ arguments: String...) throws(StrataError) -> RedisReply {
        var w = RESPWriter()
        w.command(arguments)
        return try send(w)[0]
    }

    /// Sends the commands and returns only the error replies with their command's index:
    /// for pipelines of writes whose other replies say nothing (no reply is copied).
    public func sendCheckingErrors(_ commands: RESPWriter) throws(StrataError) -> [(index: Int, message: String)] {
        var errors: [(index: Int, message: String)] = []
        try exchange(commands) { index, reply in
            if reply.pointee.type == strata_redis_reply_error { errors.append((index, Self.text(reply))) }
        }
        return errors
    }

    /// Sends the commands without waiting for their replies: the server works on them
    /// while the caller prepares the next ones. `readErrors(count:)` collects the replies.
    public func write(_ commands: RESPWriter) throws(StrataError) {
        try lock.withLock { () throws(StrataError) in
            try unlockedWrite(commands)
            unread += commands.commands
        }
    }

    /// Reads the replies of `count` commands written before, returning the error replies
    /// with their command's index.
    public func readErrors(count: Int) throws(StrataError) -> [(index: Int, message: String)] {
        var errors: [(index: Int, message: String)] = []
        try lock.withLock { () throws(StrataError) in
            precondition(count <= unread, "reading \(count) replies of \(unread) outstanding")
            unread -= count
            try unlockedRead(count) { index, reply in
                if reply.pointee.type == strata_redis_reply_error { errors.append((index, Self.text(reply))) }
            }
        }
        return errors
    }

    private func exchange(_ commands: RESPWriter, _ each: (Int, UnsafeMutablePointer<redisReply>) -> Void) throws(StrataError) {
        guard !commands.isEmpty else { return }
        try lock.withLock { () throws(StrataError) in
            precondition(unread == 0, "\(unread) replies of written commands are unread: read them first")
            try unlockedWrite(commands)
            try unlockedRead(commands.commands, each)
        }
    }

    /// Appends the commands to the output buffer and writes all of it. Lock held.
    private func unlockedWrite(_ commands: RESPWriter) throws(StrataError) {
        guard !commands.isEmpty else { return }
        precondition(commands.isComplete, "a command lacks arguments its header announced")
        if context.pointee.err != 0 { throw failure("the connection is broken") }
        let appended = commands.bytes.withUnsafeBytes {
            redisAppendFormattedCommand(context, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count)
        }
        guard appended == strata_redis_ok else { throw failure("cannot queue commands") }
        var done: Int32 = 0
        while done == 0 {
            guard redisBufferWrite(context, &done) == strata_redis_ok else { throw failure("cannot send commands") }
        }
    }

    /// Reads `count` replies, handing each to `each` before freeing it. Lock held.
    private func unlockedRead(_ count: Int, _ each: (Int, UnsafeMutablePointer<redisReply>) -> Void) throws(StrataError) {
        for index in 0..<count {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == strata_redis_ok, let raw else {
                throw failure("no reply to command \(index + 1) of \(count)")
            }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            each(index, reply)
            freeReplyObject(raw)
        }
    }

    /// An I/O failure, with hiredis's reason. Lock held.
    private func failure(_ what: String) -> StrataError {
        let reason = context.pointee.err != 0 ? String(cString: strata_redis_errstr(context)) : "unknown error"
        return StrataError(.io, "Redis at \(url): \(what): \(reason)")
    }

    private static func text(_ reply: UnsafeMutablePointer<redisReply>) -> String {
        guard let s = reply.pointee.str else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: s, count: reply.pointee.len), as: UTF8.self)
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let r = reply.pointee
        switch r.type {
        case strata_redis_reply_status: return .status(text(reply))
        case strata_redis_reply_error: return .error(text(reply))
        case strata_redis_reply_integer: return .integer(r.integer)
        case strata_redis_reply_string:
            guard let s = r.str else { return .string([]) }
            return .string(Array(UnsafeRawBufferPointer(start: s, count: r.len)))
        case strata_redis_reply_array:
            guard let elements = r.element else { return .array([]) }
            return .array((0..<r.elements).map { i in elements[i].map { convert($0) } ?? .null })
        default: return .null
        }
    }
}
