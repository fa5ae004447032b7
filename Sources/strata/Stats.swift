import ArgumentParser
import StrataEngine

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per measurement: its partition period, series, partitions (series-days for days), segments, rows, bytes and bytes/row (archived segments count with their object size).")

    @OptionGroup var store: DataDirOption

    func run() throws {
        running {
            try recoverIfNeeded(store.path)
            let target = try Store(directory: store.path)
            var out = Output()
            out.write("measurement,partition,series,partitions,segments,rows,bytes,bytes_per_row\n")
            // Local segments from their files; archived ones as the manifests list them.
            for m in try target.listMeasurements() {
                let perRow = m.rows > 0 ? format3(Double(m.bytes) / Double(m.rows)) : ""
                out.write("\(m.name),\(m.period?.rawValue ?? ""),\(m.symbols),\(m.partitions),\(m.segments + m.archivedSegments),\(m.rows),\(m.bytes),\(perRow)\n")
            }
            out.flush()
            let quarantined = try target.quarantined()
            if !quarantined.isEmpty {
                Output.standardError("strata: \(quarantined.count) damaged file\(quarantined.count == 1 ? "" : "s") or series-day\(quarantined.count == 1 ? "" : "s") kept aside in \(target.damagedDirectory), not counted above: \(quarantined.joined(separator: ", "))\n")
            }
        }
    }
}
