import StrataFormat
import StrataPlatform
import Synchronization

/// Settings of a store.
public struct StoreConfiguration: Sendable {
    /// Rows per block: the unit of compression, skipping and checksumming.
    public var rowsPerBlock: Int = 8192
    /// Offset added to UTC before cutting days (e.g. -5 h for days in New York winter
    /// time); 0 means UTC days.
    public var dayOffsetSeconds: Int64 = 0
    /// Opens segments that were moved to the archive; without it, reading a day that has
    /// archived segments is an error that says so.
    public var coldStorage: (any ColdStorage)? = nil
    /// The partition period of each measurement made from now on, by name; others get
    /// `defaultPartition`. A measurement keeps the period it was made with.
    public var partitions: [String: PartitionChoice] = [:]
    public var defaultPartition: PartitionChoice = .auto
    /// The layout of each measurement made from now on, by name; others get
    /// `defaultLayout`. A measurement keeps the layout it was made with.
    public var layouts: [String: LayoutChoice] = [:]
    public var defaultLayout: LayoutChoice = .auto

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
    /// The storage census, kept once counted (see `census()`).
    let censusKeeper = CensusKeeper()
    /// Each measurement's partition period, once read or decided.
    let periods = Mutex<[String: PartitionPeriod]>([:])
    /// Each measurement's layout, once read or decided.
    let layouts = Mutex<[String: MeasurementLayout]>([:])
    /// Packed partitions' manifests, mapped and checked.
    let packManifests = PackManifestCache()
    let openSegments = SegmentCache()
    /// Schemas read, by measurement, with the identity of the file they came from.
    let schemas = Mutex<[String: (identity: FileSystem.Identity, schema: MeasurementSchema)]>([:])
    let groupImages = GroupImageCache()

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

    package func measurementPath(_ measurement: String) -> String {
        "\(directory)/\(Names.directoryName(measurement))"
    }

    package func seriesPath(_ series: SeriesKey) -> String {
        "\(measurementPath(series.measurement))/\(Names.directoryName(series.symbol))"
    }

    /// The directory of a series-day: its own, or its partition's in a packed measurement.
    package func dayPath(_ series: SeriesKey, _ day: Day) -> String {
        (try? layout(of: series.measurement)) == .packed ? packDirectory(series.measurement, day) : "\(seriesPath(series))/\(day)"
    }

    package func segmentPath(_ series: SeriesKey, _ day: Day, _ id: SegmentID) -> String {
        "\(dayPath(series, day))/\(id.fileName)"
    }

    func schemaPath(_ measurement: String) -> String { "\(measurementPath(measurement))/_schema" }

