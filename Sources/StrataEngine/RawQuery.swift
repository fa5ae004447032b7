import Glibc
import StrataFormat
import StrataPlatform

/// The rows of a series in a time range, in the measurement's schema.
public struct QueryResult: Sendable {
    public var series: SeriesKey
    public var schema: [Field]
    public var rows: RowBlock

    public init(series: SeriesKey, schema: [Field], rows: RowBlock) {
        self.series = series
        self.schema = schema
        self.rows = rows
    }
}

/// What a query of one series reads: its schema, the live segments of the days in range
/// with their tombstones, and rows not yet in a segment. Taken at one moment, so that a
/// flush or compaction running meanwhile neither hides nor repeats rows.
package struct SeriesSnapshot: Sendable {
    public var series: SeriesKey
    public var schema: MeasurementSchema
    public var days: [DayView]
    /// Unflushed rows, in arrival order; newer than every segment row.
    public var memory: [RowChunk]

    public init(series: SeriesKey, schema: MeasurementSchema, days: [DayView], memory: [RowChunk] = []) {
        self.series = series
        self.schema = schema
        self.days = days
        self.memory = memory
    }

    /// The fields named by `wanted` (all fields when nil).
    func fields(_ wanted: [String]?) throws(StrataError) -> [Field] {
        guard let wanted else { return schema.fields }
        var fields: [Field] = []
        for name in wanted {
            guard let t = schema.type(of: name) else {
                throw StrataError(.notFound, "measurement '\(series.measurement)' has no field '\(name)'", field: name)
            }
            fields.append(Field(name, t))
        }
        return fields
    }

    /// Throws if a segment has a field under a name `schema` gives another type: a field's
    /// type never changes, so that is damage (Format.md, "Schema file"), and its values are
    /// not converted. Fields `schema` does not list are left to the caller (a writer may
    /// have added them after `schema` was read).
    public func checkFieldTypes(against schema: MeasurementSchema) throws(StrataError) {
        var types: [String: FieldType] = [:]
        types.reserveCapacity(schema.fields.count)
        for f in schema.fields { types[f.name] = f.type }
        for view in days {
            for segment in view.segments {
                for f in segment.schema {
                    if let t = types[f.name], t != f.type {
                        throw StrataError(.corrupt, "field '\(f.name)' is \(f.type) in the segment, but \(t) in the _schema of measurement '\(series.measurement)'",
                                          path: segment.location, field: f.name)
                    }
                }
            }
        }
    }

    /// Raw rows with from ≤ time ≤ to in time order; rows with equal timestamps keep
    /// arrival order (older segments first, then row order, then unflushed rows).
    public func query(from: Int64 = .min, to: Int64 = .max, fields wanted: [String]? = nil) throws(StrataError) -> QueryResult {
        try checkFieldTypes(against: schema)
        let outSchema = try fields(wanted)
        // Each decoded block, cut to the range, is a sorted run; runs are merged. A
        // segment's blocks are asked for all at once (one request for a cold segment), on
        // this thread: fresh pages for decoded arrays fault in serially anyway.
        var runs = SortedRuns()
        for view in days {
            for segment in view.segments {
                let blocks = segment.blocks(overlapping: from, to)
                if blocks.isEmpty { continue }
                let deleted = view.deletedRanges(segment)
                // Map the output fields onto this segment's schema.
                let mapping = outSchema.map { f in segment.schema.firstIndex { $0.name == f.name } }
                let decodedBlocks = try segment.decodeBlocks(blocks, fields: Set(mapping.compactMap { $0 }))
                for (b, decoded) in zip(blocks, decodedBlocks) {
                    var block = RowBlock(timestamps: decoded.timestamps, columns: mapping.enumerated().map { i, m in
                        m.map { decoded.columns[$0] } ?? .null(outSchema[i].type, count: decoded.rowCount)
                    })
                    let s = segment.footer.blocks[b].statistics
                    if deleted.contains(where: { $0.overlaps(s.minTime...s.maxTime) }) {
                        block = block.keeping(from: from, to: to, deleted: deleted)
                        runs.append(block)
                    } else {
                        let ts = block.timestamps
                        runs.append(block, rows: ts.partitioningIndex { $0 >= from }..<ts.partitioningIndex { $0 > to })
                    }
                }
            }
        }
        var recent = memoryRows(outSchema, from: from, to: to)
        if let order = recent.stableTimeOrder() { recent = recent.gather(order) }
        runs.append(recent)
        let rows = runs.merged(schema: outSchema)
        return QueryResult(series: series, schema: outSchema, rows: rows)
    }

    /// Unflushed rows with from ≤ time ≤ to in `fields`, in arrival order.
    func memoryRows(_ fields: [Field], from: Int64, to: Int64) -> RowBlock {
        let parts = memory.map { $0.projected(onto: fields).keeping(from: from, to: to, deleted: []) }.filter { $0.rowCount > 0 }
        return RowBlock.concatenate(parts, schema: fields)
    }
}

