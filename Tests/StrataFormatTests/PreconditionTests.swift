import StrataFormat
import Testing

/// Programmer errors stop the process (`precondition`); they are not FormatErrors.
@Suite("Preconditions (exit tests)")
struct PreconditionTests {
    @Test func bitWriterRejectsCountAbove64() async {
        await #expect(processExitsWith: .failure) {
            var w = BitWriter()
            w.write(bits: 0, count: 65)
        }
    }

    @Test func bitPackingRejectsWidthAbove64() async {
        await #expect(processExitsWith: .failure) {
            var out: [UInt8] = []
            [UInt64(1)].withUnsafeBufferPointer { BitPacking.pack($0, width: 65, into: &out) }
        }
    }

    @Test func timestampsNeedARow() async {
        await #expect(processExitsWith: .failure) {
            var out: [UInt8] = []
            TimestampCodec.encode([], into: &out)
        }
    }

    @Test func deltaEncodingNeedsAValue() async {
        await #expect(processExitsWith: .failure) {
            var out: [UInt8] = []
            IntegerCodec.encode([], as: .int64DeltaFrameOfReference, into: &out)
        }
    }

    @Test func integerCodecRejectsFloatEncoding() async {
        await #expect(processExitsWith: .failure) {
            var out: [UInt8] = []
            IntegerCodec.encode([1], as: .float64Plain, into: &out)
        }
    }

    @Test func blockNeedsARow() async {
        await #expect(processExitsWith: .failure) {
            var out: [UInt8] = []
            BlockCodec.encode(RowBlock(timestamps: [], columns: []), into: &out)
        }
    }

    @Test func columnPresenceMustMatchValues() async {
        await #expect(processExitsWith: .failure) {
            _ = Column(.int64([1, 2]), presence: [true])
        }
    }

    @Test func segmentBlockBeforeHeader() async {
        await #expect(processExitsWith: .failure) {
            var b = SegmentBuilder(measurement: "m", symbol: "s", day: 0, schema: [])
            _ = b.block(RowBlock(timestamps: [1], columns: []))
        }
    }

    @Test func segmentBlockRowsMustBeSorted() async {
        await #expect(processExitsWith: .failure) {
            var b = SegmentBuilder(measurement: "m", symbol: "s", day: 0, schema: [])
            _ = b.header()
            _ = b.block(RowBlock(timestamps: [2, 1], columns: []))
        }
    }

    @Test func segmentBlocksMustBeInTimeOrder() async {
        await #expect(processExitsWith: .failure) {
            var b = SegmentBuilder(measurement: "m", symbol: "s", day: 0, schema: [])
            _ = b.header()
            _ = b.block(RowBlock(timestamps: [5, 6], columns: []))
            _ = b.block(RowBlock(timestamps: [4], columns: []))
        }
    }

    @Test func segmentBlockMustMatchSchema() async {
        await #expect(processExitsWith: .failure) {
            var b = SegmentBuilder(measurement: "m", symbol: "s", day: 0, schema: [Field("x", .int64)])
            _ = b.header()
            _ = b.block(RowBlock(timestamps: [1], columns: []))
        }
    }
}
