import Glibc
import StrataFormat
import StrataPlatform

/// Which fields make up bars.
public struct BarSpec: Sendable {
    public enum Source: Sendable {
        /// Ticks: one price (and optionally a volume) per row.
        case ticks(price: String, volume: String?)
        /// Bars rolled up into coarser bars; VWAP is weighted by close · volume.
        case bars(open: String, high: String, low: String, close: String, volume: String?)

        /// `PRICE[,VOLUME]` (bars from ticks) or `OPEN,HIGH,LOW,CLOSE[,VOLUME]` (a roll-up);
        /// nil for any other number of fields.
        public init?(fields text: String) {
            let f = text.split(separator: ",").map(String.init)
            switch f.count {
            case 1: self = .ticks(price: f[0], volume: nil)
            case 2: self = .ticks(price: f[0], volume: f[1])
            case 4: self = .bars(open: f[0], high: f[1], low: f[2], close: f[3], volume: nil)
            case 5: self = .bars(open: f[0], high: f[1], low: f[2], close: f[3], volume: f[4])
            default: return nil
            }
        }
    }

    /// How the bars divide time (length, zone, session start).
    public var interval: BarInterval
    public var source: Source

    public init(interval: BarInterval, source: Source) {
        self.interval = interval
        self.source = source
    }

    /// Bars of `interval` nanoseconds, starting at multiples of it since the epoch (UTC).
    public init(interval: Int64, source: Source) {
        self.init(interval: BarInterval(nanoseconds: interval), source: source)
    }

    /// Throws unless every field the bars read is a numeric field of the schema: what a
    /// server checks before it answers, and a bar query before it reads.
    public func check(_ schema: MeasurementSchema, measurement: String) throws(StrataError) {
        let r = roles
        for name in [r.open, r.high, r.low, r.close] + (r.volume.map { [$0] } ?? []) {
            guard let t = schema.type(of: name) else {
                throw StrataError(.notFound, "measurement '\(measurement)' has no field '\(name)'", field: name)
            }
            guard t.isNumeric else {
                throw StrataError(.invalidInput, "field '\(name)' is \(t); bars need float or int fields", field: name)
            }
        }
    }

    var roles: (open: String, high: String, low: String, close: String, volume: String?) {
        switch source {
        case .ticks(let p, let v): (p, p, p, p, v)
        case .bars(let o, let h, let l, let c, let v): (o, h, l, c, v)
        }
    }
}

/// One bar. `volume` and `vwap` are nil when no volume field was given; `vwap` is also
/// nil when the bar's volume is zero.
public struct Bar: Sendable, Equatable {
    public var start: Int64
    public var open: Double
    public var high: Double
    public var low: Double
    public var close: Double
    public var volume: Double?
    public var count: Int
    public var vwap: Double?

    public init(start: Int64, open: Double, high: Double, low: Double, close: Double, volume: Double?, count: Int, vwap: Double?) {
        self.start = start
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.count = count
        self.vwap = vwap
    }
}

/// Order of a row across the segments of a query: time, then segment, then row.
struct RowKey: Comparable {
    var time: Int64
    var segment: Int
    var row: Int
    static func < (a: RowKey, b: RowKey) -> Bool {
        (a.time, a.segment, a.row) < (b.time, b.segment, b.row)
    }
}

/// A bar being built, with the keys of its open and close rows for merging partial bars
/// of segments that interleave.
struct PartialBar {
    var start: Int64
    var open: Double, high: Double, low: Double, close: Double
    var openKey: RowKey, closeKey: RowKey
    var volume: Double = 0
    var priceVolume: Double = 0
    var count: Int = 0

    mutating func merge(_ o: PartialBar) {
        if o.openKey < openKey { open = o.open; openKey = o.openKey }
        if closeKey < o.closeKey { close = o.close; closeKey = o.closeKey }
        if o.high > high || high.isNaN { high = o.high }
        if o.low < low || low.isNaN { low = o.low }
        volume += o.volume
        priceVolume += o.priceVolume
        count += o.count
    }
}

/// Reduces sorted ticks without nulls into bars: for each bar, finds its run of rows and
/// folds it into local variables over unsafe buffers (the hot loop of a bars query).
struct TickReducer {
    let interval: BarInterval
    let ordinal: Int
    let rowBase: Int

