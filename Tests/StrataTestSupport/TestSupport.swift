import Glibc
import StrataEngine
import StrataFormat
import StrataPlatform

/// A fresh temporary directory, removed when the value goes away.
public final class TemporaryDirectory {
    public let path: String

    public init() {
        var template = Array("/tmp/strata-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(p != nil, "mkdtemp failed")
        path = String(cString: p!)
    }

    deinit {
        _ = system("rm -rf '\(path)'")
    }
}

/// Reads a whole file.
public func readFile(_ path: String) throws -> [UInt8] {
    let f = try MappedFile(path: path)
    return f.withUnsafeBytes { Array($0) }
}

/// Overwrites a whole file (not crash-safe: for tests that damage files on purpose).
public func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0)
    bytes.withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

public func writeText(_ path: String, _ text: String) {
    writeFile(path, Array(text.utf8))
}

/// All segment files under a directory.
public func segmentFiles(_ root: String) -> [String] {
    var out: [String] = []
    func walk(_ dir: String) {
        for name in (try? FileSystem.list(dir)) ?? [] {
            let p = "\(dir)/\(name)"
            if FileSystem.isDirectory(p) { walk(p) } else if name.hasSuffix(".seg") { out.append(p) }
        }
    }
    walk(root)
    return out.sorted()
}

public func ns(_ text: String) -> Int64 {
    guard case .success(let t) = CivilTime.parse(text) else { fatalError("bad time \(text)") }
    return t
}

/// Runs the `strata` executable built next to the test bundle; returns status and output.
public func runStrata(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) -> (status: Int32, stdout: String, stderr: String) {
    let binary = strataBinary()
    let tmp = TemporaryDirectory()
    let quoted = arguments.map { "'" + $0.replacingOccurrencesOfQuote() + "'" }.joined(separator: " ")
    let variables = environment.sorted { $0.key < $1.key }.map { "\($0.key)='\($0.value.replacingOccurrencesOfQuote())' " }.joined()
    var command = "\(variables)'\(binary)' \(quoted) >'\(tmp.path)/out' 2>'\(tmp.path)/err'"
    if let stdin {
        writeText("\(tmp.path)/in", stdin)
        command += " <'\(tmp.path)/in'"
    }
    let raw = system(command)
    let status = (raw >> 8) & 0xFF
    let out = (try? readFile("\(tmp.path)/out")).map { String(decoding: $0, as: UTF8.self) } ?? ""
    let err = (try? readFile("\(tmp.path)/err")).map { String(decoding: $0, as: UTF8.self) } ?? ""
    return (status, out, err)
}

/// Path of the `strata` executable built next to the test bundle.
public func strataBinary() -> String {
    var exe = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &exe, exe.count - 1)
    precondition(n > 0)
    let selfPath = String(decoding: exe[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    var dir = FileSystem.parentDirectory(selfPath)
    // The test runner may live inside an .xctest bundle directory.
    while !FileSystem.exists("\(dir)/strata") && dir != "/" { dir = FileSystem.parentDirectory(dir) }
    return "\(dir)/strata"
}

/// Starts `strata` with `arguments` in the background, standard output and error going to
/// files; returns its process id.
public func spawnStrata(_ arguments: [String], stdout: String, stderr: String) -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let binary = strataBinary()
    let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + arguments).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let r = posix_spawn(&pid, binary, &actions, nil, argv, environ)
    precondition(r == 0, "posix_spawn failed: \(r)")
    return pid
}

/// Waits for a process; returns its exit status, or 128 + signal if a signal ended it.
public func waitForExit(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let signal = status & 0x7f
    return signal == 0 ? (status >> 8) & 0xff : 128 + signal
}

extension String {
    public func replacingOccurrencesOfQuote() -> String {
        var s = ""
        for c in self { if c == "'" { s += "'\\''" } else { s.append(c) } }
        return s
    }

    public func lines() -> [String] {
        split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }
}

/// The first difference between two row blocks, ignoring what null slots hold; nil if
/// they hold the same rows. Keeps failure messages short.
public func firstDifference(_ a: RowBlock, _ b: RowBlock) -> String? {
    if a.rowCount != b.rowCount { return "row counts \(a.rowCount) and \(b.rowCount)" }
    if a.columns.count != b.columns.count { return "column counts \(a.columns.count) and \(b.columns.count)" }
    for r in 0..<a.rowCount {
        if a.timestamps[r] != b.timestamps[r] { return "row \(r): time \(a.timestamps[r]) vs \(b.timestamps[r])" }
        for (k, (x, y)) in zip(a.columns, b.columns).enumerated() {
            if x.isPresent(r) != y.isPresent(r) { return "row \(r) column \(k): presence \(x.isPresent(r)) vs \(y.isPresent(r))" }
            guard x.isPresent(r) else { continue }
            let same: Bool
            switch (x.values, y.values) {
            case (.float64(let p), .float64(let q)): same = p[r].bitPattern == q[r].bitPattern
            case (.int64(let p), .int64(let q)): same = p[r] == q[r]
            case (.bool(let p), .bool(let q)): same = p[r] == q[r]
            case (.string(let p), .string(let q)): same = p[r] == q[r]
            default: return "column \(k): types differ"
            }
            if !same { return "row \(r) column \(k): values differ" }
        }
    }
    return nil
}

/// Trade rows whose `seq` field numbers them, so that loss and duplication are visible.
public struct TradeRows {
    public static let schema = [Field("price", .float64), Field("size", .int64), Field("seq", .int64)]

    public static func rows(_ times: [Int64], firstSeq: Int64) -> RowBlock {
        let n = times.count
        return RowBlock(timestamps: times, columns: [
            Column(.float64((0..<n).map { 100 + Double((Int64($0) + firstSeq) % 97) * 0.25 })),
            Column(.int64((0..<n).map { Int64($0 % 7 + 1) })),
            Column(.int64((0..<n).map { firstSeq + Int64($0) })),
        ])
    }

    /// The `seq` values of a query result, in row order.
    public static func seqs(_ result: QueryResult) -> [Int64] {
        guard let i = result.schema.firstIndex(where: { $0.name == "seq" }), case .int64(let v) = result.rows.columns[i].values else { return [] }
        return v
    }
}
