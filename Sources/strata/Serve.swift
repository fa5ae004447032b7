import ArgumentParser
import Glibc
import Logging
import StrataEngine
import StrataPlatform
import StrataServer
import StrataSystem

/// `strata serve`: the store over HTTP.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the store over HTTP: InfluxDB line protocol and JSON writes, queries, /metrics, /status, /health, /ready and /ping; tiering, backups, quality scans and tuning run on schedule.",
        discussion: "Stops on SIGTERM or SIGINT: it accepts no new connections, lets requests in flight finish, then flushes and closes the store. With API keys (--api-keys, $STRATA_API_KEYS_FILE) every route but /health, /ready and /ping needs one; without, it listens on loopback only. strata keys create makes keys.")
    @OptionGroup var store: DataDirOption
    @OptionGroup var archiveOption: ArchiveOption
    @Option(help: "HOST:PORT to listen on (default: $STRATA_LISTEN, else server.listen, else 127.0.0.1:8000; port 0 picks a free port).") var listen: String?
    @Option(help: "The line protocol tag that names the series (default: server.symbol_tag, else symbol).") var symbolTag: String?
    @Option(help: "Requests handled at once; more get 503 with Retry-After (default: server.max_concurrent_requests, else 64).") var maxConcurrentRequests: Int?
    @Option(help: "Largest request body in MiB, also once gzip is inflated; larger get 413 (default: server.max_body_mib, else 64).") var maxBodyMib: Int?
    @Option(help: "Queries slower than this many seconds are listed in /status (default: server.slow_query, else 1s).") var slowQuerySeconds: Double?
    @Option(help: "Apply the tier policy (compact, archive) this often, or never (default: schedule.tier_every, else 1h).") var tierEvery: String?
    @Option(help: "Take an incremental backup to the archive this often, or never (default: schedule.backup_every, else never).") var backupEvery: String?
    @Option(help: "Scan every series' last quality.lookback for data-quality problems this often, or never (default: schedule.quality_every, else 15m).") var qualityEvery: String?
    @Option(help: "Retune flush size and archive cache within the tuning bounds this often, or never (default: schedule.tune_every, else 1m).") var tuneEvery: String?
    @Option(help: "API keys file (default: $STRATA_API_KEYS_FILE, else server.api_keys_file): lines '<name> <role> sha256:<hex>' from strata keys create.") var apiKeys: String?
    @Flag(help: "Run in the background: return once the server listens, saying where and its pid; its output goes to <data-dir>/_serve.log, and strata stop stops it.") var detach = false

    func run() async throws {
        if detach { try serveDetached(dataDirectory: store.path) }
        var settings = try store.settings()
        let server = settings.server
        var c = ServerConfiguration()
        let listen = self.listen ?? Environment.setting("STRATA_LISTEN") ?? server.listen
        guard let (host, port) = ServerSettings.hostAndPort(listen) else {
            throw ValidationError("--listen takes HOST:PORT, not '\(listen)'")
        }
        c.host = host
        c.port = port
        if let file = apiKeys ?? Environment.setting("STRATA_API_KEYS_FILE") ?? server.apiKeysFile {
            do throws(StrataError) {
                c.keyring = try APIKeyring.load(file)
            } catch {
                fail(error.description)
            }
            guard !c.keyring.isEmpty else { fail("\(file): no API keys in it") }
        }
        guard !c.keyring.isEmpty || ["127.0.0.1", "::1", "localhost"].contains(c.host) else {
            throw ValidationError("--listen \(listen): without API keys (--api-keys, $STRATA_API_KEYS_FILE or server.api_keys_file) the server listens on loopback only (127.0.0.1, ::1, localhost)")
        }
        c.symbolTag = symbolTag ?? server.symbolTag
        c.maxConcurrentRequests = maxConcurrentRequests ?? server.maxConcurrentRequests
        c.maxBodyBytes = maxBodyMib.map { $0 << 20 } ?? server.maxBodyBytes
        c.maxLineBytes = server.maxLineBytes
        c.slowQuerySeconds = slowQuerySeconds ?? server.slowQuerySeconds
        guard c.maxConcurrentRequests >= 1, (1...(4_096 << 20)).contains(c.maxBodyBytes), c.slowQuerySeconds >= 0 else {
            throw ValidationError("--max-concurrent-requests must be at least 1, --max-body-mib 1…4096 and --slow-query-seconds not negative")
        }
        // A busy port is refused before the store is opened (and its log replayed).
        do throws(StrataError) {
            try await StrataServer.checkCanListen(host: host, port: port)
        } catch {
            fail(error.message)
        }
        settings.tierSchedule = try every(tierEvery, "--tier-every", default: settings.tierSchedule)
        settings.backupSchedule = try every(backupEvery, "--backup-every", default: settings.backupSchedule)
        settings.qualitySchedule = try every(qualityEvery, "--quality-every", default: settings.qualitySchedule)
        settings.tuneSchedule = try every(tuneEvery, "--tune-every", default: settings.tuneSchedule)
        // Queries reach the archive (cold days) too.
        let archive = try archiveOption.open(store)
        let instance: StrataInstance
        do throws(StrataError) {
            instance = try StrataInstance(directory: store.path, settings: settings, archive: archive, events: reportEvent)
        } catch {
            fail(error.description)
        }
        instance.start()
        var logger = Logger(label: "strata")
        logger.logLevel = .warning
        let httpServer = StrataServer(instance: instance, configuration: c)
        let app = httpServer.application(logger: logger) { port in
            Output.standardOutputNow("strata: listening on http://\(StrataServer.address(host, port))\n")
        }
        do {
            try await app.runService()
        } catch {
            // Also a bind that failed because the address was taken after the check:
            // closing releases the store's lock; what is not flushed stays in the log.
            await httpServer.shutdown()
            instance.stop()
            try? instance.close()
            fail(StrataServer.listenFailure(error, host: host, port: c.port) ?? "\(error)")
        }
        await httpServer.shutdown()
        reportUnpublished(instance.stop())
        do throws(StrataError) {
            try instance.close()
        } catch {
            fail(error.description)
        }
        Output.standardOutputNow("strata: stopped; every acknowledged row is in the store\n")
    }
}

