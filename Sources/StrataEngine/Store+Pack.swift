import Synchronization
import StrataFormat
import StrataPlatform

/// How a measurement's series lie on disk (Format.md, "Packed measurements").
public enum MeasurementLayout: String, Sendable, Equatable {
    /// A directory per series, a directory per partition of it, and segment files in it:
    /// dense series (ticks) read and compact one series at a time.
    case series
    /// Every series of a partition in one directory: one manifest holding each series' day
    /// manifest, and pack files holding whole segment images. Thousands of sparse series
    /// (an options chain, the daily bars of a market) cost a few files per partition, not
    /// two per series.
    case packed
}

/// How a measurement's layout is chosen when it is made.
public enum LayoutChoice: Sendable, Equatable, CustomStringConvertible {
    case layout(MeasurementLayout)
    /// From the first rows written: `autoMinimumSeries` series or more whose series-partitions
    /// hold `autoMaximumRows` rows or fewer (the median) make a packed measurement; anything
    /// else (ticks, a few symbols' bars) series directories.
    case auto

    public static let autoMinimumSeries = 64
    public static let autoMaximumRows = 1_024

    /// `series`, `packed` or `auto`.
    public init?(_ text: String) {
        if text == "auto" { self = .auto } else if let l = MeasurementLayout(rawValue: text) { self = .layout(l) } else { return nil }
    }

    public var description: String {
        switch self {
        case .layout(let l): l.rawValue
        case .auto: "auto"
        }
    }
}

extension Store {
    static let layoutFile = "_layout"

    /// The layout `auto` picks for a measurement made by `batch` with partitions of `period`.
    func autoLayout(_ batch: [SeriesRows], period: PartitionPeriod) -> MeasurementLayout {
        guard Set(batch.map(\.series)).count >= LayoutChoice.autoMinimumSeries else { return .series }
        // Rows per partition of each series, from its count and the partitions its time range
        // spans: one pass over the times, whatever the batch's size.
        var perPartition: [Int] = []
        for item in batch where item.rows.rowCount > 0 {
            let times = item.rows.timestamps
            var lo = times[0], hi = times[0]
            for t in times { lo = min(lo, t); hi = max(hi, t) }
            let offset = configuration.dayOffsetSeconds
            var day = Day(containing: lo, offsetSeconds: offset, period: period)
            let last = Day(containing: hi, offsetSeconds: offset, period: period)
            var partitions = 1
            while day < last && partitions < 100_000 {
                day = Day(daysSinceEpoch: day.nextDay, period: period)
                partitions += 1
            }
            perPartition.append(times.count / partitions)
        }
        perPartition.sort()
        return perPartition[perPartition.count / 2] <= LayoutChoice.autoMaximumRows ? .packed : .series
    }
    static let packedDirectory = "_packed"
    static let packExtension = ".pack"
    /// A new segment of this many rows or fewer goes into the write's group image, not an
    /// image of its own: a few rows cost a few bytes, not a segment's footer. Larger ones
    /// keep their own blocks, whose encodings fit one series (a year of a stock's daily bars,
    /// ~250 rows, is 30% smaller alone than among other stocks' prices).
    static let groupMaximumRows = 128
    /// Rows per block of a group image: a slice read decodes one block or two.
    static let groupBlockRows = 4_096

    package func layoutPath(_ measurement: String) -> String { "\(measurementPath(measurement))/\(Store.layoutFile)" }

    /// The layout of `measurement`: what `_layout` records, or `series` (every measurement
    /// made before packs existed, and every one made without asking for packs).
    public func layout(of measurement: String) throws(StrataError) -> MeasurementLayout {
        if let known = layouts.withLock({ $0[measurement] }) { return known }
        let layout = try recordedLayout(of: measurement) ?? .series
        // Remembered once the measurement has its schema, which a writer records after the
        // layout: before that, another process may be between making the directory and
        // writing `_layout`.
        if layout == .packed || FileSystem.exists(schemaPath(measurement)) { layouts.withLock { $0[measurement] = layout } }
        return layout
    }

