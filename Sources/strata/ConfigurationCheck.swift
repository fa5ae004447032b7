import ArgumentParser
import StrataEngine
import StrataPlatform
import StrataServer
import StrataSystem

/// Every problem of a configuration, once each: the file's (with key path and line), its
/// permissions, and what the environment sets, checked as the commands that use it would.
/// `strata validate-config` lists them all; a command that refuses the file shows the first
/// of the same list and counts the rest, so both say the same number.
struct ConfigurationCheck {
    /// The file (`--config`, else `$STRATA_CONFIG`); nil: the built-in defaults.
    let path: String?
    /// The file's settings, each bad one left at its default (defaults when it is not JSON).
    private(set) var settings = StrataConfiguration()
    private(set) var problems: [String] = []

    init(path: String?) {
        self.path = path
        if let path {
            let (loaded, found) = StrataConfiguration.check(path)
            problems += found.map(\.description)
            if let loaded {
                settings = loaded
                checkPermissions(path)
            }
        }
        checkEnvironment()
    }

    /// What a command that refuses the file prints: its first problems, then how many more
    /// validate-config lists.
    func refusal(showing count: Int = 3) -> [String] {
        var lines = Array(problems.prefix(count))
        if problems.count > count {
            let more = problems.count - count
            lines.append("\(more) more problem\(more == 1 ? "" : "s") (strata validate-config lists them all)")
        }
        return lines
    }

    /// A file that every user may read holds no secret: each one it holds is named.
    private mutating func checkPermissions(_ path: String) {
        let secrets = settings.secretsHeld
        guard !secrets.isEmpty, FileSystem.isReadableByOthers(path) else { return }
        let list = secrets.count == 1 ? secrets[0] : secrets.dropLast().joined(separator: ", ") + " and " + secrets.last!
        problems.append("\(path): every user may read it, and it holds \(list); chmod 600 it, or give the secret\(secrets.count == 1 ? "" : "s") through the environment")
    }

    /// What the environment sets, and what the file's settings need of each other. A bad
    /// setting of the file is not kept in `settings`, so it is not named here again.
    private mutating func checkEnvironment() {
        let settings = self.settings
        func check(_ what: String, _ body: () throws(StrataError) -> Void) {
            do throws(StrataError) { try body() } catch { problems.append("\(what): \(error.message)") }
        }
        // The services' settings: Redis, the mirror, the archive, the encryption keys.
        problems += settings.serviceProblems()
        let keysFile = Environment.setting("STRATA_API_KEYS_FILE") ?? settings.server.apiKeysFile
        var keys = 0
        if let keysFile {
            check("STRATA_API_KEYS_FILE / server.api_keys_file") { () throws(StrataError) in
                keys = try APIKeyring.load(keysFile).count
                if keys == 0 { throw StrataError(.invalidInput, "\(keysFile) holds no API keys (strata keys create makes them)") }
            }
        }
        let listen = Environment.setting("STRATA_LISTEN") ?? settings.server.listen
        if let (host, _) = ServerSettings.hostAndPort(listen) {
            if keys == 0, !["127.0.0.1", "::1", "localhost"].contains(host) {
                problems.append("server.listen: \(listen) is not loopback, so API keys are needed (server.api_keys_file or STRATA_API_KEYS_FILE)")
            }
        } else {
            problems.append("STRATA_LISTEN: must be HOST:PORT, not '\(listen)'")
        }
    }
}
