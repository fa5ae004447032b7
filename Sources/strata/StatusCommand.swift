import ArgumentParser
import Glibc
import StrataPlatform
import StrataSystem

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
            let text = try RemoteStatus.fetch(url, apiKey: key)
            var out = Output()
            out.write(text.hasSuffix("\n") ? text : text + "\n")
            out.flush()
        }
    }
}
