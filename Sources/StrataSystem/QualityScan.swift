import StrataEngine
import StrataFormat
import StrataPlatform
import StrataText

/// The data-quality findings of one series over a stretch of time.
public struct QualityReport: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable, Comparable {
        /// No rows, within trading hours, for far longer than the series' usual interval.
        case gap
        /// Rows that arrived with a time earlier than a row already written (counted at
        /// ingest since the store was opened; not visible in stored data, which is sorted).
        case outOfOrder = "out_of_order"
        /// A row equal in time and every field to an earlier row of the series.
        case duplicate
        /// A price that jumped by more than the configured fraction from the previous one.
        case outlier
        /// high < low, or open or close outside [low, high].
        case ohlc
        case nonPositivePrice = "non_positive_price"
        case nonPositiveVolume = "non_positive_volume"

        public static func < (a: Kind, b: Kind) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
    }

    /// One finding: where and what.
    public struct Finding: Sendable, Equatable {
        public var kind: Kind
        public var time: Int64
        public var detail: String
    }

    public var series: SeriesKey
    public var from: Int64
    public var to: Int64
    public var rows = 0
    public var first: Int64?
    public var last: Int64?
    /// The median of the positive intervals between rows (ns); nil with fewer than two times.
    public var medianInterval: Int64?
    /// Findings counted per kind (a row counts once per kind).
    public var counts: [Kind: Int] = [:]
    /// The first findings of each kind, at most `examplesPerKind`.
    public var examples: [Finding] = []
    public static let examplesPerKind = 10

    public var issues: Int { counts.values.reduce(0, +) }

    mutating func note(_ kind: Kind, _ time: Int64, _ detail: @autoclosure () -> String) {
        let n = counts[kind, default: 0]
        counts[kind] = n + 1
        if n < Self.examplesPerKind { examples.append(Finding(kind: kind, time: time, detail: detail())) }
    }
}

/// Scans the stored rows of a series for the problems `QualityPolicy` describes.
public struct QualityScanner: Sendable {
    public var policy: QualityPolicy

    public init(policy: QualityPolicy) { self.policy = policy }

    /// Reads the series' rows in [from, to] (across memory, disk and archive) and checks them.
    /// (Out-of-order arrivals are the engine's count, which `QualityMonitor` adds.)
    public func scan(_ database: Database, _ series: SeriesKey, from: Int64 = .min, to: Int64 = .max) throws(StrataError) -> QualityReport {
        let result = try database.query(series, from: from, to: to)
        return scan(series: series, schema: result.schema, rows: result.rows, from: from, to: to)
    }

    /// Checks rows sorted by time (as queries return them).
    public func scan(series: SeriesKey, schema: [Field], rows: RowBlock, from: Int64 = .min, to: Int64 = .max) -> QualityReport {
        var report = QualityReport(series: series, from: from, to: to)
        let times = rows.timestamps
        report.rows = times.count
        report.first = times.first
        report.last = times.last
        guard !times.isEmpty else { return report }
        gaps(times, &report)
        duplicates(schema, rows, &report)
        values(schema, rows, &report)
        report.examples.sort { ($0.time, $0.kind) < ($1.time, $1.kind) }
        return report
    }

    func gaps(_ times: [Int64], _ report: inout QualityReport) {
        var intervals: [Int64] = []
        intervals.reserveCapacity(times.count)
        for i in times.indices.dropFirst() where times[i] > times[i - 1] { intervals.append(Self.span(times[i - 1], times[i])) }
        guard !intervals.isEmpty else { return }
        let k = intervals.count / 2
        let median = intervals.sorted()[k]  // the upper median
        report.medianInterval = median
        let factor = policy.gapFactor * Double(median)
        let threshold = max(policy.minGap, factor >= Double(Int64.max) ? Int64.max : Int64(factor))
        for i in times.indices.dropFirst() where Self.span(times[i - 1], times[i]) > threshold {
            let silent = policy.tradingTime(from: times[i - 1], to: times[i])
            if silent > threshold {
                report.note(.gap, times[i - 1], "no rows for \(Self.duration(silent)) of trading time until \(CivilTime.format(times[i])) (usual interval \(Self.duration(median)))")
            }
        }
    }

