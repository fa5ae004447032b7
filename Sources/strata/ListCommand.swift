import ArgumentParser
import StrataEngine
import StrataText

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List what a store holds: measurements, a measurement's symbols, or a symbol's partitions.",
        discussion: """
        With no argument, one line per measurement: its partition period, layout, symbols, \
        partitions, segments (local and archived), rows, bytes and the time range of its local \
        segments. With a measurement, one line per symbol; with a symbol too, one per partition. \
        Read from manifests and segment footers: no block is decoded, and rows a delete hides \
        count until compaction removes them.
        """)

    @OptionGroup var store: DataDirOption
    @Argument(help: "A measurement: list its symbols.") var measurement: String?
    @Argument(help: "A symbol of it: list its partitions.") var symbol: String?
    @Option(help: "Output format: csv or json.") var format: ResultWriter.Format = .csv

    func run() throws {
        running {
            try recoverIfNeeded(store.path)
            let target = try Store(directory: store.path)
            let text: String
            if let measurement, let symbol {
                let entries = try target.listPartitions(try SeriesKey(measurement: measurement, symbol: symbol))
                text = ListingWriter.render(entries, .partitions, format: format)
            } else if let measurement {
                text = ListingWriter.render(try target.listSymbols(measurement), .symbols, format: format)
            } else {
                text = ListingWriter.render(try target.listMeasurements(), .measurements, format: format)
            }
            var out = Output()
            out.write(text)
            out.flush()
        }
    }
}
