import StrataArchive
import StrataEngine
import StrataFormat
import StrataPlatform

/// An archive as the surfaces above StrataSystem use it: opened from the settings
/// (`StrataConfiguration.openArchive`), handed to a `StrataInstance` for its cold days, and
/// what `strata archive`, `backup` and `tier` act on. The CLI and the server see this, not
/// the archive module's object stores and cold objects.
public struct StoreArchive: Sendable {
    /// The archive itself, for the composition root and the jobs it schedules.
    package let archive: Archive

    package init(_ archive: Archive) { self.archive = archive }

    /// The archive as a store reads its cold days from it (`StoreConfiguration.coldStorage`).
    public var coldStorage: any ColdStorage { archive }

    /// Where it is: `s3://BUCKET[/PREFIX]` or `file:///DIR`.
    public var location: String { archive.objects.location }

    /// The key new objects are encrypted with ("key 2"), or nil when encryption is off.
    public var encryption: String? { archive.keyring.map { "key \($0.current.id)" } }

    /// Whether new objects are encrypted.
    public var isEncrypted: Bool { archive.keyring != nil }

    /// The block cache of cold reads: its bound, what it holds, hits and misses.
    public var cacheStatistics: ColdCacheStatistics { archive.cacheStatistics }

    /// The S3 requests made so far and the last one that failed for good (nil: a directory).
    public var requestStatistics: ObjectStoreStatistics? { archive.objects.requestStatistics }

    /// The store backups kept in this archive.
    public var backups: Backups { Backups(objects: archive.objects, keyring: archive.keyring) }

    /// Makes the archive ready: its S3 bucket, or its directory, is made when missing.
    /// Returns what it found or did, for a person to read.
    public func prepare() throws(StrataError) -> String {
        if let s3 = archive.objects as? S3ObjectStore {
            let made = try s3.createBucketIfMissing()
            return made ? "made the bucket '\(s3.configuration.bucket)'" : "the bucket '\(s3.configuration.bucket)' exists"
        }
        if let local = archive.objects as? LocalObjectStore {
            let existed = FileSystem.isDirectory(local.directory)
            try FileSystem.makeDirectories(local.directory)
            return existed ? "the directory exists" : "made the directory"
        }
        return "nothing to make"
    }

    /// One archived series-day object, as `strata archive ls` lists it.
    public struct Object: Sendable {
        public var key: String
        public var measurement: String
        public var symbol: String
        public var day: Day
        /// Rows, from the object's index (one ranged read each).
        public var rows: Int
        /// The object's size in bytes.
        public var bytes: Int
    }

    /// The archived objects of `measurement` (and `symbol`) on `days`, with their row counts.
    public func list(measurement: String? = nil, symbol: String? = nil, days: ClosedRange<Day>? = nil) throws(StrataError) -> [Object] {
        var objects: [Object] = []
        for item in try archive.list(measurement: measurement, symbol: symbol, days: days) {
            let rows = try ColdReader(store: archive.objects, key: item.key, keyring: archive.keyring).index().footer.rowCount
            objects.append(Object(key: item.key, measurement: item.measurement, symbol: item.symbol, day: item.day, rows: rows, bytes: item.size))
        }
        return objects
    }

    /// Every row of the object at `key`, read whole and checked.
    public func rows(of key: String) throws(StrataError) -> QueryResult {
        let object = try archive.objects.get(key)
        let location = "\(archive.objects.location)/\(key)"
        let bytes = try object.withUnsafeBytes { raw in
            Result { () throws(StrataError) in try ColdObject.segmentBytes(raw, keyring: archive.keyring, location: location) }
        }.get()
        let segment = try Segment(bytes: bytes, name: key, id: SegmentID(0))
        let rows = RowBlock.concatenate(try segment.decodeBlocks(Array(segment.footer.blocks.indices), fields: nil), schema: segment.schema)
        return QueryResult(series: try SeriesKey(measurement: segment.footer.measurement, symbol: segment.footer.symbol),
                           schema: segment.schema, rows: rows)
    }
}

extension StrataConfiguration {
    /// The archive and key of an object named by its key in the store's archive (as
    /// `archive ls` prints it) or by its URL (`s3://BUCKET/KEY`, as `aws s3 ls` users copy
    /// it, or `file:///DIR/KEY`). A URL inside the store's archive is read through it; another
    /// names its own: its bucket (with the same S3 endpoint and credentials), or its file's
    /// directory. `archive` and `dataDirectory` are `openArchive`'s.
    public func openArchiveObject(_ name: String, archive: String?, dataDirectory: String?) throws(StrataError) -> (StoreArchive, String) {
        guard name.hasPrefix("s3://") || name.hasPrefix("file://") else {
            return (try openArchive(named: archive, dataDirectory: dataDirectory), name)
        }
        if let opened = try? openArchive(named: archive, dataDirectory: dataDirectory) {
            let base = opened.location.hasSuffix("/") ? opened.location : opened.location + "/"
            if name.hasPrefix(base) && name.count > base.count { return (opened, String(name.dropFirst(base.count))) }
        }
        if name.hasPrefix("s3://") {
            let rest = name.dropFirst("s3://".count)
            let bucket = rest.prefix { $0 != "/" }
            guard !bucket.isEmpty, rest.count > bucket.count + 1 else {
                throw StrataError(.invalidInput, "'\(name)' names no object: s3://BUCKET/KEY")
            }
            return (try openArchive(named: "s3://\(bucket)", dataDirectory: dataDirectory), String(rest.dropFirst(bucket.count + 1)))
        }
        let path = String(name.dropFirst("file://".count))
        guard path.hasPrefix("/"), let slash = path.lastIndex(of: "/"), path.index(after: slash) < path.endIndex else {
            throw StrataError(.invalidInput, "'\(name)' names no object: file:///DIR/KEY (an absolute path)")
        }
        let directory = "file://" + (slash == path.startIndex ? "/" : String(path[..<slash]))
        return (try openArchive(named: directory, dataDirectory: dataDirectory), String(path[path.index(after: slash)...]))
    }
}
