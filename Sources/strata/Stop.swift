import ArgumentParser
import Glibc
import StrataEngine
import StrataPlatform

/// `strata stop`: stops the process that holds a store (a server, a live ingest).
struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop the process that holds the store (strata serve, ingest --live): SIGTERM, then wait until it has flushed and let the store go.",
        discussion: "The process is the one recorded in <data-dir>/_lock while it holds the store. Nothing holding the store is not an error. Exit status 1 when it has not stopped within --timeout seconds.")
    @OptionGroup var store: DataDirOption
    @Option(help: "Seconds to wait for it to stop.") var timeout: Double = 120

    func run() throws {
        let lock = store.path + "/_lock"
        guard let holder = FileLock.holder(of: lock) else {
            Output.standardOutputNow("strata: no process holds \(store.path); nothing to stop\n")
            return
        }
        guard kill(holder.pid, SIGTERM) == 0 else {
            fail("cannot signal process \(holder.pid): \(String(cString: strerror(errno)))")
        }
        let deadline = monotonicNanoseconds() + Int64(timeout * 1e9)
        while FileLock.holder(of: lock) != nil {
            guard monotonicNanoseconds() < deadline else {
                fail("process \(holder.pid) has not stopped after \(format3(timeout)) s (still flushing, or stuck); kill -9 \(holder.pid) loses no acknowledged row")
            }
            usleep(20_000)
        }
        Output.standardOutputNow("strata: stopped process \(holder.pid)\(holder.command.isEmpty ? "" : " (\(holder.command))"); every acknowledged row is in the store\n")
    }
}

/// `strata serve --detach`: the same command again without `--detach`, in a session of
/// its own with its output in `<data-dir>/_serve.log`; returns once it listens (printing
/// where, its pid and how to stop it), or fails with what it printed if it exits first.
func serveDetached(dataDirectory: String) throws -> Never {
    do throws(StrataError) {
        try FileSystem.makeDirectories(dataDirectory)
    } catch {
        fail(error.description)
    }
    let logPath = dataDirectory + "/_serve.log"
    let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard log >= 0 else { fail("cannot open \(logPath): \(String(cString: strerror(errno)))") }
    let start = Int(lseek(log, 0, SEEK_END))
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, log, 1)
    posix_spawn_file_actions_adddup2(&actions, log, 2)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    // A session of its own: the terminal's hangup and Ctrl-C do not reach it.
    posix_spawnattr_setflags(&attributes, 0x80)  // POSIX_SPAWN_SETSID (glibc; hidden from Swift)
    let executable = "/proc/self/exe"
    let arguments = [CommandLine.arguments[0]] + CommandLine.arguments.dropFirst().filter { $0 != "--detach" }
    var argv = arguments.map { strdup($0) } + [nil]
    defer { for a in argv { free(a) } }
    var pid: pid_t = 0
    let status = posix_spawn(&pid, executable, &actions, &attributes, &argv, environ)
    close(log)
    guard status == 0 else { fail("cannot start the server: \(String(cString: strerror(status)))") }
    let deadline = monotonicNanoseconds() + 600_000_000_000
    while true {
        let text = readLog(logPath, from: start)
        if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("strata: listening on ") }) {
            Output.standardOutputNow("\(line) (pid \(pid), data in \(dataDirectory), log in \(logPath)); strata stop\(dataDirectory == "./strata-data" ? "" : " --data-dir \(dataDirectory)") stops it\n")
            exit(0)
        }
        var exitStatus: Int32 = 0
        if waitpid(pid, &exitStatus, WNOHANG) == pid {
            Output.standardError(readLog(logPath, from: start))
            fail("the server exited before it listened (its output is above and in \(logPath))")
        }
        guard monotonicNanoseconds() < deadline else {
            fail("the server (pid \(pid)) is not listening after 10 minutes (replaying a long log?); see \(logPath)")
        }
        usleep(20_000)
    }
}

/// What the log file holds from byte `offset` on.
private func readLog(_ path: String, from offset: Int) -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    var at = offset
    while true {
        let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(at)) }
        guard n > 0 else { break }
        out.append(contentsOf: chunk[..<n])
        at += n
    }
    return String(decoding: out, as: UTF8.self)
}
