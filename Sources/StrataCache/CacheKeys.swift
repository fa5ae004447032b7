import StrataEngine
import StrataFormat

/// The Redis keys of the hot tier. A `:` or `%` inside a measurement or symbol is written
/// `%3A` or `%25`, so every key splits on `:` unambiguously:
///
///     <prefix>:<measurement>:<symbol>           stream of the series' rows (the live hour)
///     <prefix>:last:<measurement>:<symbol>      hash of the series' latest row
///     <prefix>:publisher:<store id>:status      hash of the publishing process's counters
public struct CacheKeys: Sendable {
    public var prefix: String

    public init(prefix: String = "strata") { self.prefix = prefix }

    public func stream(_ series: SeriesKey) -> String {
        "\(prefix):\(Self.escape(series.measurement)):\(Self.escape(series.symbol))"
    }

    public func last(_ series: SeriesKey) -> String {
        "\(prefix):last:\(Self.escape(series.measurement)):\(Self.escape(series.symbol))"
    }

    public func status(store: String) -> String { "\(prefix):publisher:\(store):status" }

    /// The series a stream key names, if it is one (`nil` for last, status and foreign keys).
    public func series(ofStream key: String) -> SeriesKey? {
        guard key.hasPrefix(prefix + ":") else { return nil }
        let parts = key.dropFirst(prefix.count + 1).split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let m = Self.unescape(parts[0]), let s = Self.unescape(parts[1]) else { return nil }
        return try? SeriesKey(measurement: m, symbol: s)
    }

    static func escape(_ name: String) -> String {
        guard name.utf8.contains(where: { $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "%") }) else { return name }
        var out = ""
        for c in name.unicodeScalars {
            switch c {
            case ":": out += "%3A"
            case "%": out += "%25"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func unescape(_ part: Substring) -> String? {
        guard part.contains("%") else { return String(part) }
        var out: [UInt8] = []
        var bytes = Array(part.utf8)[...]
        while let b = bytes.popFirst() {
            guard b == UInt8(ascii: "%") else { out.append(b); continue }
            switch String(decoding: bytes.prefix(2), as: UTF8.self) {
            case "3A": out.append(UInt8(ascii: ":"))
            case "25": out.append(UInt8(ascii: "%"))
            default: return nil
            }
            bytes = bytes.dropFirst(2)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
