import Synchronization
import StrataFormat
import StrataPlatform

/// A group image of a pack, open (Format.md, "Group images"): the rows of many small series
/// of one packed partition, one series after another, in the segment format. A series'
/// segment in it is a slice: a run of rows that the pack manifest locates by its first row.
/// Decoded blocks are kept (a few per image), because the slices of a partition's series lie
/// side by side and are read one after another.
package final class GroupImage: @unchecked Sendable {
    let path: String
    let file: MappedFile
    let location: PackManifest.Location
    package let reader: SegmentReader
    /// The first row of each block, and the image's row count last.
    let blockStarts: [Int]
    private let decoded = Mutex<(blocks: [Int: RowBlock], order: [Int])>(([:], []))
    static let keptBlocks = 32

    package init(pack: MappedFile, location: PackManifest.Location) throws(StrataError) {
        path = "\(pack.path)@\(location.offset)"
        file = pack
        self.location = location.image
        do {
            let bytes = try pack.withUnsafeBytes { (all) throws(FormatError) in try PackLayout.segmentBytes(all, location) }
            reader = try SegmentReader(bytes, group: true)
        } catch {
            throw StrataError.corrupt(error, path: "\(pack.path)@\(location.offset)")
        }
        var starts = [0]
        starts.reserveCapacity(reader.footer.blocks.count + 1)
        for b in reader.footer.blocks { starts.append(starts.last! + b.statistics.rowCount) }
        blockStarts = starts
    }

    package var rowCount: Int { blockStarts.last! }

    /// Block `index`, decoded (all fields) and kept.
    func block(_ index: Int) throws(StrataError) -> RowBlock {
        if let hit = decoded.withLock({ $0.blocks[index] }) { return hit }
        let block: RowBlock
        do {
            block = try reader.decodeBlock(index)
        } catch {
            throw StrataError.corrupt(error, path: path, block: index)
        }
        decoded.withLock { d in
            if d.blocks[index] == nil { d.order.append(index) }
            d.blocks[index] = block
            if d.order.count > Self.keptBlocks { d.blocks[d.order.removeFirst()] = nil }
        }
        return block
    }

    /// Checks every block's checksum.
    package func verify() throws(StrataError) {
        for b in reader.footer.blocks.indices {
            do { try reader.verifyBlock(b) } catch { throw StrataError.corrupt(error, path: path, block: b) }
        }
    }

    /// The blocks holding rows `range`.
    func blocks(holding range: Range<Int>) -> Range<Int> {
        // The last block starting at or before the range's first row, through the one
        // holding its last row.
        var lo = 0, hi = blockStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if blockStarts[mid] <= range.lowerBound { lo = mid } else { hi = mid - 1 }
        }
        var end = lo
        while end < blockStarts.count - 1 && blockStarts[end] < range.upperBound { end += 1 }
        return lo..<max(end, lo + 1)
    }

    /// Rows `range` of the image.
    func rows(_ range: Range<Int>) throws(StrataError) -> RowBlock {
        var parts: [RowBlock] = []
        for b in blocks(holding: range) {
            let block = try self.block(b)
            let start = blockStarts[b]
            let lo = max(range.lowerBound, start) - start, hi = min(range.upperBound, start + block.rowCount) - start
            parts.append(lo == 0 && hi == block.rowCount ? block : block.slice(lo..<hi))
        }
        return RowBlock.concatenate(parts, schema: reader.footer.schema)
    }
}

/// One series' segment inside a group image: its rows, decoded when opened, served as one
/// block with statistics computed from them.
package final class GroupSlice: SegmentSource, @unchecked Sendable {
    package let id: SegmentID
    package let footer: SegmentFooter
    package let location: String
    package let size: Int
    let image: GroupImage
    let range: Range<Int>
    private let rows: RowBlock

    /// The slice of `image` that holds segment `id` of `key`: `rows` rows from `firstRow`.
    package init(image: GroupImage, key: SeriesDay, firstRow: UInt64, rows count: UInt64, id: SegmentID) throws(StrataError) {
        location = "\(image.path) rows \(firstRow)+\(count)"
        guard count >= 1, firstRow <= UInt64(image.rowCount), count <= UInt64(image.rowCount) - firstRow else {
            throw StrataError(.corrupt, "\(key) has \(count) rows from row \(firstRow) of a group image of \(image.rowCount) rows", path: image.path)
        }
        self.id = id
        self.image = image
        range = Int(firstRow)..<Int(firstRow + count)
        rows = try image.rows(range)
        // A slice holds one series' rows in time order.
        if rows.stableTimeOrder() != nil {
            throw StrataError(.corrupt, "the rows of \(key) in a group image are not in time order", path: location)
        }
        let group = image.reader.footer
        footer = SegmentFooter(measurement: group.measurement, symbol: key.series.symbol, day: group.day, dayOffsetSeconds: group.dayOffsetSeconds,
                               schema: group.schema, blocks: [BlockEntry(offset: 0, length: 0, statistics: BlockStatistics.of(rows, schema: group.schema))])
        // Its share of the image's bytes.
        size = Int(Double(image.location.length) * Double(count) / Double(max(image.rowCount, 1)))
    }

    package func decodeBlocks(_ blocks: [Int], fields: Set<Int>?) throws(StrataError) -> [RowBlock] {
        for b in blocks where b != 0 { throw StrataError(.invalidInput, "a group slice has one block; block \(b) was asked for", path: location) }
        return blocks.map { _ in rows }
    }

    /// Checks the checksums of the blocks it lies in.
    package func verify() throws(StrataError) {
        for b in image.blocks(holding: range) {
            do { try image.reader.verifyBlock(b) } catch { throw StrataError.corrupt(error, path: image.path, block: b) }
        }
    }

    /// Its rows as a segment of their own (for the archive, which keeps whole segments).
    func segment(encodedBy encode: ([Field], RowBlock) -> [[UInt8]]) throws(StrataError) -> Segment {
        try Segment(bytes: Array(encode(footer.schema, rows).joined()), name: location, id: id)
    }
}

/// Group images already opened, by pack path and offset, each kept while the pack at the path
/// is the file mapped (pack ids are never reused, so this is belt and braces). The least
/// recently used go beyond `capacity`.
final class GroupImageCache: Sendable {
    private struct Key: Hashable {
        var path: String
        var offset: UInt64
    }
    private let kept = KeptValues<Key, GroupImage>(capacity: 16)

    func image(pack path: String, file: () throws(StrataError) -> MappedFile, location: PackManifest.Location) throws(StrataError) -> GroupImage {
        let key = Key(path: path, offset: location.offset)
        let identity = FileSystem.identity(path)
        if let hit = kept.value(key, if: { $0.file.identity == identity && $0.location == location.image }) { return hit }
        let image = try GroupImage(pack: try file(), location: location)
        kept.keep(image, for: key)
        return image
    }
}
