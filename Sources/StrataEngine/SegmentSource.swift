import StrataFormat
import StrataPlatform

/// Where a query reads a segment's blocks from: a segment file on local disk (`Segment`),
/// or a cold object in an object store (provided by StrataArchive through `ColdStorage`).
/// Queries see the footer first (time ranges and statistics of every block) and then ask
/// for the blocks they need, all at once, so that a remote source can fetch them in one
/// request.
public protocol SegmentSource: AnyObject, Sendable {
    var id: SegmentID { get }
    var footer: SegmentFooter { get }
    /// Path or object key, for messages.
    var location: String { get }
    /// Bytes it takes in its tier (file size, or object size).
    var size: Int { get }
    /// Decoded blocks, in the order asked for.
    func decodeBlocks(_ blocks: [Int], fields: Set<Int>?) throws(StrataError) -> [RowBlock]
    /// A hint that these blocks will be decoded next (a remote source fetches them now).
    func prefetch(_ blocks: [Int]) throws(StrataError)
    /// Checks every block's checksum.
    func verify() throws(StrataError)
}

extension SegmentSource {
    public var schema: [Field] { footer.schema }

    /// Blocks whose time range meets [from, to].
    public func blocks(overlapping from: Int64, _ to: Int64) -> [Int] {
        footer.blocks(overlapping: from, to)
    }

    public func decodeBlock(_ block: Int, fields: Set<Int>? = nil) throws(StrataError) -> RowBlock {
        try decodeBlocks([block], fields: fields)[0]
    }

    public func prefetch(_ blocks: [Int]) throws(StrataError) {}

    /// Decodes every block's timestamps, which checks each block's checksum.
    public func verify() throws(StrataError) {
        _ = try decodeBlocks(Array(footer.blocks.indices), fields: [])
    }
}

/// A segment that lives in the archive, as a day's manifest records it.
public struct ColdSegmentEntry: Sendable, Equatable {
    public var series: SeriesKey
    public var day: Day
    public var id: SegmentID
    public var key: String
    public var rows: UInt64
    public var bytes: UInt64

    public init(series: SeriesKey, day: Day, id: SegmentID, key: String, rows: UInt64, bytes: UInt64) {
        self.series = series
        self.day = day
        self.id = id
        self.key = key
        self.rows = rows
        self.bytes = bytes
    }
}

/// Opens archived segments for queries; the archive (StrataArchive) provides it, so the
/// engine reads across tiers without knowing about object stores.
public protocol ColdStorage: Sendable {
    func open(_ entry: ColdSegmentEntry) throws(StrataError) -> any SegmentSource
}
