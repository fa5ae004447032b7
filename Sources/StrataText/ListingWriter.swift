import StrataEngine

/// `strata ls` and `GET /api/v1/symbols`: a store listing as CSV or JSON, one row (object)
/// per measurement, symbol or partition. Times are RFC 3339 UTC; a time range no local
/// segment gives is empty (null in JSON).
public enum ListingWriter {
    public enum Level: Sendable { case measurements, symbols, partitions }

    public static func columns(_ level: Level) -> [String] {
        switch level {
        case .measurements: ["measurement", "partition", "layout", "symbols", "partitions", "segments", "archived_segments", "rows", "bytes", "first", "last"]
        case .symbols: ["symbol", "partitions", "segments", "archived_segments", "rows", "bytes", "first", "last"]
        case .partitions: ["partition", "segments", "archived_segments", "rows", "bytes", "first", "last"]
        }
    }

    /// Each entry's values, as text (nil: no value), in `columns` order; `quote` marks the
    /// names and times, which JSON quotes.
    static func values(_ e: StoreListing.Entry, _ level: Level) -> [(text: String?, quote: Bool)] {
        let common: [(String?, Bool)] = [(String(e.segments), false), (String(e.archivedSegments), false), (String(e.rows), false), (String(e.bytes), false),
                                         (e.first.map(CivilTime.format), true), (e.last.map(CivilTime.format), true)]
        switch level {
        case .measurements:
            return [(e.name, true), (e.period?.rawValue, true), (e.layout?.rawValue, true), (String(e.symbols), false), (String(e.partitions), false)] + common
        case .symbols: return [(e.name, true), (String(e.partitions), false)] + common
        case .partitions: return [(e.name, true)] + common
        }
    }

    public static func render(_ entries: [StoreListing.Entry], _ level: Level, format: ResultWriter.Format) -> String {
        let names = columns(level)
        switch format {
        case .csv:
            var out = names.joined(separator: ",") + "\n"
            for e in entries { out += values(e, level).map { TextFormat.csvQuoted($0.text ?? "") }.joined(separator: ",") + "\n" }
            return out
        case .json:
            var objects: [String] = []
            for e in entries {
                var fields: [String] = []
                for (name, v) in zip(names, values(e, level)) {
                    let value: String = v.text.map { v.quote ? TextFormat.jsonString($0) : $0 } ?? "null"
                    fields.append("\"" + name + "\":" + value)
                }
                objects.append("{" + fields.joined(separator: ",") + "}")
            }
            return "[" + objects.joined(separator: ",\n") + "]\n"
        }
    }
}
