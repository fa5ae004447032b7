import StrataFormat
import Testing

struct CRCVector: Sendable, CustomTestStringConvertible {
    var name: String
    var input: [UInt8]
    var crc: UInt32
    var testDescription: String { name }
}

@Suite("CRC32C")
struct CRC32CTests {
    // The check value from the Castagnoli CRC catalogue, the empty input, a single byte,
    // and the four 32-byte test vectors of RFC 3720 (iSCSI), appendix B.4. The 32-byte
    // inputs run the slicing-by-8 loop; "123456789" runs it once plus the byte tail.
    static let vectors: [CRCVector] = [
        CRCVector(name: "check value 123456789", input: Array("123456789".utf8), crc: 0xE306_9283),
        CRCVector(name: "empty", input: [], crc: 0),
        CRCVector(name: "a", input: Array("a".utf8), crc: 0xC1D0_4330),
        CRCVector(name: "32 zeros (RFC 3720)", input: [UInt8](repeating: 0, count: 32), crc: 0x8A91_36AA),
        CRCVector(name: "32 × ff (RFC 3720)", input: [UInt8](repeating: 0xFF, count: 32), crc: 0x62A8_AB43),
        CRCVector(name: "0…31 (RFC 3720)", input: (0..<32).map { UInt8($0) }, crc: 0x46DD_794E),
        CRCVector(name: "31…0 (RFC 3720)", input: (0..<32).reversed().map { UInt8($0) }, crc: 0x113F_DB5C),
    ]

    @Test(arguments: vectors)
    func golden(_ v: CRCVector) {
        #expect(CRC32C.checksum(v.input) == v.crc)
        #expect(CRC32C.checksum(v.input[...]) == v.crc)
        #expect(v.input.withUnsafeBytes { CRC32C.checksum($0) } == v.crc)
    }

    @Test func stringOverload() {
        #expect(CRC32C.checksum("123456789") == 0xE306_9283)
        #expect(CRC32C.checksum("") == 0)
    }

    /// The slicing-by-8 loop against a bit-at-a-time reference, at every length up to 40
    /// and from every alignment, so that the 8-byte loop and the tail agree.
    @Test func matchesBitwiseReference() {
        func reference(_ bytes: ArraySlice<UInt8>) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            }
            return ~c
        }
        var rng = SplitMix64(seed: 0xC2C)
        let data = (0..<64).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for start in 0..<8 {
            for length in 0...40 {
                let slice = data[start..<(start + length)]
                #expect(CRC32C.checksum(slice) == reference(slice), "start \(start) length \(length)")
            }
        }
    }

    /// `update` continues a running checksum: any split gives the whole-input checksum.
    @Test func updateChainsAcrossSplits() {
        var rng = SplitMix64(seed: 0xC2C2)
        let data = (0..<100).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let whole = CRC32C.checksum(data)
        data.withUnsafeBytes { raw in
            for split in 0...data.count {
                let a = CRC32C.update(0, UnsafeRawBufferPointer(rebasing: raw[..<split]))
                let ab = CRC32C.update(a, UnsafeRawBufferPointer(rebasing: raw[split...]))
                #expect(ab == whole, "split at \(split)")
            }
        }
    }

    /// CRC32C detects every single-bit error; the block and segment checks rely on it.
    @Test func everySingleBitFlipChangesTheChecksum() {
        var data = Array("STRATSEG block body 0123456789".utf8)
        let original = CRC32C.checksum(data)
        for bit in 0..<(data.count * 8) {
            data[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(CRC32C.checksum(data) != original, "bit \(bit)")
            data[bit / 8] ^= 1 << UInt8(bit % 8)
        }
    }
}

@Suite struct CRC32CHardwareTests {
    @Test func hardwareAndSoftwareAgree() {
        var rng = SplitMix64(seed: 99)
        for length in [0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 1000, 4097] {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            bytes.withUnsafeBytes { raw in
                for start in [UInt32(0), 0xDEAD_BEEF] {
                    #expect(CRC32C.update(start, raw) == CRC32C.softwareUpdate(start, raw))
                }
            }
        }
    }
}