    /// What `_layout` records, or nil (series directories, or a measurement not made yet).
    func recordedLayout(of measurement: String) throws(StrataError) -> MeasurementLayout? {
        let path = layoutPath(measurement)
        guard FileSystem.exists(path) else { return nil }
        let lines = try ChecksummedText.decode(try MappedFile(path: path).withUnsafeBytes { Array($0) }, path: path, kind: "layout file")
        guard lines.count == 1, let recorded = MeasurementLayout(rawValue: String(lines[0])), recorded != .series else {
            throw StrataError(.corrupt, "the layout file does not hold 'packed'", path: path)
        }
        return recorded
    }

    /// Records the layout of a measurement being made (packed: `_layout`; series needs no
    /// record). Call with the write lock held, before any of its data is written.
    func recordLayout(_ layout: MeasurementLayout, of measurement: String) throws(StrataError) {
        if layout == .packed {
            try Names.validateDirectory(measurement, what: "measurement")
            try FileSystem.makeDirectories(measurementPath(measurement))
            try FileSystem.writeAtomically(layoutPath(measurement), [ChecksummedText.encode(layout.rawValue + "\n")])
        }
        layouts.withLock { $0[measurement] = layout }
    }

    // MARK: Paths

    func packedPath(_ measurement: String) -> String { "\(measurementPath(measurement))/\(Store.packedDirectory)" }

    /// The directory of one partition of a packed measurement.
    func packDirectory(_ measurement: String, _ day: Day) -> String { "\(packedPath(measurement))/\(day)" }

    func packManifestPath(_ measurement: String, _ day: Day) -> String { "\(packDirectory(measurement, day))/\(PackManifest.fileName)" }

    func packPath(_ measurement: String, _ day: Day, _ pack: UInt64) -> String {
        "\(packDirectory(measurement, day))/\(paddedHex(pack, digits: 16))\(Store.packExtension)"
    }

    /// The pack id a file name spells (16 lower-case hex digits + ".pack"), or nil.
    static func packID(fileName name: String) -> UInt64? {
        guard name.hasSuffix(packExtension) else { return nil }
        let hex = name.dropLast(packExtension.count)
        guard hex.count == 16, let v = UInt64(hex, radix: 16), paddedHex(v, digits: 16) == hex else { return nil }
        return v
    }

    // MARK: Reading

    /// The partitions of a packed measurement that have a directory, in order.
    func packedPartitions(_ measurement: String) throws(StrataError) -> [Day] {
        let dir = packedPath(measurement)
        guard FileSystem.isDirectory(dir) else { return [] }
        return try FileSystem.list(dir).compactMap(Day.init).sorted()
    }

    /// Runs `body` on the checked manifest of a packed partition (nil when it has none).
    /// Checked manifests stay mapped (`PackManifestCache`): finding one series in a
    /// partition of 10^5 costs a binary search, not a checksum over the whole file.
    func withPackManifest<R>(_ measurement: String, _ day: Day, _ body: (PackManifest.View?) throws(FormatError) -> R) throws(StrataError) -> R {
        let path = packManifestPath(measurement, day)
        let found = try packManifests.view(path)
        do {
            guard let (file, view) = found else { return try body(nil) }
            return try withExtendedLifetime(file) { () throws(FormatError) -> R in try body(view) }
        } catch {
            throw StrataError.corrupt(error, path: path)
        }
    }

    /// The whole manifest of a packed partition; an empty one when it has none yet.
    func packManifest(_ measurement: String, _ day: Day) throws(StrataError) -> PackManifest {
        try withPackManifest(measurement, day) { (view) throws(FormatError) in
            guard let view else { return PackManifest() }
            return try PackManifest.decode(view)
        }
    }

    /// The entry of one series in its packed partition, or nil.
    func packEntry(_ key: SeriesDay) throws(StrataError) -> PackManifest.Entry? {
        try withPackManifest(key.series.measurement, key.day) { (view) throws(FormatError) in try view?.entry(for: key.series.symbol) }
    }

