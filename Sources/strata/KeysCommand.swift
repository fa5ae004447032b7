import ArgumentParser
import StrataServer

/// `strata keys create`: API keys for `strata serve`.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "API keys for strata serve.",
        subcommands: [Create.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a random API key: prints the key (shown once; give it to the client) and the line for the server's keys file (only the key's SHA-256 is stored).")
        @Option(help: "A name for the key (no spaces), e.g. the client's.") var name: String
        @Option(help: "read (queries, metrics), write (line protocol writes) or admin (everything).") var role: String

        func run() throws {
            guard !name.isEmpty, !name.contains(where: { $0 == " " || $0 == "\t" || $0 == "#" }) else {
                throw ValidationError("--name must be a word without spaces or #")
            }
            guard let role = Role(rawValue: role) else { throw ValidationError("--role is read, write or admin, not '\(role)'") }
            let made = APIKeyring.newKey(name: name, role: role)
            var out = Output()
            out.write("key: \(made.key)\n")
            out.write("keys file line: \(made.line)\n")
            out.flush()
        }
    }
}
