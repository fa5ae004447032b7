import Crypto
import Glibc
import StrataEngine
import StrataFormat
import StrataPlatform

/// Identifies an encryption key without revealing it: the first 8 bytes of
/// HMAC-SHA256(key, "strata key id"), shown as 16 hex digits. Each encrypted object
/// records the id of the key that sealed it, so keys can be rotated.
public struct KeyID: Hashable, Sendable, CustomStringConvertible {
    public let value: UInt64

    public init(_ value: UInt64) { self.value = value }

    init(of key: SymmetricKey) {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("strata key id".utf8), using: key)
        value = Array(mac).prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    public var description: String { paddedHex(value, digits: 16) }
}

/// A 256-bit key for AES-256-GCM with its id.
public struct EncryptionKey: Sendable {
    let bytes: [UInt8]
    public let id: KeyID

    /// `bytes` must be 32 bytes.
    public init(bytes: [UInt8]) {
        precondition(bytes.count == 32, "an encryption key is 32 bytes")
        self.bytes = bytes
        id = KeyID(of: SymmetricKey(data: bytes))
    }

    var key: SymmetricKey { SymmetricKey(data: bytes) }

    /// A fresh random key (for `strata key generate` and tests).
    public static func random() -> EncryptionKey {
        EncryptionKey(bytes: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    /// The key as 64 hex digits, the form key files hold.
    public var hex: String {
        hexString(bytes)
    }
}

/// The keys a process knows: the first seals new objects, all of them open old ones.
/// Messages about keys name their ids and where they came from, never their bytes.
public struct Keyring: Sendable {
    public let keys: [EncryptionKey]
    /// Where the keys came from, for messages (`STRATA_ENCRYPTION_KEY_FILE /etc/strata/keys`).
    public let source: String
    /// Whether unencrypted objects are read too. Off by default: with encryption on, an
    /// unencrypted object could have been put there by anyone who can write to the bucket
    /// (only a CRC guards it). On to read what was archived before encryption was turned on.
    public var acceptsPlain = false

    public init(keys: [EncryptionKey], source: String) {
        precondition(!keys.isEmpty, "a keyring holds at least one key")
        self.keys = keys
        self.source = source
    }

    /// The key that seals new objects.
    public var current: EncryptionKey { keys[0] }

    public func key(_ id: KeyID) -> EncryptionKey? { keys.first { $0.id == id } }

    /// Parses keys, one per line: 64 hex digits or 44 characters of base64; empty lines
    /// and lines starting with `#` are skipped. Errors name the line, never its text.
    public static func parse(_ text: String, source: String) throws(StrataError) -> Keyring {
        var keys: [EncryptionKey] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let bytes = decodeKey(line) else {
                throw StrataError(.invalidInput, "\(source): line \(n + 1) is not a 256-bit key (64 hex digits or 44 characters of base64)")
            }
            keys.append(EncryptionKey(bytes: bytes))
        }
        guard !keys.isEmpty else { throw StrataError(.invalidInput, "\(source) holds no key") }
        return Keyring(keys: keys, source: source)
    }

    /// The keyring the environment configures: `STRATA_ENCRYPTION_KEY` (keys separated
    /// by commas) or `STRATA_ENCRYPTION_KEY_FILE` (a file of keys, one per line); nil when
    /// neither is set (encryption is off).
    public static func fromEnvironment(_ variable: (String) -> String? = Environment.variable) throws(StrataError) -> Keyring? {
        if let path = variable("STRATA_ENCRYPTION_KEY_FILE"), !path.isEmpty {
            let bytes = try MappedFile(path: path).withUnsafeBytes { Array($0) }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw StrataError(.invalidInput, "the key file is not text", path: path)
            }
            var ring = try parse(text, source: "key file \(path)")
            ring.acceptsPlain = acceptPlain(variable)
            return ring
        }
        if let value = variable("STRATA_ENCRYPTION_KEY"), !value.isEmpty {
            var ring = try parse(value.split(separator: ",").joined(separator: "\n"), source: "STRATA_ENCRYPTION_KEY")
            ring.acceptsPlain = acceptPlain(variable)
            return ring
        }
        return nil
    }