    func reduce(_ ts: [Int64], _ prices: ColumnValues, _ volumes: ColumnValues?, _ range: Range<Int>, into bars: inout [PartialBar]) {
        switch (prices, volumes) {
        case (.float64(let p), nil): run(ts, p, [Double](), false, range, &bars)
        case (.int64(let p), nil): run(ts, p, [Double](), false, range, &bars)
        case (.float64(let p), .float64(let v)?): run(ts, p, v, true, range, &bars)
        case (.float64(let p), .int64(let v)?): run(ts, p, v, true, range, &bars)
        case (.int64(let p), .float64(let v)?): run(ts, p, v, true, range, &bars)
        case (.int64(let p), .int64(let v)?): run(ts, p, v, true, range, &bars)
        default: preconditionFailure("bars need numeric fields")
        }
    }

    @inline(__always)
    func run<P: NumericValue, V: NumericValue>(_ ts: [Int64], _ prices: [P], _ volumes: [V], _ hasVolume: Bool,
                                         _ range: Range<Int>, _ bars: inout [PartialBar]) {
        ts.withUnsafeBufferPointer { t in
            prices.withUnsafeBufferPointer { p in
                volumes.withUnsafeBufferPointer { v in
                    if hasVolume { loop(t, p, v, range, &bars, withVolume: true) } else { loop(t, p, v, range, &bars, withVolume: false) }
                }
            }
        }
    }

    @inline(__always)
    func loop<P: NumericValue, V: NumericValue>(_ t: UnsafeBufferPointer<Int64>, _ p: UnsafeBufferPointer<P>, _ v: UnsafeBufferPointer<V>,
                                          _ range: Range<Int>, _ bars: inout [PartialBar], withVolume: Bool) {
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            let t0 = t[i]
            let (start, next) = interval.bounds(t0)
            let overflow = next == nil
            let limit = next ?? Int64.max
            let first = p[i].doubleValue
            var high = first, low = first
            var volume = 0.0, priceVolume = 0.0
            if withVolume {
                let x = v[i].doubleValue
                volume = x
                priceVolume = first * x
            }
            var j = i &+ 1
            while j < end && (t[j] < limit || overflow) {
                let price = p[j].doubleValue
                if price > high { high = price }
                if price < low { low = price }
                if withVolume {
                    let x = v[j].doubleValue
                    volume += x
                    priceVolume += price * x
                }
                j &+= 1
            }
            let bar = PartialBar(start: start, open: first, high: high, low: low, close: p[j &- 1].doubleValue,
                                 openKey: RowKey(time: t0, segment: ordinal, row: rowBase &+ i),
                                 closeKey: RowKey(time: t[j &- 1], segment: ordinal, row: rowBase &+ j &- 1),
                                 volume: volume, priceVolume: priceVolume, count: j &- i)
            if let last = bars.last, last.start == start {
                bars[bars.count &- 1].merge(bar)
            } else {
                bars.append(bar)
            }
            i = j
        }
    }
}

