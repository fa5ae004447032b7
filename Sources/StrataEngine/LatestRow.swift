import StrataFormat
import StrataPlatform

/// The latest row of a series (QuestDB's `LATEST ON`, kdb+'s `select last … by sym`): the
/// last row in query order — the greatest time, and of the rows at that time the last to
/// arrive — found from the newest partition back, decoding only the blocks at its end.
extension SeriesSnapshot {
    /// The greatest time of a row that a query of this snapshot returns, or nil when it
    /// returns none. Per partition, newest first: the window from the start of the block
    /// holding the partition's greatest time (of any segment) to the bound so far is
    /// queried; rows there are the latest, and when tombstones deleted them all the bound
    /// moves below the window.
    ///
    /// Only rows at or after `from` count: the partitions before it are not in the snapshot,
    /// and one of them may hold a row later than an older unflushed one.
    func latestTime(from: Int64 = .min) throws(StrataError) -> Int64? {
        let best: Int64? = memory.compactMap { $0.rows.timestamps.filter { $0 >= from }.max() }.max()
        for view in days.reversed() {
            var upper = Int64.max
            while true {
                // Each segment's last block starting at or below the bound.
                var top: (maxTime: Int64, minTime: Int64)?
                for segment in view.segments {
                    guard let b = segment.footer.blocks.lastIndex(where: { $0.statistics.minTime <= upper }) else { continue }
                    let s = segment.footer.blocks[b].statistics
                    let candidate = (maxTime: Swift.min(s.maxTime, upper), minTime: s.minTime)
                    if top == nil || candidate.maxTime > top!.maxTime { top = candidate }
                }
                guard let top else { break }
                if let best, best >= top.maxTime { return best }
                // Without tombstones every row is live: the footers' greatest time is the
                // answer, nothing decoded.
                if view.tombstones.isEmpty && upper == .max && top.maxTime >= from { return Swift.max(best ?? top.maxTime, top.maxTime) }
                let found = try SeriesSnapshot(series: series, schema: schema, days: [view]).query(from: top.minTime, to: upper, fields: [])
                if let last = found.rows.timestamps.last { return Swift.max(best ?? last, last) }
                guard top.minTime > .min else { break }
                upper = top.minTime - 1
            }
        }
        return best
    }

    /// The latest row in `fields` (all when nil): a result of one row, or of none.
    func latest(from: Int64 = .min, fields wanted: [String]? = nil) throws(StrataError) -> QueryResult {
        guard let t = try latestTime(from: from) else { return try query(from: .max, to: .min, fields: wanted) }
        if let row = try latestFromFooters(t, fields: wanted) { return row }
        let atTime = try query(from: t, to: t, fields: wanted)
        return QueryResult(series: series, schema: atTime.schema, rows: atTime.rows.slice((atTime.rows.rowCount - 1)..<atTime.rows.rowCount))
    }
}

extension SeriesSnapshot {
    /// The row at the latest time `t` from the footers alone, when they hold it: no
    /// tombstone and no unflushed row at `t` or later, and in the last block of the newest
    /// segment ending at `t` (whose last row it is: a segment's rows are in time order, and
    /// of the segments with a row at `t` the newest has the last) every wanted field is a
    /// number or Bool present in every row, or in none, so that the block's `last`
    /// statistics are the row's values. Nil otherwise (decode instead).
    func latestFromFooters(_ t: Int64, fields wanted: [String]?) throws(StrataError) -> QueryResult? {
        guard days.allSatisfy({ $0.tombstones.isEmpty }),
              !memory.contains(where: { $0.rows.timestamps.contains { $0 >= t } }) else { return nil }
        var newest: (any SegmentSource)?
        for view in days {
            for segment in view.segments where segment.footer.blocks.last?.statistics.maxTime == t {
                if newest == nil || segment.id > newest!.id { newest = segment }
            }
        }
        guard let segment = newest, let block = segment.footer.blocks.last?.statistics else { return nil }
        // A field's type that differs between a segment and the schema is damage, as in a query.
        try checkFieldTypes(against: schema)
        let outSchema = try fields(wanted)
        let row = SeriesSnapshot.oneRow(outSchema, from: segment.schema) { j in
            let stats = block.fields[j]
            if stats.count == 0 { return .null(segment.schema[j].type, count: 1) }
            guard stats.count == block.rowCount else { return nil }
            switch segment.schema[j].type {
            case .float64: return Column(.float64([Double(bitPattern: stats.last)]))
            case .int64: return Column(.int64([Int64(bitPattern: stats.last)]))
            case .bool: return Column(.bool([stats.last != 0]))
            case .string: return nil
            }
        }
        guard let row else { return nil }
        return QueryResult(series: series, schema: outSchema, rows: RowBlock(timestamps: [t], columns: row))
    }