    static func acceptPlain(_ variable: (String) -> String?) -> Bool {
        ["1", "true", "yes"].contains(variable("STRATA_ENCRYPTION_ACCEPT_PLAIN")?.lowercased() ?? "")
    }

    /// Throws unless unencrypted objects are accepted; `what` names the object.
    public func checkPlainAccepted(_ what: String) throws(StrataError) {
        guard acceptsPlain else {
            throw StrataError(.denied, "\(what) is not encrypted, but encryption is on, and an unencrypted object could have been put there by anyone who can write to the bucket; set STRATA_ENCRYPTION_ACCEPT_PLAIN=1 (or encryption.accept_plain in the configuration) to read what was stored before encryption was turned on")
        }
    }

    /// The cipher of an object sealed with key `id` and `salt`; `what` names the object.
    public func cipher(_ id: KeyID, salt: [UInt8], for what: String) throws(StrataError) -> ObjectCipher {
        guard let key = key(id) else {
            throw StrataError(.denied, "\(what) is encrypted with key \(id), which \(source) does not hold (it holds \(keys.map(\.id.description).joined(separator: ", ")))")
        }
        return ObjectCipher(key: key, salt: salt)
    }

    static func decodeKey(_ text: Substring) -> [UInt8]? {
        if text.utf8.count == 64 {
            var out: [UInt8] = []
            var it = text.utf8.makeIterator()
            while let hi = it.next(), let lo = it.next() {
                guard let h = hexValue(hi), let l = hexValue(lo) else { return nil }
                out.append(h << 4 | l)
            }
            return out
        }
        if text.utf8.count == 44, let bytes = Base64.decode(String(text)), bytes.count == 32 { return bytes }
        return nil
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Error for an object that needs a key when none is configured.
public func missingKeyError(_ what: String, _ id: KeyID) -> StrataError {
    StrataError(.denied, "\(what) is encrypted with key \(id); set STRATA_ENCRYPTION_KEY_FILE or STRATA_ENCRYPTION_KEY to a keyring that holds it")
}

/// AES-256-GCM for the units of one object. Each object gets its own 16 random bytes of
/// salt and a subkey HKDF-SHA256(key, salt, "strata object v1"); unit *n* of the object
/// (a cold object's frame *n*, or its index as unit 2⁶⁴−1) is sealed with the nonce
/// `00 00 00 00 ‖ n as u64 LE`, so a nonce is never used twice with one subkey and a unit
/// cannot be moved to another place or object unnoticed. A sealed unit is the ciphertext
/// followed by the 16-byte tag.
public struct ObjectCipher: Sendable {
    public static let saltSize = 16
    public static let tagSize = 16
    public static let indexUnit = UInt64.max

    public let keyID: KeyID
    public let salt: [UInt8]
    let subkeyBytes: [UInt8]
    var subkey: SymmetricKey { SymmetricKey(data: subkeyBytes) }

    public init(key: EncryptionKey, salt: [UInt8]) {
        precondition(salt.count == Self.saltSize)
        keyID = key.id
        self.salt = salt
        subkeyBytes = HKDF<SHA256>.deriveKey(inputKeyMaterial: key.key, salt: salt, info: Array("strata object v1".utf8), outputByteCount: 32)
            .withUnsafeBytes { Array($0) }
    }

    /// A cipher with fresh random salt, for a new object.
    public static func new(_ key: EncryptionKey) -> ObjectCipher {
        var salt = [UInt8](repeating: 0, count: saltSize)
        var rng = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = rng.next() }
        return ObjectCipher(key: key, salt: salt)
    }

    static func nonce(_ unit: UInt64) -> AES.GCM.Nonce {
        var bytes = [UInt8](repeating: 0, count: 4)
        bytes.writeInteger(unit)
        return try! AES.GCM.Nonce(data: bytes)  // 12 bytes: always valid
    }

    public func seal(_ plain: [UInt8], unit: UInt64) -> [UInt8] {
        let box = try! AES.GCM.seal(plain, using: subkey, nonce: Self.nonce(unit))  // fails only for nonces of a wrong size
        return Array(box.ciphertext) + Array(box.tag)
    }

    /// The plain bytes of a sealed unit; throws if the bytes or the key are not the ones
    /// that sealed it (GCM's tag does not match).
    public func open(_ sealed: UnsafeRawBufferPointer, unit: UInt64) throws(FormatError) -> [UInt8] {
        guard sealed.count >= Self.tagSize else {
            throw FormatError(.truncated, "encrypted unit of \(sealed.count) bytes is shorter than its tag", offset: 0)
        }
        do {
            let box = try AES.GCM.SealedBox(nonce: Self.nonce(unit), ciphertext: sealed[..<(sealed.count - Self.tagSize)],
                                            tag: sealed[(sealed.count - Self.tagSize)...])
            return Array(try AES.GCM.open(box, using: subkey))
        } catch {
            throw FormatError(.checksumMismatch, "decryption failed: the bytes were changed, or key \(keyID) with this salt did not seal them", offset: 0)
        }
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var s = self
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return s
    }
}

/// A small file (a manifest, a schema, a backup catalog) sealed whole with AES-256-GCM:
///
///     │ header "STRATENC" v1 <16b> │ key id <8b> │ salt <16b> │ sealed unit 0 │ crc32c <4b> │
///
/// The crc32c covers every byte before it, so damage is found without the key.
public enum SealedFile {
    public static let magic: [UInt8] = Array("STRATENC".utf8)
    public static let version: UInt16 = 1
    public static let overhead = FileHeader.size + 8 + ObjectCipher.saltSize + ObjectCipher.tagSize + 4

