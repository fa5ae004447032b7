import StrataArchive
import StrataEngine
import StrataFormat
import StrataPlatform

/// What a backup holds: one line per object, written last, so a backup without its
/// catalog is incomplete and ignored. A text file a person can read
/// (`backups/<id>/catalog`), ending in a crc32c line, sealed whole when encryption is on:
///
///     strata-backup 1
///     id 20261127T012345Z-1a2b3c4d
///     store 1a2b3c4d5e6f7081
///     created 2026-11-27T01:23:45.000000000Z
///     base 20261126T012345Z-1a2b3c4d          (only in an incremental backup)
///     scope * *                               (or: scope trade ESH4,NQH4)
///     flushed-through 7 1234                  (WAL file sequence, offset)
///     file <role> <path> <key> <size> <sha256> <key id> <rows> <content>
///     …
///     crc32c 1b2c3d4e
public struct BackupCatalog: Sendable, Equatable {
    public static let version = 1

    public struct File: Sendable, Equatable {
        public enum Role: String, Sendable {
            /// A measurement's `_schema`.
            case schema
            /// A measurement's `_partition`.
            case partition
            /// A series-day's `_manifest`.
            case manifest
            /// A local segment, stored as a cold object (zstd, encrypted when configured).
            case segment
            /// A segment already in the archive: referenced by its archive key, not copied.
            case archived
            /// A packed measurement's `_layout`.
            case layout
            /// A packed partition's pack manifest.
            case packManifest = "pack-manifest"
            /// A packed partition's pack, as it is on disk (sealed whole when encryption is on).
            case pack
        }
        public var role: Role
        /// Where the file goes in a data directory (for `archived`, the series-day's directory).
        public var path: String
        /// The object that holds it: in this backup, in an earlier one (incremental), or
        /// in the archive.
        public var key: String
        /// The object's size in bytes.
        public var size: Int
        /// SHA-256 of the object's bytes; "-" for archived objects (their frames carry
        /// their own checksums).
        public var sha256: String
        /// The key that sealed the object, or nil.
        public var keyID: KeyID?
        public var rows: UInt64
        /// Identifies the plain file, so an unchanged schema or manifest is referenced by
        /// a later backup instead of uploaded again: SHA-256 of the plain bytes, or for a
        /// sealed file HMAC-SHA256 of them under the key (which reveals nothing without
        /// it); "-" for segments (their id is their identity) and archived objects.
        public var content: String = "-"
    }

    public var id: String
    public var store: String
    public var created: Int64
    public var base: String?
    public var measurement: String?
    public var symbols: [String]?
    public var flushedThrough: WALPosition
    public var files: [File]

    public var rows: UInt64 { files.filter { $0.role == .segment || $0.role == .archived || $0.role == .pack }.reduce(0) { $0 + $1.rows } }
    public var scope: String {
        guard let measurement else { return "all" }
        return "measurement \(measurement)" + (symbols.map { ", symbols " + $0.joined(separator: ",") } ?? "")
    }

    public func encode() -> [UInt8] {
        var text = "strata-backup \(Self.version)\nid \(id)\nstore \(store)\ncreated \(CivilTime.format(created))\n"
        if let base { text += "base \(base)\n" }
        text += "scope \(measurement.map { Names.directoryName($0) } ?? "*") \(symbols.map { $0.map { Names.directoryName($0) }.joined(separator: ",") } ?? "*")\n"
        text += "flushed-through \(flushedThrough.file) \(flushedThrough.offset)\n"
        for f in files {
            text += "file \(f.role.rawValue) \(f.path) \(f.key) \(f.size) \(f.sha256) \(f.keyID?.description ?? "-") \(f.rows) \(f.content)\n"
        }
        return ChecksummedText.encode(text)
    }

