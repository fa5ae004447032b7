import Glibc
import StrataEngine
import StrataFormat
import StrataPlatform
import Synchronization

/// The cold tier: series-days moved from local disk to an object store as cold objects
/// under a key layout a person can browse,
///
///     <measurement>/<symbol>/<YYYY>/<MM>/<DD>/<store id>-<segment id>.strata
///
/// (names escaped as in the data directory; the store id keeps two stores that archive
/// into one bucket from ever writing the same key), and read back for queries with ranged
/// GETs through a bounded cache of fetched blocks.
public final class Archive: ColdStorage, Sendable {
    public let objects: any ObjectStore
    /// Seals new cold objects with its current key and opens encrypted ones; nil: objects
    /// are written unencrypted (and reading an encrypted one is an error that says so).
    public let keyring: Keyring?
    let cache: ColdBlockCache
    private let readers = Mutex<[String: ColdReader]>([:])

    /// `cacheBytes` bounds the decompressed blocks kept in memory (least recently used go).
    public init(objects: any ObjectStore, keyring: Keyring? = nil, cacheBytes: Int = 256 << 20) {
        self.objects = objects
        self.keyring = keyring
        cache = ColdBlockCache(capacity: cacheBytes)
    }

    /// The cache of decompressed blocks: its bound, fill, hits and misses.
    public var cacheStatistics: ColdCacheStatistics { cache.statistics }

    /// Changes the cache's bound (the least recently used blocks go if it shrinks).
    public func setCacheCapacity(_ bytes: Int) {
        precondition(bytes > 0, "a cache needs room")
        cache.setCapacity(bytes)
    }

    /// The object key of an archived segment: its partition's name with `/` for `-`
    /// (`YYYY/MM/DD`, `YYYY/Www`, `YYYY/MM` or `YYYY`), so that `aws s3 ls` walks it by date.
    public static func key(_ series: SeriesKey, _ day: Day, _ id: SegmentID, store: String) -> String {
        let path = day.description.split(separator: "-").joined(separator: "/")
        return "\(Names.directoryName(series.measurement))/\(Names.directoryName(series.symbol))/\(path)/\(store)-\(id.hex).strata"
    }

    func reader(_ key: String) -> ColdReader {
        readers.withLock { readers in
            if let r = readers[key] { return r }
            if readers.count > 100_000 { readers.removeAll() }
            let r = ColdReader(store: objects, key: key, keyring: keyring)
            readers[key] = r
            return r
        }
    }

    // MARK: ColdStorage

    public func open(_ entry: ColdSegmentEntry) throws(StrataError) -> any SegmentSource {
        let reader = self.reader(entry.key)
        let index: ColdObject.Index
        do {
            index = try reader.index()
        } catch where error.code == .notFound {
            // Not "not found": the store's own manifest says the object must be there.
            throw StrataError(.corrupt, "the archive \(objects.location) has no object \(entry.key), which the manifest of \(entry.series) \(entry.day) lists")
        }
        // The object must be the segment the manifest lists, not another store's.
        let f = index.footer
        guard f.measurement == entry.series.measurement, f.symbol == entry.series.symbol, f.day == entry.day.daysSinceEpoch,
              UInt64(f.rowCount) == entry.rows else {
            throw StrataError(.corrupt, "archived object \(entry.key) holds \(f.measurement)/\(f.symbol) day \(Day(daysSinceEpoch: f.day)) with \(f.rowCount) rows, not the \(entry.rows) rows of \(entry.series) \(entry.day) its manifest lists")
        }
        return ColdSegment(entry: entry, reader: reader, index: index, cache: cache)
    }

    // MARK: Moving days

    /// What `push` did.
    public struct PushSummary: Sendable {
        public var seriesDays = 0
        public var rows = 0
        public var localBytes = 0
        public var objectBytes = 0
        public var keys: [String] = []
    }

