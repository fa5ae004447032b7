import StrataArchive
import StrataEngine
import StrataPlatform

extension StrataConfiguration {
    /// The archive a store's command reads and writes: `named` (the `--archive` option),
    /// else `STRATA_ARCHIVE`, else S3 when `S3_BUCKET` is set, else the configuration's
    /// `archive.url`, else the archive the store's days were last pushed to, else
    /// `<data-dir>/_archive` (a nil data directory has no default). Format.md gives the order.
    public func openArchive(named: String?, dataDirectory: String?) throws(StrataError) -> StoreArchive {
        StoreArchive(try openArchiveService(named: named, dataDirectory: dataDirectory))
    }

    /// The archive service itself, which `openArchive` wraps.
    func openArchiveService(named: String?, dataDirectory: String?) throws(StrataError) -> Archive {
        let variable = { (name: String) in self.variable(name) }
        let keyring = try Keyring.fromEnvironment(variable)
        var url = named ?? Environment.setting("STRATA_ARCHIVE")
        if url == nil, Environment.setting("S3_BUCKET") != nil, let s3 = try S3Configuration.fromEnvironment(variable) {
            return Archive(objects: try S3ObjectStore(s3), keyring: keyring, cacheBytes: cacheBytes)
        }
        if url == nil { url = archiveSettings["STRATA_ARCHIVE"] }
        if url == nil, let dataDirectory { url = try Store.recordedArchive(in: dataDirectory) }
        guard let location = url ?? dataDirectory.map(Archive.defaultLocation) else {
            throw StrataError(.invalidInput, "name the archive the backups are in with --archive (or STRATA_ARCHIVE, the S3_* variables, or the configuration's archive.url)")
        }
        if location.hasPrefix("file://") {
            return Archive(objects: try LocalObjectStore(directory: String(location.dropFirst("file://".count))), keyring: keyring, cacheBytes: cacheBytes)
        }
        if location.hasPrefix("s3://") {
            guard let s3 = try Self.s3Configuration(location, variable) else {
                throw StrataError(.invalidInput, "archive \(location): S3_ACCESS_KEY and S3_SECRET_KEY are needed")
            }
            return Archive(objects: try S3ObjectStore(s3), keyring: keyring, cacheBytes: cacheBytes)
        }
        throw StrataError(.invalidInput, "the archive must be file:///DIR or s3://BUCKET[/PREFIX], not '\(location)'")
    }

    /// The S3 settings of an `s3://BUCKET[/PREFIX]` location: its bucket and prefix, the rest
    /// (endpoint, region, keys) from `variable`; nil without keys.
    public static func s3Configuration(_ location: String, _ variable: (String) -> String?) throws(StrataError) -> S3Configuration? {
        let rest = location.dropFirst("s3://".count)
        let bucket = String(rest.prefix { $0 != "/" })
        let prefix = normalizedPrefix(String(rest.dropFirst(bucket.count)))
        let lookup = { (name: String) -> String? in name == "S3_BUCKET" ? bucket : name == "S3_PREFIX" ? prefix : variable(name) }
        guard let configuration = try S3Configuration.fromEnvironment(lookup) else { return nil }
        try configuration.validate()
        return configuration
    }
}