    /// Whether `path` has the shape of `role`'s files in a data directory:
    /// `<m>/_schema`, `<m>/<s>/<day>/_manifest`, `<m>/<s>/<day>/<16 hex>.seg`, `<m>/<s>/<day>`,
    /// and for packed measurements `<m>/_layout`, `<m>/_packed/<partition>/_manifest`,
    /// `<m>/_packed/<partition>/<16 hex>.pack` and (archived) `<m>/_packed/<partition>`.
    static func validPath(_ path: String, role: File.Role) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard let m = parts.first.flatMap(Names.name(fromDirectory:)), (try? Names.validate(m, what: "measurement")) != nil else { return false }
        if role == .schema { return parts.count == 2 && parts[1] == "_schema" }
        if role == .partition { return parts.count == 2 && parts[1] == "_partition" }
        if role == .layout { return parts.count == 2 && parts[1] == "_layout" }
        if parts.count >= 3 && parts[1] == "_packed" {
            guard Day(parts[2])?.description == parts[2] else { return false }
            switch role {
            case .archived: return parts.count == 3
            case .packManifest: return parts.count == 4 && parts[3] == PackManifest.fileName
            case .pack: return parts.count == 4 && parts[3].hasSuffix(".pack") && parts[3].count == 21
                && parts[3].prefix(16).allSatisfy { $0.isHexDigit && !$0.isUppercase }
            default: return false
            }
        }
        guard parts.count >= 3, let s = Names.name(fromDirectory: parts[1]), (try? Names.validate(s, what: "symbol")) != nil,
              Day(parts[2])?.description == parts[2] else { return false }
        switch role {
        case .archived: return parts.count == 3
        case .manifest: return parts.count == 4 && parts[3] == DayManifest.fileName
        case .segment: return parts.count == 4 && SegmentID(fileName: parts[3]) != nil
        case .schema, .partition, .layout, .packManifest, .pack: return false
        }
    }

    public static func decode(_ bytes: [UInt8], location: String) throws(StrataError) -> BackupCatalog {
        let lines = try ChecksummedText.decode(bytes, path: location, kind: "backup catalog")
        func bad(_ n: Int, _ why: String) -> StrataError {
            var e = StrataError(.corrupt, "backup catalog: \(why)", path: location)
            e.line = n + 1
            return e
        }
        guard lines.first == "strata-backup \(version)" else {
            throw bad(0, "not a version \(version) backup catalog (first line '\(lines.first?.prefix(40) ?? "")')")
        }
        var catalog = BackupCatalog(id: "", store: "", created: 0, base: nil, measurement: nil, symbols: nil, flushedThrough: .zero, files: [])
        for (n, line) in lines.enumerated().dropFirst() {
            let words = line.split(separator: " ").map(String.init)
            guard let head = words.first else { throw bad(n, "empty line") }
            switch (head, words.count) {
            case ("id", 2): catalog.id = words[1]
            case ("store", 2): catalog.store = words[1]
            case ("base", 2): catalog.base = words[1]
            case ("created", 2):
                guard case .success(let t) = CivilTime.parse(words[1]) else { throw bad(n, "bad time '\(words[1])'") }
                catalog.created = t
            case ("scope", 3):
                if words[1] != "*" {
                    guard let m = Names.name(fromDirectory: words[1]) else { throw bad(n, "bad measurement") }
                    catalog.measurement = m
                }
                if words[2] != "*" {
                    var symbols: [String] = []
                    for s in words[2].split(separator: ",") {
                        guard let name = Names.name(fromDirectory: String(s)) else { throw bad(n, "bad symbol") }
                        symbols.append(name)
                    }
                    catalog.symbols = symbols
                }
            case ("flushed-through", 3):
                guard let f = UInt64(words[1]), let o = UInt64(words[2]) else { throw bad(n, "bad log position") }
                catalog.flushedThrough = WALPosition(file: f, offset: o)
            case ("file", 9):
                guard let role = File.Role(rawValue: words[1]), let size = Int(words[4]), size >= 0, let rows = UInt64(words[7]) else {
                    throw bad(n, "bad file line")
                }
                var keyID: KeyID?
                if words[6] != "-" {
                    guard words[6].utf8.count == 16, let v = UInt64(words[6], radix: 16) else { throw bad(n, "bad key id") }
                    keyID = KeyID(v)
                }
                guard words[5] == "-" || words[5].utf8.count == 64 else { throw bad(n, "bad sha256") }
                guard words[8] == "-" || words[8].utf8.count == 64 else { throw bad(n, "bad content tag") }
                // Restore writes to these paths: only the shapes a data directory has.
                guard Self.validPath(words[2], role: role) else { throw bad(n, "'\(words[2].prefix(80))' is not a \(role.rawValue) path of a data directory") }
                do throws(StrataError) {
                    try validateObjectKey(words[3])
                } catch {
                    throw bad(n, error.message)
                }
                catalog.files.append(File(role: role, path: words[2], key: words[3], size: size, sha256: words[5], keyID: keyID, rows: rows,
                                          content: words[8]))
            default:
                throw bad(n, "unknown line '\(line.prefix(40))'")
            }
        }
        guard !catalog.id.isEmpty, !catalog.store.isEmpty, catalog.created != 0 else { throw bad(0, "id, store or created missing") }
        return catalog
    }
}
