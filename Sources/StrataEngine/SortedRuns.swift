import StrataFormat

/// Rows that come as runs already sorted by time — the decoded blocks of segments that
/// may overlap, and the sorted unflushed rows — merged into one block: O(n log k) for k
/// runs instead of sorting n rows, and stable: for equal times, rows of an earlier run
/// come first, then by position within a run. Runs that do not overlap are copied.
struct SortedRuns {
    /// A block and the range of its rows to take.
    struct Run {
        var block: RowBlock
        var rows: Range<Int>
    }

    var runs: [Run] = []

    mutating func append(_ block: RowBlock, rows: Range<Int>) {
        if !rows.isEmpty { runs.append(Run(block: block, rows: rows)) }
    }

    mutating func append(_ block: RowBlock) {
        append(block, rows: 0..<block.rowCount)
    }

    /// The merged rows in `schema` (every run's columns must follow it).
    func merged(schema: [Field]) -> RowBlock {
        if runs.count == 1 && runs[0].rows == 0..<runs[0].block.rowCount { return runs[0].block }
        let total = runs.reduce(0) { $0 + $1.rows.count }
        var overlapping = false
        for i in runs.indices.dropFirst() {
            let previous = runs[i - 1], run = runs[i]
            if previous.block.timestamps[previous.rows.upperBound - 1] > run.block.timestamps[run.rows.lowerBound] {
                overlapping = true
                break
            }
        }
        guard overlapping else {
            return RowBlock(timestamps: concatenated { $0.timestamps }, columns: schema.indices.map { c in column(c, schema[c].type) })
        }
        // Sort the keys with their positions in the runs laid end to end, merging adjacent
        // runs pairwise, round after round. Runs that follow each other in order (the blocks
        // of one segment) start out as one.
        precondition(total < Int(UInt32.max), "a query result of \(total) rows is too large to merge")
        var keys = concatenated { $0.timestamps }
        var positions = [UInt32](unsafeUninitializedCapacity: total) { buffer, count in
            for i in 0..<total { buffer[i] = UInt32(truncatingIfNeeded: i) }
            count = total
        }
        var bounds: [Range<Int>] = []
        var at = 0
        for run in runs {
            let r = at..<(at + run.rows.count)
            if let last = bounds.last, keys[last.upperBound - 1] <= keys[r.lowerBound] {
                bounds[bounds.count - 1] = last.lowerBound..<r.upperBound
            } else {
                bounds.append(r)
            }
            at = r.upperBound
        }
        var keyScratch = [Int64](repeating: 0, count: total)
        var positionScratch = [UInt32](repeating: 0, count: total)
        while bounds.count > 1 {
            var next: [Range<Int>] = []
            keys.withUnsafeBufferPointer { k in
                positions.withUnsafeBufferPointer { p in
                    keyScratch.withUnsafeMutableBufferPointer { ko in
                        positionScratch.withUnsafeMutableBufferPointer { po in
                            var b = 0
                            while b < bounds.count {
                                if b + 1 == bounds.count {
                                    for x in bounds[b] { ko[x] = k[x]; po[x] = p[x] }
                                    next.append(bounds[b])
                                } else {
                                    SortedRuns.merge(k, p, bounds[b], bounds[b + 1], ko, po)
                                    next.append(bounds[b].lowerBound..<bounds[b + 1].upperBound)
                                }
                                b += 2
                            }
                        }
                    }
                }
            }
            swap(&keys, &keyScratch)
            swap(&positions, &positionScratch)
            bounds = next
        }
        return RowBlock(timestamps: keys, columns: schema.indices.map { c in
            let laidOut = column(c, schema[c].type)
            return Column(laidOut.values.gathering(positions), presence: laidOut.presence.map { $0.gathering(positions) })
        })
    }

    /// Merges the adjacent sorted ranges `a` then `b`; ties take `a` first.
    @inline(__always)
    private static func merge(_ k: UnsafeBufferPointer<Int64>, _ i: UnsafeBufferPointer<UInt32>, _ a: Range<Int>, _ b: Range<Int>,
                              _ ko: UnsafeMutableBufferPointer<Int64>, _ io: UnsafeMutableBufferPointer<UInt32>) {
        var x = a.lowerBound, y = b.lowerBound, o = a.lowerBound
        let xe = a.upperBound, ye = b.upperBound
        if k[xe - 1] > k[y] {
            while x < xe && y < ye {
                let kx = k[x], ky = k[y]
                if ky < kx {
                    ko[o] = ky
                    io[o] = i[y]
                    y &+= 1
                } else {
                    ko[o] = kx
                    io[o] = i[x]
                    x &+= 1
                }
                o &+= 1
            }
        }
        while x < xe { ko[o] = k[x]; io[o] = i[x]; x &+= 1; o &+= 1 }
        while y < ye { ko[o] = k[y]; io[o] = i[y]; y &+= 1; o &+= 1 }
    }

    private func concatenated<T>(_ values: (RowBlock) -> [T]) -> [T] {
        var out: [T] = []
        out.reserveCapacity(runs.reduce(0) { $0 + $1.rows.count })
        for run in runs { out.append(contentsOf: values(run.block)[run.rows]) }
        return out
    }

    /// Column `c` of the runs one after another.
    private func column(_ c: Int, _ type: FieldType) -> Column {
        let presence: [Bool]? = runs.contains { $0.block.columns[c].presence != nil }
            ? concatenated { b in b.columns[c].presence ?? Array(repeating: true, count: b.rowCount) } : nil
        let values: ColumnValues = switch type {
        case .float64: .float64(concatenated { b in b.columns[c].float64Values })
        case .int64: .int64(concatenated { b in b.columns[c].int64Values })
        case .bool: .bool(concatenated { b in b.columns[c].boolValues })
        case .string: .string(concatenated { b in b.columns[c].stringValues })
        }
        return Column(values, presence: presence)
    }

}

extension Array {
    /// The elements at `positions`, in that order.
    func gathering(_ positions: [UInt32]) -> [Element] {
        withUnsafeBufferPointer { source in
            positions.withUnsafeBufferPointer { p in
                [Element](unsafeUninitializedCapacity: p.count) { out, count in
                    for i in 0..<p.count { (out.baseAddress! + i).initialize(to: source[Int(p[i])]) }
                    count = p.count
                }
            }
        }
    }
}

extension ColumnValues {
    func gathering(_ positions: [UInt32]) -> ColumnValues {
        switch self {
        case .float64(let v): .float64(v.gathering(positions))
        case .int64(let v): .int64(v.gathering(positions))
        case .bool(let v): .bool(v.gathering(positions))
        case .string(let v): .string(v.gathering(positions))
        }
    }
}

extension Column {
    var float64Values: [Double] { if case .float64(let v) = values { v } else { preconditionFailure("not a float column") } }
    var int64Values: [Int64] { if case .int64(let v) = values { v } else { preconditionFailure("not an int column") } }
    var boolValues: [Bool] { if case .bool(let v) = values { v } else { preconditionFailure("not a bool column") } }
    var stringValues: [String] { if case .string(let v) = values { v } else { preconditionFailure("not a string column") } }
}
