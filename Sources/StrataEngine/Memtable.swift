import StrataFormat

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
