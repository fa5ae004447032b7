import StrataFormat
import Testing

/// One golden `BitWriter` case: writes of (value, count), then the expected bytes.
struct BitWrites: Sendable, CustomTestStringConvertible {
    var name: String
    var writes: [(value: UInt64, count: Int)]
    var hex: String
    var testDescription: String { name }
}

@Suite("BitWriter")
struct BitWriterTests {
    // Bits fill each byte from its most significant bit down; finish() pads with zeros.
    static let golden: [BitWrites] = [
        // Nothing written, nothing out.
        BitWrites(name: "empty", writes: [], hex: ""),
        BitWrites(name: "zero-count write", writes: [(0xFF, 0)], hex: ""),
        // "101" + five pad zeros = 1010_0000.
        BitWrites(name: "three bits", writes: [(0b101, 3)], hex: "a0"),
        // Only the low `count` bits count: 0xFFFF with count 4 is "1111" → 1111_0000.
        BitWrites(name: "high bits ignored", writes: [(0xFFFF, 4)], hex: "f0"),
        // "101" + "1010101111001101" = 10110101 01111001 101(00000) → b5 79 a0.
        BitWrites(name: "spans bytes", writes: [(0b101, 3), (0xABCD, 16)], hex: "b5 79 a0"),
        // 60 zeros then eight ones: bytes 0…6 are 00, byte 7 = 0000_1111, byte 8 = 1111_0000.
        // The second write crosses the 64-bit accumulator boundary mid-value.
        BitWrites(name: "crosses 64-bit word", writes: [(0, 60), (0xFF, 8)], hex: "00 00 00 00 00 00 00 0f f0"),
        // "101" then the 64 bits 0x0123456789ABCDEF then "1": the 64-bit value is split
        // 61 + 3 across the accumulator flush. 101|00000 = a0, then the value shifted
        // right by 3 continues: 0x0123…EF >> 3 gives 24 68 ac f1 35 79 bd, and its low
        // three bits 111 plus the final 1 and four pad zeros give 1111_0000 = f0.
        BitWrites(name: "64-bit write at odd offset",
                  writes: [(0b101, 3), (0x0123_4567_89AB_CDEF, 64), (1, 1)],
                  hex: "a0 24 68 ac f1 35 79 bd f0"),
        // Exactly one full word, then "01": ff × 8, then 0100_0000.
        BitWrites(name: "full word then bits", writes: [(UInt64.max, 64), (0, 1), (1, 1)],
                  hex: "ff ff ff ff ff ff ff ff 40"),
        // Two full words back to back (the accumulator flushes with over == 0).
        BitWrites(name: "two full words", writes: [(0x8000_0000_0000_0001, 64), (0x0102_0304_0506_0708, 64)],
                  hex: "80 00 00 00 00 00 00 01 01 02 03 04 05 06 07 08"),
    ]

    @Test(arguments: golden)
    func goldenBytes(_ c: BitWrites) {
        var writer = BitWriter()
        for w in c.writes { writer.write(bits: w.value, count: w.count) }
        #expect(writer.bitCount == c.writes.reduce(0) { $0 + $1.count })
        #expect(hex(writer.finish()) == normalized(c.hex))
    }

    @Test(arguments: golden)
    func goldenBytesReadBack(_ c: BitWrites) throws {
        let data = bytes(hex: c.hex)
        try data.withUnsafeBytes { raw throws in
            var reader = BitReader(raw)
            for w in c.writes {
                let mask: UInt64 = w.count == 64 ? ~0 : (1 << UInt64(w.count)) - 1
                #expect(try reader.read(bits: w.count) == w.value & mask)
            }
            // What is left is the zero padding.
            #expect(reader.bitsRemaining < 8)
            if reader.bitsRemaining > 0 { #expect(try reader.read(bits: reader.bitsRemaining) == 0) }
        }
    }

    @Test func writeBitMatchesOneBitWrites() {
        var a = BitWriter(), b = BitWriter()
        let pattern: [Bool] = [true, false, true, true, false, false, false, true, true]
        for bit in pattern {
            a.write(bit: bit)
            b.write(bits: bit ? 1 : 0, count: 1)
        }
        let out = a.finish()
        #expect(out == b.finish())
        // 1011_0001 1(000_0000)
        #expect(hex(out) == "b1 80")
    }

    @Test func appendsAfterPrefix() {
        var writer = BitWriter(appendingTo: foobar)
        writer.write(bits: 0b101, count: 3)
        writer.write(bits: 0x0123_4567_89AB_CDEF, count: 64)
        writer.write(bit: true)
        let out = writer.finish()
        #expect(Array(out.prefix(6)) == foobar)
        #expect(hex(out.dropFirst(6)) == "a0 24 68 ac f1 35 79 bd f0")
    }

    /// `bitCount` is documented as "not counting bytes the array held before", but it
    /// counts them: with the 6-byte "foobar" prefix it reports 48 + 3 instead of 3.
    @Test
    func bitCountExcludesPrefix() {
        var writer = BitWriter(appendingTo: foobar)
        writer.write(bits: 0b101, count: 3)
        #expect(writer.bitCount == 3)
    }

    @Test func finishResetsTheWriter() {
        var writer = BitWriter()
        writer.write(bits: 0xAB, count: 8)
        #expect(writer.finish() == [0xAB])
        writer.write(bits: 0b1, count: 1)
        #expect(writer.finish() == [0x80])
        #expect(writer.finish() == [])
    }

    /// Random writes of random widths, with the writer finished and reopened (appending
    /// to what it produced) at a random point: the reader gets every value back.
    @Test(arguments: [1, 2, 7, 8, 9, 63, 64, 65, 1000])
    func randomWritesReadBack(count: Int) throws {
        var rng = SplitMix64(seed: 0xB17 &+ UInt64(count))
        let writes: [(UInt64, Int)] = (0..<count).map { _ in
            let width = Int.random(in: 0...64, using: &rng)
            let mask: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) - 1
            return (rng.next() & mask, width)
        }
        let reopenAt = Int.random(in: 0...count, using: &rng)
        var writer = BitWriter()
        var firstHalfBits = 0
        for (i, w) in writes.enumerated() {
            if i == reopenAt {
                // finish() pads the first part to a byte; the reopened writer appends.
                writer = BitWriter(appendingTo: writer.finish())
            }
            if i < reopenAt { firstHalfBits += w.1 }
            writer.write(bits: w.0, count: w.1)
        }
        let out = writer.finish()
        try out.withUnsafeBytes { raw in
            var reader = BitReader(raw)
            for (i, w) in writes.enumerated() {
                if i == reopenAt && firstHalfBits % 8 != 0 {
                    _ = try reader.read(bits: 8 - firstHalfBits % 8)  // the padding
                }
                let got = try reader.read(bits: w.1)
                #expect(got == w.0, "write \(i) of \(w.1) bits")
            }
        }
    }
}
