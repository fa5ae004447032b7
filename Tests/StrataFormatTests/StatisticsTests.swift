import StrataFormat
import Testing

@Suite("Statistics")
struct StatisticsTests {
    @Test func floatStatisticsSkipNullsAndIgnoreNaNForMinMax() {
        // Rows: 3.5, (null 99), NaN, -1.25, 10.0. Present: 3.5, NaN, -1.25, 10.0.
        let column = Column(.float64([3.5, 0, .nan, -1.25, 10.0]), presence: [true, false, true, true, true])
        let s = FieldStatistics.of(column)
        #expect(s.count == 4)
        #expect(FieldStatistics.double(s.min) == -1.25)
        #expect(FieldStatistics.double(s.max) == 10.0)
        #expect(FieldStatistics.double(s.first) == 3.5)
        #expect(FieldStatistics.double(s.last) == 10.0)
        // The IEEE sum in row order includes the NaN.
        #expect(FieldStatistics.double(s.sum).isNaN)

        let clean = FieldStatistics.of(Column(.float64([0.25, 4512.25, -0.5])))
        #expect(clean.count == 3)
        #expect(FieldStatistics.double(clean.sum) == 4512.0)
        #expect(FieldStatistics.double(clean.min) == -0.5)
        #expect(FieldStatistics.double(clean.first) == 0.25)
        #expect(FieldStatistics.double(clean.last) == -0.5)
    }

    @Test func integerStatisticsWrapTheirSum() {
        let s = FieldStatistics.of(Column(.int64([Int64.max, 1, -7, 2]), presence: [true, true, false, true]))
        #expect(s.count == 3)
        #expect(FieldStatistics.int(s.min) == 1)
        #expect(FieldStatistics.int(s.max) == Int64.max)
        #expect(FieldStatistics.int(s.first) == Int64.max)
        #expect(FieldStatistics.int(s.last) == 2)
        #expect(FieldStatistics.int(s.sum) == Int64.max &+ 3)
    }

    @Test func boolAndStringStatistics() {
        let b = FieldStatistics.of(Column(.bool([true, false, true, true]), presence: [true, true, false, true]))
        #expect(b.count == 3)
        #expect(FieldStatistics.int(b.sum) == 2)
        #expect(FieldStatistics.int(b.min) == 0 && FieldStatistics.int(b.max) == 1)
        let s = FieldStatistics.of(Column(.string(["a", "", "c"]), presence: [true, false, true]))
        #expect(s == FieldStatistics(count: 2))
        #expect(FieldStatistics.of(Column.null(.float64, count: 5)) == FieldStatistics())
    }

    @Test func productSumsOfNumericPairs() {
        let schema = [Field("price", .float64), Field("note", .string), Field("volume", .int64), Field("fee", .float64)]
        let block = RowBlock(timestamps: [1, 2, 3], columns: [
            Column(.float64([10.0, 10.5, 11.0])),
            Column(.string(["a", "b", "c"])),
            Column(.int64([100, 0, 300]), presence: [true, false, true]),
            Column(.float64([0.5, 0.5, 0.25])),
        ])
        let stats = BlockStatistics.of(block, schema: schema)
        #expect(stats.rowCount == 3 && stats.minTime == 1 && stats.maxTime == 3)
        // Numeric fields 0, 2, 3 → pairs (0,2), (0,3), (2,3).
        #expect(BlockStatistics.productFields(schema) == [0, 2, 3])
        #expect(BlockStatistics.productIndex(schema, 0, 2) == 0)
        #expect(BlockStatistics.productIndex(schema, 3, 0) == 1)
        #expect(BlockStatistics.productIndex(schema, 2, 3) == 2)
        #expect(BlockStatistics.productIndex(schema, 0, 1) == nil)
        #expect(BlockStatistics.productIndex(schema, 2, 2) == nil)
        // price·volume over rows where both are present: 10·100 + 11·300 = 4300.
        #expect(stats.productSums == [4300, 10 * 0.5 + 10.5 * 0.5 + 11 * 0.25, 100 * 0.5 + 300 * 0.25])
    }

    @Test func productIndexEnumeratesPairsInOrder() {
        for k in 2...BlockStatistics.maxProductFields {
            let schema = (0..<k).map { Field("f\($0)", .float64) }
            var expected = 0
            for a in 0..<k {
                for b in (a + 1)..<k {
                    #expect(BlockStatistics.productIndex(schema, a, b) == expected)
                    expected += 1
                }
            }
        }
    }

    @Test func noProductsForTooFewOrTooManyNumericFields() {
        #expect(BlockStatistics.productFields([Field("p", .float64), Field("s", .string)]) == nil)
        let many = (0...BlockStatistics.maxProductFields).map { Field("f\($0)", .int64) }
        #expect(BlockStatistics.productFields(many) == nil)
        let block = RowBlock(timestamps: [5], columns: many.map { _ in Column(.int64([1])) })
        #expect(BlockStatistics.of(block, schema: many).productSums.isEmpty)
    }
}