    /// Moves every series-day that ended more than `olderThan` nanoseconds before `now` to
    /// the archive. Each upload is verified (the server checked the MD5 of what it
    /// received, and the object's size is read back) before the local file goes.
    ///
    /// The store records this archive's location (`Store.recordArchive`) so that later
    /// commands find its days without being told. Pushing to another archive than the one
    /// already holding the store's days is refused, unless that archive holds them too (a
    /// copied bucket): the days would be split between two archives.
    public func push(_ database: Database, olderThan: Int64, now: Int64 = CivilTime.now(), measurement: String? = nil) throws(StrataError) -> PushSummary {
        var summary = PushSummary()
        let storeID = try database.store.identity()
        let offset = database.configuration.store.dayOffsetSeconds
        let seriesDays = try database.store.seriesDays()
        let due = seriesDays.filter { key in
            // Due once its last nanosecond is older than olderThan (the range's last day never is).
            let last = key.day.bounds(offsetSeconds: offset).upperBound
            return (measurement == nil || key.series.measurement == measurement) && last < now.subtractingSaturating(olderThan)
        }
        // Recorded before the first day goes, so that a run cut short names the archive too.
        if try checkSameArchive(database.store, seriesDays) || !due.isEmpty {
            try database.store.recordArchive(objects.location == Archive.defaultLocation(database.store.directory) ? nil : objects.location)
        }
        /// Uploads one segment of `key` (or finds it uploaded already); returns its object key
        /// and size.
        func upload(_ key: SeriesDay, _ segment: Segment, uploadedKey: inout String?, localSize: inout Int) throws(StrataError) -> (key: String, bytes: UInt64) {
            let objectKey = Archive.key(key.series, key.day, segment.id, store: storeID)
            localSize = segment.size
            // An object already under this key (the day was archived, restored and is
            // pushed again, or a crash came between an upload and its switch) holds
            // this very segment — ids are never reused — and backups may refer to it:
            // it is kept as it is, never written over.
            if let info = try objects.head(objectKey) {
                let f = try reader(objectKey).index().footer
                guard f.measurement == key.series.measurement, f.symbol == key.series.symbol,
                      f.day == key.day.daysSinceEpoch, f.rowCount == segment.footer.rowCount else {
                    throw StrataError(.conflict, "the archive already holds \(objectKey), and not this segment; the local segment is kept", path: segment.path)
                }
                return (objectKey, UInt64(info.size))
            }
            let cipher = keyring.map { ObjectCipher.new($0.current) }
            let cold = try segment.withBytes { raw in Result { () throws(FormatError) in try ColdObject.make(fromSegment: raw, cipher: cipher) } }
                .mapError { StrataError.corrupt($0, path: segment.path) }.get()
            uploadedKey = objectKey
            try objects.putVerified(objectKey, cold, what: "; the local segment \(segment.path) is kept")
            return (objectKey, UInt64(cold.count))
        }
        // A packed partition's series go together: one compaction and one switch for all.
        var packed: [String: [SeriesDay]] = [:]
        var packedOrder: [String] = []
        for key in due where try database.store.layout(of: key.series.measurement) == .packed {
            let p = "\(key.series.measurement)\u{0}\(key.day)"
            if packed[p] == nil { packedOrder.append(p) }
            packed[p, default: []].append(key)
        }
        for p in packedOrder {
            var uploaded: [SeriesDay: (key: String?, size: Int)] = [:]
            let archived = try database.archive(packed: packed[p]!) { (key, segment) throws(StrataError) -> (key: String, bytes: UInt64) in
                var uploadedKey: String?
                var localSize = 0
                let done = try upload(key, segment, uploadedKey: &uploadedKey, localSize: &localSize)
                uploaded[key] = (uploadedKey, localSize)
                return done
            }
            for (key, u) in uploaded {
                if let a = archived[key] {
                    summary.localBytes += u.size
                    summary.seriesDays += 1
                    summary.rows += Int(a.rows)
                    summary.objectBytes += Int(a.bytes)
                    summary.keys.append(a.key)
                } else if let k = u.key {
                    // Replaced by a compaction during the upload: nothing lists the object.
                    try? objects.delete(k)
                }
            }
        }
        for key in due where try database.store.layout(of: key.series.measurement) != .packed {
            var uploadedKey: String?
            var localSize = 0
            let archived = try database.archive(key) { (segment) throws(StrataError) -> (key: String, bytes: UInt64) in
                try upload(key, segment, uploadedKey: &uploadedKey, localSize: &localSize)
            }
            if archived == nil, let uploadedKey, (try? database.store.manifest(key).cold.contains { $0.key == uploadedKey }) == false {
                // The segment was compacted with late rows during the upload: the object
                // this call wrote is no longer what the day holds, and nothing lists it.
                // The next push archives the new segment.
                try? objects.delete(uploadedKey)
            }
            if let archived {
                summary.localBytes += localSize
                summary.seriesDays += 1
                summary.rows += Int(archived.rows)
                summary.objectBytes += Int(archived.bytes)
                summary.keys.append(archived.key)
            }
        }
        return summary
    }

