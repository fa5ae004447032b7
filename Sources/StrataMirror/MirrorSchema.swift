import StrataEngine
import StrataFormat

/// How the mirror lays out tables, and what it asks TimescaleDB for.
public struct MirrorOptions: Sendable {
    /// The PostgreSQL schema the tables go in.
    public var schema = "public"
    /// TimescaleDB: chunks of this many seconds (1 day).
    public var chunkSeconds: Int64 = 86_400
    /// TimescaleDB: chunks older than this many seconds are compressed (7 days).
    public var compressAfterSeconds: Int64 = 7 * 86_400
    /// TimescaleDB: chunks older than this are dropped; nil keeps everything.
    public var retentionSeconds: Int64?
    /// Measurements that get OHLCV bars (the `<measurement>_ohlcv_1m` view and the
    /// `<measurement>_ohlcv` function), with their price and volume fields.
    public var bars: [String: BarFields] = [:]
    /// Whether a measurement not in `bars` gets them by default: when its table has a
    /// numeric `price` column and a numeric volume column (`defaultVolumeFields`).
    public var automaticBars = true
    /// The price field of default bars.
    public static let defaultPriceField = "price"
    /// The volume fields default bars take, the first one a measurement has.
    public static let defaultVolumeFields = ["size", "volume", "qty", "quantity"]

    public struct BarFields: Sendable, Equatable {
        public var price: String
        public var volume: String?
        public init(price: String, volume: String?) {
            self.price = price
            self.volume = volume
        }
    }

    public init() {}
}

/// The SQL of the mirror's tables: one per measurement,
///
///     time timestamptz, time_ns bigint, seq bigint, symbol text, <one column per field>
///
/// where `time_ns` keeps the nanoseconds `timestamptz` rounds to microseconds, and `seq`
/// numbers rows in the order Strata received them (so rows of equal time keep their
/// order, as in Strata's own answers). With TimescaleDB the table is a hypertable with
/// compression and a continuous aggregate of 1-minute bars; without it, a plain table and
/// a view of the same name and columns (MirrorSchema+Bars.swift).
public struct MirrorSchema: Sendable {
    public let options: MirrorOptions
    public let timescale: Bool

    public init(options: MirrorOptions, timescale: Bool) {
        self.options = options
        self.timescale = timescale
    }

    public static func sqlType(_ type: FieldType) -> String {
        switch type {
        case .float64: "double precision"
        case .int64: "bigint"
        case .bool: "boolean"
        case .string: "text"
        }
    }

    func q(_ name: String) -> String { PostgresConnection.quoteIdentifier(name) }
    /// A measurement's table, quoted and qualified.
    public func table(_ measurement: String) -> String { "\(q(options.schema)).\(q(Self.identifier(measurement)))" }
    /// A measurement's table name as the catalog has it.
    public func tableName(_ measurement: String) -> String { Self.identifier(measurement) }

    /// The mirror's own columns; a field of one of these names is stored as `field_<name>`.
    public static let reservedColumns: Set<String> = ["time", "time_ns", "seq", "symbol"]

    /// The column a field is stored in.
    public static func columnName(_ field: String) -> String {
        identifier(reservedColumns.contains(field) ? "field_" + field : field)
    }

    /// `name` as a PostgreSQL identifier: names longer than PostgreSQL's 63 bytes are cut
    /// and given 8 hex digits of their CRC32C, so that two long names never become one.
    public static func identifier(_ name: String) -> String {
        guard name.utf8.count > 63 else { return name }
        var cut = ""
        for c in name {
            if cut.utf8.count + String(c).utf8.count > 54 { break }
            cut.append(c)
        }
        let crc = String(CRC32C.checksum(Array(name.utf8)), radix: 16)
        return cut + "_" + String(repeating: "0", count: 8 - crc.count) + crc
    }
    func interval(_ seconds: Int64) -> String { "INTERVAL '\(seconds) seconds'" }

    /// The statements that create a measurement's table (idempotent).
    public func create(_ measurement: String, fields: [Field]) -> [String] {
        var columns = ["time timestamptz NOT NULL", "time_ns bigint NOT NULL", "seq bigint NOT NULL", "symbol text NOT NULL"]
        columns += fields.map { "\(q(Self.columnName($0.name))) \(Self.sqlType($0.type))" }
        var out = ["CREATE SCHEMA IF NOT EXISTS \(q(options.schema))",
                   "CREATE TABLE IF NOT EXISTS \(table(measurement)) (\(columns.joined(separator: ", ")))"]
        if timescale {
            let name = PostgresConnection.quoteLiteral(table(measurement))
            // Without Timescale's default index on (time DESC): see `indexes` below.
            out.append("SELECT create_hypertable(\(name), 'time', chunk_time_interval => \(interval(options.chunkSeconds)), create_default_indexes => FALSE, if_not_exists => TRUE)")
            out.append("ALTER TABLE \(table(measurement)) SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = 'time DESC, time_ns DESC, seq DESC')")
            out.append("SELECT add_compression_policy(\(name), \(interval(options.compressAfterSeconds)), if_not_exists => TRUE)")
            if let retention = options.retentionSeconds {
                out.append("SELECT add_retention_policy(\(name), \(interval(retention)), if_not_exists => TRUE)")
            }
        }
        // Ascending keys: rows arrive in time order per symbol, so each insert lands at the
        // right end of its symbol's range, where B-tree pages split to stay full. A DESC
        // index takes them at the left end, half-empty pages: 1.5× slower COPY and a 1.8×
        // larger index here. Newest-first queries scan it backwards at the same cost.
        out.append("CREATE INDEX IF NOT EXISTS \(q(Self.identifier(measurement + "_symbol_time_idx"))) ON \(table(measurement)) (symbol, time)")
        if timescale {
            // Time-range queries over every symbol (and the aggregate's refresh).
            out.append("CREATE INDEX IF NOT EXISTS \(q(Self.identifier(measurement + "_time_idx"))) ON \(table(measurement)) (time)")
        }
        return out
    }

    /// The statement that adds a field first seen later.
    public func addColumn(_ measurement: String, _ field: Field) -> String {
        "ALTER TABLE \(table(measurement)) ADD COLUMN IF NOT EXISTS \(q(Self.columnName(field.name))) \(Self.sqlType(field.type))"
    }
}
