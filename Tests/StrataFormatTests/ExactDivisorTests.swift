@testable import StrataFormat
import Testing

/// The shift-and-multiply division the integer encoder uses instead of a 64-bit divide.
@Suite struct ExactDivisorTests {
    @Test(arguments: [UInt64(1), 2, 3, 7, 25, 100, 1_000_000, 250_000_000, 1 << 40, 3 << 61, UInt64.max, UInt64.max - 1])
    func agreesWithDivisionAndRemainder(_ d: UInt64) {
        let divisor = IntegerCodec.ExactDivisor(d)
        var rng = SplitMix64(seed: d)
        for k in 0..<5000 {
            // Half multiples of d (wrapping), half arbitrary values.
            let r: UInt64 = k % 2 == 0 ? d &* (rng.next() % max(UInt64.max / d, 1)) : rng.next()
            #expect(divisor.divides(r) == (r % d == 0))
            if r % d == 0 { #expect(divisor.quotient(r) == r / d) }
        }
        #expect(divisor.divides(0) && divisor.quotient(0) == 0)
        #expect(divisor.divides(d) && divisor.quotient(d) == 1)
    }
}
