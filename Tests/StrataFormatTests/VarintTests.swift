import StrataFormat
import Testing

struct VarUIntVector: Sendable, CustomTestStringConvertible {
    var value: UInt64
    var hex: String
    var testDescription: String { "\(value)" }
}

struct ZigZagVector: Sendable, CustomTestStringConvertible {
    var signed: Int64
    var unsigned: UInt64
    var testDescription: String { "\(signed)" }
}

@Suite("Varint, ZigZag and little-endian bytes")
struct VarintTests {
    // LEB128: seven bits a byte, low groups first, high bit set on all but the last byte.
    static let varuints: [VarUIntVector] = [
        VarUIntVector(value: 0, hex: "00"),
        VarUIntVector(value: 1, hex: "01"),
        VarUIntVector(value: 127, hex: "7f"),
        // 128 = 1·128 + 0 → 80 01
        VarUIntVector(value: 128, hex: "80 01"),
        // 300 = 2·128 + 44 → (44|0x80) 02 = ac 02
        VarUIntVector(value: 300, hex: "ac 02"),
        // 16384 = 2^14 → 80 80 01
        VarUIntVector(value: 16384, hex: "80 80 01"),
        // 2^63 − 1: nine groups of seven ones → ff × 8, 7f
        VarUIntVector(value: UInt64(Int64.max), hex: "ff ff ff ff ff ff ff ff 7f"),
        // 2^63: nine zero groups, then the single top bit in the tenth byte
        VarUIntVector(value: 1 << 63, hex: "80 80 80 80 80 80 80 80 80 01"),
        // 2^64 − 1: nine ff then 01 (the tenth byte holds one bit)
        VarUIntVector(value: UInt64.max, hex: "ff ff ff ff ff ff ff ff ff 01"),
    ]

    @Test(arguments: varuints)
    func varUIntGolden(_ v: VarUIntVector) throws {
        var out = foobar
        out.writeVarUInt(v.value)
        #expect(Array(out.prefix(6)) == foobar)
        #expect(hex(out.dropFirst(6)) == normalized(v.hex))
        let (decoded, consumed) = try read(out, from: 6) { try $0.readVarUInt("v") }
        #expect(decoded == v.value)
        #expect(consumed == out.count - 6)
    }

    // ZigZag: 0 → 0, -1 → 1, 1 → 2, -2 → 3, …, the extremes to the two largest codes.
    static let zigzags: [ZigZagVector] = [
        ZigZagVector(signed: 0, unsigned: 0),
        ZigZagVector(signed: -1, unsigned: 1),
        ZigZagVector(signed: 1, unsigned: 2),
        ZigZagVector(signed: -2, unsigned: 3),
        ZigZagVector(signed: 2, unsigned: 4),
        ZigZagVector(signed: -64, unsigned: 127),
        ZigZagVector(signed: 64, unsigned: 128),
        ZigZagVector(signed: Int64.max, unsigned: UInt64.max - 1),
        ZigZagVector(signed: Int64.min, unsigned: UInt64.max),
    ]

    @Test(arguments: zigzags)
    func zigZagGolden(_ v: ZigZagVector) throws {
        #expect(ZigZag.encode(v.signed) == v.unsigned)
        #expect(ZigZag.decode(v.unsigned) == v.signed)
        var a: [UInt8] = [], b: [UInt8] = []
        a.writeVarInt(v.signed)
        b.writeVarUInt(v.unsigned)
        #expect(a == b)
        #expect(try read(a) { try $0.readVarInt("v") }.value == v.signed)
    }

    @Test func zigZagRandomRoundTrip() {
        var rng = SplitMix64(seed: 0x2162A6)
        for _ in 0..<10_000 {
            let v = Int64(bitPattern: rng.next())
            #expect(ZigZag.decode(ZigZag.encode(v)) == v)
        }
    }

    @Test func varintRandomRoundTripsInSequence() throws {
        var rng = SplitMix64(seed: 0x5A1)
        // Values of every magnitude: shift a random word right by 0…63.
        let values = (0..<2000).map { _ in rng.next() >> UInt64.random(in: 0...63, using: &rng) }
        var out = foobar
        for v in values { out.writeVarUInt(v) }
        let (decoded, consumed) = try read(out, from: 6) { r in try values.map { _ in try r.readVarUInt("v") } }
        #expect(decoded == values)
        #expect(consumed == out.count - 6)
    }