/// One line on standard error for what the store's services report: damage found on
/// opening, flushes failing and working again, the mirror or the Redis publisher failing (at
/// start or later) and recovering (their errors name servers without passwords), tuning.
@Sendable func reportEvent(_ event: StrataInstance.Event) {
    switch event {
    case .recoveryDamage(let damage): Output.standardError("strata: recovery: \(damage)\n")
    case .flushFailure(let error?):
        Output.standardError("strata: flush: \(error.description); the rows stay in memory and in the log and are tried again (/ready answers 503 meanwhile)\n")
    case .flushFailure(nil): Output.standardError("strata: flush: flushing again\n")
    case .mirror(.failing(let error)): Output.standardError("strata: mirror: \(error.description); retrying in the background (writes go on)\n")
    case .mirror(.recovered): Output.standardError("strata: mirror: PostgreSQL reached again; replicating\n")
    case .cache(.failing(let error), _): Output.standardError("strata: Redis publisher: \(error.description); retrying in the background (writes go on)\n")
    case .cache(.recovered, let server): Output.standardError("strata: Redis publisher: Redis at \(server) reached again; publishing\n")
    case .tuning(let change): Output.standardError("strata: tuning: \(change)\n")
    }
}

/// When rows did not reach Redis (dropped while it was away or slow, or still waiting at
/// the stop), says so in one line on standard error.
func reportUnpublished(_ stopped: StrataInstance.Stopped) {
    guard let s = stopped.cache, s.rowsDropped > 0 else { return }
    let why = stopped.cacheWasAway ? "Redis unreachable" : stopped.cacheRowsAtStop > 0 ? "Redis had not confirmed them at the stop" : "Redis was away or slow, or refused them"
    Output.standardError("strata: Redis publisher: \(grouped(s.rowsDropped)) row\(s.rowsDropped == 1 ? "" : "s") not published (\(why)); strata cache warm republishes the last \(windowText(stopped.cacheWindowSeconds))\n")
}

/// The cache window as said in a sentence: "hour", "15 minutes", "90 seconds".
func windowText(_ seconds: Double) -> String {
    if seconds == 3_600 { return "hour" }
    if seconds == 60 { return "minute" }
    if seconds >= 60 && seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60)) minutes" }
    return "\(format3(seconds)) seconds"
}

/// 5000 as "5,000".
func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, d) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(d)
    }
    return (n < 0 ? "-" : "") + out
}

/// A schedule option: a duration (at least 1s), daily HH:MM (UTC), or "never" (nil).
func every(_ text: String?, _ option: String, default value: JobSchedule?) throws -> JobSchedule? {
    guard let text else { return value }
    do throws(StrataError) {
        return try JobSchedule.parse(text)
    } catch {
        throw ValidationError("\(option): \(error.message)")
    }
}
