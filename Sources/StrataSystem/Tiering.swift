import StrataArchive
import StrataEngine
import StrataPlatform

/// What one pass of the tier policy did.
public struct TieringSummary: Sendable {
    public var compacted = CompactionSummary()
    public var archived: Archive.PushSummary?
}

extension TierPolicy {
    /// One pass over the store: compacts the series-days that ended more than
    /// `compactAfter` before `now`, then moves those that ended more than `archiveAfter`
    /// before it to the archive (when there is one and archiving is on). The server runs
    /// this on a schedule; `strata tier` runs it once.
    public func apply(to database: Database, archive: Archive?, now: Int64 = CivilTime.now(),
                      measurement: String? = nil) throws(StrataError) -> TieringSummary {
        var summary = TieringSummary()
        let offset = database.configuration.store.dayOffsetSeconds
        summary.compacted = try database.compact { key in
            // A day is due once its last nanosecond is older than compactAfter (the last day
            // of the range never is).
            let last = key.day.bounds(offsetSeconds: offset).upperBound
            return (measurement == nil || key.series.measurement == measurement) && last < now.subtractingSaturating(compactAfter)
        }
        if let archive, let archiveAfter {
            summary.archived = try archive.push(database, olderThan: archiveAfter, now: now, measurement: measurement)
        }
        return summary
    }
}
