import StrataEngine
import StrataText
import StrataFormat

/// A Redis stream entry id: milliseconds and a sequence number within them.
public struct StreamID: Sendable, Comparable, CustomStringConvertible {
    public var milliseconds: Int64
    public var sequence: Int64

    public init(milliseconds: Int64, sequence: Int64) {
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    public static let zero = StreamID(milliseconds: 0, sequence: 0)

    /// Parses `<ms>-<seq>`.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let ms = Int64(parts[0]), let seq = Int64(parts[1]), ms >= 0, seq >= 0 else { return nil }
        self.init(milliseconds: ms, sequence: seq)
    }

    public var description: String { "\(milliseconds)-\(sequence)" }

    public static func < (a: StreamID, b: StreamID) -> Bool {
        (a.milliseconds, a.sequence) < (b.milliseconds, b.sequence)
    }

    /// The id of a row at `nanoseconds` in a stream whose newest id is `self`: the row's
    /// millisecond when that is later, otherwise the next sequence number of the newest
    /// (ids must grow; late rows keep their exact time in the `time` field).
    public func next(forTime nanoseconds: Int64) -> StreamID {
        let ms = nanoseconds >= 0 ? nanoseconds / 1_000_000 : 0
        return ms > milliseconds ? StreamID(milliseconds: ms, sequence: 0) : StreamID(milliseconds: milliseconds, sequence: sequence + 1)
    }
}

/// Writes rows as Redis commands: XADD per row to the series' stream, and the latest row
/// of a series as its `last` hash. Fields: `time` (nanoseconds since the epoch, decimal),
/// then each present field by name (a field named `time` is written `field_time`): floats
/// in the shortest form that reads back exactly (`4512.25`, `1e-05`, `nan`, `inf`),
/// integers in decimal, booleans `true`/`false`, strings as they are. Absent fields are
/// left out.
public struct CacheEncoder: Sendable {
    public var keys: CacheKeys
    /// Entries older than this (in the stream's own time: its newest id minus the window)
    /// are trimmed as new ones arrive.
    public var windowMilliseconds: Int64
    /// Time to live of the `last` hashes.
    public var lastTTLMilliseconds: Int64

    public init(keys: CacheKeys, windowMilliseconds: Int64, lastTTLMilliseconds: Int64) {
        self.keys = keys
        self.windowMilliseconds = windowMilliseconds
        self.lastTTLMilliseconds = lastTTLMilliseconds
    }

    static func fieldName(_ name: String) -> String { name == "time" ? "field_time" : name }

    /// XADDs rows `range` of `rows` to `series`'s stream, ids following `last`; the last
    /// one also trims the stream to the window. Returns the newest id.
    public func appendRows(_ series: SeriesKey, schema: [Field], rows: RowBlock, range: Range<Int>, after last: StreamID,
                           into out: inout RESPWriter, key: String? = nil) -> StreamID {
        let key = key ?? keys.stream(series)
        let names = schema.map { Self.fieldName($0.name) }
        var id = last
        for r in range {
            id = id.next(forTime: rows.timestamps[r])
            let trim = r == range.upperBound - 1
            var present = 0
            for c in rows.columns where c.isPresent(r) { present += 1 }
            out.begin(arguments: 2 + (trim ? 3 : 0) + 1 + 2 + 2 * present)
            out.argument("XADD")
            out.argument(key)
            if trim {
                out.argument("MINID")
                out.argument("~")
                out.argument(max(0, id.milliseconds - windowMilliseconds))
            }
            out.argument(id.description)
            appendFields(names, rows, r, into: &out)
        }
        return id
    }

    /// Replaces `series`'s `last` hash with row `row` of `rows`, atomically, with its TTL.
    public func appendLast(_ series: SeriesKey, schema: [Field], rows: RowBlock, row: Int, into out: inout RESPWriter) {
        let key = keys.last(series)
        let names = schema.map { Self.fieldName($0.name) }
        var present = 0
        for c in rows.columns where c.isPresent(row) { present += 1 }
        out.command(["MULTI"])
        out.command(["DEL", key])
        out.begin(arguments: 2 + 2 + 2 * present)
        out.argument("HSET")
        out.argument(key)
        appendFields(names, rows, row, into: &out)
        out.begin(arguments: 3)
        out.argument("PEXPIRE")
        out.argument(key)
        out.argument(lastTTLMilliseconds)
        out.command(["EXEC"])
    }

    /// Sets `series`'s `last` hash to row `row` of `rows` unless it holds a newer row (for
    /// `strata cache warm`, beside a publisher that may have written a newer one).
    public func appendLastIfNewer(_ series: SeriesKey, schema: [Field], rows: RowBlock, row: Int, into out: inout RESPWriter) {
        let names = schema.map { Self.fieldName($0.name) }
        var present = 0
        for c in rows.columns where c.isPresent(row) { present += 1 }
        out.begin(arguments: 4 + 1 + 2 + 2 * present)  // EVAL script 1 key, TTL, time, fields
        out.argument("EVAL")
        out.argument(Self.lastIfNewerScript)
        out.argument("1")
        out.argument(keys.last(series))
        out.argument(lastTTLMilliseconds)
        appendFields(names, rows, row, into: &out)
    }

    /// ARGV: the TTL, then `time`, the row's time, and the other field pairs. Times are
    /// compared as decimal strings (Lua's numbers are doubles: 256 ns apart at today's times).
    static let lastIfNewerScript = """
        local function greater(a, b)
          local na, nb = a:sub(1, 1) == '-', b:sub(1, 1) == '-'
          if na ~= nb then return nb end
          if #a ~= #b then return (#a > #b) ~= na end
          if na then return a < b end
          return a > b
        end
        local t = redis.call('HGET', KEYS[1], 'time')
        if t and not greater(ARGV[3], t) then return 0 end
        redis.call('DEL', KEYS[1])
        redis.call('HSET', KEYS[1], unpack(ARGV, 2))
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        return 1
        """

    private func appendFields(_ names: [String], _ rows: RowBlock, _ r: Int, into out: inout RESPWriter) {
        out.argument("time")
        out.argument(rows.timestamps[r])
        for (c, column) in rows.columns.enumerated() where column.isPresent(r) {
            out.argument(names[c])
            switch column.values {
            case .float64(let v): out.argument(v[r].isFinite ? TextFormat.double(v[r]) : v[r].description)
            case .int64(let v): out.argument(v[r])
            case .bool(let v): out.argument(v[r] ? "true" : "false")
            case .string(let v): out.argument(v[r])
            }
        }
    }
}