    /// `file://<data-dir>/_archive`, where a store's days go when no archive is named.
    public static func defaultLocation(_ dataDirectory: String) -> String {
        "file://" + FileSystem.absolutePath(dataDirectory) + "/_archive"
    }

    /// Throws if days of `store` are already archived elsewhere and not here; returns
    /// whether any of its days are archived.
    func checkSameArchive(_ store: Store, _ seriesDays: [SeriesDay]) throws(StrataError) -> Bool {
        var archived: DayManifest.ColdEntry?
        for key in seriesDays {
            if let first = try store.manifest(key).cold.first {
                archived = first
                break
            }
        }
        guard let archived else { return false }
        let recorded = try store.recordedArchive() ?? Archive.defaultLocation(store.directory)
        if recorded != objects.location, try objects.head(archived.key) == nil {
            throw StrataError(.conflict, "this store's archived days are in \(recorded), not in \(objects.location) (which lacks \(archived.key)); archive to \(recorded), or bring those days back first with strata archive restore", path: store.directory)
        }
        return true
    }

    /// Brings the archived segments of the series-days of `series` in [from, to] back to
    /// local disk; the objects stay in the archive. Returns how many segments came back.
    public func restore(_ database: Database, series: SeriesKey, from: Int64, to: Int64) throws(StrataError) -> Int {
        var restored = 0
        for day in try database.store.days(series, from: from, to: to) {
            restored += try database.restore(SeriesDay(series, day)) { (entry) throws(StrataError) -> [UInt8] in
                let object = try objects.get(entry.key)
                return try object.withUnsafeBytes { raw in
                    Result { () throws(StrataError) in try ColdObject.segmentBytes(raw, keyring: keyring, location: "\(objects.location)/\(entry.key)") }
                }.get()
            }
        }
        return restored
    }

    /// An archived object as `archive ls` shows it.
    public struct Listing: Sendable {
        public var key: String
        public var measurement: String
        public var symbol: String
        public var day: Day
        public var size: Int
    }

    /// Archived objects, optionally of one measurement and symbol and of partitions with a
    /// day within `days`.
    public func list(measurement: String? = nil, symbol: String? = nil, days: ClosedRange<Day>? = nil) throws(StrataError) -> [Listing] {
        var prefix = ""
        if let measurement {
            prefix = Names.directoryName(measurement) + "/"
            if let symbol { prefix += Names.directoryName(symbol) + "/" }
        }
        var out: [Listing] = []
        for info in try objects.list(prefix: prefix) {
            let parts = info.key.split(separator: "/")
            guard (4...6).contains(parts.count), info.key.hasSuffix(".strata"),
                  let m = Names.name(fromDirectory: String(parts[0])), let s = Names.name(fromDirectory: String(parts[1])),
                  let day = Day(parts[2..<(parts.count - 1)].joined(separator: "-")) else { continue }
            if let symbol, s != symbol { continue }
            // A partition is listed when any of its days is within `days`.
            if let days, day.daysSinceEpoch > days.upperBound.daysSinceEpoch || day.nextDay <= days.lowerBound.daysSinceEpoch { continue }
            out.append(Listing(key: info.key, measurement: m, symbol: s, day: day, size: info.size))
        }
        return out
    }
}

/// An archived segment read through the archive's cache.
final class ColdSegment: SegmentSource, Sendable {
    let entry: ColdSegmentEntry
    let reader: ColdReader
    let index: ColdObject.Index
    let cache: ColdBlockCache

