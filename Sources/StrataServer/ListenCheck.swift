import Glibc
import NIOCore
import NIOPosix
import StrataEngine
import StrataPlatform

extension StrataServer {
    /// Binds `host:port` as the server will (SO_REUSEADDR, as Hummingbird sets it) and lets
    /// it go again, so that `strata serve` can refuse a busy or foreign address before it
    /// opens (and recovers) the store. Port 0 always binds. The address may still be taken
    /// in between; `listenFailure` words that failure the same way.
    public static func checkCanListen(host: String, port: Int) async throws(StrataError) {
        guard port != 0 else { return }
        do {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port).get()
            try await channel.close()
        } catch {
            throw StrataError(.io, listenFailure(error, host: host, port: port) ?? "cannot listen on \(address(host, port)): \(error)")
        }
    }

    /// `cannot listen on HOST:PORT: address already in use` (or the system's words for
    /// another errno) when `error` is a failure to bind; nil for other errors.
    public static func listenFailure(_ error: any Error, host: String, port: Int) -> String? {
        guard let io = error as? IOError else { return nil }
        var reason = String(cString: strerror(io.errnoCode))
        if let first = reason.first { reason = first.lowercased() + reason.dropFirst() }
        return "cannot listen on \(address(host, port)): \(reason)"
    }

    /// HOST:PORT, with an IPv6 host in brackets.
    public static func address(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
