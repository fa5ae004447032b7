import StrataEngine
import StrataFormat
import StrataPlatform

/// The mirror's state as another process sees it: the cursor in the database against the
/// end of the store's log on disk. Reads only; opens no store (a running ingest holds it).
public struct MirrorReport: Sendable {
    public var server: String
    public var timescale: Bool
    public var timescaleVersion: String?
    public var cursor: MirrorCursor?
    public var logEnd: WALPosition
    public var lagBytes: Int
    /// Rows in the log after the cursor (all of the log's rows before the first batch).
    public var lagRows: Int
    /// The store held rows before the mirror was set up and no full sync has run since.
    public var needsBackfill: Bool
    public var retained: WALPosition?
    public var state: String

    public static func inspect(dataDirectory: String, configuration: MirrorConfiguration) throws(StrataError) -> MirrorReport {
        let store = try Store(directory: dataDirectory)
        let id = try store.identity()
        let connection = try PostgresConnection(configuration.dsn)
        let ext = try connection.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
        let schema = configuration.options.schema
        var cursor: MirrorCursor?
        if try connection.tableExists(schema, "strata_mirror_cursor") {
            let found = MirrorCursor(try connection.execute(MirrorCursor.select("\(PostgresConnection.quoteIdentifier(schema)).strata_mirror_cursor"), [id]))
            if found != .start { cursor = found }
        }
        let files = try Database.logFiles(dataDirectory)
        let last = files.last
        let logEnd = last.map { WALPosition(file: $0.sequence, offset: UInt64($0.size)) } ?? .zero
        var lag = 0
        var gap = false
        if let cursor {
            gap = cursor.position != .zero && !files.contains { $0.sequence == cursor.position.file }
            for f in files where f.sequence >= cursor.position.file {
                lag += f.size - (f.sequence == cursor.position.file ? Int(cursor.position.offset) : WALLayout.headerSize)
            }
        }
        let backfill = Mirror.needsBackfill(dataDirectory)
        let state: String
        switch (cursor, gap) {
        case (nil, _): state = "never replicated"
        case (_, true): state = "needs sync (the log at the cursor is gone)"
        default: state = lag == 0 ? "caught up" : "behind"
        }
        let rows = gap ? 0 : try Database.logRows(dataDirectory, after: cursor?.position ?? .zero)
        return MirrorReport(server: connection.server, timescale: ext.rowCount == 1, timescaleVersion: ext.value(0, 0), cursor: cursor,
                            logEnd: logEnd, lagBytes: max(0, lag), lagRows: rows, needsBackfill: backfill,
                            retained: try Database.logRetention(dataDirectory),
                            state: backfill ? state + "; needs backfill (the store held rows before the mirror was set up: run strata mirror sync)" : state)
    }
}
