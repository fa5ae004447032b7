import ArgumentParser
import StrataEngine
import StrataPlatform
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
        let check = ConfigurationCheck(path: config ?? Environment.setting("STRATA_CONFIG"))
        if check.problems.isEmpty {
            Output.standardOutputNow("\(check.path ?? "the built-in defaults"): valid\n")
            return
        }
        for p in check.problems { Output.standardError("strata: \(p)\n") }
        Output.standardError("\(check.problems.count) problem\(check.problems.count == 1 ? "" : "s")\n")
        throw ExitCode.failure
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
