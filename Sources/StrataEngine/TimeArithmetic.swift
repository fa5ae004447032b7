/// Arithmetic on users' times that cannot trap: any Int64 is a valid time (1677-09-21 …
/// 2262-04-11), so sums and products of times and durations saturate at the ends of the
/// range instead of overflowing.
extension Int64 {
    /// `self + other`, or the nearest end of the range when the sum lies beyond it.
    @inlinable public func addingSaturating(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    /// `self − other`, or the nearest end of the range when the difference lies beyond it.
    @inlinable public func subtractingSaturating(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other > 0 ? .min : .max) : difference
    }

    /// `self / divisor` rounded down (towards −∞), for a positive divisor.
    @inlinable public func floorDividing(_ divisor: Int64) -> Int64 {
        let q = self / divisor
        return self % divisor < 0 ? q - 1 : q
    }

    /// `self mod m` in [0, m), for a positive m.
    @inlinable public func floorModulo(_ m: Int64) -> Int64 {
        let r = self % m
        return r < 0 ? r + m : r
    }
}

/// The bar of length `interval` holding a time: bars start at multiples of the interval
/// since the epoch. The first and last bars of the range may begin or end beyond it: the
/// start is then Int64.min (the bar is labelled with the earliest time there is) and the end
/// nil (the bar runs to the last time there is).
@inlinable public func barBounds(_ t: Int64, interval: Int64) -> (start: Int64, end: Int64?) {
    // q − 1 inside cannot overflow (|q| ≤ |Int64.min| / 2 for intervals above 1, and an
    // interval of 1 leaves no remainder).
    let q = t.floorDividing(interval)
    let (start, under) = q.multipliedReportingOverflow(by: interval)
    // Below the range: q < 0, so the end, (q + 1) · interval, lies in [t, 0].
    if under { return (.min, (q + 1) * interval) }
    let (end, over) = start.addingReportingOverflow(interval)
    return (start, over ? nil : end)
}
