import ArgumentParser
import Glibc
import StrataEngine
import StrataSystem
import StrataText

struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back a store up to the archive (S3 or a directory), list, verify and restore backups.",
        discussion: "Backups live under backups/<id>/ in the archive (--archive), next to the archived days they reference. With STRATA_ENCRYPTION_KEY_FILE or STRATA_ENCRYPTION_KEY set, every object is encrypted with the first key.",
        subcommands: [Create.self, List.self, Verify.self, Restore.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a consistent snapshot of the store and upload it.",
            discussion: "Rows in memory are flushed first; the snapshot holds every row acknowledged before the backup began. Segments that the newest earlier backup of this store holds are referenced, not uploaded again (unless --full); the catalog is written last.")
        @OptionGroup var store: DataDirOption
        @OptionGroup var archiveOption: ArchiveOption
        @Option(help: "Only this measurement.") var measurement: String?
        @Option(help: "Only this symbol (with --measurement; repeat for several).") var symbol: [String] = []
        @Flag(help: "Upload everything, referencing no earlier backup.") var full = false

        func run() throws {
            running {
                if !symbol.isEmpty && measurement == nil { throw ValidationError("--symbol needs --measurement") }
                let archive = try archiveOption.open(store)
                let backups = archive.backups
                let started = now()
                let summary = try withStore(store, archive: archive) { instance in
                    let database = instance.database
                    // A typo is an error, not an empty backup.
                    if let measurement { _ = try database.existingSeries(measurement: measurement, symbols: symbol.isEmpty ? nil : symbol) }
                    return try backups.create(database, measurement: measurement, symbols: symbol.isEmpty ? nil : symbol, full: full)
                }
                var out = Output()
                out.write("backup: \(summary.catalog.id)\n")
                out.write("base: \(summary.catalog.base ?? "none (full)")\n")
                out.write("scope: \(summary.catalog.scope)\n")
                out.write("rows: \(summary.catalog.rows)\n")
                // `files` is what backup list counts: what the catalog lists, uploaded now or
                // referenced; the uploads also count the catalog itself.
                out.write("files: \(summary.catalog.files.count)\n")
                out.write("objects uploaded: \(summary.uploaded) (\(summary.uploadedBytes) bytes, the catalog included)\n")
                out.write("objects referenced: \(summary.referenced)\n")
                out.write("encryption: \(archive.encryption ?? "none")\n")
                out.write("archive: \(archive.location)\n")
                out.write("seconds: \(format3(now() - started))\n")
                out.flush()
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List complete backups, oldest first (CSV).")
        @OptionGroup var store: DataDirOption
        @OptionGroup var archiveOption: ArchiveOption

        func run() throws {
            running {
                let archive = try archiveOption.open(store)
                let backups = archive.backups
                var out = Output()
                out.write("id,created,store,base,scope,rows,files,uploaded_bytes,encryption\n")
                for item in try backups.list() {
                    let sealed = item.catalogKeyID.map { "key \($0)" } ?? "none"
                    guard let c = item.catalog else {
                        out.write("\(item.id),,,,,,,\(item.uploadedBytes),\(sealed)\n")
                        Output.standardError("strata: backup \(item.id): catalog unreadable: \(item.problem ?? "")\n")
                        continue
                    }
                    out.write("\(c.id),\(CivilTime.format(c.created)),\(c.store),\(c.base ?? ""),\(TextFormat.csvQuoted(c.scope)),\(c.rows),\(c.files.count),\(item.uploadedBytes),\(sealed)\n")
                }
                out.flush()
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-read every object of a backup and check every checksum; exits 1 naming each damaged or missing object.")
        @OptionGroup var store: DataDirOption
        @OptionGroup var archiveOption: ArchiveOption
        @Argument(help: "Backup id, as backup list prints it.") var id: String

        func run() throws {
            running {
                let archive = try archiveOption.open(store)
                let backups = archive.backups
                let report = try backups.verify(id)
                var out = Output()
                for problem in report.problems { out.write("damaged: \(problem)\n") }
                out.write("objects checked: \(report.checked) (\(report.bytes) bytes)\n")
                if !report.sealedWithUnknownKey.isEmpty {
                    out.write("not opened (checksums only; no key \(Set(report.sealedWithUnknownKey).sorted().joined(separator: ", "))): \(report.sealedWithUnknownKey.count)\n")
                }
                out.write(report.ok ? "backup \(id): ok\n" : "backup \(id): \(report.problems.count) damaged or missing\n")
                out.flush()
                if !report.ok { Glibc.exit(1) }
            }
        }
    }

    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup into an empty data directory.",
            discussion: "Every object is checked before it is written. A directory that holds a store is refused unless --force is given; then the backup is restored beside it and replaces its contents once complete (never while a process has the store open).")
        @Argument(help: "Backup id, as backup list prints it.") var id: String
        @Option(help: "Directory to restore into (empty or absent).") var dataDir: String
        @OptionGroup var archiveOption: ArchiveOption
        @Option(help: "Only this measurement.") var measurement: String?
        @Option(help: "Only this symbol (repeat for several).") var symbol: [String] = []
        @Flag(help: "Replace the contents of a store that no process has open.") var force = false
        @Option(help: "Configuration file (default: $STRATA_CONFIG) naming the archive and keys.") var config: String?

        func run() throws {
            running {
                let archive = try archiveOption.open(dataDirectory: nil, settings: try loadSettings(config))
                let backups = archive.backups
                let started = now()
                let summary = try backups.restore(id, into: dataDir, measurement: measurement, symbols: symbol.isEmpty ? nil : symbol, force: force)
                var out = Output()
                out.write("backup: \(id)\n")
                out.write("series-days: \(summary.seriesDays)\n")
                out.write("segments written: \(summary.segments)\n")
                out.write("segments left in the archive: \(summary.archived)\n")
                out.write("rows: \(summary.rows)\n")
                out.write("data directory: \(dataDir)\n")
                out.write("seconds: \(format3(now() - started))\n")
                out.flush()
            }
        }
    }
}
