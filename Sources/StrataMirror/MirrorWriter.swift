import StrataEngine
import StrataFormat
import StrataPlatform

/// How far the mirror has replicated a store: the write-ahead log position every change
/// before which is in the database, and the sequence number the next row gets.
public struct MirrorCursor: Sendable, Equatable {
    public var position: WALPosition
    public var nextSeq: Int64

    public init(position: WALPosition, nextSeq: Int64) {
        self.position = position
        self.nextSeq = nextSeq
    }

    public static let start = MirrorCursor(position: .zero, nextSeq: 0)

    /// The cursor a `SELECT wal_file, wal_offset, next_seq` returned (the start if no row).
    init(_ result: PostgresResult) {
        guard result.rowCount == 1, let f = result.value(0, 0).flatMap(UInt64.init), let o = result.value(0, 1).flatMap(UInt64.init),
              let s = result.value(0, 2).flatMap(Int64.init) else { self = .start; return }
        self.init(position: WALPosition(file: f, offset: o), nextSeq: s)
    }

    static func select(_ table: String) -> String { "SELECT wal_file, wal_offset, next_seq FROM \(table) WHERE store = $1" }
}

extension PostgresConnection {
    /// Whether `schema` holds a table (or view) named `name`.
    func tableExists(_ schema: String, _ name: String) throws(StrataError) -> Bool {
        try execute("SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2", [schema, name]).rowCount == 1
    }
}

/// A change to replicate, in the order the store made it.
public enum MirrorChange: Sendable {
    case rows(SeriesKey, [Field], RowBlock)
    /// Removes the rows of the series in [from, to] replicated before it.
    case delete(SeriesKey, from: Int64, to: Int64)
}

/// Writes changes into PostgreSQL exactly once: each batch, and the cursor that says how
/// far the store is replicated, commit in one transaction. A crash or a lost connection
/// at any moment leaves either the batch and its cursor, or neither; the next batch starts
/// from the cursor in the database.
public final class MirrorWriter {
    public let connection: PostgresConnection
    public let schema: MirrorSchema
    /// Why TimescaleDB is not used, when it is not.
    public let plainReason: String?
    let store: String
    /// Measurement → column → SQL type, as the database has them.
    var columns: [String: [String: String]] = [:]
    /// Measurements whose bars view and function are known to exist.
    var barsPresent: Set<String> = []
    /// COPY data goes out in pieces of about this size.
    static let chunkBytes = 256 << 10

