import StrataEngine
import StrataFormat
import StrataPlatform

/// `CivilTime`: RFC 3339 times in CSV and JSON rows, `--from`/`--to` and query parameters.
enum TimeTarget {
    static func run(_ body: UnsafeRawBufferPointer) {
        let bytes = Array(body)
        // The byte parser (CSV's time column, JSON's timestamps): a time it reads formats
        // as text that reads back as the same time.
        let parsed = bytes.withUnsafeBufferPointer { CivilTime.parse($0) }
        if case .success(let t) = parsed { checkFormatRoundTrip(t, "'\(String(decoding: bytes, as: UTF8.self))'") }

        // The instant parser (query parameters and flags): RFC 3339, a date, or an epoch
        // integer. Its errors are invalid input, and it agrees with the byte parser on text
        // that is not an integer.
        let text = String(decoding: bytes, as: UTF8.self)
        var instant: Int64?
        do throws(StrataError) {
            instant = try CivilTime.parseInstant(text, what: "time")
        } catch {
            require(error.code == .invalidInput, "parseInstant('\(text)') failed with \(error.code)")
        }
        if let instant, Int64(text) == nil, Array(text.utf8) == bytes {
            require(parsed == .success(instant), "parseInstant('\(text)') = \(instant), parse = \(parsed)")
        }
        do throws(StrataError) {
            let end = try CivilTime.parseRangeEnd(text, what: "to")
            require(instant != nil && end >= instant!, "parseRangeEnd('\(text)') = \(end) before parseInstant = \(String(describing: instant))")
        } catch {
            require(instant == nil, "parseRangeEnd('\(text)') failed where parseInstant gave \(instant!): \(error)")
        }

        // Every Int64 is a time from 1677 to 2262: it formats and parses back exactly.
        if bytes.count >= 8 {
            let t = bytes.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }
            checkFormatRoundTrip(t, "Int64 \(t)")
        }
    }

    static func checkFormatRoundTrip(_ t: Int64, _ what: String) {
        let text = CivilTime.format(t)
        require(text.utf8.count == 30, "\(what) formats as '\(text)', not 30 bytes")
        require(CivilTime.parse(text) == .success(t), "\(what) = \(t) formats as '\(text)', which parses as \(CivilTime.parse(text))")
    }

    static func seeds() -> [(String, [UInt8])] {
        [
            ("rfc3339", "2024-01-02T09:00:00.123456789Z"),
            ("offset", "2024-02-29 23:59:60,5+09:00"),
            ("compact-zone", "1970-01-01t00:00-0130"),
            ("date", "2262-04-11"),
            ("first", "1677-09-21T00:12:43.145224192Z"),
            ("epoch-ms", "1704186000123"),
            ("negative", "-1"),
            ("int64", "\u{01}\u{02}\u{03}\u{04}\u{05}\u{06}\u{07}\u{08}"),
        ].map { ($0.0, Array($0.1.utf8)) }
    }
}
