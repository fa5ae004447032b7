import Glibc

/// Writes every target's seeds to DIRECTORY/TARGET/NAME (`StrataFuzz --write-seeds`);
/// scripts/fuzz --seeds refreshes Fuzz/Corpus with it.
enum Seeds {
    static func write(to directory: String) {
        for target in FuzzTarget.all {
            let dir = "\(directory)/\(target.name)"
            mkdir(directory, 0o755)
            mkdir(dir, 0o755)
            for (name, bytes) in target.seeds() {
                let path = "\(dir)/\(name)"
                guard let file = fopen(path, "wb") else { fail("cannot write \(path)") }
                _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
                fclose(file)
            }
        }
    }
}