    struct BadVarint: Sendable, CustomTestStringConvertible {
        var name: String
        var hex: String
        var code: FormatError.Code
        var testDescription: String { name }
    }

    static let badVarints: [BadVarint] = [
        BadVarint(name: "empty", hex: "", code: .truncated),
        BadVarint(name: "continuation then end", hex: "80", code: .truncated),
        BadVarint(name: "nine continuation bytes then end", hex: "ff ff ff ff ff ff ff ff ff", code: .truncated),
        // The tenth byte may only hold the 64th bit.
        BadVarint(name: "tenth byte 02 overflows", hex: "80 80 80 80 80 80 80 80 80 02", code: .malformed),
        BadVarint(name: "ten ff bytes", hex: "ff ff ff ff ff ff ff ff ff ff", code: .malformed),
        BadVarint(name: "eleven bytes", hex: "80 80 80 80 80 80 80 80 80 81 00", code: .malformed),
    ]

    @Test(arguments: badVarints)
    func malformedVarints(_ v: BadVarint) {
        let data = bytes(hex: v.hex)
        let error = formatError { _ = try read(data) { try $0.readVarUInt("v") } }
        #expect(error?.code == v.code)
    }

    @Test func readCountEnforcesItsLimit() throws {
        var out: [UInt8] = []
        out.writeVarUInt(10)
        out.writeVarUInt(11)
        let error = formatError {
            _ = try read(out) { r in
                #expect(try r.readCount("n", limit: 10) == 10)
                _ = try r.readCount("n", limit: 10)
            }
        }
        #expect(error?.code == .malformed)
        #expect(error?.offset == 1)
    }

    @Test func littleEndianIntegersAndStrings() throws {
        var out = foobar
        out.writeInteger(UInt32(0x0102_0304))
        out.writeInteger(Int64(-2))
        out.writeFloat64(-0.0)
        out.writeString("€1")
        #expect(Array(out.prefix(6)) == foobar)
        // 04 03 02 01 | fe ff × 7 | -0.0 = 0x8000…0 → 00 × 7, 80 | length 4, e2 82 ac 31
        #expect(hex(out.dropFirst(6)) == "04 03 02 01 fe ff ff ff ff ff ff ff 00 00 00 00 00 00 00 80 04 e2 82 ac 31")
        try out.withUnsafeBytes { raw throws in
            var r = ByteReader(UnsafeRawBufferPointer(rebasing: raw[6...]), baseOffset: 6)
            #expect(r.getInteger(at: 0, as: UInt16.self) == 0x0304)
            #expect(r.getInteger(at: out.count, as: UInt8.self) == nil)
            #expect(r.getInteger(at: -1, as: UInt8.self) == nil)
            #expect(try r.readInteger(as: UInt32.self, "u32") == 0x0102_0304)
            #expect(try r.readInteger(as: Int64.self, "i64") == -2)
            #expect(try r.readFloat64("f64").bitPattern == (-0.0).bitPattern)
            #expect(try r.readString("s") == "€1")
            #expect(r.readableBytes == 0)
            let error = formatError { _ = try r.readInteger(as: UInt8.self, "past the end") }
            #expect(error?.code == .truncated)
            #expect(error?.offset == out.count)
        }
        var patched = [UInt8](repeating: 0, count: 6)
        patched.setInteger(UInt16(0xBEEF), at: 2)
        #expect(hex(patched) == "00 00 ef be 00 00")
    }

    @Test func invalidUTF8StringIsMalformed() {
        let data: [UInt8] = [0x02, 0xC3, 0x28]
        #expect(formatError { _ = try read(data) { try $0.readString("s") } }?.code == .malformed)
        #expect(formatError { _ = try read([0x05, 0x41]) { try $0.readString("s") } }?.code == .truncated)
        #expect(formatError { _ = try read([0x05, 0x41, 0x41, 0x41, 0x41, 0x41]) { try $0.readString("s", maxBytes: 4) } }?.code == .malformed)
    }
}