    /// This data directory's identity: 16 random hex digits in `<data-dir>/_id`, made on
    /// first use. It goes into archive keys, so that two stores archiving into one bucket
    /// never write the same key.
    public func identity() throws(StrataError) -> String {
        let path = "\(directory)/_id"
        if FileSystem.exists(path) {
            let lines = try ChecksummedText.decode(try MappedFile(path: path).withUnsafeBytes { Array($0) }, path: path, kind: "store identity file")
            guard lines.count == 1, lines[0].utf8.count == 16, lines[0].allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                throw StrataError(.corrupt, "the store identity file does not hold 16 hex digits", path: path)
            }
            return String(lines[0])
        }
        var rng = SystemRandomNumberGenerator()
        // Written once, crash-safely; the writer holding the store (or the lock) calls this.
        try FileSystem.writeAtomically(path, [ChecksummedText.encode(paddedHex(rng.next() as UInt64, digits: 16) + "\n")])
        return try identity()
    }

    /// Where this store's archived days are, when they went somewhere other than the
    /// default `<data-dir>/_archive`: the location an `Archive` push recorded in
    /// `<data-dir>/_archive_url` (`file:///DIR` or `s3://BUCKET/PREFIX`; never credentials).
    /// Nil if nothing is recorded.
    package func recordedArchive() throws(StrataError) -> String? {
        try Store.recordedArchive(in: directory)
    }

    /// `recordedArchive()` of the store in `directory`, without opening it.
    package static func recordedArchive(in directory: String) throws(StrataError) -> String? {
        let path = "\(directory)/\(archiveURLFile)"
        guard FileSystem.exists(path) else { return nil }
        let lines = try ChecksummedText.decode(try MappedFile(path: path).withUnsafeBytes { Array($0) }, path: path, kind: "archive location file")
        guard lines.count == 1, !lines[0].isEmpty else {
            throw StrataError(.corrupt, "the archive location file does not hold one location", path: path)
        }
        return String(lines[0])
    }

    /// Records (crash-safely) where this store's archived days are, or removes the record
    /// (nil: the default archive). The caller holds the store.
    package func recordArchive(_ location: String?) throws(StrataError) {
        try Store.recordArchive(location, in: directory)
    }

    /// `recordArchive` for the store being made in `directory` (a restore).
    package static func recordArchive(_ location: String?, in directory: String) throws(StrataError) {
        let path = "\(directory)/\(archiveURLFile)"
        guard try recordedArchive(in: directory) != location else { return }
        if let location {
            guard !location.contains("\n") && !location.contains("\r") else {
                throw StrataError(.invalidInput, "an archive location cannot hold a line break", path: path)
            }
            try FileSystem.writeAtomically(path, [ChecksummedText.encode(location + "\n")])
        } else {
            try FileSystem.remove(path)
            try FileSystem.syncDirectory(directory)
        }
    }

    static let archiveURLFile = "_archive_url"

    // MARK: Listing

    public func measurements() throws(StrataError) -> [String] {
        try FileSystem.list(directory).compactMap { name in
            guard !name.hasPrefix("."), !name.hasPrefix("_"), FileSystem.isDirectory("\(directory)/\(name)") else { return nil }
            return Names.name(fromDirectory: name)
        }.sorted()
    }

    public func symbols(_ measurement: String) throws(StrataError) -> [String] {
        if try layout(of: measurement) == .packed { return try packedSymbols(measurement) }
        let base = measurementPath(measurement)
        return try FileSystem.list(base).compactMap { name in
            guard !name.hasPrefix("."), !name.hasPrefix("_"), FileSystem.isDirectory("\(base)/\(name)") else { return nil }
            return Names.name(fromDirectory: name)
        }.sorted()
    }

    public func days(_ series: SeriesKey) throws(StrataError) -> [Day] {
        if try layout(of: series.measurement) == .packed { return try packedDays(series) }
        return try FileSystem.list(seriesPath(series)).compactMap(Day.init).sorted()
    }

    // MARK: Schema

    /// The measurement's `_schema` (no fields when it has none). Kept while the file at its
    /// path is the one read: every change renames a new file over it.
    public func schema(_ measurement: String) throws(StrataError) -> MeasurementSchema {
        let path = schemaPath(measurement)
        guard let identity = FileSystem.identity(path) else { return MeasurementSchema() }
        if let kept = schemas.withLock({ $0[measurement] }), kept.identity == identity { return kept.schema }
        let file = try MappedFile(path: path)
        let schema = try MeasurementSchema.decode(file.withUnsafeBytes { Array($0) }, path: path)
        if file.identity == identity { schemas.withLock { $0[measurement] = (identity, schema) } }
        return schema
    }

    /// Records new fields of `measurement`; throws if a field's type differs.
    @discardableResult
    package func register(_ fields: [Field], measurement: String) throws(StrataError) -> MeasurementSchema {
        try Names.validateDirectory(measurement, what: "measurement")
        var schema = try self.schema(measurement)
        if try schema.merge(fields, measurement: measurement) {
            try FileSystem.makeDirectories(measurementPath(measurement))
            try FileSystem.writeAtomically(schemaPath(measurement), [schema.encoded()])
        }
        return schema
    }

    // MARK: Writing

    /// Rows of one series to write.
    public struct SeriesRows: Sendable {
        public var series: SeriesKey
        public var schema: [Field]
        public var rows: RowBlock

        public init(series: SeriesKey, schema: [Field], rows: RowBlock) {
            self.series = series
            self.schema = schema
            self.rows = rows
        }
    }

    /// Writes rows of one series as new segments, one per day they touch. Rows need not
    /// be sorted; equal timestamps keep their order. Durable when this returns.
    @discardableResult
    public func write(_ series: SeriesKey, schema fields: [Field], rows: RowBlock) throws(StrataError) -> WriteSummary {
        try write([SeriesRows(series: series, schema: fields, rows: rows)])
    }

    /// Writes several series at once. Every segment is durable when this returns, and a
    /// crash before then leaves each series-day with its old segments or with the new
    /// ones (see `commit`). Large batches are made durable with `syncfs` instead of an
    /// fsync per file and directory. Writers in other processes are serialised by an
    /// advisory lock on `<data-dir>/_lock`.
    @discardableResult
    public func write(_ batch: [SeriesRows]) throws(StrataError) -> WriteSummary {
        for item in batch { try Store.check(item.schema, item.rows) }
        guard batch.contains(where: { $0.rows.rowCount > 0 }) else { return WriteSummary() }
        // One lock for the whole write: a new measurement's period is decided by the write
        // that makes its first partitions, never by one that another writer overtakes.
        return try withWriteLock { () throws(StrataError) in
            let planned = try plan(batch, periods: try partitionPeriods(for: batch))
            try registerFields(of: batch)
            return try commit(planned).summary
        }
    }

    /// Checks a batch and cuts it into sorted segments of one series-partition each, by
    /// the measurements' `periods` (`partitionPeriods(for:)`).
    func plan(_ batch: [SeriesRows], periods: [String: PartitionPeriod]) throws(StrataError) -> [NewSegment] {
        var planned: [NewSegment] = []
        for item in batch {
            try Store.check(item.schema, item.rows)
            guard item.rows.rowCount > 0 else { continue }
            let sorted = item.rows.stableTimeOrder().map { item.rows.gather($0) } ?? item.rows
            for (day, range) in dayRanges(sorted.timestamps, period: periods[item.series.measurement] ?? .day) {
                let part = range.count == sorted.rowCount ? sorted : sorted.slice(range)
                planned.append(NewSegment(key: SeriesDay(item.series, day), schema: item.schema, rows: part))
            }
        }
        return planned
    }

    /// Checks that rows match their schema and fit a segment.
    static func check(_ schema: [Field], _ rows: RowBlock) throws(StrataError) {
        precondition(schema.count == rows.columns.count, "schema and columns differ")
        for (f, c) in zip(schema, rows.columns) {
            precondition(f.type == c.values.type, "column type differs from schema")
            try Names.validate(f.name, what: "field name")
            if case .string(let values) = c.values, let long = values.first(where: { $0.utf8.count > Store.maxStringBytes }) {
                throw StrataError(.invalidInput, "a value of field '\(f.name)' is \(long.utf8.count) bytes; the limit is \(Store.maxStringBytes)",
                                  field: f.name)
            }
        }
    }

    /// Records the fields of a batch: one schema read and at most one rewrite per
    /// measurement, not one per series. New fields go in the order of `firstSeen` (a
    /// database's schemas, in the order its appends brought the fields), then of the batch.
    /// Call with the write lock held.
    func registerFields(of batch: [SeriesRows], firstSeen: [String: MeasurementSchema] = [:]) throws(StrataError) {
        var fieldsByMeasurement: [String: [Field]] = [:]
        var order: [String] = []
        for item in batch where item.rows.rowCount > 0 {
            let m = item.series.measurement
            if fieldsByMeasurement[m] == nil {
                order.append(m)
                fieldsByMeasurement[m] = firstSeen[m]?.fields ?? []
            }
            fieldsByMeasurement[m]!.append(contentsOf: item.schema)
        }
        for m in order { try register(fieldsByMeasurement[m]!, measurement: m) }
    }

    /// Batches with more segments than this are made durable with syncfs.
    static let groupSyncThreshold = 8
    /// Longest string value a segment may hold (the reader's limit is the same).
    public static let maxStringBytes = 1 << 24

    /// Consecutive ranges of sorted timestamps that fall in one partition of `period` each.
    func dayRanges(_ timestamps: [Int64], period: PartitionPeriod) -> [(Day, Range<Int>)] {
        var out: [(Day, Range<Int>)] = []
        let offset = configuration.dayOffsetSeconds
        var start = 0
        while start < timestamps.count {
            let day = Day(containing: timestamps[start], offsetSeconds: offset, period: period)
            var lo = start + 1, hi = timestamps.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if Day(containing: timestamps[mid], offsetSeconds: offset, period: period) == day { lo = mid + 1 } else { hi = mid }
            }
            out.append((day, start..<lo))
            start = lo
        }
        return out
    }

    /// The bytes of one segment of sorted rows within one day.
    func encodeSegment(_ series: SeriesKey, day: Day, schema: [Field], rows: RowBlock) -> [[UInt8]] {
        var builder = SegmentBuilder(measurement: series.measurement, symbol: series.symbol,
                                     day: day.daysSinceEpoch, dayOffsetSeconds: configuration.dayOffsetSeconds, schema: schema)
        var pieces: [[UInt8]] = [builder.header()]
        let per = configuration.rowsPerBlock
        let ranges = stride(from: 0, to: rows.rowCount, by: per).map { $0..<min($0 + per, rows.rowCount) }
        // Blocks are independent: a large segment (a flush or a compaction) encodes them on
        // every core.
        let encoded = parallelMap(ranges, parallelFrom: 4) { (range) throws(Never) in
            SegmentBuilder.encodeBlock(range.count == rows.rowCount ? rows : rows.slice(range), schema: schema)
        }
        for block in encoded { pieces.append(builder.append(block)) }
        pieces.append(builder.finish())
        return pieces
    }

    /// Runs `body` holding the store's exclusive write lock (flock on `<data-dir>/_lock`).
    /// Another writer's short write is waited for; a live database that keeps the store
    /// open makes this fail after 30 s with "in use by another process".
    func withWriteLock<R>(_ body: () throws(StrataError) -> R) throws(StrataError) -> R {
        let lock = try FileLock(path: "\(directory)/_lock", wait: false, patienceMilliseconds: 30_000)
        defer { lock.unlock() }
        return try body()
    }
}
