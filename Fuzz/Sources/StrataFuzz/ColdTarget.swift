import StrataArchive
import StrataEngine
import StrataFormat
import StrataPlatform

/// `ColdObject` and `ColdReader`: a whole object turned back into its segment
/// (`segmentBytes`: restore, backups, `inspect`), and read as queries read S3 (trailer and
/// index from the tail, then blocks by ranged reads). Objects are read with a keyring that
/// holds the seeds' key and accepts plain objects.
enum ColdTarget {
    static func run(_ body: UnsafeRawBufferPointer) {
        let bytes = Array(body)
        var segment = read(bytes)
        if segment == nil, let repaired = Repair.cold(bytes) { segment = read(repaired) }
        // The input as a segment (checksums repaired) is archived too.
        if segment == nil {
            let asSegment = Repair.segment(bytes) ?? bytes
            if SegmentTarget.read(asSegment)?.blocks.allSatisfy({ $0 != nil }) == true { segment = asSegment }
        }
        if let segment { checkArchive(segment) }
    }

    static func segmentBytes(_ object: [UInt8]) -> [UInt8]? {
        object.withUnsafeBytes { try? ColdObject.segmentBytes($0, keyring: SeedData.keyring, location: "fuzz.strata") }
    }

    /// The segment a cold object gives back, checked against what the ranged reader reads.
    static func read(_ object: [UInt8]) -> [UInt8]? {
        let whole = segmentBytes(object)
        let ranged = readWithColdReader(object)
        if let whole {
            // What a cold object gives back is a segment that opens and whose blocks pass
            // their checksums (whether a block decodes under the footer's schema is found
            // when it is read, as for any segment), and the ranged reader reads the same.
            let opened = whole.withUnsafeBytes { raw -> (SegmentFooter, [Bool])? in
                guard let reader = try? SegmentReader(raw) else { return nil }
                return (reader.footer, reader.footer.blocks.indices.map { (try? reader.verifyBlock($0)) != nil })
            }
            guard let (footer, verified) = opened else { require(false, "a cold object gives back a segment that does not open"); return nil }
            require(!verified.contains(false), "a cold object gives back a segment with a block that fails its checksum")
            guard let ranged else { require(false, "the whole object reads, the ranged reader does not"); return nil }
            require(encoded(ranged.footer) == encoded(footer), "the ranged reader reads another footer than the whole object gives")
            let blocks = SegmentTarget.read(whole)?.blocks ?? []
            for (i, b) in ranged.blocks.enumerated() {
                require((b == nil) == (blocks[i] == nil), "block \(i) decodes from \(b == nil ? "the segment" : "the ranged reader") only")
                guard let b, let w = blocks[i] else { continue }
                if let d = difference(b, w) { require(false, "block \(i), ranged and whole: \(d)") }
            }
        }
        return whole
    }

    /// A footer's bytes: footers compare bit for bit (a product sum may be NaN).
    static func encoded(_ footer: SegmentFooter) -> [UInt8] {
        var out: [UInt8] = []
        footer.encode(into: &out)
        return out
    }

    /// What `ColdReader` reads of the object (through a store that holds just it): the
    /// footer from its index, then each block by a ranged read.
    static func readWithColdReader(_ object: [UInt8]) -> (footer: SegmentFooter, blocks: [RowBlock?])? {
        let reader = ColdReader(store: OneObjectStore(object: object), key: OneObjectStore.key, keyring: SeedData.keyring)
        guard let index = try? reader.index() else { return nil }
        let blocks = index.footer.blocks.indices.map { b in (try? reader.decodeBlocks(b..<(b + 1)))?.first }
        return (index.footer, blocks)
    }

    /// A valid segment archived, plain and encrypted: the object gives back the segment
    /// byte for byte, and the object with a byte flipped or cut short is an error.
    static func checkArchive(_ segment: [UInt8]) {
        for cipher in [nil, ObjectCipher(key: SeedData.key, salt: SeedData.salt)] {
            guard let object = segment.withUnsafeBytes({ try? ColdObject.make(fromSegment: $0, cipher: cipher) }) else {
                return require(false, "a valid segment cannot be archived")
            }
            let what = cipher == nil ? "a plain cold object" : "an encrypted cold object"
            require(segmentBytes(object) == segment, "\(what) does not give back its segment")
            _ = read(object)
            for flip in flips(of: object, count: 4) {
                require(segmentBytes(flipped(object, flip)) == nil, "\(what): byte \(flip.offset) of \(object.count) flipped (xor \(flip.mask)) and it still reads")
            }
            for cut in [object.count - 1, object.count / 2] where cut > 0 {
                require(segmentBytes(Array(object[..<cut])) == nil, "\(what) cut to \(cut) of \(object.count) bytes still reads")
            }
        }
    }

    static func seeds() -> [(String, [UInt8])] {
        let segment = SeedData.segment(blockRows: [6, 20], schema: SeedData.tradeSchema)
        return segment.withUnsafeBytes { raw in
            [("plain.strata", try! ColdObject.make(fromSegment: raw)),
             ("encrypted.strata", try! ColdObject.make(fromSegment: raw, cipher: ObjectCipher(key: SeedData.key, salt: SeedData.salt)))]
        }
    }
}

/// An object store holding one object. Its tails are short (48 bytes, a trailer's worth)
/// for objects of odd size, so that `ColdReader` also takes its path for an index that
/// does not fit in the tail (a ranged read of the index).
struct OneObjectStore: ObjectStore {
    static let key = "trade/005930/2024/01/02/0000000000000001.strata"
    let object: [UInt8]
    var location: String { "memory://fuzz" }

    func put(_ key: String, _ bytes: [UInt8]) throws(StrataError) {}
    func get(_ key: String, range: Range<Int>?) throws(StrataError) -> [UInt8] {
        guard let range else { return object }
        return Array(object[min(range.lowerBound, object.count)..<min(range.upperBound, object.count)])
    }
    func getTail(_ key: String, count: Int) throws(StrataError) -> (bytes: [UInt8], objectSize: Int) {
        let n = min(count, object.count, object.count % 2 == 1 ? 48 : .max)
        return (Array(object.suffix(n)), object.count)
    }
    func head(_ key: String) throws(StrataError) -> ObjectInfo? { ObjectInfo(key: Self.key, size: object.count) }
    func list(prefix: String) throws(StrataError) -> [ObjectInfo] { [ObjectInfo(key: Self.key, size: object.count)] }
    func delete(_ key: String) throws(StrataError) {}
}