    /// The symbols of a packed measurement: those with an entry in any partition.
    func packedSymbols(_ measurement: String) throws(StrataError) -> [String] {
        var all = Set<String>()
        for day in try packedPartitions(measurement) {
            try withPackManifest(measurement, day) { (view) throws(FormatError) in
                if let view { all.formUnion(try view.symbols()) }
            }
        }
        return all.sorted()
    }

    /// The partitions of a packed measurement that hold `series`.
    func packedDays(_ series: SeriesKey, where include: (Day) -> Bool = { _ in true }) throws(StrataError) -> [Day] {
        var out: [Day] = []
        for day in try packedPartitions(series.measurement) where include(day) {
            if try packHolds(series, day) { out.append(day) }
        }
        return out
    }

    /// Whether the packed partition `day` has an entry for `series`.
    func packHolds(_ series: SeriesKey, _ day: Day) throws(StrataError) -> Bool {
        try withPackManifest(series.measurement, day) { (view) throws(FormatError) in try view?.entry(for: series.symbol) != nil }
    }

    /// The manifest of a packed series-day and its segments, from one read of the partition's
    /// pack manifest (a reader without the lock sees one version of it).
    func openPackedDay(_ key: SeriesDay) throws(StrataError) -> (DayManifest, [any SegmentSource]) {
        guard let entry = try packEntry(key) else { return (DayManifest(), []) }
        return (entry.manifest, try openPackedSegments(key, entry.manifest, entry: entry))
    }

    /// Opens the local segments of a packed series-day that `manifest` lists, from the
    /// partition's packs. A segment the current pack manifest no longer has (a compaction
    /// in another process replaced it) is `notFound`, so that `openDay(_:)` reads again.
    func openPackedSegments(_ key: SeriesDay, _ manifest: DayManifest, entry known: PackManifest.Entry? = nil,
                             scope: PackScope? = nil) throws(StrataError) -> [any SegmentSource] {
        guard !manifest.segments.isEmpty else { return [] }
        var found = known
        if found == nil { found = try packEntry(key) }
        guard let entry = found else {
            throw StrataError(.notFound, "\(key) is no longer in its partition's pack manifest", path: packManifestPath(key.series.measurement, key.day))
        }
        var where_: [UInt64: PackManifest.Location] = [:]
        for (s, l) in zip(entry.manifest.segments, entry.locations) { where_[s.id] = l }
        var packs: [UInt64: MappedFile] = [:]
        var out: [any SegmentSource] = []
        for s in manifest.segments {
            guard let location = where_[s.id] else {
                throw StrataError(.notFound, "segment \(s.id) of \(key) is no longer in its partition's pack manifest", path: packManifestPath(key.series.measurement, key.day))
            }
            let segment: any SegmentSource
            if let first = location.firstRow {
                let image = try groupImage(key, location, scope: scope ?? PackScope())
                segment = try GroupSlice(image: image, key: key, firstRow: first, rows: s.rows, id: SegmentID(s.id))
            } else {
                if packs[location.pack] == nil {
                    packs[location.pack] = try MappedFile(path: packPath(key.series.measurement, key.day, location.pack))
                }
                segment = try Segment(pack: packs[location.pack]!, location: location, id: SegmentID(s.id))
            }
            try checkListed(segment, key, rows: s.rows)
            out.append(segment)
        }
        return out
    }

    /// The bytes a slice of `rows` rows takes of its group image: its share of the image.
    func groupShare(_ key: SeriesDay, _ location: PackManifest.Location, rows: UInt64) throws(StrataError) -> UInt64 {
        let path = packPath(key.series.measurement, key.day, location.pack)
        let image = try groupImages.image(pack: path, file: { () throws(StrataError) in try MappedFile(path: path) }, location: location)
        return UInt64(Double(location.length) * Double(rows) / Double(max(image.rowCount, 1)))
    }

    // MARK: Writing