    init(entry: ColdSegmentEntry, reader: ColdReader, index: ColdObject.Index, cache: ColdBlockCache) {
        self.entry = entry
        self.reader = reader
        self.index = index
        self.cache = cache
    }

    var id: SegmentID { entry.id }
    var footer: SegmentFooter { index.footer }
    var location: String { reader.location }
    var size: Int { Int(entry.bytes) }

    func prefetch(_ blocks: [Int]) throws(StrataError) {
        _ = try fetch(blocks)
    }

    func decodeBlocks(_ blocks: [Int], fields: Set<Int>?) throws(StrataError) -> [RowBlock] {
        let bytes = try fetch(blocks)
        var out: [RowBlock] = []
        for b in blocks { out.append(try reader.decode(bytes[b]!, block: b, fields: fields)) }
        return out
    }

    /// The segment bytes of `blocks`, from the cache or fetched: one ranged GET per run of
    /// consecutive missing blocks.
    func fetch(_ blocks: [Int]) throws(StrataError) -> [Int: [UInt8]] {
        var out: [Int: [UInt8]] = [:]
        var missing: [Int] = []
        for b in blocks {
            if let hit = cache.get(entry.key, b) { out[b] = hit } else { missing.append(b) }
        }
        var start = 0
        while start < missing.count {
            var end = start + 1
            while end < missing.count && missing[end] == missing[end - 1] + 1 { end += 1 }
            let run = missing[start]..<(missing[end - 1] + 1)
            for (b, bytes) in zip(run, try reader.blockBytes(run)) {
                cache.put(entry.key, b, bytes)
                out[b] = bytes
            }
            start = end
        }
        return out
    }
}

/// What the cache of decompressed cold blocks holds and how well it serves.
public struct ColdCacheStatistics: Sendable, Equatable {
    public var capacity = 0
    public var bytes = 0
    public var hits = 0
    public var misses = 0
    public var evictedBytes = 0
}

/// Decompressed blocks of cold objects, bounded in bytes, least recently used out first.
/// The bound can change while in use (auto-tuning).
final class ColdBlockCache: Sendable {
    struct Key: Hashable { var object: String; var block: Int }
    struct State {
        var entries: [Key: (bytes: [UInt8], tick: UInt64)] = [:]
        var tick: UInt64 = 0
        var statistics = ColdCacheStatistics()
    }
    private let state: Mutex<State>

    init(capacity: Int) {
        var s = State()
        s.statistics.capacity = capacity
        state = Mutex(s)
    }

    func get(_ object: String, _ block: Int) -> [UInt8]? {
        state.withLock { s in
            guard var e = s.entries[Key(object: object, block: block)] else {
                s.statistics.misses += 1
                return nil
            }
            s.statistics.hits += 1
            s.tick += 1
            e.tick = s.tick
            s.entries[Key(object: object, block: block)] = e
            return e.bytes
        }
    }

    func put(_ object: String, _ block: Int, _ bytes: [UInt8]) {
        state.withLock { s in
            guard bytes.count <= s.statistics.capacity else { return }
            s.tick += 1
            if let old = s.entries.updateValue((bytes, s.tick), forKey: Key(object: object, block: block)) { s.statistics.bytes -= old.bytes.count }
            s.statistics.bytes += bytes.count
            Self.evict(&s)
        }
    }

    /// Evicts the least recently used until under the bound.
    private static func evict(_ s: inout State) {
        guard s.statistics.bytes > s.statistics.capacity else { return }
        for (k, v) in s.entries.sorted(by: { $0.value.tick < $1.value.tick }) where s.statistics.bytes > s.statistics.capacity {
            s.entries[k] = nil
            s.statistics.bytes -= v.bytes.count
            s.statistics.evictedBytes += v.bytes.count
        }
    }

    var bytes: Int { state.withLock { $0.statistics.bytes } }

    var statistics: ColdCacheStatistics { state.withLock { $0.statistics } }

    func setCapacity(_ capacity: Int) {
        state.withLock { s in
            s.statistics.capacity = capacity
            Self.evict(&s)
        }
    }
}