    /// One row in the fields `outSchema` from a source whose fields are `source`: `value(j)`
    /// gives source field j's value (nil: it cannot be told here); a field the source lacks
    /// is null. Nil when a value cannot be told or a field's type differs from the source's
    /// (damage, which the general path reports).
    static func oneRow(_ outSchema: [Field], from source: [Field], _ value: (Int) -> Column?) -> [Column]? {
        var columns: [Column] = []
        columns.reserveCapacity(outSchema.count)
        for f in outSchema {
            guard let j = source.firstIndex(where: { $0.name == f.name }) else {
                columns.append(.null(f.type, count: 1))
                continue
            }
            guard source[j].type == f.type, let column = value(j) else { return nil }
            columns.append(column)
        }
        return columns
    }
}

extension Store {
    /// The latest row of `series` on disk (see `SeriesSnapshot.latest`): partitions are
    /// opened newest first until one holds a row.
    public func latest(_ series: SeriesKey, fields: [String]? = nil) throws(StrataError) -> QueryResult {
        try Store.latest(days: try days(series), offset: configuration.dayOffsetSeconds, fields: fields) { (from) throws(StrataError) in
            try snapshot(series, from: from, to: .max)
        }
    }

    /// Takes snapshots from the start of ever older partitions until one has a row.
    static func latest(days: [Day], offset: Int64, fields: [String]?,
                       snapshot: (Int64) throws(StrataError) -> SeriesSnapshot) throws(StrataError) -> QueryResult {
        var i = days.count - 1
        while true {
            let from = i >= 0 ? days[i].bounds(offsetSeconds: offset).lowerBound : .min
            let taken = try snapshot(from)
            if i < 0 { return try taken.latest(fields: fields) }
            if try taken.latestTime(from: from) != nil { return try taken.latest(from: from, fields: fields) }
            i -= 1
        }
    }
}

extension Database {
    /// The latest row of `series`, flushed or not.
    public func latest(_ series: SeriesKey, fields: [String]? = nil) throws(StrataError) -> QueryResult {
        try Store.latest(days: try store.days(series), offset: configuration.store.dayOffsetSeconds, fields: fields) { (from) throws(StrataError) in
            try snapshot(series, from: from, to: .max)
        }
    }
}

extension Store {
    /// The latest row of each of `series`, in that order. In a packed measurement every
    /// partition's manifest is read once for all of them, newest partition first, and a
    /// series stops at the first partition holding a row of it: the latest rows of 10^5
    /// contracts cost a few manifest pages and group blocks, not 10^5 directory walks.
    public func latest(_ series: [SeriesKey], fields: [String]? = nil) throws(StrataError) -> [QueryResult] {
        try latest(series, fields: fields, schema: { (m) throws(StrataError) in try schema(m) }, memory: { _ in [] }).map { $0! }
    }

    /// `latest(_:fields:)` with each series' unflushed rows from `memory`, and the schemas
    /// those rows were written with (`schema`).
    func latest(_ series: [SeriesKey], fields: [String]?, schema: (String) throws(StrataError) -> MeasurementSchema,
                memory: (SeriesKey) -> [RowChunk]) throws(StrataError) -> [QueryResult?] {
        var out = [QueryResult?](repeating: nil, count: series.count)
        var byMeasurement: [String: [Int]] = [:]
        for (i, s) in series.enumerated() { byMeasurement[s.measurement, default: []].append(i) }
        for (measurement, indexes) in byMeasurement {
            guard try layout(of: measurement) == .packed else {
                for i in indexes { out[i] = try Store.latest(days: try days(series[i]), offset: configuration.dayOffsetSeconds, fields: fields) { (from) throws(StrataError) in
                    var taken = try snapshot(series[i], from: from, to: .max)
                    taken.memory = memory(series[i])
                    taken.schema = try schema(measurement)
                    return taken
                } }
                continue
            }
            let schema = try schema(measurement)
            var open: [String: Int] = [:]
            open.reserveCapacity(indexes.count)
            for i in indexes { open[series[i].symbol] = i }
            var left = open.count
            for day in try packedPartitions(measurement).reversed() where left > 0 {
                let from = day.bounds(offsetSeconds: configuration.dayOffsetSeconds).lowerBound
                let scope = PackScope()
                // Each entry is resolved where the page holds it (no copy of the entries).
                var failure: StrataError?
                func resolve(_ e: PackManifest.Entry, _ i: Int) throws(StrataError) {
                    let key = SeriesDay(series[i], day)
                    let unflushed = memory(series[i])
                    if unflushed.isEmpty, let row = try latestOfSlices(key, e, schema: schema, fields: fields, scope: scope) {
                        out[i] = row
                        return
                    }
                    let view = try openDay(key, e.manifest, local: try openPackedSegments(key, e.manifest, entry: e, scope: scope))
                    let taken = SeriesSnapshot(series: series[i], schema: schema, days: [view], memory: unflushed)
                    if try taken.latestTime(from: from) != nil { out[i] = try taken.latest(from: from, fields: fields) }
                }
                try withPackManifest(measurement, day) { (view) throws(FormatError) in
                    try view?.forEachEntry { e in
                        guard failure == nil, let i = open[e.symbol], out[i] == nil else { return }
                        do throws(StrataError) {
                            try resolve(e, i)
                            if out[i] != nil { left -= 1 }
                        } catch {
                            failure = error
                        }
                    }
                }
                if let failure { throw failure }
            }
            // A series asked for twice has its answer once.
            for i in indexes where out[i] == nil {
                if let j = open[series[i].symbol], j != i, let found = out[j] { out[i] = found }
            }
            // No partition holds a row: unflushed rows alone, or none.
            for i in indexes where out[i] == nil {
                out[i] = try SeriesSnapshot(series: series[i], schema: schema, days: [], memory: memory(series[i])).latest(fields: fields)
            }
        }
        return out
    }
}

