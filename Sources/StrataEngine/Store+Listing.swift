import StrataFormat
import StrataPlatform

/// What a store holds, from manifests and footers (no block is decoded): per partition of a
/// series, its segments, rows, bytes and time range; summed per symbol and per measurement.
/// Rows are the rows stored: rows a delete hides count until compaction removes them.
public struct StoreListing: Sendable, Equatable {
    /// One row of a listing: a measurement, a symbol or a partition.
    public struct Entry: Sendable, Equatable {
        /// The measurement, the symbol or the partition (`2024-03-05`, `2024-W10`, …) listed.
        public var name: String
        public var partitions = 0
        /// Local segments, and segments in the archive.
        public var segments = 0
        public var archivedSegments = 0
        /// Rows of local and archived segments, and the bytes they take in their tier.
        public var rows: UInt64 = 0
        public var bytes: UInt64 = 0
        /// The first and last times of the local segments (archived ones are not fetched).
        public var first: Int64?
        public var last: Int64?
        /// Of a measurement: its partition period and layout, and its symbols.
        public var period: PartitionPeriod?
        public var layout: MeasurementLayout?
        public var symbols = 0

        public init(name: String) { self.name = name }

        mutating func add(_ other: Entry) {
            partitions += other.partitions
            segments += other.segments
            archivedSegments += other.archivedSegments
            rows += other.rows
            bytes += other.bytes
            if let f = other.first { first = Swift.min(first ?? f, f) }
            if let l = other.last { last = Swift.max(last ?? l, l) }
        }
    }
}

extension Store {
    /// Every measurement, with its period, layout and totals.
    public func listMeasurements() throws(StrataError) -> [StoreListing.Entry] {
        var out: [StoreListing.Entry] = []
        for m in try measurements() {
            var entry = StoreListing.Entry(name: m)
            entry.period = try partitionPeriod(of: m)
            entry.layout = try layout(of: m)
            let symbols = try listSymbols(m)
            entry.symbols = symbols.count
            for s in symbols { entry.add(s) }
            out.append(entry)
        }
        return out
    }

    /// Every symbol of `measurement`, with its totals; `notFound` for a measurement the store
    /// does not have.
    public func listSymbols(_ measurement: String) throws(StrataError) -> [StoreListing.Entry] {
        guard FileSystem.isDirectory(measurementPath(measurement)) else {
            throw StrataError(.notFound, "no measurement '\(measurement)'", path: directory, field: "measurement")
        }
        // Every symbol, also one whose partitions all went aside as damaged.
        var bySymbol: [String: StoreListing.Entry] = [:]
        if try layout(of: measurement) == .series {
            for s in try symbols(measurement) { bySymbol[s] = StoreListing.Entry(name: s) }
        }
        for key in try seriesDays() where key.series.measurement == measurement {
            bySymbol[key.series.symbol, default: StoreListing.Entry(name: key.series.symbol)].add(try listPartition(key))
        }
        return bySymbol.keys.sorted().map { bySymbol[$0]! }
    }

    /// Every partition of `series`.
    public func listPartitions(_ series: SeriesKey) throws(StrataError) -> [StoreListing.Entry] {
        _ = try existingSeries(measurement: series.measurement, symbols: [series.symbol])
        var out: [StoreListing.Entry] = []
        for day in try days(series) { out.append(try listPartition(SeriesDay(series, day))) }
        return out
    }

    /// One series-day, from its manifest and its local segments' footers.
    func listPartition(_ key: SeriesDay) throws(StrataError) -> StoreListing.Entry {
        var entry = StoreListing.Entry(name: key.day.description)
        var manifest = try self.manifest(key)
        entry.partitions = 1
        entry.archivedSegments = manifest.cold.count
        for c in manifest.cold {
            entry.rows += c.rows
            entry.bytes += c.bytes
        }
        manifest.cold = []
        for segment in try openDay(key, manifest).segments {
            entry.segments += 1
            entry.rows += UInt64(segment.footer.rowCount)
            entry.bytes += UInt64(segment.size)
            if let first = segment.footer.blocks.first?.statistics.minTime { entry.first = min(entry.first ?? first, first) }
            if let last = segment.footer.blocks.last?.statistics.maxTime { entry.last = max(entry.last ?? last, last) }
        }
        return entry
    }
}