    /// Rows equal to an earlier row of the same time in every field and in which are null.
    func duplicates(_ schema: [Field], _ rows: RowBlock, _ report: inout QualityReport) {
        let times = rows.timestamps
        var i = 0
        while i < times.count {
            var j = i + 1
            while j < times.count && times[j] == times[i] { j += 1 }
            if j - i > 1 {
                var seen: [Int: [Int]] = [:]
                for r in i..<j {
                    var h = Hasher()
                    for c in rows.columns { Self.hash(c, r, into: &h) }
                    let key = h.finalize()
                    if let earlier = seen[key], earlier.contains(where: { e in rows.columns.allSatisfy { Self.equal($0, e, r) } }) {
                        report.note(.duplicate, times[r], "row \(r + 1) of the scan repeats an earlier row with the same time and fields")
                    } else {
                        seen[key, default: []].append(r)
                    }
                }
            }
            i = j
        }
    }

    static func hash(_ c: Column, _ r: Int, into h: inout Hasher) {
        guard c.isPresent(r) else { h.combine(0 as UInt8); return }
        switch c.values {
        case .float64(let v): h.combine(v[r].bitPattern)
        case .int64(let v): h.combine(v[r])
        case .bool(let v): h.combine(v[r])
        case .string(let v): h.combine(v[r])
        }
    }

    static func equal(_ c: Column, _ a: Int, _ b: Int) -> Bool {
        guard c.isPresent(a) == c.isPresent(b) else { return false }
        guard c.isPresent(a) else { return true }
        switch c.values {
        case .float64(let v): return v[a].bitPattern == v[b].bitPattern
        case .int64(let v): return v[a] == v[b]
        case .bool(let v): return v[a] == v[b]
        case .string(let v): return v[a] == v[b]
        }
    }

    /// A numeric column's value as a Double, nil where null.
    static func number(_ c: Column, _ r: Int) -> Double? {
        guard c.isPresent(r) else { return nil }
        switch c.values {
        case .float64(let v): return v[r]
        case .int64(let v): return Double(v[r])
        default: return nil
        }
    }

    func values(_ schema: [Field], _ rows: RowBlock, _ report: inout QualityReport) {
        let numeric = schema.indices.filter { schema[$0].type.isNumeric }
        let prices = numeric.filter { policy.priceFields.contains(schema[$0].name) }
        let volumes = numeric.filter { policy.volumeFields.contains(schema[$0].name) }
        func column(_ names: String...) -> Int? { numeric.first { names.contains(schema[$0].name) } }
        let open = column("open", "open_price"), high = column("high", "high_price"), low = column("low", "low_price"),
            close = column("close", "close_price")
        var previous: [Double?] = Array(repeating: nil, count: schema.count)
        let times = rows.timestamps
        for r in times.indices {
            let t = times[r]
            if let p = prices.first(where: { Self.number(rows.columns[$0], r).map { $0 <= 0 || $0.isNaN } ?? false }) {
                report.note(.nonPositivePrice, t, "\(schema[p].name) = \(TextFormat.csvText(rows.columns[p].values, r))")
            }
            if let v = volumes.first(where: { Self.number(rows.columns[$0], r).map { $0 <= 0 || $0.isNaN } ?? false }) {
                report.note(.nonPositiveVolume, t, "\(schema[v].name) = \(TextFormat.csvText(rows.columns[v].values, r))")
            }
            // Jumps, against the previous positive price of the same field.
            var jumped: String?
            for p in prices {
                guard let x = Self.number(rows.columns[p], r), x > 0, x.isFinite else { continue }
                if let before = previous[p], abs(x / before - 1) > policy.maxJump, jumped == nil {
                    jumped = "\(schema[p].name) \(before) → \(x) (\(Self.percent(x / before - 1)))"
                }
                previous[p] = x
            }
            if let jumped { report.note(.outlier, t, jumped) }
            if let high, let low, let h = Self.number(rows.columns[high], r), let l = Self.number(rows.columns[low], r), !h.isNaN, !l.isNaN {
                let o = open.flatMap { Self.number(rows.columns[$0], r) }, c = close.flatMap { Self.number(rows.columns[$0], r) }
                if h < l {
                    report.note(.ohlc, t, "high \(h) < low \(l)")
                } else if let o, !o.isNaN, o < l || o > h {
                    report.note(.ohlc, t, "open \(o) outside [low \(l), high \(h)]")
                } else if let c, !c.isNaN, c < l || c > h {
                    report.note(.ohlc, t, "close \(c) outside [low \(l), high \(h)]")
                }
            }
        }
    }

