import Glibc
import StrataArchive
import StrataCache
import StrataEngine
import StrataMirror
import StrataPlatform

/// `strata check-deps`: each configured service, reached for real: whether it answers, its
/// version, and what fails. Names servers without their passwords.
public struct DependencyCheck: Sendable, Equatable {
    public var name: String
    /// Where (a path, an archive location, host:port/database).
    public var target: String
    /// nil: not configured (nothing to check).
    public var ok: Bool?
    public var detail: String

    public init(name: String, target: String, ok: Bool?, detail: String) {
        self.name = name
        self.target = target
        self.ok = ok
        self.detail = detail
    }

    /// The data directory: exists and is writable, or can be created.
    public static func store(_ path: String) -> DependencyCheck {
        let (ok, detail) = probeDirectory(path)
        return DependencyCheck(name: "store", target: path, ok: ok, detail: detail)
    }

    /// Whether files can be written in the directory at `path`, tried for real (a root
    /// process passes every permission check, yet /proc or a read-only mount refuses): a
    /// probe file is written and removed, and directories made for it are removed again.
    static func probeDirectory(_ path: String) -> (ok: Bool, detail: String) {
        if FileSystem.exists(path) && !FileSystem.isDirectory(path) { return (false, "is a file, not a directory") }
        // The directories this probe makes: from `path` up to the topmost that is missing.
        var made: [String] = []
        if !FileSystem.exists(path) {
            var missing = path
            while true {
                made.append(missing)
                let parent = FileSystem.parentDirectory(missing)
                if parent == missing || FileSystem.exists(parent) { break }
                missing = parent
            }
        }
        // rmdir removes only empty directories, never a link or anything else.
        defer { for dir in made { _ = rmdir(dir) } }
        do throws(StrataError) {
            try FileSystem.makeDirectories(path)
            let probe = "\(path)/.check-deps-\(monotonicNanoseconds())"
            try FileSystem.writeAtomically(probe, [Array("probe\n".utf8)])
            try FileSystem.remove(probe)
        } catch {
            return (false, error.description)
        }
        return (true, made.isEmpty ? "exists, writable" : "does not exist yet; can be made (on first use)")
    }

    /// The archive: one HEAD request for a key that need not exist (credentials and the
    /// bucket are checked by it: a wrong key or a missing bucket is an error, not a 404).
    /// A directory archive is probed as the store is.
    public static func archive(_ opened: StoreArchive) -> DependencyCheck {
        let archive = opened.archive
        let location = archive.objects.location
        let sealed = archive.keyring == nil ? "unencrypted" : "encrypted"
        if let local = archive.objects as? LocalObjectStore {
            let (ok, detail) = probeDirectory(local.directory)
            return DependencyCheck(name: "archive", target: location, ok: ok, detail: ok ? "\(detail), new objects \(sealed)" : detail)
        }
        do throws(StrataError) {
            if let s3 = archive.objects as? S3ObjectStore {
                guard try s3.bucketExists() else {
                    // As for a directory: what the first upload makes is not a failure.
                    return DependencyCheck(name: "archive", target: location, ok: true,
                                           detail: "reachable; the bucket '\(s3.configuration.bucket)' does not exist yet: the first upload makes it (strata archive init makes it now), new objects \(sealed)")
                }
            }
            _ = try archive.objects.head("_check-deps")
            return DependencyCheck(name: "archive", target: location, ok: true, detail: "reachable, new objects \(sealed)")
        } catch {
            return DependencyCheck(name: "archive", target: location, ok: false, detail: error.description)
        }
    }

    /// The SQL mirror: connects, reads the server's version and TimescaleDB's.
    public static func mirror(_ configuration: MirrorConfiguration?) -> DependencyCheck {
        guard let configuration else {
            return DependencyCheck(name: "mirror", target: "-", ok: nil, detail: "not configured (TIMESCALE_DSN or mirror.dsn)")
        }
        do throws(StrataError) {
            let connection = try PostgresConnection(configuration.dsn)
            let version = try connection.execute("SHOW server_version").value(0, 0) ?? "?"
            let ext = try connection.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").value(0, 0)
            let available = try connection.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'").value(0, 0)
            let timescale = ext.map { "TimescaleDB \($0)" }
                ?? available.map { "TimescaleDB \($0) available, not yet created (the mirror creates it)" }
                ?? "no TimescaleDB: plain tables"
            return DependencyCheck(name: "mirror", target: connection.server, ok: true, detail: "PostgreSQL \(version), \(timescale)")
        } catch {
            return DependencyCheck(name: "mirror", target: "TIMESCALE_DSN / mirror.dsn", ok: false, detail: error.description)
        }
    }

    /// The Redis hot tier: connects (with AUTH and SELECT) and reads the version.
    public static func cache(_ configuration: CacheConfiguration?) -> DependencyCheck {
        guard let configuration else {
            return DependencyCheck(name: "cache", target: "-", ok: nil, detail: "not configured (REDIS_URL or cache.url)")
        }
        do throws(StrataError) {
            let connection = try RedisConnection(configuration.url, timeoutMilliseconds: configuration.timeoutMilliseconds)
            guard let version = try connection.serverVersion() else {
                return DependencyCheck(name: "cache", target: connection.server, ok: true, detail: "answers, but does not say its version (6.2 or later is needed)")
            }
            let usable = CachePublisher.isSupported(version: version)
            return DependencyCheck(name: "cache", target: connection.server, ok: usable,
                                   detail: "Redis \(version)" + (usable ? "" : ": Strata needs Redis 6.2 or later (XADD MINID)"))
        } catch {
            return DependencyCheck(name: "cache", target: configuration.url.description, ok: false, detail: error.description)
        }
    }
}
