import StrataEngine
import StrataFormat
import StrataPlatform

extension CSVIngester.RowParser {
    /// A time field in nanoseconds since the epoch: an epoch integer in `unit` (guessed from
    /// its magnitude and kept in `unit` when not yet known), or RFC 3339 text.
    static func time(_ raw: UnsafeBufferPointer<UInt8>, unit: inout TimeUnit?) -> Result<Int64, RowProblem> {
        let text = raw.trimmed()
        if text.isEmpty { return .failure(RowProblem("time is empty")) }
        if let v = NumberParsing.int64(text) {
            let u = unit ?? TimeUnit.guess(v)
            if unit == nil { unit = u }
            let (t, o) = v.multipliedReportingOverflow(by: u.nanoseconds)
            if o { return .failure(RowProblem("time \(v) \(u.rawValue) is outside 1677-09-21…2262-04-11")) }
            return .success(t)
        }
        switch CivilTime.parse(text) {
        case .success(let t): return .success(t)
        case .failure(.outOfRange):
            return .failure(RowProblem("time '\(String(decoding: text, as: UTF8.self))' is outside 1677-09-21…2262-04-11"))
        case .failure(.syntax(let why)):
            return .failure(RowProblem("time '\(String(decoding: text.prefix(64), as: UTF8.self))' is not RFC 3339 or an epoch integer: \(why)"))
        }
    }

    /// One field value for a field of type `type` (nil: not yet known). Surrounding spaces
    /// do not count, except in text. An int field takes a fractional value only when it may
    /// still become float (`canPromote`); a float field takes integers.
    static func value(_ raw: UnsafeBufferPointer<UInt8>, type: FieldType?, canPromote: Bool, allowNonFinite: Bool) -> Result<CSVIngester.Parsed, RowProblem> {
        if type == .string { return .success(.string(String(decoding: raw, as: UTF8.self))) }
        let text = raw.trimmed()
        if text.isEmpty { return .success(.null) }
        func float() -> Result<CSVIngester.Parsed, RowProblem> {
            switch NumberParsing.float64(text) {
            case .value(let v): return .success(.float(v))
            case .nonFinite(let v):
                if allowNonFinite { return .success(.float(v)) }
                return .failure(RowProblem("'\(String(decoding: text, as: UTF8.self))' is not a finite number (leave the field empty for a missing value, or pass --allow-nonfinite)"))
            case .invalid:
                return .failure(RowProblem("'\(preview(text))' is not a number"))
            }
        }
        switch type {
        case .int64:
            if let v = NumberParsing.int64(text) { return .success(.int(v)) }
            if canPromote, case .success(let p) = float() { return .success(p) }
            return .failure(RowProblem("'\(preview(text))' is not an integer (the field is int)"))
        case .float64:
            if let v = NumberParsing.int64(text), v.magnitude <= 1 << 53 { return .success(.float(Double(v))) }
            return float()
        case .bool:
            if let b = CSVIngester.bool(text) { return .success(.bool(b)) }
            return .failure(RowProblem("'\(preview(text))' is not true or false (the field is bool)"))
        case .string:
            return .success(.string(String(decoding: raw, as: UTF8.self)))
        case nil:
            if let v = NumberParsing.int64(text) { return .success(.int(v)) }
            if case .success(let p) = float() { return .success(p) }
            if let b = CSVIngester.bool(text) { return .success(.bool(b)) }
            return .success(.string(String(decoding: raw, as: UTF8.self)))
        }
    }

    static func preview(_ text: UnsafeBufferPointer<UInt8>) -> String {
        Names.preview(String(decoding: text, as: UTF8.self))
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// Without leading and trailing spaces and tabs.
    func trimmed() -> UnsafeBufferPointer<UInt8> {
        var s = 0, e = count
        while s < e && (self[s] == 32 || self[s] == 9) { s += 1 }
        while e > s && (self[e - 1] == 32 || self[e - 1] == 9) { e -= 1 }
        return UnsafeBufferPointer(rebasing: self[s..<e])
    }
}
