import StrataArchive
import StrataEngine
import StrataFormat
import StrataPlatform

/// The archive's own file formats as `strata inspect` reads a file a user names: cold objects
/// (`STRATCLD`) and files sealed whole (`STRATENC`), opened with the environment's keys.
/// A file the user names is read even when it is not encrypted and keys are set.
public enum ArchiveFiles {
    /// The first bytes of a cold object.
    public static let coldObjectMagic = ColdObject.magic
    /// The cold-object format version this build writes.
    public static let coldObjectVersion = ColdObject.version
    /// The first bytes of a file sealed whole.
    public static let sealedMagic = SealedFile.magic
    /// The sealed-file format version this build writes.
    public static let sealedVersion = SealedFile.version

    /// The segment a cold object was made from (its blocks decompressed and, when sealed,
    /// opened), and the id of the key it is encrypted with (nil: not encrypted).
    public static func openColdObject(_ object: UnsafeRawBufferPointer, location: String) throws(StrataError) -> (segment: [UInt8], keyID: String?) {
        let segment = try ColdObject.segmentBytes(object, keyring: try userKeyring(), location: location)
        let keyID = try Result { () throws(FormatError) in try ColdObject.trailer(tail: object, objectSize: object.count).keyID }
            .mapError { StrataError.corrupt($0, path: location) }.get()
        return (segment, keyID.map(\.description))
    }

    /// The id of the key a sealed file was sealed with (its checksum checked; no key needed),
    /// or nil when it is not sealed.
    public static func sealedKeyID(_ bytes: [UInt8], location: String) throws(StrataError) -> String? {
        try SealedFile.keyID(bytes, location: location)?.description
    }

    /// What a sealed file holds, opened with the environment's keys.
    public static func openSealed(_ bytes: [UInt8], location: String) throws(StrataError) -> [UInt8] {
        try SealedFile.open(bytes, keyring: try userKeyring(), location: location)
    }

    /// The environment's keys, accepting files that are not encrypted.
    private static func userKeyring() throws(StrataError) -> Keyring? {
        var keyring = try Keyring.fromEnvironment()
        keyring?.acceptsPlain = true
        return keyring
    }
}