    /// `commit` for the series-days of packed measurements: per partition, every new segment
    /// goes into one new pack file, and one new pack manifest switches every touched series
    /// at once. Packs no series refers to any more are removed after the switch; when less
    /// than half of the partition's pack bytes are live, or when `repack` asks (compaction),
    /// the live segment images are copied into the new pack too, so the old packs all go.
    /// Call with the write lock held.
    func commitPacked(_ new: [NewSegment], touching extra: [SeriesDay], base: ((SeriesDay) throws(StrataError) -> DayManifest)?,
                      edit: (SeriesDay, inout DayManifest) -> Void, crash: CrashHook, repack: Bool,
                      switched: inout Int) throws(StrataError) -> (manifests: [SeriesDay: DayManifest], summary: WriteSummary) {
        struct Partition: Hashable { var measurement: String; var day: Day }
        var order: [Partition] = []
        var work: [Partition: (new: [NewSegment], keys: [SeriesDay])] = [:]
        func note(_ key: SeriesDay) -> Partition {
            let p = Partition(measurement: key.series.measurement, day: key.day)
            if work[p] == nil { work[p] = ([], []); order.append(p) }
            return p
        }
        for s in new { work[note(s.key)]!.new.append(s) }
        for key in extra { work[note(key)]!.keys.append(key) }
        var manifests: [SeriesDay: DayManifest] = [:]
        var summary = WriteSummary()
        for p in order {
            let done = try commitPartition(p.measurement, p.day, work[p]!.new, touching: work[p]!.keys, base: base, edit: edit, crash: crash,
                                           repack: repack, switched: &switched)
            if manifests.isEmpty { manifests = done.manifests } else { manifests.merge(done.manifests) { $1 } }
            summary.rows += done.summary.rows
            summary.bytes += done.summary.bytes
            summary.segments += done.summary.segments
        }
        return (manifests, summary)
    }