extension Store {
    /// The latest row of a packed series-partition whose segments are all slices of group
    /// images, with no tombstone and nothing archived: the last row of the slice whose last
    /// row is latest (at equal times, the newer segment's). Nil when it is not so simple.
    func latestOfSlices(_ key: SeriesDay, _ entry: PackManifest.Entry, schema: MeasurementSchema, fields wanted: [String]?,
                        scope: PackScope) throws(StrataError) -> QueryResult? {
        let m = entry.manifest
        guard !m.segments.isEmpty, m.tombstones.isEmpty, m.cold.isEmpty, entry.locations.allSatisfy({ $0.firstRow != nil }) else { return nil }
        var best: (time: Int64, block: RowBlock, row: Int, image: GroupImage)?
        for (s, l) in zip(m.segments, entry.locations) {
            let image = try groupImage(key, l, scope: scope)
            let footer = image.reader.footer
            guard footer.measurement == key.series.measurement, footer.day == key.day.daysSinceEpoch,
                  footer.dayOffsetSeconds == configuration.dayOffsetSeconds, s.rows >= 1,
                  l.firstRow! < UInt64(image.rowCount), s.rows <= UInt64(image.rowCount) - l.firstRow! else { return nil }
            let last = Int(l.firstRow! + s.rows - 1)
            let b = image.blocks(holding: last..<(last + 1)).lowerBound
            let block = try image.block(b)
            let row = last - image.blockStarts[b]
            // Segments in id order: a later one wins a tie.
            if best == nil || block.timestamps[row] >= best!.time { best = (block.timestamps[row], block, row, image) }
        }
        guard let best else { return nil }
        let snapshot = SeriesSnapshot(series: key.series, schema: schema, days: [])
        let outSchema = try snapshot.fields(wanted)
        let row = SeriesSnapshot.oneRow(outSchema, from: best.image.reader.footer.schema) { j in best.block.columns[j].slice(best.row..<(best.row + 1)) }
        guard let row else { return nil }
        return QueryResult(series: key.series, schema: outSchema, rows: RowBlock(timestamps: [best.time], columns: row))
    }

    /// The group image a slice lies in, through `scope`.
    func groupImage(_ key: SeriesDay, _ location: PackManifest.Location, scope: PackScope) throws(StrataError) -> GroupImage {
        if let last = scope.last, last.location.pack == location.pack, last.location.offset == location.offset,
           last.location.length == location.length { return last.image }
        if let kept = scope.images[location.image] {
            scope.last = (location.image, kept)
            return kept
        }
        let path = packPath(key.series.measurement, key.day, location.pack)
        let image = try groupImages.image(pack: path, file: { () throws(StrataError) in try MappedFile(path: path) }, location: location)
        scope.images[location.image] = image
        scope.last = (location.image, image)
        return image
    }
}

extension Database {
    /// The latest row of each of `series`, flushed or not, in that order (see
    /// `Store.latest(_:fields:)`). A series flushed or compacted while this reads is read
    /// again on its own.
    public func latest(_ series: [SeriesKey], fields: [String]? = nil) throws(StrataError) -> [QueryResult] {
        let before = monitor.withLock { series.map { state.generation[$0] ?? 0 } }
        var memory: [SeriesKey: [RowChunk]] = [:]
        var stale = Set<Int>()
        try monitor.withLock { () throws(StrataError) in
            if let failure = state.failure { throw failure }
            for (i, s) in series.enumerated() {
                if before[i] & 1 == 1 { stale.insert(i); continue }
                let chunks = state.memtable.chunks(of: s)
                if !chunks.isEmpty { memory[s] = chunks }
            }
        }
        var found = try store.latest(series, fields: fields, schema: { (m) throws(StrataError) in try knownSchema(m) }, memory: { memory[$0] ?? [] })
        // Memory was taken before the manifests were read: a flush in between moved rows
        // from one to the other, and its series are read again.
        let after = monitor.withLock { series.map { state.generation[$0] ?? 0 } }
        for i in series.indices where stale.contains(i) || after[i] != before[i] || found[i] == nil {
            found[i] = try latest(series[i], fields: fields)
        }
        return found.map { $0! }
    }
}
