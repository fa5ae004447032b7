import StrataEngine
import StrataFormat

/// A deterministic generator of futures-like trade ticks, for demos, tests and
/// benchmarks: millisecond timestamps with bursts of many trades in one millisecond,
/// prices on a tick grid in a random walk that often repeats, small integer sizes with
/// rare large prints, and a trading session with a daily break.
public struct SyntheticTicks: Sendable {
    public var seed: UInt64
    /// Start of the first session (nanoseconds since the epoch).
    public var start: Int64
    public var tickSize: Double = 0.25
    public var startPrice: Double = 4500
    /// Session length per day; the rest of the day has no trades.
    public var sessionNanoseconds: Int64 = 23 * 3_600_000_000_000
    /// Multiplies the gaps between bursts: 1 gives about 280,000 trades an hour (a very
    /// busy market); about 14 spreads 450,000 trades over a 23-hour session.
    public var gapScale: Double = 1

    public init(seed: UInt64 = 1, start: Int64 = 1_704_232_800_000_000_000) {  // 2024-01-02T22:00:00Z
        self.seed = seed
        self.start = start
    }

    /// SplitMix64: small, fast, good enough for synthetic data.
    public struct Random: Sendable {
        var state: UInt64
        public init(seed: UInt64) { state = seed }
        public mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        /// Uniform in [0, 1).
        public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
    }

    /// `count` trades: (time ns, price, size) as a row block with fields price:float, size:int.
    public func trades(count: Int) -> RowBlock {
        var rng = Random(seed: seed)
        var times = [Int64](), prices = [Double](), sizes = [Int64]()
        times.reserveCapacity(count); prices.reserveCapacity(count); sizes.reserveCapacity(count)
        var t = start
        var sessionStart = start
        var ticks = Int64((startPrice / tickSize).rounded())
        var burst = 0
        for _ in 0..<count {
            if burst > 0 {
                burst -= 1  // same millisecond
            } else {
                // Gaps between bursts: mostly a few ms, sometimes a second or more.
                let u = rng.unit()
                let gapMs: Int64 = u < 0.6 ? 1 + Int64(rng.next() % 5) : (u < 0.95 ? 5 + Int64(rng.next() % 200) : 200 + Int64(rng.next() % 3000))
                if gapScale == 1 {
                    t += gapMs * 1_000_000
                } else {
                    // Stretched gaps keep millisecond resolution (no common unit larger than 1 ms).
                    let stretched = Int64((Double(gapMs) * gapScale).rounded(.down)) + Int64(rng.next() % UInt64(max(1, gapScale.rounded(.up))))
                    t += max(1, stretched) * 1_000_000
                }
                if t - sessionStart >= sessionNanoseconds {
                    sessionStart += 86_400_000_000_000
                    t = sessionStart
                }
                // Bursts: usually one trade, sometimes dozens or hundreds in one millisecond.
                let b = rng.unit()
                burst = b < 0.7 ? 0 : (b < 0.97 ? Int(rng.next() % 20) : Int(rng.next() % 400))
            }
            let step = rng.unit()
            if step < 0.15 { ticks -= 1 } else if step < 0.30 { ticks += 1 } else if step < 0.31 { ticks += Int64(rng.next() % 9) - 4 }
            let s = rng.unit()
            let size: Int64 = s < 0.55 ? 1 : (s < 0.85 ? 1 + Int64(rng.next() % 5) : (s < 0.99 ? 1 + Int64(rng.next() % 50) : 1 + Int64(rng.next() % 2000)))
            times.append(t)
            prices.append(Double(ticks) * tickSize)
            sizes.append(size)
        }
        return RowBlock(timestamps: times, columns: [Column(.float64(prices)), Column(.int64(sizes))])
    }

    public static let tradeSchema = [Field("price", .float64), Field("size", .int64)]
}
