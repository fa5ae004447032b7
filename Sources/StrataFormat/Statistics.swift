/// A Float64 or Int64 field value seen as a Double (Int64 rounded to nearest), for
/// product sums here and for bars in the engine; generic code over it specialises per type.
public protocol NumericValue {
    var doubleValue: Double { get }
}

extension Double: NumericValue {
    @inlinable @inline(__always) public var doubleValue: Double { self }
}

extension Int64: NumericValue {
    @inlinable @inline(__always) public var doubleValue: Double { Double(self) }
}

/// Per-field statistics of one block, kept in the segment footer so that queries can
/// skip or summarise blocks without decoding them.
///
/// The five values are stored as raw 64-bit patterns whose meaning depends on the type:
/// Float64 fields hold Doubles (min and max ignore NaN; sum is the IEEE sum in row
/// order), Int64 and Bool fields hold Int64s (Bool as 0/1; sum wraps modulo 2^64),
/// String fields hold zeros (only `count` is meaningful).
public struct FieldStatistics: Sendable, Equatable {
    /// Rows where the field is present.
    public var count: Int
    public var min: UInt64
    public var max: UInt64
    public var first: UInt64
    public var last: UInt64
    public var sum: UInt64

    public init(count: Int = 0, min: UInt64 = 0, max: UInt64 = 0, first: UInt64 = 0, last: UInt64 = 0, sum: UInt64 = 0) {
        self.count = count
        self.min = min
        self.max = max
        self.first = first
        self.last = last
        self.sum = sum
    }

    public static func double(_ bits: UInt64) -> Double { Double(bitPattern: bits) }
    public static func int(_ bits: UInt64) -> Int64 { Int64(bitPattern: bits) }

    /// Computes statistics of a column.
    public static func of(_ column: Column) -> FieldStatistics {
        var s = FieldStatistics()
        let present = column.presence
        switch column.values {
        case .float64(let v):
            var lo = Double.nan, hi = Double.nan, sum = 0.0
            var first: Double?, last = 0.0
            for i in v.indices where present?[i] ?? true {
                let x = v[i]
                if first == nil { first = x }
                last = x
                sum += x
                s.count += 1
                if !x.isNaN {
                    if lo.isNaN || x < lo { lo = x }
                    if hi.isNaN || x > hi { hi = x }
                }
            }
            if s.count > 0 {
                s.min = lo.bitPattern; s.max = hi.bitPattern
                s.first = first!.bitPattern; s.last = last.bitPattern; s.sum = sum.bitPattern
            }
        case .int64(let v):
            s = present == nil ? integerStatistics(v) : integerStatistics(v.indices.lazy.filter { present![$0] }.map { v[$0] })
        case .bool(let v):
            s = integerStatistics(v.indices.lazy.filter { present?[$0] ?? true }.map { v[$0] ? 1 : 0 })
        case .string:
            s.count = column.presentCount
        }
        return s
    }

    static func integerStatistics(_ values: some Sequence<Int64>) -> FieldStatistics {
        var s = FieldStatistics()
        var lo = Int64.max, hi = Int64.min, sum: Int64 = 0
        var first: Int64?, last: Int64 = 0
        for x in values {
            if first == nil { first = x }
            last = x
            sum = sum &+ x
            lo = Swift.min(lo, x)
            hi = Swift.max(hi, x)
            s.count += 1
        }
        if let first {
            s.min = UInt64(bitPattern: lo); s.max = UInt64(bitPattern: hi)
            s.first = UInt64(bitPattern: first); s.last = UInt64(bitPattern: last)
            s.sum = UInt64(bitPattern: sum)
        }
        return s
    }
}

/// Statistics of one block: time range, row count, per-field statistics and, when a
/// measurement has at most `maxProductFields` numeric fields, the sums of products of
/// each pair of them (Σ price·volume gives a VWAP without decoding).
public struct BlockStatistics: Sendable, Equatable {
    public static let maxProductFields = 8

    public var rowCount: Int
    public var minTime: Int64
    public var maxTime: Int64
    public var fields: [FieldStatistics]
    /// Σ a·b over rows where both are present, for numeric field pairs (a, b) with a < b
    /// in schema order, pairs listed a-major; empty when there are too many numeric fields.
    public var productSums: [Double]

    public init(rowCount: Int, minTime: Int64, maxTime: Int64, fields: [FieldStatistics], productSums: [Double]) {
        self.rowCount = rowCount
        self.minTime = minTime
        self.maxTime = maxTime
        self.fields = fields
        self.productSums = productSums
    }

    /// The numeric fields' schema indexes, if product sums are kept for this schema.
    public static func productFields(_ schema: [Field]) -> [Int]? {
        let numeric = schema.indices.filter { schema[$0].type.isNumeric }
        return numeric.count >= 2 && numeric.count <= maxProductFields ? numeric : nil
    }

    /// Index into `productSums` of the pair (a, b), both schema indexes of numeric fields.
    public static func productIndex(_ schema: [Field], _ a: Int, _ b: Int) -> Int? {
        guard let numeric = productFields(schema), a != b,
              let ia = numeric.firstIndex(of: Swift.min(a, b)), let ib = numeric.firstIndex(of: Swift.max(a, b)) else { return nil }
        let k = numeric.count
        // Pairs (i, j), i < j, in order: row i starts after sum_{r<i} (k-1-r) pairs.
        return ia * (2 * k - ia - 1) / 2 + (ib - ia - 1)
    }

    /// Σ x·y over rows where both columns are present, in row order (Int64 converted to
    /// the nearest Double first).
    static func productSum(_ x: Column, _ y: Column) -> Double {
        func run<X: NumericValue, Y: NumericValue>(_ xs: [X], _ ys: [Y]) -> Double {
            var sum = 0.0
            if x.presence == nil && y.presence == nil {
                xs.withUnsafeBufferPointer { p in
                    ys.withUnsafeBufferPointer { q in
                        for i in 0..<p.count { sum += p[i].doubleValue * q[i].doubleValue }
                    }
                }
            } else {
                for i in xs.indices where x.isPresent(i) && y.isPresent(i) { sum += xs[i].doubleValue * ys[i].doubleValue }
            }
            return sum
        }
        switch (x.values, y.values) {
        case (.float64(let a), .float64(let b)): return run(a, b)
        case (.float64(let a), .int64(let b)): return run(a, b)
        case (.int64(let a), .float64(let b)): return run(a, b)
        case (.int64(let a), .int64(let b)): return run(a, b)
        default: return 0
        }
    }

    public static func of(_ block: RowBlock, schema: [Field]) -> BlockStatistics {
        let fields = block.columns.map(FieldStatistics.of)
        var products: [Double] = []
        if let numeric = productFields(schema) {
            for a in 0..<numeric.count {
                for b in (a + 1)..<numeric.count {
                    products.append(productSum(block.columns[numeric[a]], block.columns[numeric[b]]))
                }
            }
        }
        return BlockStatistics(rowCount: block.rowCount, minTime: block.timestamps.min() ?? 0,
                               maxTime: block.timestamps.max() ?? 0, fields: fields, productSums: products)
    }
}
