import StrataEngine
import StrataFormat
import Synchronization

/// Reads a cold object through an object store with as few requests as possible: one
/// GET of the object's tail for the index (kept after the first read), then one GET per
/// contiguous run of the blocks a query needs.
public final class ColdReader: Sendable {
    public let store: any ObjectStore
    public let key: String
    private let cachedIndex = Mutex<ColdObject.Index?>(nil)

    public init(store: any ObjectStore, key: String) {
        self.store = store
        self.key = key
    }

    func corrupt(_ error: FormatError) -> StrataError {
        StrataError.corrupt(error, path: "\(store.location)\(store.location.hasSuffix("/") ? "" : "/")\(key)")
    }

    /// The object's index: the segment footer (time ranges and statistics of every block)
    /// and where each block lies.
    public func index() throws(StrataError) -> ColdObject.Index {
        if let cached = cachedIndex.withLock({ $0 }) { return cached }
        let (tail, size) = try store.getTail(key, count: ColdObject.tailGuess)
        let index: ColdObject.Index
        let first = tail.withUnsafeBytes { raw in Result { () throws(FormatError) in try ColdObject.index(tail: raw, objectSize: size) } }
        switch first {
        case .failure(let e):
            throw corrupt(e)
        case .success(.index(let i)):
            index = i
        case .success(.fetch(let range, let crc)):
            let bytes = try store.get(key, range: range)
            let parsed = bytes.withUnsafeBytes { raw in Result { () throws(FormatError) in try ColdObject.index(raw, offset: range.lowerBound, crc: crc) } }
            switch parsed {
            case .success(let i): index = i
            case .failure(let e): throw corrupt(e)
            }
        }
        cachedIndex.withLock { $0 = index }
        return index
    }

    /// The decoded rows of blocks `blocks` (consecutive), fetched with one ranged GET.
    public func decodeBlocks(_ blocks: Range<Int>, fields: Set<Int>? = nil) throws(StrataError) -> [RowBlock] {
        guard !blocks.isEmpty else { return [] }
        let index = try self.index()
        let span = index.span(blocks)
        let bytes = try store.get(key, range: span)
        var out: [RowBlock] = []
        for b in blocks {
            let decoded = bytes.withUnsafeBytes { span in
                Result { () throws(FormatError) -> RowBlock in
                    let raw = try ColdObject.block(b, of: index, span: span, spanStart: index.span(blocks).lowerBound)
                    return try raw.withUnsafeBytes { r in
                        Result { () throws(FormatError) in
                            try BlockCodec.decode(r, schema: index.footer.schema, fields: fields, baseOffset: index.footer.blocks[b].offset)
                        }
                    }.get()
                }
            }
            switch decoded {
            case .success(let rows): out.append(rows)
            case .failure(let e): throw corrupt(e)
            }
        }
        return out
    }

    /// Blocks whose time range meets [from, to].
    public func blocks(overlapping from: Int64, _ to: Int64) throws(StrataError) -> [Int] {
        let blocks = try index().footer.blocks
        return blocks.indices.filter { blocks[$0].statistics.maxTime >= from && blocks[$0].statistics.minTime <= to }
    }
}
