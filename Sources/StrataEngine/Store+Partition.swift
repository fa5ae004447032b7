import StrataFormat
import StrataPlatform

/// How a measurement's partition period is chosen when it is made.
public enum PartitionChoice: Sendable, Equatable, CustomStringConvertible {
    case period(PartitionPeriod)
    /// From the spacing of the first rows written: rows 12 hours or more apart (daily bars)
    /// make years, 30 seconds or more (minute bars) months, closer rows (ticks) days. Fewer
    /// than `autoMinimumGaps` spacings (a first write of a few rows) make days: a tick
    /// stream's first rows must not make it a measurement of years.
    case auto

    /// Spacings `auto` needs to see before it picks a period longer than a day.
    public static let autoMinimumGaps = 8

    /// `day`, `week`, `month`, `year` or `auto`.
    public init?(_ text: String) {
        if text == "auto" { self = .auto } else if let p = PartitionPeriod(rawValue: text) { self = .period(p) } else { return nil }
    }

    public var description: String {
        switch self {
        case .period(let p): p.rawValue
        case .auto: "auto"
        }
    }

    /// The period `auto` picks for rows whose typical spacing is `gap` nanoseconds (nil: fewer
    /// than `autoMinimumGaps` spacings seen).
    public static func autoPeriod(medianGap gap: Int64?) -> PartitionPeriod {
        guard let gap else { return .day }
        if gap >= 12 * 3_600_000_000_000 { return .year }
        if gap >= 30_000_000_000 { return .month }
        return .day
    }
}

extension Store {
    static let partitionFile = "_partition"

    package func partitionPath(_ measurement: String) -> String { "\(measurementPath(measurement))/\(Store.partitionFile)" }

    /// The partition period of `measurement`: what `_partition` records, or days for a
    /// measurement that has none (every measurement made before periods existed).
    public func partitionPeriod(of measurement: String) throws(StrataError) -> PartitionPeriod {
        if let known = periods.withLock({ $0[measurement] }) { return known }
        return try recordedPartitionPeriod(of: measurement) ?? .day
    }

    /// What `_partition` records, or nil: the measurement is not made yet, holds days, or was
    /// made before periods existed (it holds days too).
    public func recordedPartitionPeriod(of measurement: String) throws(StrataError) -> PartitionPeriod? {
        let path = partitionPath(measurement)
        guard FileSystem.exists(path) else { return nil }
        let lines = try ChecksummedText.decode(try MappedFile(path: path).withUnsafeBytes { Array($0) }, path: path, kind: "partition file")
        guard lines.count == 1, let period = PartitionPeriod(rawValue: String(lines[0])) else {
            throw StrataError(.corrupt, "the partition file does not hold one of day, week, month or year", path: path)
        }
        return period
    }

    /// The partition period of each measurement of `batch`, remembered once known (it never
    /// changes). A measurement being made (no `_partition` and no series yet) gets the
    /// configured choice, `auto` deciding from the batch's rows, recorded crash-safely
    /// before any of its data; days are not recorded: they are what a measurement with
    /// series and no record holds, so such a store's files are what they were before periods
    /// existed. Call with the write lock held (a database holds it throughout).
    func partitionPeriods(for batch: [SeriesRows]) throws(StrataError) -> [String: PartitionPeriod] {
        var out: [String: PartitionPeriod] = [:]
        for m in Set(batch.lazy.filter { $0.rows.rowCount > 0 }.map(\.series.measurement)) {
            if let known = periods.withLock({ $0[m] }) {
                out[m] = known
                continue
            }
            let period: PartitionPeriod
            if let recorded = try recordedPartitionPeriod(of: m) {
                period = recorded
            } else if try !symbols(existing: m).isEmpty {
                period = .day
            } else {
                // Made by this write: remembered only once written down (days are written
                // down by the series directories the write makes), so a write that fails
                // before then leaves the choice to the next one.
                switch configuration.partitions[m] ?? configuration.defaultPartition {
                case .period(let p): period = p
                case .auto: period = PartitionChoice.autoPeriod(medianGap: Store.medianGap(batch.filter { $0.series.measurement == m }))
                }
                // The layout first: a measurement with a period but no layout would be read
                // as one of series directories.
                // A layout recorded by a write that never got its data down stays: the
                // measurement was made packed, whatever this write would choose.
                if let recorded = try recordedLayout(of: m) {
                    layouts.withLock { $0[m] = recorded }
                } else {
                    switch configuration.layouts[m] ?? configuration.defaultLayout {
                    case .layout(let l): try recordLayout(l, of: m)
                    case .auto: try recordLayout(autoLayout(batch.filter { $0.series.measurement == m }, period: period), of: m)
                    }
                }
                if period != .day {
                    try Names.validateDirectory(m, what: "measurement")
                    try FileSystem.makeDirectories(measurementPath(m))
                    try FileSystem.writeAtomically(partitionPath(m), [ChecksummedText.encode(period.rawValue + "\n")])
                    periods.withLock { $0[m] = period }
                }
                out[m] = period
                continue
            }
            periods.withLock { $0[m] = period }
            out[m] = period
        }
        return out
    }

    /// Symbols of `measurement` with a directory; none when the measurement has none.
    func symbols(existing measurement: String) throws(StrataError) -> [String] {
        FileSystem.isDirectory(measurementPath(measurement)) ? try symbols(measurement) : []
    }

    /// The median spacing of consecutive distinct times within each series of `batch`
    /// (its rows in time order); nil when there are fewer than `autoMinimumGaps` spacings.
    static func medianGap(_ batch: [SeriesRows]) -> Int64? {
        var gaps: [Int64] = []
        for item in batch {
            let times = item.rows.timestamps.sorted()
            for (a, b) in zip(times, times.dropFirst()) where b > a {
                gaps.append(b.subtractingSaturating(a))
                if gaps.count >= 100_000 { break }
            }
        }
        guard gaps.count >= PartitionChoice.autoMinimumGaps else { return nil }
        gaps.sort()
        return gaps[gaps.count / 2]
    }
}
