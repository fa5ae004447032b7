import StrataFormat
import Testing

@Suite("BitReader")
struct BitReaderTests {
    @Test func readsMostSignificantBitFirst() throws {
        let data: [UInt8] = [0b1011_0001, 0xFF, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE]
        try data.withUnsafeBytes { raw throws in
            var r = BitReader(raw)
            #expect(try r.readBit() == true)
            #expect(try r.readBit() == false)
            #expect(try r.read(bits: 2) == 0b11)
            #expect(try r.read(bits: 4) == 0b0001)
            #expect(r.bitPosition == 8)
            // Across the 64-bit refill boundary: 0xFF00_1234_5678_9ABC, then 0xDE.
            #expect(try r.read(bits: 64) == 0xFF00_1234_5678_9ABC)
            #expect(try r.read(bits: 8) == 0xDE)
            #expect(r.bitsRemaining == 0)
        }
    }

    @Test func readingPastTheEndThrowsTruncated() throws {
        let data: [UInt8] = [0xAA, 0xBB]
        data.withUnsafeBytes { raw in
            var r = BitReader(raw, baseOffset: 100)
            let error = formatError { _ = try r.read(bits: 17) }
            #expect(error?.code == .truncated)
            #expect(error?.offset == 100)
        }
        // An empty input throws on the first bit.
        [UInt8]().withUnsafeBytes { raw in
            var r = BitReader(raw)
            #expect(formatError { _ = try r.readBit() }?.code == .truncated)
            #expect(try! r.read(bits: 0) == 0)
        }
    }

    @Test func unaryPrefix() throws {
        // 0 | 10 | 110 | 1110 | 11111 (limit 5: no terminating zero) | 1 then pad.
        // Bits: 0 10 110 1110 11111 1 → 0101_1011 1011_1111 → 5b bf
        let data: [UInt8] = [0x5B, 0xBF]
        try data.withUnsafeBytes { raw throws in
            var r = BitReader(raw)
            #expect(try r.readUnaryPrefix(limit: 5) == 0)
            #expect(try r.readUnaryPrefix(limit: 5) == 1)
            #expect(try r.readUnaryPrefix(limit: 5) == 2)
            #expect(try r.readUnaryPrefix(limit: 5) == 3)
            #expect(try r.readUnaryPrefix(limit: 5) == 5)
            #expect(r.bitPosition == 15)
            // One "1" bit left and no terminating zero: the prefix is cut short.
            #expect(formatError { _ = try r.readUnaryPrefix(limit: 5) }?.code == .truncated)
        }
    }

    @Test func zeroRuns() throws {
        // 20 zero bytes, then 0x01: a run of 167 zeros, then a one.
        let data = [UInt8](repeating: 0, count: 20) + [0x01]
        try data.withUnsafeBytes { raw throws in
            var r = BitReader(raw)
            #expect(r.readZeroRun(limit: 10) == 10)
            var total = 10
            while true {
                let run = r.readZeroRun(limit: 1000)
                if run == 0 { break }
                total += run
            }
            #expect(total == 167)
            #expect(try r.readBit() == true)
            #expect(r.readZeroRun(limit: 5) == 0)
            #expect(r.bitsRemaining == 0)
        }
    }

    /// The reader is a view: offsets in errors are the caller's file offsets.
    @Test func readsFromAnOffsetInsideABuffer() throws {
        let data = foobar + [0xC0]
        try data.withUnsafeBytes { raw throws in
            var r = BitReader(UnsafeRawBufferPointer(rebasing: raw[6...]), baseOffset: 6)
            #expect(try r.read(bits: 2) == 0b11)
            #expect(try r.read(bits: 6) == 0)
            let error = formatError { _ = try r.readBit() }
            #expect(error?.offset == 7)
        }
    }
}
