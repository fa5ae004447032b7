import ArgumentParser
import Glibc
import Logging
import StrataEngine
import StrataArchive
import StrataCache
import StrataMirror
import StrataServer
import StrataSystem

/// `strata serve`: the store over HTTP.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the store over HTTP: InfluxDB line protocol writes (POST /api/v2/write, /write), GET /health and /ready.",
        discussion: "Stops on SIGTERM or SIGINT: it accepts no new connections, lets requests in flight finish, then flushes and closes the store. With API keys (--api-keys, $STRATA_API_KEYS_FILE) every route but /health and /ready needs one; without, it listens on loopback only. strata keys create makes keys.")
    @OptionGroup var store: DataDirOption
    @OptionGroup var archiveOption: ArchiveOption
    @Option(help: "HOST:PORT to listen on (default 127.0.0.1:8000; port 0 picks a free port).") var listen = "127.0.0.1:8000"
    @Option(help: "The line protocol tag that names the series.") var symbolTag = "symbol"
    @Option(help: "Requests handled at once; more get 503 with Retry-After.") var maxConcurrentRequests = 64
    @Option(help: "Largest request body in MiB (also once gzip is inflated); larger get 413.") var maxBodyMib = 64
    @Option(help: "Queries slower than this many seconds are listed in /status.") var slowQuerySeconds = 1.0
    @Option(help: "Apply the tier policy (compact, archive) this often, or never (default: [schedule] tier_every, else 1h).") var tierEvery: String?
    @Option(help: "Take an incremental backup to the archive this often, or never (default: [schedule] backup_every, else never).") var backupEvery: String?
    @Option(help: "API keys file (default: $STRATA_API_KEYS_FILE): lines '<name> <role> sha256:<hex>' from strata keys create.") var apiKeys: String?

    func run() async throws {
        var c = ServerConfiguration()
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65_535).contains(port) else {
            throw ValidationError("--listen takes HOST:PORT, not '\(listen)'")
        }
        c.host = String(listen[..<colon]).trimmingBrackets
        c.port = port
        if let file = apiKeys ?? Keyring.environmentVariable("STRATA_API_KEYS_FILE").flatMap({ $0.isEmpty ? nil : $0 }) {
            do throws(StrataError) {
                c.keyring = try APIKeyring.load(file)
            } catch {
                fail(error.description)
            }
            guard !c.keyring.isEmpty else { fail("\(file): no API keys in it") }
        }
        guard !c.keyring.isEmpty || ["127.0.0.1", "::1", "localhost"].contains(c.host) else {
            throw ValidationError("--listen \(listen): without API keys (--api-keys or $STRATA_API_KEYS_FILE) the server listens on loopback only (127.0.0.1, ::1, localhost)")
        }
        c.symbolTag = symbolTag
        guard maxConcurrentRequests >= 1, (1...4096).contains(maxBodyMib) else {
            throw ValidationError("--max-concurrent-requests must be at least 1 and --max-body-mib 1…4096")
        }
        c.maxConcurrentRequests = maxConcurrentRequests
        c.maxBodyBytes = maxBodyMib << 20
        c.slowQuerySeconds = slowQuerySeconds
        let settings = try store.settings()
        // Queries reach the archive (cold days) too.
        let archive = try archiveOption.open(store)
        let database: Database
        do throws(StrataError) {
            database = try Database(directory: store.path, configuration: archive.databaseConfiguration(settings.database))
        } catch {
            fail(error.description)
        }
        for damage in database.recovery.damage { Output.standardError("strata: recovery: \(damage)\n") }
        // The database mirror and the Redis publisher run beside the server when configured.
        let mirror: Mirror?
        let publisher: CachePublisher?
        do throws(StrataError) {
            mirror = try settings.mirror().map { c throws(StrataError) in try Mirror(database: database, configuration: c) }
            publisher = try settings.cache().map { c throws(StrataError) in try CachePublisher(database: database, configuration: c) }
        } catch {
            try? database.close()
            fail(error.description)
        }
        mirror?.start()
        publisher?.start()
        var jobs: [Scheduler.Job] = []
        if let seconds = try every(tierEvery, "--tier-every", default: settings.tierEverySeconds) {
            let policy = settings.tiers
            jobs.append(Scheduler.tiering(policy, database: database, archive: policy.archiveAfter == nil ? nil : archive, every: seconds))
        }
        if let seconds = try every(backupEvery, "--backup-every", default: settings.backupEverySeconds) {
            jobs.append(Scheduler.backup(Backups(objects: archive.objects, keyring: archive.keyring), database: database, every: seconds))
        }
        let scheduler = Scheduler(jobs: jobs)
        scheduler.start()
        var logger = Logger(label: "strata")
        logger.logLevel = .warning
        let host = c.host
        let app = StrataServer(database: database, configuration: c, mirror: mirror, publisher: publisher, scheduler: scheduler).application(logger: logger) { port in
            Output.standardOutputNow("strata: listening on http://\(host.contains(":") ? "[\(host)]" : host):\(port)\n")
        }
        do {
            try await app.runService()
        } catch {
            scheduler.stop()
            mirror?.stop()
            publisher?.stop()
            try? database.close()
            fail("\(error)")
        }
        scheduler.stop()
        mirror?.stop()
        publisher?.stop()
        do throws(StrataError) {
            try database.close()
        } catch {
            fail(error.description)
        }
        Output.standardOutputNow("strata: stopped; every acknowledged row is in the store\n")
    }
}

/// An interval option: a duration (at least 1s) or "never"; nil when never.
func every(_ text: String?, _ option: String, default value: Double?) throws -> Double? {
    guard let text else { return value }
    if text == "never" { return nil }
    guard let v = try? parseDuration(text), v >= 1_000_000_000 else {
        throw ValidationError("\(option) takes a duration of at least 1s (30m, 1h, 1d) or never, not '\(text)'")
    }
    return Double(v) / 1e9
}

extension String {
    fileprivate var trimmingBrackets: String {
        hasPrefix("[") && hasSuffix("]") ? String(dropFirst().dropLast()) : self
    }
}