    private func commitPartition(_ measurement: String, _ day: Day, _ new: [NewSegment], touching extra: [SeriesDay],
                                 base: ((SeriesDay) throws(StrataError) -> DayManifest)?,
                                 edit: (SeriesDay, inout DayManifest) -> Void,
                                 crash: CrashHook, repack: Bool, switched: inout Int) throws(StrataError) -> (manifests: [SeriesDay: DayManifest], summary: WriteSummary) {
        let dir = packDirectory(measurement, day)
        var pack = try packManifest(measurement, day)
        if !FileSystem.exists(packManifestPath(measurement, day)) { pack = try startPartition(measurement, day) }
        try removePackOrphans(measurement, day, pack)
        var entries: [String: PackManifest.Entry] = [:]
        entries.reserveCapacity(pack.entries.count + new.count)
        for e in pack.entries { entries[e.symbol] = e }
        let oldPacks = Set(pack.entries.flatMap { $0.locations.map(\.pack) })
        let oldSymbols = pack.entries.map(\.symbol)
        pack.entries = []

        // Each touched series' manifest, edited as the caller asks, by position: a partition
        // of 10^5 series is written without hashing each key again and again.
        var index: [SeriesDay: Int] = [:]
        index.reserveCapacity(new.count + extra.count)
        var order: [SeriesDay] = []
        var manifests: [DayManifest] = []
        var placed: [[(id: UInt64, location: PackManifest.Location)]] = []
        func load(_ key: SeriesDay) throws(StrataError) -> Int {
            if let i = index[key] { return i }
            if let base {
                manifests.append(try base(key))
            } else {
                manifests.append(entries[key.series.symbol]?.manifest ?? DayManifest())
            }
            index[key] = order.count
            order.append(key)
            placed.append([])
            return order.count - 1
        }
        let packID = pack.nextPackID
        pack.nextPackID += 1
        let packFile = packPath(measurement, day, packID)
        var pieces: [[UInt8]] = [PackLayout.header()]
        var offset = UInt64(FileHeader.size)
        var summary = WriteSummary()
        // Small segments wait for the group image, written once every one is known; until
        // then their place is a placeholder in the new pack.
        var grouped: [GroupItem] = []
        for s in new {
            let i = try load(s.key)
            if s.image == nil, s.rows.rowCount <= Store.groupMaximumRows {
                let id = manifests[i].addSegment(rows: UInt64(s.rows.rowCount))
                summary.rows += s.rows.rowCount
                placed[i].append((id, PackManifest.Location(pack: packID, offset: 0, length: 0, firstRow: UInt64(grouped.count))))
                grouped.append(GroupItem(symbol: s.key.series.symbol, id: id, schema: s.schema, rows: s.rows))
                continue
            }
            let id: UInt64
            let image: [[UInt8]]
            if let existing = s.image {
                (id, image) = (existing.id, [existing.bytes])
            } else {
                id = manifests[i].addSegment(rows: UInt64(s.rows.rowCount))
                image = encodeSegment(s.key.series, day: s.key.day, schema: s.schema, rows: s.rows)
                summary.rows += s.rows.rowCount
            }
            let length = UInt64(image.reduce(0) { $0 + $1.count })
            placed[i].append((id, PackManifest.Location(pack: packID, offset: offset, length: length)))
            pieces.append(contentsOf: image)
            offset += length
            summary.bytes += Int(length)
            summary.segments.append("\(packFile)@\(offset - length)")
        }
        for key in extra { _ = try load(key) }
        for (i, key) in order.enumerated() {
            edit(key, &manifests[i])
            // Every segment still listed keeps its place, or has one in the new pack.
            let old = entries[key.series.symbol]
            var locations: [PackManifest.Location] = []
            locations.reserveCapacity(manifests[i].segments.count)
            for s in manifests[i].segments {
                if let l = placed[i].first(where: { $0.id == s.id }) {
                    locations.append(l.location)
                } else if let old, let j = old.manifest.segments.firstIndex(where: { $0.id == s.id }) {
                    locations.append(old.locations[j])
                } else {
                    throw StrataError(.corrupt, "segment \(s.id) of \(key) is listed but lies in no pack", path: packManifestPath(measurement, day))
                }
            }
            let m = manifests[i]
            // Only a manifest that says nothing goes: one emptied by deletes keeps its next
            // segment id and log positions, so ids are never reused (archive keys and
            // backups rely on it) and replay skips what it applied.
            if m == DayManifest() {
                entries[key.series.symbol] = nil
            } else {
                entries[key.series.symbol] = PackManifest.Entry(symbol: key.series.symbol, manifest: m, locations: locations)
            }
        }

        // Copy live images out of mostly dead packs, so that those packs can go. A group image
        // counts once, however many of its slices are live.
        let oldLocations = entries.values.flatMap { $0.locations.filter { $0.pack != packID } }
        let live = Set(oldLocations.map(\.image)).reduce(UInt64(0)) { $0 + $1.length }
        var stored: UInt64 = 0
        for id in Set(oldLocations.map(\.pack)) { stored += UInt64(try FileSystem.fileSize(packPath(measurement, day, id))) }
        if repack || stored > 2 * live + (1 << 20) {
            try copyLiveImages(&entries, into: &pieces, at: &offset, grouping: &grouped, pack: packID, measurement, day)
        }
        if !grouped.isEmpty {
            let groups = writeGroups(grouped, measurement, day, pack: packID, into: &pieces, at: &offset)
            // Each placeholder gets its slice's place.
            for (k, item) in grouped.enumerated() {
                guard var e = entries[item.symbol], let j = e.manifest.segments.firstIndex(where: { $0.id == item.id }),
                      e.locations[j].pack == packID, e.locations[j].firstRow == UInt64(k), e.locations[j].length == 0 else { continue }
                e.locations[j] = groups[k]
                entries[item.symbol] = e
            }
            for image in Set(groups.map(\.image)) {
                summary.bytes += Int(image.length)
                summary.segments.append("\(packFile)@\(image.offset)")
            }
        }
        // Sorted by symbol: the keys, then the entries (an entry is costly to move).
        pack.entries = Store.mergedSymbols(oldSymbols, order.map(\.series.symbol)).compactMap { entries[$0] }
        let nowUsed = Set(pack.entries.flatMap { $0.locations.map(\.pack) })

        // The pack, durable under its name, before the manifest that refers to it; then the
        // manifest's rename switches every series of the partition at once.
        let writesPack = nowUsed.contains(packID)
        // An id is used up only by a pack written.
        if !writesPack { pack.nextPackID = packID }
        if writesPack {
            let temporary = FileSystem.temporaryPath(for: packFile)
            try? FileSystem.remove(temporary)
            do {
                try FileSystem.writeFile(temporary, pieces, sync: true)
                try crash.check(.segmentsWritten)
                try FileSystem.rename(temporary, packFile)
                try FileSystem.syncDirectory(dir)
            } catch {
                try? FileSystem.remove(temporary)
                throw error
            }
            try crash.check(.segmentsRenamed)
        }
        // The switch: once the rename is done, every touched series of the partition has its
        // new set, even if syncing the directory then fails (the caller must know).
        let manifestPath = packManifestPath(measurement, day)
        let temporary = FileSystem.temporaryPath(for: manifestPath)
        try? FileSystem.remove(temporary)
        do {
            try FileSystem.writeFile(temporary, [pack.encode()], sync: true)
            try FileSystem.rename(temporary, manifestPath)
        } catch {
            try? FileSystem.remove(temporary)
            throw error
        }
        switched += order.count
        for (i, key) in order.enumerated() {
            let entry = entries[key.series.symbol]
            noteCensusChange(key, entry == nil ? nil : manifests[i], places: entry?.locations)
        }
        try FileSystem.syncDirectory(dir)
        try crash.check(.firstManifestRenamed)
        for id in oldPacks.subtracting(nowUsed) { try? FileSystem.remove(packPath(measurement, day, id)) }
        var out: [SeriesDay: DayManifest] = [:]
        out.reserveCapacity(order.count)
        for (i, key) in order.enumerated() { out[key] = manifests[i] }
        return (out, summary)
    }

