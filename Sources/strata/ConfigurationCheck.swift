import ArgumentParser
import StrataArchive
import StrataEngine
import StrataMirror
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
        let variable = { (name: String) in settings.variable(name) }
        func check(_ what: String, _ body: () throws(StrataError) -> Void) {
            do throws(StrataError) { try body() } catch { problems.append("\(what): \(error.message)") }
        }
        check("REDIS_URL / cache.url") { () throws(StrataError) in _ = try settings.cache() }
        if let dsn = Keyring.environmentSetting("TIMESCALE_DSN") {
            check("TIMESCALE_DSN / mirror.dsn") { () throws(StrataError) in try PostgresConnection.checkConnectionString(dsn) }
        }
        if let bars = Keyring.environmentSetting("STRATA_MIRROR_BARS") {
            check("STRATA_MIRROR_BARS") { () throws(StrataError) in _ = try StrataConfiguration.parseBars(bars) }
        }
        // The archive a command would open, in ArchiveOption.open's order: STRATA_ARCHIVE, else
        // the S3_* variables when S3_BUCKET is set, else the file's archive.url.
        if let url = Keyring.environmentSetting("STRATA_ARCHIVE") {
            do throws(StrataError) {
                _ = try StrataConfiguration.checkArchiveURL(url)
                checkArchive(url, variable)
            } catch {
                problems.append("STRATA_ARCHIVE / archive.url: \(error.message)")
            }
        } else if Keyring.environmentSetting("S3_BUCKET") != nil {
            check("S3_* / archive") { () throws(StrataError) in _ = try S3Configuration.fromEnvironment(variable) }
        } else if let url = settings.archiveSettings["STRATA_ARCHIVE"] {
            checkArchive(url, variable)
        }
        check("STRATA_ENCRYPTION_KEY* / encryption.key_file") { () throws(StrataError) in _ = try Keyring.fromEnvironment(variable) }
        if let keyFile = variable("STRATA_ENCRYPTION_KEY_FILE"), FileSystem.isReadableByOthers(keyFile) {
            problems.append("STRATA_ENCRYPTION_KEY_FILE / encryption.key_file: \(keyFile) holds encryption keys and every user may read it; chmod 600 it")
        }
        let keysFile = Keyring.environmentSetting("STRATA_API_KEYS_FILE") ?? settings.server.apiKeysFile
        var keys = 0
        if let keysFile {
            check("STRATA_API_KEYS_FILE / server.api_keys_file") { () throws(StrataError) in
                keys = try APIKeyring.load(keysFile).count
                if keys == 0 { throw StrataError(.invalidInput, "\(keysFile) holds no API keys (strata keys create makes them)") }
            }
        }
        let listen = Keyring.environmentSetting("STRATA_LISTEN") ?? settings.server.listen
        if let (host, _) = ServerSettings.hostAndPort(listen) {
            if keys == 0, !["127.0.0.1", "::1", "localhost"].contains(host) {
                problems.append("server.listen: \(listen) is not loopback, so API keys are needed (server.api_keys_file or STRATA_API_KEYS_FILE)")
            }
        } else {
            problems.append("STRATA_LISTEN: must be HOST:PORT, not '\(listen)'")
        }
    }

    /// An S3 archive URL with what opening it needs from the other settings (credentials,
    /// endpoint); a directory needs nothing more.
    private mutating func checkArchive(_ url: String, _ variable: (String) -> String?) {
        guard url.hasPrefix("s3://") else { return }
        let configuration: S3Configuration?
        do throws(StrataError) {
            configuration = try StrataConfiguration.s3Configuration(url, variable)
        } catch {
            problems.append("archive \(url): \(error.message)")
            return
        }
        if configuration == nil { problems.append("archive \(url): S3_ACCESS_KEY and S3_SECRET_KEY are needed") }
    }
}