extension Array where Element == Int64 {
    /// The first index whose element satisfies `predicate`, for a predicate that is false
    /// and then true along the (sorted) array.
    func partitioningIndex(where predicate: (Int64) -> Bool) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if predicate(self[mid]) { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}

extension Store {
    /// Bars of `series` over rows with from ≤ time ≤ to, from the segments on disk.
    public func bars(_ series: SeriesKey, spec: BarSpec, from: Int64 = .min, to: Int64 = .max) throws(StrataError) -> [Bar] {
        try snapshot(series, from: from, to: to).bars(spec: spec, from: from, to: to)
    }
}

extension SeriesSnapshot {
    /// Bars over rows with from ≤ time ≤ to. Blocks that lie inside one bar and the
    /// range, and no deleted range, are summarised from their footer statistics without
    /// decoding.
    public func bars(spec: BarSpec, from: Int64 = .min, to: Int64 = .max) throws(StrataError) -> [Bar] {
        let roles = spec.roles
        try spec.check(schema, measurement: series.measurement)
        try checkFieldTypes(against: schema)
        // Partial bars of every segment, in segment order, then of the unflushed rows;
        // bars of different sources that share a bucket (late data, or bars longer than a
        // day) are merged by the keys of their open and close rows.
        var sources: [(segment: any SegmentSource, deleted: [ClosedRange<Int64>])] = []
        for view in days {
            for segment in view.segments { sources.append((segment, view.deletedRanges(segment))) }
        }
        // Segments are independent until their bars are joined: several run in parallel, on
        // threads of their own when some are fetched from the archive (network waits).
        let remote = sources.contains { !($0.segment is Segment) }
        let perSegment = try parallelMap(Array(sources.enumerated()), parallelFrom: 4, blocks: remote) { (i, source) throws(StrataError) in
            try barsOf(source.segment, ordinal: i, deleted: source.deleted, spec: spec, from: from, to: to)
        }
        var partials: [PartialBar] = perSegment.flatMap { $0 }
        let ordinal = sources.count
        if !memory.isEmpty {
            let names = [roles.open, roles.high, roles.low, roles.close] + (roles.volume.map { [$0] } ?? [])
            var unique: [String] = []
            for n in names where !unique.contains(n) { unique.append(n) }
            let fields = try self.fields(unique)
            var recent = memoryRows(fields, from: from, to: to)
            if let order = recent.stableTimeOrder() { recent = recent.gather(order) }
            if recent.rowCount > 0 {
                func at(_ name: String) -> Int { unique.firstIndex(of: name)! }
                var bars: [PartialBar] = []
                reduceRows(recent, o: at(roles.open), h: at(roles.high), l: at(roles.low), c: at(roles.close),
                           v: roles.volume.map(at), interval: spec.interval, ordinal: ordinal, rowBase: 0,
                           from: from, to: to, into: &bars)
                partials.append(contentsOf: bars)
            }
        }
        var sorted = true
        for i in partials.indices.dropFirst() where partials[i].start <= partials[i - 1].start {
            sorted = false
            break
        }
        if !sorted {
            let order = partials.indices.sorted { (partials[$0].start, $0) < (partials[$1].start, $1) }
            var folded: [PartialBar] = []
            for i in order { appendOrMerge(&folded, partials[i]) }
            partials = folded
        }
        return partials.map { p in
            Bar(start: p.start, open: p.open, high: p.high, low: p.low, close: p.close,
                volume: roles.volume == nil ? nil : p.volume, count: p.count,
                vwap: roles.volume == nil || p.volume == 0 ? nil : p.priceVolume / p.volume)
        }
    }

    func barsOf(_ segment: any SegmentSource, ordinal: Int, deleted: [ClosedRange<Int64>], spec: BarSpec,
                from: Int64, to: Int64) throws(StrataError) -> [PartialBar] {
        let schema = segment.schema
        let roles = spec.roles
        @Sendable func index(_ name: String) -> Int? { schema.firstIndex { $0.name == name } }
        guard let o = index(roles.open), let h = index(roles.high), let l = index(roles.low), let c = index(roles.close) else {
            return []  // this segment predates the fields
        }
        let v = roles.volume.flatMap(index)
        if roles.volume != nil && v == nil { return [] }
        let interval = spec.interval
        @Sendable func bucket(_ t: Int64) -> Int64 { interval.bounds(t).start }
        let wanted = Set([o, h, l, c] + (v.map { [$0] } ?? []))
        // A cold segment fetches the blocks in range in one request now.
        try segment.prefetch(segment.blocks(overlapping: from, to))
        let productIndex = v.flatMap { BlockStatistics.productIndex(schema, c, $0) }
        @Sendable func run(_ blocks: Range<Int>, rowBase firstRow: Int) throws(StrataError) -> [PartialBar] {
        var bars: [PartialBar] = []
        var rowBase = firstRow
        for b in blocks {
            let entry = segment.footer.blocks[b]
            let s = entry.statistics
            defer { rowBase += s.rowCount }
            if s.maxTime < from || s.minTime > to { continue }
            let start = bucket(s.minTime)
            let complete = wanted.allSatisfy { s.fields[$0].count == s.rowCount }
            let hitsDeleted = deleted.contains { $0.overlaps(s.minTime...s.maxTime) }
            if s.minTime >= from && s.maxTime <= to && bucket(s.maxTime) == start && complete && (v == nil || productIndex != nil)
                && !hitsDeleted {
                // The whole block is one piece of one bar: use its statistics.
                func value(_ f: Int, _ bits: UInt64) -> Double {
                    schema[f].type == .float64 ? Double(bitPattern: bits) : Double(Int64(bitPattern: bits))
                }
                var p = PartialBar(start: start, open: value(o, s.fields[o].first), high: value(h, s.fields[h].max),
                                   low: value(l, s.fields[l].min), close: value(c, s.fields[c].last),
                                   openKey: RowKey(time: s.minTime, segment: ordinal, row: rowBase),
                                   closeKey: RowKey(time: s.maxTime, segment: ordinal, row: rowBase + s.rowCount - 1))
                p.count = s.rowCount
                if let v, let productIndex {
                    p.volume = value(v, s.fields[v].sum)
                    p.priceVolume = s.productSums[productIndex]
                }
                appendOrMerge(&bars, p)
                continue
            }
            var block = try segment.decodeBlock(b, fields: wanted)
            if hitsDeleted { block = block.keeping(from: .min, to: .max, deleted: deleted) }
            reduceRows(block, o: o, h: h, l: l, c: c, v: v, interval: interval, ordinal: ordinal, rowBase: rowBase,
                       from: from, to: to, into: &bars)
        }
        return bars
        }

        // Blocks are independent until their bars are joined: on a large segment, split
        // them into one contiguous run per core and join the runs in order.
        let blocks = segment.footer.blocks
        guard blocks.count >= 16 && processorCount > 1 else { return try run(blocks.indices, rowBase: 0) }
        let firstRows = blocks.reduce(into: [0]) { rows, e in rows.append(rows.last! + e.statistics.rowCount) }
        let parts = Swift.min(processorCount, blocks.count / 8)
        let bounds = (0...parts).map { $0 * blocks.count / parts }
        let runs = try parallelMap(Array(0..<parts)) { (k) throws(StrataError) in
            try run(bounds[k]..<bounds[k + 1], rowBase: firstRows[bounds[k]])
        }
        var bars: [PartialBar] = []
        for partial in runs {
            for p in partial { appendOrMerge(&bars, p) }
        }
        return bars
    }

