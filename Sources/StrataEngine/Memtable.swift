import StrataFormat

/// Rows not yet in segments, per series, and the memory they take against the bound. A
/// value guarded by the database's monitor: appends add to `active`; a flush moves a
/// series' buffer to `flushing` (still read by queries) until its segments are live, then
/// drops it, or puts it back in front of what arrived meanwhile if the flush failed.
struct Memtable {
    /// Rows appended since the series' last flush began.
    private(set) var active: [SeriesKey: SeriesBuffer] = [:]
    /// Rows being written into segments.
    private(set) var flushing: [SeriesKey: SeriesBuffer] = [:]
    /// Memory the rows take (active and flushing), as `RowChunk.estimatedBytes` counts it.
    private(set) var bytes = 0
    /// Memory of appends that passed the bound check and are on their way in (between
    /// `reserve` and `insert`): counted against the bound, so that appenders checking at the
    /// same time cannot all fit into the same room.
    private(set) var reserved = 0
    /// The most memory held since `takePeak` was last called.
    private(set) var peak = 0

    /// Memory held and reserved: what the bound is checked against.
    var used: Int { bytes + reserved }

    mutating func reserve(_ n: Int) { reserved += n }

    mutating func unreserve(_ n: Int) { reserved -= n }

    /// Adds rows to a series; returns its buffer as it is now.
    @discardableResult
    mutating func insert(_ chunk: RowChunk, bytes chunkBytes: Int, series: SeriesKey, start: WALPosition, end: WALPosition, now: Int64) -> SeriesBuffer {
        var buffer = active.removeValue(forKey: series) ?? SeriesBuffer(first: start, since: now)
        buffer.add(chunk, bytes: chunkBytes, start: start, end: end)
        active[series] = buffer
        bytes += chunkBytes
        peak = max(peak, bytes)
        return buffer
    }

    /// Moves the buffers of `keys` (those with rows) to `flushing`, in key order.
    mutating func beginFlush(_ keys: [SeriesKey]) -> [(SeriesKey, SeriesBuffer)] {
        var taken: [(SeriesKey, SeriesBuffer)] = []
        for k in keys.sorted() {
            guard let b = active.removeValue(forKey: k) else { continue }
            flushing[k] = b
            taken.append((k, b))
        }
        return taken
    }

    /// The flushed rows are in segments: they leave memory.
    mutating func endFlush(_ taken: [(SeriesKey, SeriesBuffer)]) {
        for (key, buffer) in taken {
            flushing[key] = nil
            bytes -= buffer.bytes
        }
    }

    /// The flush failed before any segment went live: its rows go back in front of
    /// whatever arrived meanwhile.
    mutating func abortFlush(_ taken: [(SeriesKey, SeriesBuffer)]) {
        for (key, buffer) in taken {
            flushing[key] = nil
            var restored = buffer
            if let newer = active[key] { restored.append(newer) }
            active[key] = restored
        }
    }

    /// Drops a series' unflushed rows with from ≤ time ≤ to; returns whether any went.
    mutating func delete(_ series: SeriesKey, from: Int64, to: Int64) -> Bool {
        guard var buffer = active[series] else { return false }
        let before = buffer.bytes
        guard buffer.delete(from: from, to: to) > 0 else { return false }
        bytes -= before - buffer.bytes
        active[series] = buffer.rows == 0 ? nil : buffer
        return true
    }

    /// A series' rows in memory, flushing ones first (they arrived first).
    func chunks(of series: SeriesKey) -> [RowChunk] {
        (flushing[series]?.chunks ?? []) + (active[series]?.chunks ?? [])
    }

    /// Every series with rows in memory.
    var series: Set<SeriesKey> { Set(active.keys).union(flushing.keys) }

    var rows: Int { active.values.reduce(0) { $0 + $1.rows } + flushing.values.reduce(0) { $0 + $1.rows } }

    /// The oldest log file that holds a row still in memory.
    var oldestLogFile: UInt64? { (active.values.map(\.firstPosition.file) + flushing.values.map(\.firstPosition.file)).min() }

    /// The peak since the last call, then starts a new one from what is held now.
    mutating func takePeak() -> Int {
        defer { peak = bytes }
        return peak
    }
}

/// Rows of one series appended since its last flush, in arrival order, with the WAL span
/// they came from.
struct SeriesBuffer: Sendable {
    var chunks: [RowChunk] = []
    var rows = 0
    var bytes = 0
    /// Start of the first record whose rows are here: the WAL must be kept from it on.
    var firstPosition: WALPosition
    /// End of the last record whose rows are here: once flushed, records of this series
    /// that start before it are in segments.
    var lastEnd: WALPosition
    /// When the first row arrived (monotonic ns), for the age limit.
    var since: Int64

    init(first: WALPosition, since: Int64) {
        firstPosition = first
        lastEnd = first
        self.since = since
    }

    /// Adds rows that take `bytes` (their `estimatedBytes`, which the caller has).
    mutating func add(_ chunk: RowChunk, bytes chunkBytes: Int, start: WALPosition, end: WALPosition) {
        if chunks.isEmpty { firstPosition = start }
        chunks.append(chunk)
        rows += chunk.rows.rowCount
        bytes += chunkBytes
        lastEnd = end
    }

    /// Drops rows with from ≤ time ≤ to; returns how many went.
    mutating func delete(from: Int64, to: Int64) -> Int {
        var removed = 0
        chunks = chunks.compactMap { c in
            let left = RowBlock.complement(of: c.rows, from: from, to: to)
            removed += c.rows.rowCount - left.rowCount
            return left.rowCount == 0 ? nil : RowChunk(schema: c.schema, rows: left)
        }
        rows -= removed
        bytes = chunks.reduce(0) { $0 + $1.estimatedBytes }
        return removed
    }

    /// All rows in one block over the union of the chunks' fields (first-seen order).
    func merged() -> RowChunk {
        var fields: [Field] = []
        for c in chunks { for f in c.schema where !fields.contains(f) { fields.append(f) } }
        return RowChunk(schema: fields, rows: RowBlock.concatenate(chunks.map { $0.projected(onto: fields) }, schema: fields))
    }
}

extension RowChunk {
    /// Memory the rows take, roughly: 8 bytes per timestamp and per value, string bytes,
    /// and presence flags.
    var estimatedBytes: Int {
        var total = rows.rowCount * 8 + 64
        for c in rows.columns {
            switch c.values {
            case .string(let v): total += v.reduce(0) { $0 + $1.utf8.count + 16 }
            default: total += rows.rowCount * 8
            }
            if c.presence != nil { total += rows.rowCount }
        }
        return total
    }
}

extension RowBlock {
    /// The rows outside from ≤ time ≤ to, in order.
    static func complement(of block: RowBlock, from: Int64, to: Int64) -> RowBlock {
        let keep = block.timestamps.indices.filter { block.timestamps[$0] < from || block.timestamps[$0] > to }
        return keep.count == block.rowCount ? block : block.gather(keep)
    }
}
