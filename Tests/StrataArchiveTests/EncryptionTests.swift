import StrataArchive
import StrataEngine
import StrataFormat
import StrataPlatform
import Testing

@Suite struct EncryptionTests {
    let key = EncryptionKey(bytes: Array(0..<32))
    var keyring: Keyring { Keyring(keys: [key], source: "test keys") }

    @Test func keyIDsArePinnedAndRevealNothingOfTheKey() throws {
        // HMAC-SHA256(key 00 01 … 1f, "strata key id"), first 8 bytes: a golden value, so
        // that ids stay the same across releases (objects name their key by it).
        #expect(key.id.description == "00cb40973a6ab526")  // python3: hmac.new(bytes(range(32)), b"strata key id", "sha256")
        #expect(key.hex == "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        #expect(!key.hex.contains(key.id.description))
        #expect(EncryptionKey.random().id != EncryptionKey.random().id)
    }

    /// Sealed units computed independently (Python's `cryptography`: HKDF-SHA256 of key
    /// 00…1f with salt 64…73 and info "strata object v1", then AESGCM with the nonce
    /// 00 00 00 00 ‖ unit as u64 LE), so that Format.md's recipe is pinned.
    @Test(arguments: [
        (UInt64(0), "87a8a305d07454f5204c41a9ad5b26230426a3091f72d85295a8ecd32c9bd4fc2a"),
        (UInt64.max, "d90854234172d96ac15095bf37dfc739be4f32f59d1016c6028dc59749a1275fab"),
    ])
    func sealedUnitsMatchAnIndependentImplementation(unit: UInt64, hex: String) throws {
        let cipher = ObjectCipher(key: key, salt: Array(100..<116))
        let sealed = cipher.seal(Array("Strata cold frame".utf8), unit: unit)
        #expect(sealed.map { String($0 >> 4, radix: 16) + String($0 & 15, radix: 16) }.joined() == hex)
        #expect(try sealed.withUnsafeBytes { try cipher.open($0, unit: unit) } == Array("Strata cold frame".utf8))
        #expect(throws: FormatError.self) { try sealed.withUnsafeBytes { try cipher.open($0, unit: unit &+ 1) } }
    }

