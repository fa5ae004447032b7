import StrataFormat

/// Settings of a store.
public struct StoreConfiguration: Sendable {
    /// Rows per block: the unit of compression, skipping and checksumming.
    public var rowsPerBlock: Int = 8192
    /// Offset added to UTC before cutting days (e.g. -5 h for days in New York winter
    /// time); 0 means UTC days.
    public var dayOffsetSeconds: Int64 = 0

    public init(rowsPerBlock: Int = 8192, dayOffsetSeconds: Int64 = 0) {
        precondition(rowsPerBlock >= 1 && rowsPerBlock <= 1 << 20, "rowsPerBlock out of range")
        self.rowsPerBlock = rowsPerBlock
        self.dayOffsetSeconds = dayOffsetSeconds
    }
}

/// What a write did.
public struct WriteSummary: Sendable {
    public var rows = 0
    public var bytes = 0
    public var segments: [String] = []
}

/// A data directory of segment files:
///
///     <data-dir>/<measurement>/_schema
///     <data-dir>/<measurement>/<symbol>/<YYYY-MM-DD>/<segment-id>.seg
///
/// Names are escaped into directory names by `Names.directoryName`.
public final class Store: Sendable {
    public let directory: String
    public let configuration: StoreConfiguration

    /// Opens the store in `directory`, creating the directory when `create` is true.
    public init(directory: String, configuration: StoreConfiguration = StoreConfiguration(), create: Bool = false) throws(StrataError) {
        var dir = directory
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        self.directory = dir
        self.configuration = configuration
        if create {
            try FileSystem.makeDirectories(dir)
        } else if !FileSystem.isDirectory(dir) {
            throw StrataError(.notFound, "no Strata data directory here (use --data-dir or STRATA_DATA_DIR)", path: dir)
        }
    }

    // MARK: Paths

    public func measurementPath(_ measurement: String) -> String {
        "\(directory)/\(Names.directoryName(measurement))"
    }

    public func seriesPath(_ series: SeriesKey) -> String {
        "\(measurementPath(series.measurement))/\(Names.directoryName(series.symbol))"
    }

    public func dayPath(_ series: SeriesKey, _ day: Day) -> String {
        "\(seriesPath(series))/\(day)"
    }

    public func segmentPath(_ series: SeriesKey, _ day: Day, _ id: SegmentID) -> String {
        "\(dayPath(series, day))/\(id.fileName)"
    }

    func schemaPath(_ measurement: String) -> String { "\(measurementPath(measurement))/_schema" }

    // MARK: Listing

    public func measurements() throws(StrataError) -> [String] {
        try FileSystem.list(directory).compactMap { name in
            guard !name.hasPrefix("."), !name.hasPrefix("_"), FileSystem.isDirectory("\(directory)/\(name)") else { return nil }
            return Names.name(fromDirectory: name)
        }.sorted()
    }

    public func symbols(_ measurement: String) throws(StrataError) -> [String] {
        let base = measurementPath(measurement)
        return try FileSystem.list(base).compactMap { name in
            guard !name.hasPrefix("."), !name.hasPrefix("_"), FileSystem.isDirectory("\(base)/\(name)") else { return nil }
            return Names.name(fromDirectory: name)
        }.sorted()
    }

    public func days(_ series: SeriesKey) throws(StrataError) -> [Day] {
        try FileSystem.list(seriesPath(series)).compactMap(Day.init).sorted()
    }

    public func segmentIDs(_ series: SeriesKey, _ day: Day) throws(StrataError) -> [SegmentID] {
        try FileSystem.list(dayPath(series, day)).compactMap(SegmentID.init(fileName:)).sorted()
    }

    public func openSegments(_ series: SeriesKey, _ day: Day) throws(StrataError) -> [Segment] {
        var out: [Segment] = []
        for id in try segmentIDs(series, day) { out.append(try Segment(path: segmentPath(series, day, id), id: id)) }
        return out
    }