    /// Folds decoded rows (sorted by time) into bars: the tick fast path when one price
    /// field without nulls makes the bars, the general path otherwise.
    func reduceRows(_ block: RowBlock, o: Int, h: Int, l: Int, c: Int, v: Int?, interval: BarInterval, ordinal: Int, rowBase: Int,
                    from: Int64, to: Int64, into bars: inout [PartialBar]) {
        let ticks = o == h && o == l && o == c
        let noNulls = block.columns[o].presence == nil && (v.map { block.columns[$0].presence == nil } ?? true)
        let ts = block.timestamps
        if ticks && noNulls {
            // The common case: one price, no nulls. Reduce each bar's run of rows.
            let lower = ts.partitioningIndex(where: { $0 >= from })
            let upper = ts.partitioningIndex(where: { $0 > to })
            if lower < upper {
                TickReducer(interval: interval, ordinal: ordinal, rowBase: rowBase)
                    .reduce(ts, block.columns[o].values, v.map { block.columns[$0].values }, lower..<upper, into: &bars)
            }
            return
        }
        let opens = doubles(block.columns[o]), highs = h == o ? opens : doubles(block.columns[h])
        let lows = l == o ? opens : doubles(block.columns[l]), closes = c == o ? opens : doubles(block.columns[c])
        let volumes = v.map { doubles(block.columns[$0]) }
        var current: PartialBar? = nil
        var end = Int64.min
        for r in 0..<block.rowCount {
            let t = ts[r]
            if t < from || t > to { continue }
            guard block.columns[o].isPresent(r), block.columns[c].isPresent(r) else { continue }
            let volume = volumes.map { vs in block.columns[v!].isPresent(r) ? vs[r] : 0 } ?? 0
            if current != nil && t < end {
                current!.high = Swift.max(current!.high, highs[r])
                current!.low = Swift.min(current!.low, lows[r])
                current!.close = closes[r]
                current!.closeKey = RowKey(time: t, segment: ordinal, row: rowBase + r)
                current!.volume += volume
                current!.priceVolume += closes[r] * volume
                current!.count += 1
            } else {
                if let done = current { appendOrMerge(&bars, done) }
                let bounds = interval.bounds(t)
                let bs = bounds.start
                end = bounds.end ?? .max
                let key = RowKey(time: t, segment: ordinal, row: rowBase + r)
                current = PartialBar(start: bs, open: opens[r], high: highs[r], low: lows[r], close: closes[r],
                                     openKey: key, closeKey: key, volume: volume,
                                     priceVolume: closes[r] * volume, count: 1)
            }
        }
        if let done = current { appendOrMerge(&bars, done) }
    }

    func appendOrMerge(_ bars: inout [PartialBar], _ p: PartialBar) {
        if let last = bars.last, last.start == p.start {
            bars[bars.count - 1].merge(p)
        } else {
            bars.append(p)
        }
    }

    private func doubles(_ column: Column) -> [Double] {
        switch column.values {
        case .float64(let v): v
        case .int64(let v): v.map(Double.init)
        case .bool(let v): v.map { $0 ? 1 : 0 }
        case .string(let v): Array(repeating: .nan, count: v.count)
        }
    }
}

