import StrataFormat

/// Float64 inputs for the round-trip tests of every float encoding. Comparisons are
/// always on bit patterns, so NaN payloads and the sign of zero must survive.
enum FloatSamples {
    static let quietNaNWithPayload = Double(bitPattern: 0x7FF8_0000_0000_0001)
    static let signallingNaN = Double(bitPattern: 0x7FF0_0000_0000_0001)
    static let negativeNaN = Double(bitPattern: 0xFFF8_0000_0000_BEEF)

    static let specials: [Double] = [
        0.0, -0.0, .infinity, -.infinity, .nan, quietNaNWithPayload, signallingNaN, negativeNaN,
        .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude,
        Double(bitPattern: 0x000F_FFFF_FFFF_FFFF),  // largest subnormal
        .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1.0, -1.0, .pi, 4512.25, 0.1,
        9_007_199_254_740_993.0, 1e300, 1e-300,
    ]

    static let shapes = ["random bits", "specials", "0.25 grid walk", "2-digit decimals", "constant",
                         "prices with NaN gaps", "small integers", "mixed"]

    static func generate(_ shape: String, count: Int, rng: inout SplitMix64) -> [Double] {
        switch shape {
        case "random bits":
            return (0..<count).map { _ in Double(bitPattern: rng.next()) }
        case "specials":
            return (0..<count).map { _ in specials[Int.random(in: 0..<specials.count, using: &rng)] }
        case "0.25 grid walk":
            var tick: Int64 = 4512 * 4
            return (0..<count).map { _ in
                tick += Int64.random(in: -1...1, using: &rng)
                return Double(tick) / 4
            }
        case "2-digit decimals":
            return (0..<count).map { _ in Double(Int64.random(in: -1_000_000...1_000_000, using: &rng)) / 100 }
        case "constant":
            return [Double](repeating: 101.37, count: count)
        case "prices with NaN gaps":
            var cents: Int64 = 18_990
            return (0..<count).map { _ in
                cents += Int64.random(in: -5...5, using: &rng)
                return Int.random(in: 0..<20, using: &rng) == 0 ? quietNaNWithPayload : Double(cents) / 100
            }
        case "small integers":
            return (0..<count).map { _ in Double(Int.random(in: 0...1000, using: &rng)) }
        default:  // "mixed": mostly decimals with a scattering of everything else
            return (0..<count).map { _ in
                switch Int.random(in: 0..<10, using: &rng) {
                case 0: specials[Int.random(in: 0..<specials.count, using: &rng)]
                case 1: Double(bitPattern: rng.next())
                default: Double(Int.random(in: 0...99_999, using: &rng)) / 1000
                }
            }
        }
    }

    /// A 0.25-tick random walk around 4512 (an index future): the decimal codec's case.
    static func tickWalk(count: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: seed)
        return generate("0.25 grid walk", count: count, rng: &rng)
    }
}