    public static func seal(_ plain: [UInt8], with key: EncryptionKey) -> [UInt8] {
        let cipher = ObjectCipher.new(key)
        var out = FileHeader.encode(magic: magic, version: version)
        out.writeInteger(key.id.value)
        out += cipher.salt
        out += cipher.seal(plain, unit: 0)
        out.writeInteger(CRC32C.checksum(out))
        return out
    }

    public static func isSealed(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 8 && Array(bytes[0..<8]) == magic
    }

    /// The key id of a sealed file, after checking its checksum; nil for a plain one.
    public static func keyID(_ bytes: [UInt8], location: String) throws(StrataError) -> KeyID? {
        guard isSealed(bytes) else { return nil }
        guard bytes.count >= overhead else { throw StrataError(.corrupt, "sealed file of \(bytes.count) bytes is too short", path: location) }
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(FormatError) -> KeyID in
                try FileHeader.verify(raw, magic: magic, version: version, kind: "sealed file")
                let crc = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: raw.count - 4, as: UInt32.self))
                guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[..<(raw.count - 4)])) == crc else {
                    // Checksum errors name the first byte the checksum covers.
                    throw FormatError(.checksumMismatch, "sealed file checksum mismatch", offset: 0)
                }
                return KeyID(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: FileHeader.size, as: UInt64.self)))
            }
        }
        return try result.mapError { StrataError.corrupt($0, path: location) }.get()
    }

    /// The plain bytes: `bytes` themselves when they are not sealed, else opened with the
    /// keyring (a missing key or a failed tag is an error that names `location`).
    public static func open(_ bytes: [UInt8], keyring: Keyring?, location: String) throws(StrataError) -> [UInt8] {
        guard let id = try keyID(bytes, location: location) else {
            try keyring?.checkPlainAccepted(location)
            return bytes
        }
        guard let keyring else { throw missingKeyError(location, id) }
        let saltStart = FileHeader.size + 8
        let cipher = try keyring.cipher(id, salt: Array(bytes[saltStart..<(saltStart + ObjectCipher.saltSize)]), for: location)
        return try bytes.withUnsafeBytes { raw in
            Result { () throws(FormatError) in
                try cipher.open(UnsafeRawBufferPointer(rebasing: raw[(saltStart + ObjectCipher.saltSize)..<(raw.count - 4)]), unit: 0)
            }
        }.mapError { StrataError.corrupt($0, path: location) }.get()
    }
}

/// SHA-256 of `bytes` as 64 lower-case hex digits.
public func sha256Hex(_ bytes: [UInt8]) -> String {
    hexString(SHA256.hash(data: bytes))
}

/// HMAC-SHA256 of `bytes` under `key` as 64 hex digits: tells whether two sealed files hold
/// the same bytes without revealing anything of them to a reader without the key.
public func contentTag(_ bytes: [UInt8], key: EncryptionKey) -> String {
    hexString(HMAC<SHA256>.authenticationCode(for: Array("strata content".utf8) + bytes, using: key.key))
}
