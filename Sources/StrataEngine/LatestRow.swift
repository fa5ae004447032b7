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
        let atTime = try query(from: t, to: t, fields: wanted)
        return QueryResult(series: series, schema: atTime.schema, rows: atTime.rows.slice((atTime.rows.rowCount - 1)..<atTime.rows.rowCount))
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