extension Store {
    /// Partitions (in the store's day zone) that may hold rows in [from, to].
    package func days(_ series: SeriesKey, from: Int64, to: Int64) throws(StrataError) -> [Day] {
        let offset = configuration.dayOffsetSeconds
        func meets(_ day: Day) -> Bool {
            let bounds = day.bounds(offsetSeconds: offset)
            return bounds.upperBound >= from && bounds.lowerBound <= to
        }
        // A packed measurement's partitions are chosen by time before their manifests are read.
        if try layout(of: series.measurement) == .packed { return try packedDays(series, where: meets) }
        return try days(series).filter(meets)
    }

    /// The segments of `series` in [from, to] as they are on disk.
    package func snapshot(_ series: SeriesKey, from: Int64 = .min, to: Int64 = .max) throws(StrataError) -> SeriesSnapshot {
        var views: [DayView] = []
        for day in try days(series, from: from, to: to) { views.append(try openDay(SeriesDay(series, day))) }
        return SeriesSnapshot(series: series, schema: try schema(series.measurement), days: views)
    }

    /// Raw rows of `series` with from ≤ time ≤ to, in time order; rows with equal
    /// timestamps keep arrival order (older segments first, then row order).
    public func query(_ series: SeriesKey, from: Int64 = .min, to: Int64 = .max,
                      fields wanted: [String]? = nil) throws(StrataError) -> QueryResult {
        try snapshot(series, from: from, to: to).query(from: from, to: to, fields: wanted)
    }
}

extension RowChunk {
    /// These rows in `fields`: missing fields read as null.
    func projected(onto fields: [Field]) -> RowBlock {
        if schema == fields { return rows }
        return RowBlock(timestamps: rows.timestamps, columns: fields.map { f in
            schema.firstIndex(of: f).map { rows.columns[$0] } ?? .null(f.type, count: rows.rowCount)
        })
    }
}

extension RowBlock {
    /// The rows with from ≤ time ≤ to outside every deleted range, in order.
    func keeping(from: Int64, to: Int64, deleted: [ClosedRange<Int64>]) -> RowBlock {
        var keep: [Int] = []
        keep.reserveCapacity(rowCount)
        for (i, t) in timestamps.enumerated() where t >= from && t <= to && !deleted.contains(where: { $0.contains(t) }) {
            keep.append(i)
        }
        return keep.count == rowCount ? self : gather(keep)
    }
}

extension RowBlock {
    /// Rows of `parts` one after another.
    public static func concatenate(_ parts: [RowBlock], schema: [Field]) -> RowBlock {
        if parts.count == 1 { return parts[0] }
        var timestamps: [Int64] = []
        timestamps.reserveCapacity(parts.reduce(0) { $0 + $1.rowCount })
        for p in parts { timestamps.append(contentsOf: p.timestamps) }
        let columns: [Column] = schema.indices.map { i in
            let anyNull = parts.contains { $0.columns[i].presence != nil }
            let presence: [Bool]? = anyNull ? parts.flatMap { p in p.columns[i].presence ?? Array(repeating: true, count: p.rowCount) } : nil
            let values: ColumnValues
            switch schema[i].type {
            case .float64:
                var all: [Double] = []
                for p in parts { if case .float64(let v) = p.columns[i].values { all.append(contentsOf: v) } }
                values = .float64(all)
            case .int64:
                var all: [Int64] = []
                for p in parts { if case .int64(let v) = p.columns[i].values { all.append(contentsOf: v) } }
                values = .int64(all)
            case .bool:
                var all: [Bool] = []
                for p in parts { if case .bool(let v) = p.columns[i].values { all.append(contentsOf: v) } }
                values = .bool(all)
            case .string:
                var all: [String] = []
                for p in parts { if case .string(let v) = p.columns[i].values { all.append(contentsOf: v) } }
                values = .string(all)
            }
            return Column(values, presence: presence)
        }
        return RowBlock(timestamps: timestamps, columns: columns)
    }
}
