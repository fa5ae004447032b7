import StrataFormat
import StrataPlatform

/// Damaged files are isolated, not fatal: a series-day whose manifest cannot be read (or
/// whose segments have lost their manifest) is moved to `<data-dir>/_damaged/`, and a
/// measurement's damaged `_schema` is moved there and rebuilt from its segments' footers.
/// Nothing is deleted; the rest of the store serves.
extension Store {
    /// Where quarantined files go.
    package var damagedDirectory: String { "\(directory)/_damaged" }

    /// Moves a series-day's directory to `_damaged/<measurement>/<symbol>/<day>[.N]`;
    /// returns where it went. Call with the write lock held.
    func quarantine(_ key: SeriesDay) throws(StrataError) -> String {
        let base = "\(damagedDirectory)/\(Names.directoryName(key.series.measurement))/\(Names.directoryName(key.series.symbol))/\(key.day)"
        let target = Self.unused(base)
        try FileSystem.makeDirectories(FileSystem.parentDirectory(target))
        let source = dayPath(key.series, key.day)
        try FileSystem.rename(source, target)
        noteCensusChange(key, nil)
        try FileSystem.syncDirectory(FileSystem.parentDirectory(source))
        try FileSystem.syncDirectory(FileSystem.parentDirectory(target))
        return target
    }

    /// Moves a packed partition's directory (its pack manifest and packs, every series of it)
    /// to `_damaged/<measurement>/_packed/<partition>[.N]`; returns where it went. Call with
    /// the write lock held.
    func quarantinePartition(_ measurement: String, _ day: Day) throws(StrataError) -> String {
        let target = Self.unused("\(damagedDirectory)/\(Names.directoryName(measurement))/\(Store.packedDirectory)/\(day)")
        try FileSystem.makeDirectories(FileSystem.parentDirectory(target))
        let source = packDirectory(measurement, day)
        try FileSystem.rename(source, target)
        censusKeeper.forget()
        try FileSystem.syncDirectory(FileSystem.parentDirectory(source))
        try FileSystem.syncDirectory(FileSystem.parentDirectory(target))
        return target
    }

    /// Whether a packed partition holds pack files but no pack manifest (it was lost): they
    /// are kept, not removed as leftovers.
    func hasPacksWithoutManifest(_ measurement: String, _ day: Day) throws(StrataError) -> Bool {
        guard !FileSystem.exists(packManifestPath(measurement, day)) else { return false }
        return try FileSystem.list(packDirectory(measurement, day)).contains { Store.packID(fileName: $0) != nil }
    }

    /// A damaged `_schema` moved to `_damaged/<measurement>/_schema[.N]`, and a new one
    /// written with the fields the measurement's segments hold, in the order of their days
    /// and then of their footers. Returns the new schema and where the old file went. Call
    /// with the write lock held.
    func rebuildSchema(_ measurement: String) throws(StrataError) -> (schema: MeasurementSchema, movedTo: String) {
        var schema = MeasurementSchema()
        for symbol in try symbols(measurement) {
            let series = try SeriesKey(measurement: measurement, symbol: symbol)
            for day in try days(series) {
                guard let view = try? openDay(SeriesDay(series, day)) else { continue }
                for segment in view.segments { _ = try? schema.merge(segment.schema, measurement: measurement) }
            }
        }
        let path = schemaPath(measurement)
        let target = Self.unused("\(damagedDirectory)/\(Names.directoryName(measurement))/_schema")
        try FileSystem.makeDirectories(FileSystem.parentDirectory(target))
        try FileSystem.rename(path, target)
        try FileSystem.syncDirectory(FileSystem.parentDirectory(target))
        try FileSystem.writeAtomically(path, [schema.encoded()])
        return (schema, target)
    }

    /// Whether a series-day's directory holds segment files although it has no manifest
    /// (the manifest was lost, or a crash came between a first flush's segment and its
    /// manifest: either way its segments are kept, not removed as leftovers).
    func hasSegmentsWithoutManifest(_ key: SeriesDay) throws(StrataError) -> Bool {
        guard !FileSystem.exists(manifestPath(key)) else { return false }
        return try FileSystem.list(dayPath(key.series, key.day)).contains { SegmentID(fileName: $0) != nil }
    }

    /// `base`, or `base.2`, `base.3`, … whichever does not exist yet.
    static func unused(_ base: String) -> String {
        var target = base
        var n = 1
        while FileSystem.exists(target) {
            n += 1
            target = "\(base).\(n)"
        }
        return target
    }

    /// What `_damaged` holds: the paths of quarantined series-days and schema files,
    /// relative to it.
    package func quarantined() throws(StrataError) -> [String] {
        guard FileSystem.isDirectory(damagedDirectory) else { return [] }
        var out: [String] = []
        for m in try FileSystem.list(damagedDirectory) {
            let mPath = "\(damagedDirectory)/\(m)"
            guard FileSystem.isDirectory(mPath) else { continue }
            for s in try FileSystem.list(mPath) {
                let sPath = "\(mPath)/\(s)"
                if !FileSystem.isDirectory(sPath) { out.append("\(m)/\(s)"); continue }
                for d in try FileSystem.list(sPath) { out.append("\(m)/\(s)/\(d)") }
            }
        }
        return out.sorted()
    }
}
