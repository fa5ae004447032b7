import StrataEngine
import StrataFormat
import StrataPlatform

extension Mirror {
    /// What `sync` did.
    public struct SyncSummary: Sendable {
        public var seriesDays = 0
        public var rows = 0
        /// Whether the cursor had to jump over a gap in the log (a full sync fills it).
        public var gapFilled = false
    }

    /// Backfills the mirror from Strata's own data: first replicates the log up to its
    /// durable end (so nothing of it comes again later), then replaces, one transaction per
    /// series-day, the mirror's rows of each series-day that matches with the store's rows.
    /// Run it after enabling the mirror on a store with data, or when `status` says
    /// `needs sync` (then without filters: the log the cursor points into is gone, and only
    /// a full sync restores every series-day). Re-running it is harmless.
    public func sync(measurement: String? = nil, from: Int64 = .min, to: Int64 = .max) throws(StrataError) -> SyncSummary {
        var summary = SyncSummary()
        try database.flush()
        let connection = try PostgresConnection(configuration.dsn)
        let writer = try MirrorWriter(connection: connection, options: configuration.options, store: store)
        try writer.prepareBars(try database.store.measurements())
        var cursor = try writer.cursor()
        // Catch up with the log first.
        while true {
            let batch: (changes: [MirrorChange], end: WALPosition, rows: Int, deletes: Int)
            do throws(StrataError) {
                batch = try nextBatch(after: cursor.position)
            } catch where error.code == .notFound {
                guard measurement == nil, from == .min, to == .max else {
                    throw StrataError(.notFound, "the mirror's log position \(cursor.position) is gone, so only a full sync (no --measurement, --from or --to) can bring it back: \(error.message)")
                }
                // Jump to the log's end; every series-day is replaced below.
                cursor = try writer.apply([], through: database.durableLogPosition, expected: cursor)
                summary.gapFilled = true
                continue
            }
            if batch.end == cursor.position { break }
            cursor = try writer.apply(batch.changes, through: batch.end, expected: cursor)
        }
        try database.retainLog(from: cursor.position)
        // Replace series-day by series-day.
        let offset = database.configuration.store.dayOffsetSeconds
        for key in try database.store.seriesDays() {
            if let measurement, key.series.measurement != measurement { continue }
            let bounds = key.day.bounds(offsetSeconds: offset)
            let (dayStart, dayEnd) = (bounds.lowerBound, bounds.upperBound)
            guard dayEnd >= from, dayStart <= to else { continue }
            let result = try database.query(key.series, from: dayStart, to: dayEnd)
            try writer.prepare(key.series.measurement, fields: result.schema)
            cursor = try writer.replace(key.series, from: dayStart, to: dayEnd, with: result.schema, result.rows, expected: cursor)
            summary.seriesDays += 1
            summary.rows += result.rows.rowCount
        }
        if measurement == nil, from == .min, to == .max {
            // Every series-day is in the database now.
            try FileSystem.remove(Self.backfillPath(database.store.directory))
            update { $0.needsBackfill = false }
        }
        return summary
    }

    /// One series-day's comparison.
    public struct Difference: Sendable, CustomStringConvertible {
        public var series: SeriesKey
        public var day: Day
        public var what: String
        public var description: String { "\(series) \(day): \(what)" }
    }

