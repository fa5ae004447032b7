import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import StrataEngine
import StrataText

/// A request the HTTP parser cannot read (a request line and headers over 80 KiB, bad
/// framing) gets the same JSON error body as every other error: Hummingbird answers it with
/// an empty 400 and closes the connection; this handler, between the HTTP codec and
/// Hummingbird, sees the parser's error go by and gives that answer its body.
final class ParseErrorBodies: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var parseError: (any Error)?

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        parseError = error
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard let error = parseError, case .head(var head) = unwrapOutboundIn(data),
              head.status == .badRequest, head.headerFields[.contentLength] == "0" else {
            context.write(data, promise: promise)
            return
        }
        let body = ByteBuffer(string: "{\"code\":\"invalid\",\"message\":\(TextFormat.jsonString(Self.message(error)))}\n")
        head.headerFields[.contentLength] = "\(body.readableBytes)"
        head.headerFields[.contentType] = "application/json"
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: promise)
    }

    /// The parser's error in words.
    static func message(_ error: any Error) -> String {
        let text = String(describing: error)
        if case .headerOverflow? = error as? HTTPParserError { return "the request line and headers are larger than 80 KiB (\(text))" }
        return "the request is not valid HTTP/1.1 (\(text))"
    }
}