    @Test func keyringsParseHexAndBase64AndNameBadLinesWithoutShowingThem() throws {
        let other = EncryptionKey.random()
        let base64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        let ring = try Keyring.parse("# rotated 2026-11\n\(other.hex)\n\n  \(base64)  \n", source: "key file k")
        #expect(ring.keys.map(\.id) == [other.id, key.id])
        #expect(ring.current.id == other.id)
        let secret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddee"  // 62 digits
        #expect { try Keyring.parse("\(other.hex)\n\(secret)\n", source: "key file k") } throws: {
            let e = $0 as! StrataError
            return e.code == .invalidInput && e.message.contains("line 2") && !e.message.contains(secret)
        }
        #expect(throws: StrataError.self) { try Keyring.parse("# nothing\n", source: "key file k") }
        let env = try Keyring.fromEnvironment { $0 == "STRATA_ENCRYPTION_KEY" ? "\(self.key.hex),\(other.hex)" : nil }
        #expect(env?.keys.map(\.id) == [key.id, other.id])
        #expect(try Keyring.fromEnvironment { _ in nil } == nil)
    }

    @Test func anEncryptedColdObjectRoundTripsAndHidesItsContents() throws {
        let day = try TradeDay(rows: 50_000)
        let cold = try day.cold(ObjectCipher.new(key))
        #expect(Array(cold.prefix(8)) == Array("STRATCLD".utf8) && Array(cold.suffix(8)) == Array("STRATCLE".utf8))
        #expect(cold[10] == 1)  // header flag: encrypted
        #expect(try rebuild(cold, keyring: keyring) == day.segment)
        // Neither the symbol nor the field names (in the footer) are readable.
        for word in ["ESH4", "price", "size"] {
            let needle = Array(word.utf8)
            #expect(!cold.indices.dropLast(needle.count).contains { cold[$0..<($0 + needle.count)].elementsEqual(needle) }, "\(word)")
        }
        // A tag per frame and one for the index, 24 bytes of key id and salt.
        let plain = try day.cold()
        let blocks = try SegmentReader(day.segment.withUnsafeBytes { $0 }).footer.blocks.count
        #expect(cold.count == plain.count + 16 * (blocks + 1) + 24)
        // Two encryptions of one segment differ (fresh salt), both open.
        let again = try day.cold(ObjectCipher.new(key))
        #expect(again != cold)
        #expect(try rebuild(again, keyring: keyring) == day.segment)
    }

    @Test func aWrongOrMissingKeyIsAClearErrorNeverGarbage() throws {
        let day = try TradeDay(rows: 20_000)
        let cold = try day.cold(ObjectCipher.new(key))
        let wrong = EncryptionKey.random()
        #expect { try rebuild(cold, keyring: Keyring(keys: [wrong], source: "key file /k")) } throws: {
            let e = $0 as! StrataError
            return e.code == .denied && e.message.contains(key.id.description) && e.message.contains("key file /k")
                && !e.message.contains(key.hex) && !e.message.contains(wrong.hex)
        }
        #expect { try rebuild(cold) } throws: {
            let e = $0 as! StrataError
            return e.code == .denied && e.message.contains("STRATA_ENCRYPTION_KEY") && e.message.contains(key.id.description)
        }
        // After a rotation the old key still opens old objects.
        let rotated = Keyring(keys: [wrong, key], source: "rotated")
        #expect(try rebuild(cold, keyring: rotated) == day.segment)
        // A wrong key that claims the right id (a forged trailer) fails authentication.
        var forged = cold
        let idAt = cold.count - ColdObject.encryptedTrailerSize
        for (i, b) in withUnsafeBytes(of: wrong.id.value.littleEndian, Array.init).enumerated() { forged[idAt + i] = b }
        #expect { try rebuild(forged, keyring: Keyring(keys: [wrong], source: "k")) } throws: {
            ($0 as! StrataError).code == .corrupt
        }
    }

    /// With encryption on, an unencrypted object could be anyone's: refused unless asked for.
    @Test func plainObjectsAreRefusedWhenEncryptionIsOnUnlessAccepted() throws {
        let day = try TradeDay(rows: 20_000)
        let plain = try day.cold()
        #expect { try rebuild(plain, keyring: keyring) } throws: {
            let e = $0 as! StrataError
            return e.code == .denied && e.message.contains("not encrypted") && e.message.contains("STRATA_ENCRYPTION_ACCEPT_PLAIN")
        }
        var lenient = keyring
        lenient.acceptsPlain = true
        #expect(try rebuild(plain, keyring: lenient) == day.segment)
        #expect(throws: StrataError.self) { try SealedFile.open(Array("strata-schema 1\n".utf8), keyring: keyring, location: "s") }
        #expect(try SealedFile.open(Array("x".utf8), keyring: lenient, location: "s") == Array("x".utf8))
        let sealed = SealedFile.seal(Array("x".utf8), with: key)
        #expect(try SealedFile.open(sealed, keyring: keyring, location: "s") == Array("x".utf8))
        let env = try Keyring.fromEnvironment { ["STRATA_ENCRYPTION_KEY": self.key.hex, "STRATA_ENCRYPTION_ACCEPT_PLAIN": "1"][$0] }
        #expect(env?.acceptsPlain == true)
    }

    @Test func everyFlippedBitOfAnEncryptedObjectIsFound() throws {
        let day = try TradeDay(rows: 20_000)
        let cold = try day.cold(ObjectCipher.new(key))
        var checked = 0
        for bit in stride(from: 0, to: cold.count * 8, by: 97) {
            var damaged = cold
            damaged[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(throws: StrataError.self, "bit \(bit)") { try rebuild(damaged, keyring: keyring) }
            checked += 1
        }
        #expect(checked > 500)
        for bit in ((cold.count - ColdObject.encryptedTrailerSize) * 8)..<(cold.count * 8) {
            var damaged = cold
            damaged[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(throws: StrataError.self, "trailer bit \(bit)") { try rebuild(damaged, keyring: keyring) }
        }
    }

    @Test func anEncryptedArchiveAnswersQueriesAndRefusesTheWrongKey() async throws {
        let root = TemporaryDirectory()
        let objects = try LocalObjectStore(directory: root.path + "/bucket")
        let scenario = TieringScenario(objects: objects, keyring: keyring)
        try await scenario.run()
        // Every object in the bucket is sealed with the key.
        for info in try objects.list(prefix: "") {
            let tail = try objects.getTail(info.key, count: ColdObject.encryptedTrailerSize).bytes
            let trailer = try tail.withUnsafeBytes { raw throws in try ColdObject.trailer(tail: raw, objectSize: info.size) }
            #expect(trailer.keyID == key.id, "\(info.key)")
        }
        // A store opened with another key is told which key it needs.
        var c = scenario.configuration(withArchive: false)
        c.store.coldStorage = Archive(objects: objects, keyring: Keyring(keys: [EncryptionKey.random()], source: "other keys"))
        let db = try Database(directory: scenario.root.path + "/data", configuration: c)
        _ = try archivedDay(db)
        #expect { try db.query(try SeriesKey(measurement: "trade", symbol: "BTC/USD")) } throws: {
            let e = $0 as! StrataError
            return e.code == .denied && e.message.contains(key.id.description)
        }
        try db.close()
    }

    func archivedDay(_ db: Database) throws -> Bool {
        try db.store.seriesDays().contains { try !db.store.manifest($0).cold.isEmpty }
    }
}