    /// The symbols of `old` (sorted) and `touched` together, sorted and distinct: `touched`
    /// is sorted only when it is not already (a CSV grouped by symbol, a flush of a sorted
    /// memtable), so a write of 10^5 series does not sort 10^5 strings again.
    static func mergedSymbols(_ old: [String], _ touched: [String]) -> [String] {
        var new = touched
        if zip(new, new.dropFirst()).contains(where: { !PackManifest.precedes($0, $1) }) {
            new.sort(by: PackManifest.precedes)
        }
        var out: [String] = []
        out.reserveCapacity(old.count + new.count)
        var i = 0, j = 0
        while i < old.count || j < new.count {
            let next: String
            if j == new.count || (i < old.count && PackManifest.precedes(old[i], new[j])) {
                next = old[i]; i += 1
            } else if i < old.count && old[i] == new[j] {
                next = old[i]; i += 1; j += 1
            } else {
                next = new[j]; j += 1
            }
            if out.last != next { out.append(next) }
        }
        return out
    }

    /// Makes a partition's directory with an empty pack manifest, durably, before its first
    /// pack: so packs without a manifest always mean a lost manifest (damage), never a first
    /// write that crashed. Pack ids start above those of any copy of the partition moved to
    /// `_damaged`, so that a pack's path names one content over the store's life.
    func startPartition(_ measurement: String, _ day: Day) throws(StrataError) -> PackManifest {
        try FileSystem.makeDirectories(packDirectory(measurement, day))
        var pack = PackManifest()
        let damaged = "\(damagedDirectory)/\(Names.directoryName(measurement))/\(Store.packedDirectory)"
        if FileSystem.isDirectory(damaged) {
            for name in try FileSystem.list(damaged) where name == "\(day)" || name.hasPrefix("\(day).") {
                for file in (try? FileSystem.list("\(damaged)/\(name)")) ?? [] {
                    if let id = Store.packID(fileName: file) { pack.nextPackID = max(pack.nextPackID, id + 1) }
                }
                if let old = try? MappedFile(path: "\(damaged)/\(name)/\(PackManifest.fileName)"),
                   let next = try? old.withUnsafeBytes({ (raw) throws(FormatError) in try PackManifest.View(raw).nextPackID }) {
                    pack.nextPackID = max(pack.nextPackID, next)
                }
            }
        }
        try FileSystem.writeAtomically(packManifestPath(measurement, day), [pack.encode()])
        return pack
    }