    /// Connects the writer for the store `store` (its id): finds out whether TimescaleDB is
    /// there (installing the extension when it is available and allowed), and creates the
    /// cursor table.
    public init(connection: PostgresConnection, options: MirrorOptions, store: String) throws(StrataError) {
        self.connection = connection
        self.store = store
        var timescale = false
        var reason: String?
        let installed = try connection.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
        if installed.rowCount == 1 {
            timescale = true
        } else if try connection.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").rowCount == 1 {
            // Creating it without the library preloaded ends the server's session (FATAL).
            let preload = try connection.execute("SELECT current_setting('shared_preload_libraries')").value(0, 0) ?? ""
            if !preload.split(separator: ",").contains(where: { $0.trimmingPrefix(" ").hasPrefix("timescaledb") }) {
                reason = "the timescaledb extension is installed on the server but not in shared_preload_libraries"
            } else {
                do throws(StrataError) {
                    try connection.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                    timescale = true
                } catch {
                    reason = "the timescaledb extension is available but could not be created: \(error.message)"
                }
            }
        } else {
            reason = "the timescaledb extension is not installed on the server"
        }
        schema = MirrorSchema(options: options, timescale: timescale)
        plainReason = reason
        for statement in [
            "CREATE SCHEMA IF NOT EXISTS \(PostgresConnection.quoteIdentifier(options.schema))",
            "CREATE TABLE IF NOT EXISTS \(cursorTable) (store text PRIMARY KEY, wal_file bigint NOT NULL, wal_offset bigint NOT NULL, next_seq bigint NOT NULL, updated timestamptz NOT NULL DEFAULT now())",
        ] { try connection.execute(statement) }
        // The tables have no store column: a second store in this schema would mix its
        // rows into the first one's, which no count or query could tell apart. (Checked
        // before this store's row goes in, so a refused store leaves nothing behind.)
        let others = try connection.execute("SELECT store FROM \(cursorTable) WHERE store <> $1 ORDER BY store LIMIT 1", [store])
        if others.rowCount > 0, let other = others.value(0, 0) {
            throw StrataError(.conflict, "the mirror schema '\(options.schema)' already mirrors another store (\(other)), and its tables would mix both stores' rows; "
                              + "give this store (\(store)) its own mirror.schema or STRATA_MIRROR_SCHEMA. If that store is gone (this one was restored from its backup, say), "
                              + "remove its cursor (DELETE FROM \(cursorTable) WHERE store = \(PostgresConnection.quoteLiteral(other))) and run strata mirror sync")
        }
        // The store's row exists from the start, so two mirrors of one store always meet
        // on its lock (SELECT … FOR UPDATE) and never both commit a first batch.
        try connection.execute("INSERT INTO \(cursorTable) (store, wal_file, wal_offset, next_seq) VALUES ($1, 0, 0, 0) ON CONFLICT (store) DO NOTHING", [store])
    }

    var cursorTable: String { "\(PostgresConnection.quoteIdentifier(schema.options.schema)).strata_mirror_cursor" }

    /// The cursor in the database (the start when this store never replicated).
    public func cursor() throws(StrataError) -> MirrorCursor {
        MirrorCursor(try connection.execute(MirrorCursor.select(cursorTable), [store]))
    }

    /// Makes sure the measurement's table exists with a column for each field, and its bars
    /// once it has their fields; a field that exists with another type is a conflict.
    public func prepare(_ measurement: String, fields: [Field]) throws(StrataError) {
        if try !loadColumns(measurement) {
            for statement in schema.create(measurement, fields: fields) { try connection.execute(statement) }
            columns[measurement] = Dictionary(fields.map { (MirrorSchema.columnName($0.name), MirrorSchema.sqlType($0.type)) }, uniquingKeysWith: { a, _ in a })
        }
        for field in fields {
            let type = MirrorSchema.sqlType(field.type)
            let column = MirrorSchema.columnName(field.name)
            if let existing = columns[measurement]?[column] {
                guard existing == type else {
                    throw StrataError(.conflict, "the mirror's table \(schema.table(measurement)) has column \(column) of type \(existing), but the field is \(type)")
                }
                continue
            }
            try connection.execute(schema.addColumn(measurement, field))
            columns[measurement]![column] = type
        }
        try prepareBars(measurement)
    }

    /// Reads the columns of the measurement's table the first time it is asked for;
    /// false when there is no table.
    func loadColumns(_ measurement: String) throws(StrataError) -> Bool {
        if columns[measurement] != nil { return true }
        let r = try connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
            [schema.options.schema, schema.tableName(measurement)])
        guard r.rowCount > 0 else { return false }
        columns[measurement] = Dictionary(r.rows.compactMap { row in row[0].flatMap { n in row[1].map { (n, $0) } } }, uniquingKeysWith: { a, _ in a })
        return true
    }

    /// Creates the bars view and function of each measurement that has a table and the
    /// fields of bars but lacks them (a mirror set up before bars were on by default, a
    /// setting changed, a view dropped). A mirror runs it when it connects, `sync` when it
    /// starts.
    public func prepareBars(_ measurements: [String]) throws(StrataError) {
        for measurement in measurements {
            if try loadColumns(measurement) { try prepareBars(measurement) }
        }
    }

    /// Creates what of the measurement's bars is missing, once its table has their fields;
    /// asks the database once per measurement and connection.
    func prepareBars(_ measurement: String) throws(StrataError) {
        guard !barsPresent.contains(measurement), let columns = columns[measurement],
              let fields = schema.barFields(measurement, columns: columns) else { return }
        let function = try schema.barsFunction(measurement, fields, columns: columns)
        let found = try connection.execute("SELECT to_regclass($1) IS NOT NULL, to_regprocedure($2) IS NOT NULL",
                                           [schema.barsView(measurement), schema.barsFunctionSignature(measurement)])
        if found.value(0, 0) != "t" {
            for statement in schema.bars(measurement, fields) { try connection.execute(statement) }
        }
        if found.value(0, 1) != "t" { try connection.execute(function) }
        barsPresent.insert(measurement)
    }

    /// Applies `changes` — everything from `expected.position` up to `end` — and moves the
    /// cursor to `end` in the same transaction. Throws `.conflict` if the cursor is no
    /// longer `expected` (another mirror of this store moved it). `beforeCommit` runs last
    /// inside the transaction (tests use it to break the connection there).
    @discardableResult
    public func apply(_ changes: [MirrorChange], through end: WALPosition, expected: MirrorCursor,
                      beforeCommit: () throws(StrataError) -> Void = {}) throws(StrataError) -> MirrorCursor {
        // Tables and columns first (DDL, idempotent), outside the data's transaction.
        var fieldsOf: [String: [Field]] = [:]
        for case .rows(let series, let fields, _) in changes {
            var known = fieldsOf[series.measurement, default: []]
            for f in fields where !known.contains(f) { known.append(f) }
            fieldsOf[series.measurement] = known
        }
        for (measurement, fields) in fieldsOf.sorted(by: { $0.key < $1.key }) { try prepare(measurement, fields: fields) }

        return try connection.transaction { () throws(StrataError) -> MirrorCursor in
            let current = MirrorCursor(try connection.execute(MirrorCursor.select(cursorTable) + " FOR UPDATE", [store]))
            guard current == expected else {
                throw StrataError(.conflict, "the mirror cursor of store \(store) is at \(current.position), not \(expected.position): another mirror of this store is running")
            }
            var seq = current.nextSeq
            // Rows wait here, per measurement, until a delete or the end of the batch; then
            // each measurement's rows stream through one COPY, encoded in chunks that go
            // out while the next is encoded (so the server parses while we encode).
            var pending: [(measurement: String, fields: [Field], rows: [(SeriesKey, [Field], RowBlock, Int64)])] = []
            func flush() throws(StrataError) {
                for batch in pending where !batch.rows.isEmpty {
                    let names = ["time", "time_ns", "seq", "symbol"] + batch.fields.map { PostgresConnection.quoteIdentifier(MirrorSchema.columnName($0.name)) }
                    try connection.copy("COPY \(schema.table(batch.measurement)) (\(names.joined(separator: ", "))) FROM STDIN WITH (FORMAT binary)") {
                        (send: ([UInt8]) throws(StrataError) -> Void) throws(StrataError) in
                        var chunk: [UInt8] = CopyBinary.header
                        chunk.reserveCapacity(Self.chunkBytes + (1 << 16))
                        // Grouped by symbol (stable: each series keeps its order), so that
                        // the (symbol, time) index is filled one series at a time.
                        let grouped = batch.rows.enumerated().sorted { ($0.element.0.symbol, $0.offset) < ($1.element.0.symbol, $1.offset) }.map(\.element)
                        for (series, fields, rows, firstSeq) in grouped {
                            let columnOf = batch.fields.map { f in fields.firstIndex(of: f) }
                            var start = 0
                            while start < rows.rowCount {
                                // About chunkBytes per send: rows of ~40 bytes.
                                let end = min(rows.rowCount, start + max(1, Self.chunkBytes / 48))
                                CopyBinary.append(rows, range: start..<end, symbol: series.symbol, firstSeq: firstSeq + Int64(start),
                                                  columnOf: columnOf, into: &chunk)
                                start = end
                                if chunk.count >= Self.chunkBytes {
                                    try send(chunk)
                                    chunk.removeAll(keepingCapacity: true)
                                }
                            }
                        }
                        try send(chunk + CopyBinary.trailer)
                    }
                }
                pending = []
            }
            for change in changes {
                switch change {
                case .rows(let series, let fields, let rows):
                    let all = fieldsOf[series.measurement] ?? fields
                    if let index = pending.firstIndex(where: { $0.measurement == series.measurement }) {
                        pending[index].rows.append((series, fields, rows, seq))
                    } else {
                        pending.append((series.measurement, all, [(series, fields, rows, seq)]))
                    }
                    seq += Int64(rows.rowCount)
                case .delete(let series, let from, let to):
                    try flush()
                    var exists = columns[series.measurement] != nil
                    if !exists { exists = try connection.tableExists(schema.options.schema, schema.tableName(series.measurement)) }
                    if exists {
                        // Also on `time` (whole microseconds around the range), so that
                        // TimescaleDB can skip the chunks outside it.
                        try connection.execute("""
                            DELETE FROM \(schema.table(series.measurement)) WHERE symbol = $1 AND time_ns BETWEEN $2 AND $3
                            AND time BETWEEN TIMESTAMPTZ 'epoch' + $4::bigint * INTERVAL '1 microsecond' AND TIMESTAMPTZ 'epoch' + $5::bigint * INTERVAL '1 microsecond'
                            """, [series.symbol, String(from), String(to), String(CopyBinary.floorMicros(from)), String(CopyBinary.floorMicros(to))])
                    }
                }
            }
            try flush()
            let next = MirrorCursor(position: end, nextSeq: seq)
            try connection.execute("""
                INSERT INTO \(cursorTable) (store, wal_file, wal_offset, next_seq) VALUES ($1, $2, $3, $4)
                ON CONFLICT (store) DO UPDATE SET wal_file = EXCLUDED.wal_file, wal_offset = EXCLUDED.wal_offset,
                next_seq = EXCLUDED.next_seq, updated = now()
                """, [store, String(end.file), String(end.offset), String(seq)])
            try beforeCommit()
            return next
        }
    }
}
