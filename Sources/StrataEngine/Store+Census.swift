import Synchronization
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
    /// Series, rows and bytes per measurement, from the day manifests and the segment files'
    /// sizes (reads no segment; rows under tombstones count until compaction removes them).
    /// The first call counts every day; from then on the store keeps the counts as its
    /// manifests change, and a call reads them from memory.
    public func census() throws(StrataError) -> StorageCensus {
        if let kept = censusKeeper.current() { return kept }
        let counting = censusKeeper.beginCounting()
        var days: [SeriesDay: CensusKeeper.Day] = [:]
        do throws(StrataError) {
            for key in try seriesDays() {
                days[key] = try censusDay(key, try self.manifest(key))
            }
        } catch {
            if counting { censusKeeper.abandonCounting() }
            throw error
        }
        return counting ? censusKeeper.install(days) : CensusKeeper.total(days)
    }

    /// One series-day's counts from its manifest.
    /// A packed series-day's segment places may be given (the writer has them); else they
    /// are looked up.
    func censusDay(_ key: SeriesDay, _ manifest: DayManifest, places: [PackManifest.Location]? = nil) throws(StrataError) -> CensusKeeper.Day {
        var day = CensusKeeper.Day()
        if try layout(of: key.series.measurement) == .packed {
            // A segment's bytes are its image's in the pack, or a slice's share of its group image.
            var lengths: [UInt64: UInt64] = [:]
            func note(_ s: DayManifest.Entry, _ l: PackManifest.Location) throws(StrataError) {
                lengths[s.id] = l.firstRow == nil ? l.length : try groupShare(key, l, rows: s.rows)
            }
            if let places {
                for (s, l) in zip(manifest.segments, places) { try note(s, l) }
            } else if let entry = try packEntry(key) {
                for (s, l) in zip(entry.manifest.segments, entry.locations) { try note(s, l) }
            }
            for segment in manifest.segments {
                day.warmRows += segment.rows
                day.warmBytes += lengths[segment.id] ?? 0
            }
        } else {
            for segment in manifest.segments {
                day.warmRows += segment.rows
                day.warmBytes += UInt64((try? FileSystem.fileSize(segmentPath(key.series, key.day, SegmentID(segment.id)))) ?? 0)
            }
        }
        for cold in manifest.cold {
            day.coldRows += cold.rows
            day.coldBytes += cold.bytes
        }
        return day
    }

    /// A day's manifest was replaced (`manifest`) or its directory moved away (nil): the
    /// kept census follows. Costs nothing until a census was asked for.
    func noteCensusChange(_ key: SeriesDay, _ manifest: DayManifest?, places: [PackManifest.Location]? = nil) {
        guard censusKeeper.isTracking else { return }
        let day = manifest.flatMap { try? censusDay(key, $0, places: places) }
        censusKeeper.update(key, day)
    }
}

/// The storage census a store keeps once it has been counted: each series-day's counts,
/// replaced whenever its manifest is, and the totals per measurement moved by the difference.
/// Updates that arrive while the first count runs are applied over it when it ends.
final class CensusKeeper: Sendable {
    struct Day: Sendable, Equatable {
        var warmRows: UInt64 = 0
        var warmBytes: UInt64 = 0
        var coldRows: UInt64 = 0
        var coldBytes: UInt64 = 0
    }

    private struct State {
        var days: [SeriesDay: Day]?
        var census = StorageCensus()
        /// Days of each series, for the series counts.
        var seriesDays: [SeriesKey: Int] = [:]
        /// While the first count runs: what changed meanwhile (nil: the day went away).
        var pending: [SeriesDay: Day?]?
    }

    private let state = Mutex(State())

    /// The kept census, once counted.
    func current() -> StorageCensus? { state.withLock { $0.days == nil ? nil : $0.census } }

    var isTracking: Bool { state.withLock { $0.days != nil || $0.pending != nil } }

    /// Starts recording changes for a count about to run; false when one runs already (the
    /// caller then counts for itself).
    func beginCounting() -> Bool {
        state.withLock { s in
            guard s.pending == nil && s.days == nil else { return false }
            s.pending = [:]
            return true
        }
    }

    /// A count that failed: nothing is kept, and the next call counts again.
    func abandonCounting() {
        state.withLock { $0.pending = nil }
    }

    /// Installs a finished count, with the changes made while it ran; returns the census.
    func install(_ counted: [SeriesDay: Day]) -> StorageCensus {
        state.withLock { s in
            var days = counted
            for (key, day) in s.pending ?? [:] { days[key] = day }
            s.pending = nil
            s.days = [:]
            s.census = StorageCensus()
            s.seriesDays = [:]
            for (key, day) in days { Self.apply(&s, key, day) }
            return s.census
        }
    }

    /// Drops what is kept (a whole partition moved aside): the next census counts again.
    func forget() {
        state.withLock { s in
            s.days = nil
            s.pending = nil
            s.census = StorageCensus()
            s.seriesDays = [:]
        }
    }

    func update(_ key: SeriesDay, _ day: Day?) {
        state.withLock { s in
            if s.pending != nil { s.pending![key] = .some(day) }
            if s.days != nil { Self.apply(&s, key, day) }
        }
    }

    /// Replaces a day's counts (nil removes the day) and moves the totals by the difference.
    private static func apply(_ s: inout State, _ key: SeriesDay, _ day: Day?) {
        let old = s.days![key]
        let measurement = key.series.measurement
        var m = s.census.measurements[measurement] ?? StorageCensus.Measurement()
        if let old {
            m.warmRows -= old.warmRows
            m.warmBytes -= old.warmBytes
            m.coldRows -= old.coldRows
            m.coldBytes -= old.coldBytes
        }
        if let day {
            m.warmRows += day.warmRows
            m.warmBytes += day.warmBytes
            m.coldRows += day.coldRows
            m.coldBytes += day.coldBytes
        }
        let seriesDaysBefore = s.seriesDays[key.series, default: 0]
        let seriesDaysAfter = seriesDaysBefore + (day != nil ? 1 : 0) - (old != nil ? 1 : 0)
        m.seriesDays += seriesDaysAfter - seriesDaysBefore
        if seriesDaysBefore == 0 && seriesDaysAfter > 0 { m.series += 1 }
        if seriesDaysBefore > 0 && seriesDaysAfter == 0 { m.series -= 1 }
        s.seriesDays[key.series] = seriesDaysAfter == 0 ? nil : seriesDaysAfter
        s.days![key] = day
        if m.seriesDays == 0 && m.warmRows == 0 && m.coldRows == 0 {
            s.census.measurements[measurement] = nil
        } else {
            s.census.measurements[measurement] = m
        }
    }

    /// The census of a count, without keeping it.
    static func total(_ days: [SeriesDay: Day]) -> StorageCensus {
        var s = State()
        s.days = [:]
        for (key, day) in days { apply(&s, key, day) }
        return s.census
    }
}