    /// Compares, per series-day, Strata's row count and the sum of every numeric field with
    /// the mirror's; returns the series-days that differ and how many were compared.
    public func verify(measurement: String? = nil, day: Day? = nil) throws(StrataError) -> (compared: Int, differences: [Difference]) {
        let connection = try PostgresConnection(configuration.dsn)
        let writer = try MirrorWriter(connection: connection, options: configuration.options, store: store)
        let offset = database.configuration.store.dayOffsetSeconds
        var differences: [Difference] = []
        var compared = 0
        for key in try database.store.seriesDays() {
            if let measurement, key.series.measurement != measurement { continue }
            // `day` picks the partition that holds it (a month's, a year's).
            if let day, !(key.day.daysSinceEpoch <= day.daysSinceEpoch && day.daysSinceEpoch < key.day.nextDay) { continue }
            compared += 1
            let bounds = key.day.bounds(offsetSeconds: offset)
            let (dayStart, dayEnd) = (bounds.lowerBound, bounds.upperBound)
            let result = try database.query(key.series, from: dayStart, to: dayEnd)
            let numeric = result.schema.enumerated().filter { $0.element.type == .float64 || $0.element.type == .int64 }
            let table = writer.schema.table(key.series.measurement)
            guard try connection.tableExists(configuration.options.schema, writer.schema.tableName(key.series.measurement)) else {
                differences.append(Difference(series: key.series, day: key.day, what: "the mirror has no table \(table) (\(result.rows.rowCount) rows in Strata)"))
                continue
            }
            let known = Set(try connection.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
                                                   [configuration.options.schema, writer.schema.tableName(key.series.measurement)]).rows.compactMap { $0[0] })
            let sums = numeric.map { f in
                let column = MirrorSchema.columnName(f.element.name)
                return known.contains(column) ? "sum(\(PostgresConnection.quoteIdentifier(column)))::text" : "NULL"
            }
            let r = try connection.execute("SELECT count(*)\(sums.map { ", " + $0 }.joined()) FROM \(table) WHERE symbol = $1 AND time_ns BETWEEN $2 AND $3",
                                           [key.series.symbol, String(dayStart), String(dayEnd)])
            var what: [String] = []
            let mirrorCount = Int(r.value(0, 0) ?? "") ?? -1
            if mirrorCount != result.rows.rowCount { what.append("\(result.rows.rowCount) rows in Strata, \(mirrorCount) in the mirror") }
            for (i, (c, field)) in numeric.enumerated() {
                let column = result.rows.columns[c]
                let mirrorSum = r.value(0, i + 1)
                switch column.values {
                case .float64(let v):
                    let s = v.indices.filter { column.isPresent($0) }.reduce(0.0) { $0 + v[$1] }
                    let m = mirrorSum.flatMap(Double.init) ?? (column.presentCount == 0 ? 0 : .nan)
                    if !(abs(s - m) <= 1e-9 * max(1, abs(s))) { what.append("sum of \(field.name) \(s) in Strata, \(mirrorSum ?? "none") in the mirror") }
                case .int64(let v):
                    let s = v.indices.filter { column.isPresent($0) }.reduce(Int64(0)) { $0 &+ v[$1] }
                    if Int64(mirrorSum ?? "") ?? (column.presentCount == 0 ? 0 : .min) != s { what.append("sum of \(field.name) \(s) in Strata, \(mirrorSum ?? "none") in the mirror") }
                default: break
                }
            }
            if !what.isEmpty { differences.append(Difference(series: key.series, day: key.day, what: what.joined(separator: "; "))) }
        }
        return (compared, differences)
    }
}

extension MirrorChange {
    init(_ record: WALRecord) throws(StrataError) {
        switch record {
        case .rows(let measurement, let symbol, let schema, let rows):
            self = .rows(try SeriesKey(measurement: measurement, symbol: symbol), schema, rows)
        case .delete(let measurement, let symbol, let from, let to):
            self = .delete(try SeriesKey(measurement: measurement, symbol: symbol), from: from, to: to)
        }
    }
}

extension MirrorWriter {
    /// Replaces the mirror's rows of `series` in [from, to] with `rows`, in one transaction
    /// that also takes the cursor's lock (so no other mirror of the store runs meanwhile)
    /// and advances its row numbers.
    func replace(_ series: SeriesKey, from: Int64, to: Int64, with fields: [Field], _ rows: RowBlock,
                 expected: MirrorCursor) throws(StrataError) -> MirrorCursor {
        try apply([.delete(series, from: from, to: to), .rows(series, fields, rows)], through: expected.position, expected: expected)
    }
}