    /// b − a for a ≤ b, saturating (rows centuries apart do not overflow).
    static func span(_ a: Int64, _ b: Int64) -> Int64 {
        let (d, overflow) = b.subtractingReportingOverflow(a)
        return overflow ? .max : d
    }

    static func percent(_ x: Double) -> String {
        let p = (x * 1_000).rounded() / 10
        return (p > 0 ? "+" : "") + "\(p)%"
    }

    /// 90s → "1m30s", 2d3h → "2d3h".
    public static func duration(_ ns: Int64) -> String {
        var s = ns / 1_000_000_000
        if s == 0 { return "\(ns / 1_000_000)ms" }
        var out = ""
        for (unit, size) in [("d", Int64(86_400)), ("h", 3_600), ("m", 60), ("s", 1)] where s >= size {
            out += "\(s / size)\(unit)"
            s %= size
        }
        return out
    }
}

extension QualityReport {
    /// The report as a JSON object (times in RFC 3339), as /status and `strata quality
    /// --format json` give it.
    public var json: String {
        func time(_ t: Int64?) -> String { t.map { TextFormat.jsonString(CivilTime.format($0)) } ?? "null" }
        let findings = QualityReport.Kind.allCases.map { "\(TextFormat.jsonString($0.rawValue)):\(counts[$0] ?? 0)" }.joined(separator: ",")
        let list = examples.map { "{\"kind\":\(TextFormat.jsonString($0.kind.rawValue)),\"time\":\(time($0.time)),\"detail\":\(TextFormat.jsonString($0.detail))}" }
        return "{\"measurement\":\(TextFormat.jsonString(series.measurement)),\"symbol\":\(TextFormat.jsonString(series.symbol)),\"rows\":\(rows),"
            + "\"first\":\(time(first)),\"last\":\(time(last)),\"median_interval_ns\":\(medianInterval.map { "\($0)" } ?? "null"),"
            + "\"findings\":{\(findings)},\"examples\":[\(list.joined(separator: ","))]}"
    }

    /// The report as text: a heading line, a line of counts, then the examples.
    public var text: String {
        var out = "\(series.measurement) \(series.symbol): \(rows) rows"
        if let first, let last { out += ", \(CivilTime.format(first)) … \(CivilTime.format(last))" }
        if let medianInterval { out += ", median interval \(QualityScanner.duration(medianInterval))" }
        out += "\n  " + QualityReport.Kind.allCases.map { "\($0.rawValue.replacingOccurrences("_", " ")): \(counts[$0] ?? 0)" }.joined(separator: ", ") + "\n"
        for e in examples { out += "  \(CivilTime.format(e.time)) \(e.kind.rawValue): \(e.detail)\n" }
        if (counts.values.reduce(0, +)) > examples.count { out += "  (the first \(QualityReport.examplesPerKind) of each kind are listed)\n" }
        return out
    }
}

extension String {
    func replacingOccurrences(_ a: Character, _ b: Character) -> String { String(map { $0 == a ? b : $0 }) }
}
