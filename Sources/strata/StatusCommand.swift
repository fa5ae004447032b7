import ArgumentParser
import Glibc
import StrataArchive
import StrataEngine
import StrataPlatform

/// `strata status`: a running server's /status.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print a running strata serve's status (its GET /status JSON): storage per tier and measurement, query latency and slow queries, scheduled work, the mirror and the Redis publisher.",
        discussion: "Pipe it through python3 -m json.tool or jq to read it. A server with API keys wants an admin key: --api-key or $STRATA_API_KEY.")
    @Option(help: "The server (default http://127.0.0.1:8000).") var url = "http://127.0.0.1:8000"
    @Option(help: "An admin API key (default: $STRATA_API_KEY).") var apiKey: String?

    func run() throws {
        running {
            let key = apiKey ?? getenv("STRATA_API_KEY").map { String(cString: $0) }
            let base = url.hasSuffix("/") ? String(url.dropLast()) : url
            let (status, body) = try HTTPGet.fetch(base + "/status", headers: key.map { [("Authorization", "Bearer \($0)")] } ?? [])
            let text = String(decoding: body, as: UTF8.self)
            guard status == 200 else {
                throw StrataError(status == 401 || status == 403 ? .denied : .io, "\(base)/status answered \(status): \(text.prefix(300))")
            }
            var out = Output()
            out.write(text.hasSuffix("\n") ? text : text + "\n")
            out.flush()
        }
    }
}
