import CCurl
import Glibc
import StrataEngine
import StrataPlatform

/// libcurl is initialised once per process, before any handle is made.
let curlReady: Bool = curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK

/// One HTTP response.
struct HTTPResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.last { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// A libcurl easy handle, owned by exactly one value and cleaned up in deinit. One
/// request at a time; callers that run requests in parallel use one handle each (the
/// store's pool hands a handle to one request at a time, hence @unchecked Sendable).
final class CurlEasy: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer

    init() throws(StrataError) {
        guard curlReady, let h = curl_easy_init() else { throw StrataError(.io, "libcurl could not be initialised") }
        handle = h
    }

    deinit { curl_easy_cleanup(handle) }

    /// What the callbacks fill in, reached through their context pointer.
    private final class Exchange {
        var body: [UInt8] = []
        var headers: [(String, String)] = []
        let upload: [UInt8]
        var uploaded = 0
        init(upload: [UInt8]) { self.upload = upload }
    }

    /// Performs one request. Network failures (refused, timed out, reset) throw `.io`
    /// with curl's message; any HTTP status is a response.
    func perform(method: String, url: String, headers: [(String, String)], body: [UInt8],
                 connectTimeoutMilliseconds: Int, timeoutMilliseconds: Int, stallMilliseconds: Int = 30_000,
                 verifyTLS: Bool = true) throws(StrataError) -> HTTPResponse {
        curl_easy_reset(handle)
        // Nothing set below may outlive this call in the handle (it goes back to a pool).
        defer { curl_easy_reset(handle) }
        let exchange = Exchange(upload: body)
        let context = Unmanaged.passRetained(exchange)
        defer { context.release() }
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for (name, value) in headers { list = curl_slist_append(list, "\(name): \(value)") }
        // No "Expect: 100-continue" round trip, and no default content type.
        list = curl_slist_append(list, "Expect:")
        defer { curl_slist_free_all(list) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code: CURLcode = url.withCString { urlPointer in
            method.withCString { methodPointer in
                errorBuffer.withUnsafeMutableBufferPointer { errors in
                    _ = strata_curl_setopt_string(handle, CURLOPT_URL, urlPointer)
                    _ = strata_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
                    _ = strata_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMilliseconds)
                    _ = strata_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeoutMilliseconds)
                    _ = strata_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1024)
                    _ = strata_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, max(1, stallMilliseconds / 1000))
                    _ = strata_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, verifyTLS ? 1 : 0)
                    _ = strata_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, verifyTLS ? 2 : 0)
                    _ = strata_curl_setopt_pointer(handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list))
                    _ = strata_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errors.baseAddress!))
                    let opaque = context.toOpaque()
                    _ = strata_curl_setopt_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
                        let exchange = Unmanaged<Exchange>.fromOpaque(context!).takeUnretainedValue()
                        let n = size * count
                        data!.withMemoryRebound(to: UInt8.self, capacity: n) { exchange.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: n)) }
                        return n
                    }
                    _ = strata_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, opaque)
                    _ = strata_curl_setopt_callback(handle, CURLOPT_HEADERFUNCTION) { data, size, count, context in
                        let exchange = Unmanaged<Exchange>.fromOpaque(context!).takeUnretainedValue()
                        let n = size * count
                        let line = data!.withMemoryRebound(to: UInt8.self, capacity: n) { String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self) }
                        if let colon = line.firstIndex(of: ":") {
                            let name = String(line[..<colon])
                            var value = Substring(line[line.index(after: colon)...])
                            while let f = value.first, f == " " || f == "\t" { value.removeFirst() }
                            // "\r\n" is one Character: compare scalars.
                            while let l = value.unicodeScalars.last, l == "\r" || l == "\n" || l == " " {
                                value = Substring(value.unicodeScalars.dropLast())
                            }
                            exchange.headers.append((name, String(value)))
                        } else if line.hasPrefix("HTTP/") {
                            exchange.headers = []  // a new response (after a redirect or 100)
                        }
                        return n
                    }
                    _ = strata_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, opaque)
                    switch method {
                    case "HEAD":
                        _ = strata_curl_setopt_long(handle, CURLOPT_NOBODY, 1)
                    case "GET":
                        _ = strata_curl_setopt_long(handle, CURLOPT_HTTPGET, 1)
                    default:
                        _ = strata_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, methodPointer)
                        if method == "PUT" || method == "POST" {
                            _ = strata_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
                            _ = strata_curl_setopt_offset(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(exchange.upload.count))
                            _ = strata_curl_setopt_callback(handle, CURLOPT_READFUNCTION) { data, size, count, context in
                                let exchange = Unmanaged<Exchange>.fromOpaque(context!).takeUnretainedValue()
                                let n = min(size * count, exchange.upload.count - exchange.uploaded)
                                exchange.upload.withUnsafeBytes { raw in
                                    UnsafeMutableRawPointer(data!).copyMemory(from: raw.baseAddress! + exchange.uploaded, byteCount: n)
                                }
                                exchange.uploaded += n
                                return n
                            }
                            _ = strata_curl_setopt_pointer(handle, CURLOPT_READDATA, opaque)
                        }
                    }
                    return curl_easy_perform(handle)
                }
            }
        }
        guard code == CURLE_OK else {
            let detail = errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let reason = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            throw StrataError(.io, "\(method) \(Self.redacted(url)): \(reason)")
        }
        var status = 0
        _ = strata_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: exchange.headers, body: exchange.body)
    }

    /// A URL without its query (which may hold upload ids and tokens) for messages.
    static func redacted(_ url: String) -> String {
        String(url.prefix { $0 != "?" })
    }
}

/// One plain HTTP GET, for commands that ask a running `strata serve` (e.g. `strata status`).
public enum HTTPGet {
    public static func fetch(_ url: String, headers: [(String, String)] = [], timeoutMilliseconds: Int = 10_000) throws(StrataError) -> (status: Int, body: [UInt8]) {
        let response = try CurlEasy().perform(method: "GET", url: url, headers: headers, body: [],
                                              connectTimeoutMilliseconds: timeoutMilliseconds, timeoutMilliseconds: timeoutMilliseconds)
        return (response.status, response.body)
    }
}
