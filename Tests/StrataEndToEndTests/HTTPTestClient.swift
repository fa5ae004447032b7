import Glibc

/// A minimal HTTP/1.1 client over one keep-alive TCP connection to 127.0.0.1, for tests
/// that send many requests from threads (a curl process per request is too slow, and
/// URLSession would need FoundationNetworking). It sends `Content-Length` bodies and reads
/// `Content-Length`, chunked and close-delimited replies. Blocking, with socket timeouts so
/// that a silent server fails the request instead of hanging the test.
final class HTTPTestConnection {
    struct Reply {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// The request could not be sent, or the connection ended before a whole reply came
    /// (the server closed it, reset it, or said nothing within the timeout).
    struct TransportError: Error, CustomStringConvertible {
        var description: String
    }

    private var fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0  // bytes of `buffer` before this are consumed

    init(port: Int, timeoutSeconds: Int = 30) throws(TransportError) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TransportError(description: "socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0 else {
            let e = errno
            close(fd)
            throw TransportError(description: "connect 127.0.0.1:\(port): errno \(e)")
        }
    }

    deinit { close(fd) }

    func post(_ target: String, body: [UInt8]) throws(TransportError) -> Reply {
        try request("POST", target, body: body)
    }

    func get(_ target: String) throws(TransportError) -> Reply {
        try request("GET", target, body: nil)
    }

    func request(_ method: String, _ target: String, body: [UInt8]?) throws(TransportError) -> Reply {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if let body { head += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        try send(Array(head.utf8))
        if let body, !body.isEmpty { try send(body) }
        return try readReply(method: method)
    }

    private func send(_ bytes: [UInt8]) throws(TransportError) {
        var sent = 0
        while sent < bytes.count {
            // MSG_NOSIGNAL: a closed connection is an error here, not a SIGPIPE that ends the test.
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw TransportError(description: "send: errno \(errno)") }
            sent += n
        }
    }

    /// Reads more bytes into the buffer; false at the end of the stream.
    private func fill() throws(TransportError) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw TransportError(description: errno == EAGAIN ? "no reply within the timeout" : "recv: errno \(errno)") }
            if n == 0 { return false }
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }
    }

    /// The next line (without its CRLF), reading as needed.
    private func line() throws(TransportError) -> [UInt8] {
        var scanned = start
        while true {
            var i = scanned
            while i + 1 < buffer.count {
                if buffer[i] == 13 && buffer[i + 1] == 10 {
                    let l = Array(buffer[start..<i])
                    start = i + 2
                    return l
                }
                i += 1
            }
            scanned = max(start, buffer.count - 1)
            guard try fill() else { throw TransportError(description: "the connection closed before a whole reply") }
        }
    }

    private func take(_ count: Int) throws(TransportError) -> [UInt8] {
        while buffer.count - start < count {
            guard try fill() else { throw TransportError(description: "the connection closed before a whole reply") }
        }
        let out = Array(buffer[start..<start + count])
        start += count
        return out
    }

    private func readReply(method: String) throws(TransportError) -> Reply {
        buffer.removeFirst(start)
        start = 0
        let statusLine = String(decoding: try line(), as: UTF8.self)
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw TransportError(description: "not an HTTP status line: '\(statusLine)'")
        }
        var headers: [(name: String, value: String)] = []
        while true {
            let l = try line()
            if l.isEmpty { break }
            let text = String(decoding: l, as: UTF8.self)
            guard let colon = text.firstIndex(of: ":") else { continue }
            headers.append((String(text[..<colon]), String(text[text.index(after: colon)...].drop { $0 == " " })))
        }
        var reply = Reply(status: status, headers: headers, body: [])
        if method == "HEAD" || status == 204 || status == 304 || (100..<200).contains(status) { return reply }
        if let length = reply.header("Content-Length").flatMap({ Int($0) }) {
            reply.body = try take(length)
        } else if reply.header("Transfer-Encoding")?.lowercased().contains("chunked") == true {
            while true {
                let sizeLine = String(decoding: try line(), as: UTF8.self)
                guard let size = Int(sizeLine.prefix { $0 != ";" && $0 != " " }, radix: 16) else {
                    throw TransportError(description: "bad chunk size '\(sizeLine)'")
                }
                if size == 0 {
                    while try !line().isEmpty {}  // trailers
                    break
                }
                reply.body += try take(size)
                _ = try line()
            }
        } else {
            while try fill() {}
            reply.body = Array(buffer[start...])
            start = buffer.count
        }
        return reply
    }
}
