import ArgumentParser
import StrataArchive
import StrataEngine
import StrataMirror
import StrataServer
import StrataSystem

/// `strata validate-config`: every problem of a configuration file and of the environment
/// that overrides it, each with its key path (or variable) and line.
struct ValidateConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate-config",
        abstract: "Check a configuration file and the environment overriding it; list every problem with its key path.",
        discussion: "Exit status 0 when valid, 1 otherwise. config/strata.json is a sample with every setting.")

    @Option(help: "Configuration file (default: $STRATA_CONFIG).") var config: String?

    func run() throws {
        var problems: [String] = []
        var settings = StrataConfiguration()
        let path = config ?? Keyring.environmentSetting("STRATA_CONFIG")
        if let path {
            // The file's valid settings count for the checks below even when others are bad.
            let (loaded, found) = StrataConfiguration.check(path)
            problems += found.map(\.description)
            if let loaded {
                settings = loaded
                if let secret = loaded.secretsHeld.first, FileSystem.isReadableByOthers(path) {
                    problems.append("\(path): holds \(secret) and every user may read it; chmod 600 it, or give the secret through the environment")
                }
            }
        }
        problems += environmentProblems(settings)
        if problems.isEmpty {
            Output.standardOutputNow("\(path ?? "the built-in defaults"): valid\n")
            return
        }
        for p in problems { Output.standardError("strata: \(p)\n") }
        Output.standardError("\(problems.count) problem\(problems.count == 1 ? "" : "s")\n")
        throw ExitCode.failure
    }

    /// What the environment sets, checked as the commands that use it would.
    func environmentProblems(_ settings: StrataConfiguration) -> [String] {
        var out: [String] = []
        let variable = { (name: String) in settings.variable(name) }
        func check(_ what: String, _ body: () throws(StrataError) -> Void) {
            do throws(StrataError) { try body() } catch { out.append("\(what): \(error.message)") }
        }
        check("REDIS_URL / cache.url") { () throws(StrataError) in _ = try settings.cache() }
        check("TIMESCALE_DSN / mirror.dsn") { () throws(StrataError) in
            if let dsn = Keyring.environmentSetting("TIMESCALE_DSN") ?? settings.mirrorDSN { try PostgresConnection.checkConnectionString(dsn) }
        }
        if let bars = Keyring.environmentSetting("STRATA_MIRROR_BARS") {
            check("STRATA_MIRROR_BARS") { () throws(StrataError) in _ = try StrataConfiguration.parseBars(bars) }
        }
        check("S3_* / archive") { () throws(StrataError) in _ = try S3Configuration.fromEnvironment(variable) }
        if let url = variable("STRATA_ARCHIVE") {
            if url.hasPrefix("s3://") {
                do {
                    _ = try s3Configuration(url, variable)
                } catch let e as ValidationError {
                    out.append(e.message)
                } catch {
                    out.append("archive \(url): \((error as? StrataError)?.message ?? "\(error)")")
                }
            } else if !url.hasPrefix("file://") {
                out.append("STRATA_ARCHIVE / archive.url: must be file:///DIR or s3://BUCKET[/PREFIX], not '\(url)'")
            }
        }
        check("STRATA_ENCRYPTION_KEY* / encryption.key_file") { () throws(StrataError) in _ = try Keyring.fromEnvironment(variable) }
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
                out.append("server.listen: \(listen) is not loopback, so API keys are needed (server.api_keys_file or STRATA_API_KEYS_FILE)")
            }
        } else {
            out.append("STRATA_LISTEN: must be HOST:PORT, not '\(listen)'")
        }
        return out
    }
}

/// `strata check-deps`: each configured service, reached for real.
struct CheckDeps: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-deps",
        abstract: "Reach every configured service (store, archive, SQL mirror, Redis) and say whether it answers, its version, and what fails.",
        discussion: "Exit status 0 when every configured service answers, 1 otherwise. Passwords are never printed.")

    @OptionGroup var store: DataDirOption
    @OptionGroup var archiveOption: ArchiveOption

    func run() throws {
        let settings = try store.settings()
        var checks = [DependencyCheck.store(store.path)]
        do {
            checks.append(DependencyCheck.archive(try archiveOption.open(store)))
        } catch {
            checks.append(DependencyCheck(name: "archive", target: "-", ok: false, detail: (error as? StrataError)?.description ?? "\(error)"))
        }
        do throws(StrataError) {
            checks.append(DependencyCheck.mirror(try settings.mirror()))
        } catch {
            checks.append(DependencyCheck(name: "mirror", target: "STRATA_MIRROR_BARS", ok: false, detail: error.message))
        }
        do throws(StrataError) {
            checks.append(DependencyCheck.cache(try settings.cache()))
        } catch {
            checks.append(DependencyCheck(name: "cache", target: "REDIS_URL", ok: false, detail: error.message))
        }
        var out = Output()
        for c in checks {
            let mark = c.ok.map { $0 ? "ok  " : "FAIL" } ?? "-   "
            out.write("\(mark) \(c.name.padding(8)) \(c.target): \(c.detail)\n")
        }
        out.flush()
        if checks.contains(where: { $0.ok == false }) { throw ExitCode.failure }
    }
}

/// `strata selftest`: an end-to-end run in a temporary directory.
struct SelfTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Run ingest, query, flush, compaction, tiering, backup, restore and a quality scan end to end in a temporary directory.",
        discussion: "Each step checks that every row reads back as written. Exit status 0 when every step passes, 1 at the first failure.")

    @Flag(help: "Keep the temporary directory (its path is printed).") var keep = false

    func run() throws {
        let passed = SelfTest.run(keep: keep) { step in
            Output.standardOutputNow("\(step.ok ? "ok  " : "FAIL") \(step.name.padding(18)) \(String(format3(step.seconds)))s  \(step.detail)\n")
        }
        Output.standardOutputNow(passed ? "selftest passed\n" : "selftest FAILED\n")
        if !passed { throw ExitCode.failure }
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
