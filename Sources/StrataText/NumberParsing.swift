import Glibc
import StrataEngine

/// Parses numbers straight from bytes, without making Strings.
public enum NumberParsing {
    @usableFromInline
    static let powersOfTen: [Double] = (0...22).map { e in
        var p = 1.0
        for _ in 0..<e { p *= 10 }
        return p
    }

    /// A decimal integer with an optional sign; nil if not one or out of Int64's range.
    @inlinable
    public static func int64(_ s: UnsafeBufferPointer<UInt8>) -> Int64? {
        var i = 0
        let n = s.count
        guard n > 0 else { return nil }
        var negative = false
        if s[0] == 45 || s[0] == 43 {
            negative = s[0] == 45
            i = 1
            guard n > 1 else { return nil }
        }
        var v: UInt64 = 0
        while i < n {
            let d = s[i] &- 48
            guard d < 10 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        if negative {
            guard v <= UInt64(Int64.max) + 1 else { return nil }
            return v == UInt64(Int64.max) + 1 ? .min : -Int64(v)
        }
        guard v <= UInt64(Int64.max) else { return nil }
        return Int64(v)
    }

    public enum FloatResult: Equatable {
        case value(Double)
        /// NaN or an infinity written out; the caller decides whether it is allowed.
        case nonFinite(Double)
        case invalid
    }

    /// A decimal floating-point number (`12`, `-0.25`, `1e-3`, `.5`). Numbers with at most
    /// 15 significant digits and no exponent take an exact fast path (an integer divided
    /// by a power of ten is correctly rounded); others go through strtod.
    @inlinable
    public static func float64(_ s: UnsafeBufferPointer<UInt8>) -> FloatResult {
        let n = s.count
        guard n > 0 else { return .invalid }
        var i = 0
        var negative = false
        if s[0] == 45 || s[0] == 43 {
            negative = s[0] == 45
            i = 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var fractionDigits = 0
        var seenDot = false
        var simple = true
        var any = false
        while i < n {
            let c = s[i]
            if c >= 48 && c <= 57 {
                any = true
                if mantissa == 0 && c == 48 {
                    if seenDot { fractionDigits += 1 }
                } else {
                    digits += 1
                    if digits > 15 { simple = false; break }
                    mantissa = mantissa * 10 + UInt64(c - 48)
                    if seenDot { fractionDigits += 1 }
                }
            } else if c == 46 && !seenDot {
                seenDot = true
            } else {
                simple = false
                break
            }
            i += 1
        }
        if simple {
            guard any else { return .invalid }
            if fractionDigits <= 22 {
                let v = Double(mantissa) / powersOfTen[fractionDigits]
                return .value(negative ? -v : v)
            }
        }
        return slowFloat64(s)
    }

    @usableFromInline
    static func slowFloat64(_ s: UnsafeBufferPointer<UInt8>) -> FloatResult {
        guard s.count < 512 else { return .invalid }
        // Names first: strtod would also accept hex floats and "nan(...)", which a CSV should not.
        let lower = String(decoding: s, as: UTF8.self).lowercased()
        switch lower {
        case "nan", "+nan", "-nan": return .nonFinite(.nan)
        case "inf", "+inf", "infinity", "+infinity": return .nonFinite(.infinity)
        case "-inf", "-infinity": return .nonFinite(-.infinity)
        default: break
        }
        for c in s {
            switch c {
            case 48...57, 43, 45, 46, 101, 69: continue  // digits + - . e E
            default: return .invalid
            }
        }
        var buffer = [CChar](repeating: 0, count: s.count + 1)
        for (k, c) in s.enumerated() { buffer[k] = CChar(bitPattern: c) }
        return buffer.withUnsafeBufferPointer { b in
            var end: UnsafeMutablePointer<CChar>? = nil
            let v = strtod(b.baseAddress!, &end)
            guard let end, end - UnsafeMutablePointer(mutating: b.baseAddress!) == s.count else { return .invalid }
            return v.isFinite ? .value(v) : .nonFinite(v)
        }
    }
}
