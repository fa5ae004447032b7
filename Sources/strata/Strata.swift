import ArgumentParser
import Glibc
import StrataEngine
import StrataPlatform
import StrataSystem

@main
struct Strata: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Strata: a time-series store for market data.",
        version: StrataVersion.number,
        subcommands: [Ingest.self, Query.self, Delete.self, Compact.self, ArchiveCommand.self, BackupCommand.self, Tier.self, MirrorCommand.self, CacheCommand.self, Serve.self, Stop.self, QualityCommand.self, KeysCommand.self, ValidateConfig.self, CheckDeps.self, SelfTestCommand.self, StatusCommand.self, Inspect.self, ListCommand.self, Stats.self, Generate.self, Demo.self]
    )
}

/// `--data-dir` and `--config`, shared by every command that touches a store.
struct DataDirOption: ParsableArguments {
    @Option(name: .long, help: "Data directory (default: $STRATA_DATA_DIR, else the configuration's data_dir, else ./strata-data).")
    var dataDir: String?
    @Option(name: .long, help: "Configuration file (default: $STRATA_CONFIG). The environment and flags override what it sets.")
    var config: String?

    /// A configuration with problems is refused with the first of them and the count of
    /// the rest, from the checker validate-config runs, so that both say the same number.
    func validate() throws {
        do { _ = try settings() } catch let e as StrataError {
            let refusal = ConfigurationCheck(path: config ?? Environment.setting("STRATA_CONFIG")).refusal()
            guard !refusal.isEmpty else { throw ValidationError(e.description) }
            for line in refusal { Output.standardError("strata: \(line)\n") }
            throw ExitCode.validationFailure
        }
    }

    /// The configuration file's settings (built-in defaults without one).
    func settings() throws -> StrataConfiguration {
        try loadSettings(config)
    }

    var path: String {
        if let dataDir { return dataDir }
        if let env = getenv("STRATA_DATA_DIR"), env.pointee != 0 { return String(cString: env) }
        return (try? settings())?.dataDirectory ?? "./strata-data"
    }
}

/// The settings of the configuration file `path` (else `$STRATA_CONFIG`), or the defaults.
func loadSettings(_ path: String?) throws -> StrataConfiguration {
    guard let file = path ?? Environment.setting("STRATA_CONFIG") else {
        return StrataConfiguration()
    }
    return try StrataConfiguration.load(file)
}

/// Reports a failure on standard error and exits with status 1.
func fail(_ message: String) -> Never {
    Output.standardError("strata: \(message)\n")
    exit(1)
}

/// Runs `body`, turning engine errors into a clear message and exit status 1.
func running<R>(_ body: () throws -> R) -> R {
    do {
        return try body()
    } catch let e as StrataError {
        fail(e.description)
    } catch let e as ValidationError {
        fail(e.message)
    } catch {
        fail("\(error)")
    }
}

/// Buffered writes to standard output: result sets can have millions of rows.
struct Output {
    var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(1 << 16) }

    mutating func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        buffer.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Glibc.write(1, raw.baseAddress! + done, raw.count - done)
                if n <= 0 {
                    if n < 0 && errno == EINTR { continue }
                    exit(n < 0 && errno == EPIPE ? 0 : 1)
                }
                done += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    static func standardError(_ s: String) {
        var s = s
        s.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

/// Monotonic seconds, for rates.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Parses a time given on the command line: RFC 3339 or a date, or epoch integer
/// (unit guessed from magnitude).
func parseTime(_ text: String, option: String) throws -> Int64 {
    do throws(StrataError) {
        return try CivilTime.parseInstant(text, what: option)
    } catch {
        throw ValidationError(error.message)
    }
}

/// Parses the end of an inclusive range given on the command line: as `parseTime`, but a
/// date alone means the whole day.
func parseRangeEnd(_ text: String, option: String) throws -> Int64 {
    do throws(StrataError) {
        return try CivilTime.parseRangeEnd(text, what: option)
    } catch {
        throw ValidationError(error.message)
    }
}

/// The bars of `--interval`, `--tz` and `--offset`; a bad one is a usage error.
func barInterval(_ interval: String, tz: String?, offset: String?) throws -> BarInterval {
    do throws(StrataError) {
        return BarInterval(try BarInterval.parseLength(interval), zone: try tz.map { name throws(StrataError) in try TimeZoneRules(named: name) } ?? .utc,
                           sessionStart: try offset.map(BarInterval.parseSessionStart) ?? 0)
    } catch {
        throw ValidationError("--\(error.field == "tz" ? "tz" : error.field == "offset" ? "offset" : "interval"): \(error.message)")
    }
}

