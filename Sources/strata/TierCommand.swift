import ArgumentParser
import StrataEngine
import StrataSystem

struct Tier: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the tier policy once: compact old days, move older ones to the archive.",
        discussion: "Days that ended more than compact_after ago (default 7d) are compacted into one segment; days that ended more than archive_after ago (default 180d) move to the archive. Both come from the configuration's tiers section, or the flags. The server runs this on a schedule.")
    @OptionGroup var store: DataDirOption
    @OptionGroup var archiveOption: ArchiveOption
    @Option(help: "Compact days older than this (default: compact_after, else 7d).") var compactAfter: String?
    @Option(help: "Archive days older than this, or never (default: archive_after, else 180d).") var archiveAfter: String?
    @Option(help: "Only this measurement.") var measurement: String?

    func run() throws {
        running {
            let settings = try store.settings()
            var policy = settings.tiers
            if let compactAfter { policy.compactAfter = try parseDuration(compactAfter) }
            if let archiveAfter {
                do {
                    policy.archiveAfter = archiveAfter == "never" ? nil : try parseDuration(archiveAfter)
                } catch {
                    throw ValidationError("--archive-after takes a duration (e.g. 180d) or never, not '\(archiveAfter)'")
                }
            }
            let archive = policy.archiveAfter == nil ? nil : try archiveOption.open(store)
            let started = now()
            let summary = try withStore(store, archive: archive) { try $0.applyTiers(policy, measurement: measurement) }
            var out = Output()
            out.write("series-days compacted: \(summary.compacted.seriesDays) (\(summary.compacted.segmentsBefore) segments into \(summary.compacted.segmentsAfter))\n")
            if let archived = summary.archived {
                out.write("series-days archived: \(archived.seriesDays)\n")
                out.write("rows archived: \(archived.rows)\n")
                out.write("local bytes freed: \(archived.localBytes)\n")
                out.write("archive: \(archive?.location ?? "")\n")
            } else {
                out.write("series-days archived: 0 (archiving is off)\n")
            }
            out.write("seconds: \(format3(now() - started))\n")
            out.flush()
        }
    }
}
