import StrataFormat
import StrataPlatform

/// What a store holds, per measurement: for `/metrics`, `/status` and `strata stats`.
public struct StorageCensus: Sendable, Equatable {
    public struct Measurement: Sendable, Equatable {
        public var series = 0
        public var seriesDays = 0
        /// Rows and bytes of the segments on local disk (warm) and in the archive (cold).
        public var warmRows: UInt64 = 0
        public var warmBytes: UInt64 = 0
        public var coldRows: UInt64 = 0
        public var coldBytes: UInt64 = 0
    }

    public var measurements: [String: Measurement] = [:]

    public var warmBytes: UInt64 { measurements.values.reduce(0) { $0 + $1.warmBytes } }
    public var coldBytes: UInt64 { measurements.values.reduce(0) { $0 + $1.coldBytes } }
}

extension Store {
    /// Counts series, rows and bytes from the day manifests and the segment files' sizes
    /// (reads no segment). Rows under tombstones count until compaction removes them.
    public func census() throws(StrataError) -> StorageCensus {
        var census = StorageCensus()
        var series = Set<SeriesKey>()
        for key in try seriesDays() {
            let manifest = try self.manifest(key)
            var m = census.measurements[key.series.measurement] ?? StorageCensus.Measurement()
            if series.insert(key.series).inserted { m.series += 1 }
            m.seriesDays += 1
            for segment in manifest.segments {
                m.warmRows += segment.rows
                m.warmBytes += UInt64((try? FileSystem.fileSize(segmentPath(key.series, key.day, SegmentID(segment.id)))) ?? 0)
            }
            for cold in manifest.cold {
                m.coldRows += cold.rows
                m.coldBytes += cold.bytes
            }
            census.measurements[key.series.measurement] = m
        }
        return census
    }
}
