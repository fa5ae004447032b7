import StrataFormat

/// Merging rows that come as runs already sorted by time (the blocks of segments that
/// overlap): O(n log k) for k runs instead of sorting n rows, and stable — for equal
/// times, rows of an earlier run come first, then by position within a run.
enum SortedRuns {
    /// The order that merges `runs` (consecutive ranges of `timestamps`, each sorted),
    /// or nil when the runs are already in order one after another.
    static func mergeOrder(_ timestamps: [Int64], runs: [Range<Int>]) -> [Int]? {
        var ordered = true
        for i in runs.indices.dropFirst() where !runs[i].isEmpty {
            let previous = runs[..<i].last { !$0.isEmpty }
            if let previous, timestamps[previous.upperBound - 1] > timestamps[runs[i].lowerBound] {
                ordered = false
                break
            }
        }
        if ordered { return nil }
        var order = Array(0..<timestamps.count)
        var scratch = [Int](repeating: 0, count: timestamps.count)
        var current = runs.filter { !$0.isEmpty }
        timestamps.withUnsafeBufferPointer { t in
            // Merge adjacent pairs of runs, round after round; each round is linear.
            while current.count > 1 {
                var next: [Range<Int>] = []
                order.withUnsafeMutableBufferPointer { src in
                    scratch.withUnsafeMutableBufferPointer { dst in
                        var k = 0
                        while k < current.count {
                            if k + 1 == current.count {
                                let r = current[k]
                                for i in r { dst[i] = src[i] }
                                next.append(r)
                            } else {
                                let a = current[k], b = current[k + 1]
                                merge(t, src, a, b, into: dst)
                                next.append(a.lowerBound..<b.upperBound)
                            }
                            k += 2
                        }
                    }
                }
                swap(&order, &scratch)
                current = next
            }
        }
        return order
    }

    /// Merges the sorted index runs `a` and `b` (adjacent, `a` first) of `src` into the same
    /// positions of `dst`; ties take `a`'s element first.
    @inline(__always)
    private static func merge(_ t: UnsafeBufferPointer<Int64>, _ src: UnsafeMutableBufferPointer<Int>,
                              _ a: Range<Int>, _ b: Range<Int>, into dst: UnsafeMutableBufferPointer<Int>) {
        var i = a.lowerBound, j = b.lowerBound, o = a.lowerBound
        let ie = a.upperBound, je = b.upperBound
        if t[src[ie - 1]] <= t[src[j]] {
            // Already in order: copy.
            while i < ie { dst[o] = src[i]; i &+= 1; o &+= 1 }
            while j < je { dst[o] = src[j]; j &+= 1; o &+= 1 }
            return
        }
        while i < ie && j < je {
            let x = src[i], y = src[j]
            if t[y] < t[x] {
                dst[o] = y
                j &+= 1
            } else {
                dst[o] = x
                i &+= 1
            }
            o &+= 1
        }
        while i < ie { dst[o] = src[i]; i &+= 1; o &+= 1 }
        while j < je { dst[o] = src[j]; j &+= 1; o &+= 1 }
    }
}
