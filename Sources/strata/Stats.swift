import ArgumentParser
import StrataEngine
import StrataFormat

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
            for m in try target.measurements() {
                var series = 0, days = 0, segments = 0, rows = 0, bytes = 0
                for symbol in try target.symbols(m) {
                    let key = try SeriesKey(measurement: m, symbol: symbol)
                    series += 1
                    for day in try target.days(key) {
                        days += 1
                        // Local segments from their files; archived ones as the manifest lists them.
                        var manifest = try target.manifest(SeriesDay(key, day))
                        for entry in manifest.cold {
                            segments += 1
                            rows += Int(entry.rows)
                            bytes += Int(entry.bytes)
                        }
                        manifest.cold = []
                        for segment in try target.openDay(SeriesDay(key, day), manifest).segments {
                            segments += 1
                            rows += segment.footer.rowCount
                            bytes += segment.size
                        }
                    }
                }
                let perRow = rows > 0 ? format3(Double(bytes) / Double(rows)) : ""
                out.write("\(m),\(try target.partitionPeriod(of: m)),\(series),\(days),\(segments),\(rows),\(bytes),\(perRow)\n")
            }
            out.flush()
            let quarantined = try target.quarantined()
            if !quarantined.isEmpty {
                Output.standardError("strata: \(quarantined.count) damaged file\(quarantined.count == 1 ? "" : "s") or series-day\(quarantined.count == 1 ? "" : "s") kept aside in \(target.damagedDirectory), not counted above: \(quarantined.joined(separator: ", "))\n")
            }
        }
    }
}