    /// Appends every live segment image outside pack `pack` to the new pack's pieces and
    /// points its entry there, so that the old packs all go after the switch.
    private func copyLiveImages(_ entries: inout [String: PackManifest.Entry], into pieces: inout [[UInt8]], at offset: inout UInt64,
                                grouping grouped: inout [GroupItem], pack: UInt64, _ measurement: String, _ day: Day) throws(StrataError) {
        var mapped: [UInt64: MappedFile] = [:]
        for symbol in entries.keys.sorted() {
            var e = entries[symbol]!
            for i in e.locations.indices where e.locations[i].pack != pack {
                let l = e.locations[i]
                let path = packPath(measurement, day, l.pack)
                if mapped[l.pack] == nil { mapped[l.pack] = try MappedFile(path: path) }
                if let first = l.firstRow {
                    // A live slice joins the new group image, its rows decoded and written again.
                    let image = try groupImages.image(pack: path, file: { () throws(StrataError) in mapped[l.pack]! }, location: l)
                    let rows = e.manifest.segments[i].rows
                    let slice = try GroupSlice(image: image, key: SeriesDay(SeriesKey(measurement: measurement, symbol: symbol), day), firstRow: first, rows: rows,
                                               id: SegmentID(e.manifest.segments[i].id))
                    e.locations[i] = PackManifest.Location(pack: pack, offset: 0, length: 0, firstRow: UInt64(grouped.count))
                    grouped.append(GroupItem(symbol: symbol, id: e.manifest.segments[i].id, schema: slice.schema, rows: try slice.decodeBlock(0)))
                    continue
                }
                do {
                    pieces.append(try mapped[l.pack]!.withUnsafeBytes { (all) throws(FormatError) in Array(try PackLayout.segmentBytes(all, l)) })
                } catch {
                    throw StrataError.corrupt(error, path: path)
                }
                e.locations[i] = PackManifest.Location(pack: pack, offset: offset, length: l.length)
                offset += l.length
            }
            entries[symbol] = e
        }
    }

    /// A small segment on its way into a group image.
    struct GroupItem {
        var symbol: String
        var id: UInt64
        var schema: [Field]
        var rows: RowBlock
    }

    /// Writes `items` as group images (one per schema, series in symbol order) into the new
    /// pack's pieces; returns each item's place, a slice.
    func writeGroups(_ items: [GroupItem], _ measurement: String, _ day: Day, pack: UInt64,
                     into pieces: inout [[UInt8]], at offset: inout UInt64) -> [PackManifest.Location] {
        var places = [PackManifest.Location](repeating: PackManifest.Location(pack: pack, offset: 0, length: 0), count: items.count)
        var schemas: [[Field]] = []
        var bySchema: [[Field]: [Int]] = [:]
        for (k, item) in items.enumerated() {
            if bySchema[item.schema] == nil { schemas.append(item.schema) }
            bySchema[item.schema, default: []].append(k)
        }
        for schema in schemas {
            // Neighbours in symbol order are alike: their columns compress together.
            let order = bySchema[schema]!.sorted { a, b in
                items[a].symbol != items[b].symbol ? PackManifest.precedes(items[a].symbol, items[b].symbol) : items[a].id < items[b].id
            }
            var firstRows: [UInt64] = []
            var row: UInt64 = 0
            for k in order {
                firstRows.append(row)
                row += UInt64(items[k].rows.rowCount)
            }
            let image = encodeGroup(measurement, day: day, schema: schema, parts: order.map { items[$0].rows })
            let length = UInt64(image.reduce(0) { $0 + $1.count })
            for (k, first) in zip(order, firstRows) {
                places[k] = PackManifest.Location(pack: pack, offset: offset, length: length, firstRow: first)
            }
            pieces.append(contentsOf: image)
            offset += length
        }
        return places
    }

