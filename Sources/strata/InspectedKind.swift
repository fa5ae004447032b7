import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem

/// The kinds of file `strata inspect` reads, told apart by their first bytes: the binary
/// files by their 8-byte magic, the text files by their first line.
enum InspectedKind: CaseIterable {
    case segment
    case coldObject
    case manifest
    case wal
    /// A manifest, schema or catalog sealed whole (`STRATENC`), as backups keep them.
    case sealed
    case schema
    case catalog
    /// A small text file ending in a crc32c line: `_id`, `_archive_url`, `_wal/_retain`,
    /// `_wal/_backfill`.
    case checksummedText
    /// A packed partition's manifest (`_packed/<partition>/_manifest`) and its packs.
    case packManifest
    case pack

    /// What the file begins with, as a person reads it in an error.
    var signature: String {
        switch self {
        case .segment: "STRATSEG"
        case .coldObject: "STRATCLD"
        case .manifest: "STRATMAN"
        case .wal: "STRATWAL"
        case .sealed: "STRATENC"
        case .schema: "strata-schema"
        case .catalog: "strata-backup"
        case .checksummedText: "strata-log-retention"
        case .packManifest: "STRATPKM"
        case .pack: "STRATPAK"
        }
    }

    var magic: [UInt8] {
        switch self {
        case .segment: SegmentLayout.magic
        case .coldObject: ArchiveFiles.coldObjectMagic
        case .manifest: DayManifest.magic
        case .wal: WALLayout.magic
        case .sealed: ArchiveFiles.sealedMagic
        case .packManifest: PackManifest.magic
        case .pack: PackLayout.magic
        case .schema, .catalog, .checksummedText: Array(signature.utf8)
        }
    }

    /// The kind the first bytes announce; nil for a file that begins like none of them.
    init?(firstBytes bytes: some Collection<UInt8>) {
        if bytes.starts(with: "strata-mirror-backfill ".utf8) {
            self = .checksummedText
            return
        }
        guard let kind = Self.allCases.first(where: { bytes.starts(with: $0.magic) }) else { return nil }
        self = kind
    }

    /// The kind a file's name suggests: for a file too short or too damaged to show its
    /// first bytes, so that the error says what it should have been.
    init?(fileName name: String) {
        switch name {
        case DayManifest.fileName: self = .manifest
        case "_schema": self = .schema
        case "catalog": self = .catalog
        case "_id", "_archive_url", "_retain", "_backfill", "_partition", "_layout": self = .checksummedText
        default:
            if name.hasSuffix(SegmentID.fileExtension) { self = .segment }
            else if name.hasSuffix(".strata") { self = .coldObject }
            else if name.hasSuffix(".wal") { self = .wal }
            else if name.hasSuffix(".pack") { self = .pack }
            else if name.hasPrefix("_retain.") { self = .checksummedText }
            else { return nil }
        }
    }

    /// The error for a file that is none of the kinds: names what it begins with and what
    /// was expected.
    static func foreign(_ bytes: UnsafeRawBufferPointer, path: String) -> StrataError {
        let expected = "expected STRATSEG, STRATCLD, STRATMAN, STRATPKM, STRATPAK, STRATWAL or STRATENC, or a first line strata-schema 1 or strata-backup 1"
        let what = "not a Strata segment, cold object, day or pack manifest, pack, write-ahead log file, schema or backup catalog"
        guard !bytes.isEmpty else { return StrataError(.corrupt, "\(what): the file is empty; \(expected)", path: path, offset: 0) }
        let start = Array(bytes.prefix(8))
        let shown = start.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) ? "'\(String(decoding: start, as: UTF8.self))'" : hexString(start)
        return StrataError(.corrupt, "\(what): it begins with \(shown); \(expected)", path: path, offset: 0)
    }
}
