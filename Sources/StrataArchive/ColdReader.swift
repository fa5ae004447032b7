import StrataEngine
import StrataFormat
import StrataPlatform
import Synchronization

/// Reads a cold object through an object store with as few requests as possible: one
/// GET of the object's tail for the index (kept after the first read), then one GET per
/// contiguous run of the blocks a query needs.
public final class ColdReader: Sendable {
    public let store: any ObjectStore
    public let key: String
    /// Opens encrypted objects.
    public let keyring: Keyring?
    private let cachedIndex = Mutex<ColdObject.Index?>(nil)

    public init(store: any ObjectStore, key: String, keyring: Keyring? = nil) {
        self.store = store
        self.key = key
        self.keyring = keyring
    }

    /// Where the object is, for messages.
    public var location: String { "\(store.location)\(store.location.hasSuffix("/") ? "" : "/")\(key)" }

    func corrupt(_ error: FormatError, block: Int? = nil) -> StrataError {
        StrataError.corrupt(error, path: location, block: block)
    }

    /// The object's index: the segment footer (time ranges and statistics of every block)
    /// and where each block lies.
    public func index() throws(StrataError) -> ColdObject.Index {
        if let cached = cachedIndex.withLock({ $0 }) { return cached }
        let (tail, size) = try store.getTail(key, count: ColdObject.tailGuess)
        let trailer = try tail.withUnsafeBytes { raw in Result { () throws(FormatError) in try ColdObject.trailer(tail: raw, objectSize: size) } }
            .mapError { corrupt($0) }.get()
        let cipher = try ColdObject.cipher(trailer, keyring: keyring, location: location)
        let tailStart = size - tail.count
        let stored = trailer.index.lowerBound >= tailStart
            ? Array(tail[(trailer.index.lowerBound - tailStart)..<(trailer.index.upperBound - tailStart)])
            : try store.get(key, range: trailer.index)
        let index = try stored.withUnsafeBytes { raw in
            Result { () throws(FormatError) in try ColdObject.index(raw, trailer: trailer, cipher: cipher) }
        }.mapError { corrupt($0) }.get()
        cachedIndex.withLock { $0 = index }
        return index
    }

    /// The segment bytes of blocks `run` (consecutive), fetched with one ranged GET and
    /// checked (each frame's CRC32C, then decompressed to its exact length).
    public func blockBytes(_ run: Range<Int>) throws(StrataError) -> [[UInt8]] {
        guard !run.isEmpty else { return [] }
        let index = try self.index()
        let span = index.span(run)
        let object = try store.get(key, range: span)
        var out: [[UInt8]] = []
        for b in run {
            let block = object.withUnsafeBytes { raw in
                Result { () throws(FormatError) in try ColdObject.block(b, of: index, span: raw, spanStart: span.lowerBound) }
            }
            switch block {
            case .success(let bytes): out.append(bytes)
            case .failure(let e): throw corrupt(e, block: b)
            }
        }
        return out
    }

    /// Block `block`'s rows from its segment bytes.
    func decode(_ bytes: [UInt8], block: Int, fields: Set<Int>?) throws(StrataError) -> RowBlock {
        let index = try self.index()
        let decoded = bytes.withUnsafeBytes { raw in
            Result { () throws(FormatError) in
                try BlockCodec.decode(raw, schema: index.footer.schema, fields: fields, baseOffset: index.footer.blocks[block].offset)
            }
        }
        switch decoded {
        case .success(let rows):
            // The block must be the one its footer entry describes, as a segment's reader
            // requires (Format.md, "Reading a segment", step 10).
            let entry = index.footer.blocks[block]
            guard rows.rowCount == entry.statistics.rowCount, rows.timestamps.first == entry.statistics.minTime,
                  rows.timestamps.last == entry.statistics.maxTime else {
                throw corrupt(FormatError(.malformed, "block holds \(rows.rowCount) rows; the footer says \(entry.statistics.rowCount) rows and another time range",
                                          offset: entry.offset), block: block)
            }
            return rows
        case .failure(let e): throw corrupt(e, block: block)
        }
    }

    /// The decoded rows of blocks `blocks` (consecutive), fetched with one ranged GET.
    public func decodeBlocks(_ blocks: Range<Int>, fields: Set<Int>? = nil) throws(StrataError) -> [RowBlock] {
        var out: [RowBlock] = []
        for (b, bytes) in zip(blocks, try blockBytes(blocks)) { out.append(try decode(bytes, block: b, fields: fields)) }
        return out
    }

    /// Blocks whose time range meets [from, to].
    public func blocks(overlapping from: Int64, _ to: Int64) throws(StrataError) -> [Int] {
        try index().footer.blocks(overlapping: from, to)
    }
}