    /// A group image of `parts`, one after another, in blocks of `groupBlockRows` rows.
    func encodeGroup(_ measurement: String, day: Day, schema: [Field], parts: [RowBlock]) -> [[UInt8]] {
        var builder = SegmentBuilder(groupOf: measurement, day: day.daysSinceEpoch, dayOffsetSeconds: configuration.dayOffsetSeconds, schema: schema)
        var pieces: [[UInt8]] = [builder.header()]
        let all = RowBlock.concatenate(parts, schema: schema)
        let per = Store.groupBlockRows
        let ranges = stride(from: 0, to: all.rowCount, by: per).map { $0..<min($0 + per, all.rowCount) }
        let encoded = parallelMap(ranges, parallelFrom: 4) { (range) throws(Never) in
            SegmentBuilder.encodeGroupBlock(all.slice(range), schema: schema)
        }
        for block in encoded { pieces.append(builder.append(block)) }
        pieces.append(builder.finish())
        return pieces
    }

    /// How many pack files a packed partition holds: from its directory, not by decoding its
    /// manifest (a flush asks after every write). A crashed writer's orphan counts too, until
    /// the next write of the partition removes it.
    func packCount(_ measurement: String, _ day: Day) throws(StrataError) -> Int {
        try FileSystem.list(packDirectory(measurement, day)).count { Store.packID(fileName: $0) != nil }
    }

    /// Removes what crashed writers left in a packed partition: temporary files and packs
    /// no series of its manifest refers to. Call with the write lock held.
    @discardableResult
    func removePackOrphans(_ measurement: String, _ day: Day, _ pack: PackManifest) throws(StrataError) -> [String] {
        let dir = packDirectory(measurement, day)
        guard FileSystem.isDirectory(dir) else { return [] }
        let live = Set(pack.entries.flatMap { $0.locations.map(\.pack) })
        var removed: [String] = []
        for name in try FileSystem.list(dir) {
            let temporary = name.hasPrefix(".") && name.hasSuffix(".tmp")
            let orphan = Store.packID(fileName: name).map { !live.contains($0) } ?? false
            if temporary || orphan {
                try FileSystem.remove("\(dir)/\(name)")
                removed.append("\(dir)/\(name)")
            }
        }
        return removed
    }
}

/// The group images one operation over many series of a partition has opened (a bulk
/// latest, a listing): each is looked up once, not once per series.
final class PackScope {
    var images: [PackManifest.Location: GroupImage] = [:]
    /// The image found last: neighbouring series' slices are in the same one.
    var last: (location: PackManifest.Location, image: GroupImage)?
}

/// Pack manifests already mapped and checked, by path, each kept while the file at the path
/// is the one mapped (`FileSystem.Identity`: every write renames a new file over it). The
/// least recently used go beyond `capacity`.
final class PackManifestCache: Sendable {
    private struct Entry: Sendable {
        var file: MappedFile
        var view: PackManifest.View
    }
    private let kept = KeptValues<String, Entry>(capacity: 1_024)

    /// The mapped, checked manifest at `path`; nil when there is no file.
    func view(_ path: String) throws(StrataError) -> (MappedFile, PackManifest.View)? {
        guard let identity = FileSystem.identity(path) else { return nil }
        if let hit = kept.value(path, if: { $0.file.identity == identity }) { return (hit.file, hit.view) }
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch where error.code == .notFound {
            return nil
        }
        let view: PackManifest.View
        do {
            view = try file.withUnsafeBytes { (bytes) throws(FormatError) in try PackManifest.View(bytes) }
        } catch {
            throw StrataError.corrupt(error, path: path)
        }
        kept.keep(Entry(file: file, view: view), for: path)
        return (file, view)
    }
}
