import StrataFormat

/// The rows of a series in a time range, in the measurement's schema.
public struct QueryResult: Sendable {
    public var series: SeriesKey
    public var schema: [Field]
    public var rows: RowBlock
}

extension Store {
    /// Days (in the store's day zone) that may hold rows in [from, to].
    func days(_ series: SeriesKey, from: Int64, to: Int64) throws(StrataError) -> [Day] {
        let offset = configuration.dayOffsetSeconds
        let first = Day(containing: from, offsetSeconds: offset)
        let last = Day(containing: to, offsetSeconds: offset)
        return try days(series).filter { $0 >= first && $0 <= last }
    }

    /// Raw rows of `series` with from ≤ time ≤ to, in time order; rows with equal
    /// timestamps keep arrival order (older segments first, then row order).
    public func query(_ series: SeriesKey, from: Int64 = .min, to: Int64 = .max,
                      fields wanted: [String]? = nil) throws(StrataError) -> QueryResult {
        let measurementSchema = try schema(series.measurement)
        let outSchema: [Field]
        if let wanted {
            var fields: [Field] = []
            for name in wanted {
                guard let t = measurementSchema.type(of: name) else {
                    throw StrataError(.notFound, "measurement '\(series.measurement)' has no field '\(name)'", field: name)
                }
                fields.append(Field(name, t))
            }
            outSchema = fields
        } else {
            outSchema = measurementSchema.fields
        }
        var parts: [RowBlock] = []
        for day in try days(series, from: from, to: to) {
            var dayParts: [RowBlock] = []
            for segment in try openSegments(series, day) {
                let blocks = segment.blocks(overlapping: from, to)
                if blocks.isEmpty { continue }
                // Map the output fields onto this segment's schema.
                let mapping = outSchema.map { f in segment.schema.firstIndex { $0.name == f.name } }
                let wantedIndexes = Set(mapping.compactMap { $0 })
                for b in blocks {
                    let decoded = try segment.decodeBlock(b, fields: wantedIndexes)
                    var block = RowBlock(timestamps: decoded.timestamps, columns: mapping.enumerated().map { i, m in
                        m.map { decoded.columns[$0] } ?? .null(outSchema[i].type, count: decoded.rowCount)
                    })
                    let s = segment.footer.blocks[b].statistics
                    if s.minTime < from || s.maxTime > to {
                        let keep = block.timestamps.indices.filter { block.timestamps[$0] >= from && block.timestamps[$0] <= to }
                        block = block.gather(keep)
                    }
                    if block.rowCount > 0 { dayParts.append(block) }
                }
            }
            if dayParts.isEmpty { continue }
            let day = RowBlock.concatenate(dayParts, schema: outSchema)
            // Segments of one day may interleave (late data): a stable sort keeps
            // segment order, then row order, for equal timestamps.
            parts.append(day.stableTimeOrder().map { day.gather($0) } ?? day)
        }
        return QueryResult(series: series, schema: outSchema, rows: RowBlock.concatenate(parts, schema: outSchema))
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