    // MARK: Schema

    public func schema(_ measurement: String) throws(StrataError) -> MeasurementSchema {
        let path = schemaPath(measurement)
        guard FileSystem.exists(path) else { return MeasurementSchema() }
        let file = try MappedFile(path: path)
        return try MeasurementSchema.decode(file.withUnsafeBytes { Array($0) }, path: path)
    }

    /// Records new fields of `measurement`; throws if a field's type differs.
    @discardableResult
    public func register(_ fields: [Field], measurement: String) throws(StrataError) -> MeasurementSchema {
        try Names.validate(measurement, what: "measurement")
        var schema = try self.schema(measurement)
        if try schema.merge(fields, measurement: measurement) {
            try FileSystem.makeDirectories(measurementPath(measurement))
            try FileSystem.writeAtomically(schemaPath(measurement), [schema.encoded()])
        }
        return schema
    }

    // MARK: Writing

    /// Writes rows of one series as new segments, one per day they touch. Rows need not
    /// be sorted; equal timestamps keep their order. Each segment is durable (written to a
    /// temporary file, fdatasync'd, renamed, directory fsync'd) before this returns.
    @discardableResult
    public func write(_ series: SeriesKey, schema fields: [Field], rows: RowBlock) throws(StrataError) -> WriteSummary {
        precondition(fields.count == rows.columns.count, "schema and columns differ")
        for (f, c) in zip(fields, rows.columns) { precondition(f.type == c.values.type, "column type differs from schema") }
        var summary = WriteSummary()
        guard rows.rowCount > 0 else { return summary }
        try register(fields, measurement: series.measurement)
        let sorted = rows.stableTimeOrder().map { rows.gather($0) } ?? rows
        // Cut into days: rows are sorted, so each day is a contiguous range.
        var start = 0
        let offset = configuration.dayOffsetSeconds
        while start < sorted.rowCount {
            let day = Day(containing: sorted.timestamps[start], offsetSeconds: offset)
            var end = start + 1
            let limit = Day(daysSinceEpoch: day.daysSinceEpoch + 1).startNanoseconds &- offset * 1_000_000_000
            // Binary search for the first row of the next day.
            var lo = start + 1, hi = sorted.rowCount
            while lo < hi {
                let mid = (lo + hi) / 2
                if sorted.timestamps[mid] < limit || Day(containing: sorted.timestamps[mid], offsetSeconds: offset) == day {
                    lo = mid + 1
                } else {
                    hi = mid
                }
            }
            end = lo
            let part = start == 0 && end == sorted.rowCount ? sorted : sorted.slice(start..<end)
            let (path, bytes) = try writeSegment(series, day: day, schema: fields, rows: part)
            summary.rows += part.rowCount
            summary.bytes += bytes
            summary.segments.append(path)
            start = end
        }
        return summary
    }

    /// Writes one segment of sorted rows within one day; returns its path and size.
    func writeSegment(_ series: SeriesKey, day: Day, schema: [Field], rows: RowBlock) throws(StrataError) -> (String, Int) {
        let dir = dayPath(series, day)
        try FileSystem.makeDirectories(dir)
        let next = SegmentID((try segmentIDs(series, day).last?.value ?? 0) + 1)
        let path = "\(dir)/\(next.fileName)"
        var builder = SegmentBuilder(measurement: series.measurement, symbol: series.symbol,
                                     day: day.daysSinceEpoch, schema: schema)
        var pieces: [[UInt8]] = [builder.header()]
        var start = 0
        let per = configuration.rowsPerBlock
        while start < rows.rowCount {
            let end = min(start + per, rows.rowCount)
            let block = start == 0 && end == rows.rowCount ? rows : rows.slice(start..<end)
            pieces.append(builder.block(block).bytes)
            start = end
        }
        pieces.append(builder.finish())
        try FileSystem.writeAtomically(path, pieces)
        return (path, pieces.reduce(0) { $0 + $1.count })
    }
}
