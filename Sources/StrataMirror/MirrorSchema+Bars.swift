import StrataEngine
import StrataPlatform

/// The mirror's OHLCV bars for SQL users, per measurement with a price field:
///
/// - `<measurement>_ohlcv_1m`, 1-minute bars of every symbol (bucket, symbol, open, high,
///   low, close, volume, count, vwap): TimescaleDB's continuous aggregate, or a plain view
///   computed at query time;
/// - `<measurement>_ohlcv(for_symbol, from_time, to_time, bucket_width DEFAULT '1 minute')`,
///   the same columns for one symbol's [from_time, to_time): a SQL function whose range
///   reaches the table's `(symbol, time)` index, where a range on the view's `bucket` cannot
///   (PostgreSQL inlines the function into the query, so EXPLAIN shows the index).
///
/// Both order rows of equal time by arrival (`time_ns`, then `seq`), as Strata does.
extension MirrorSchema {
    /// A measurement's 1-minute bars (view or continuous aggregate), quoted and qualified.
    public func barsView(_ measurement: String) -> String { "\(q(options.schema)).\(q(Self.identifier(measurement + "_ohlcv_1m")))" }

    /// A measurement's bars function, quoted and qualified.
    public func barsFunction(_ measurement: String) -> String { "\(q(options.schema)).\(q(Self.identifier(measurement + "_ohlcv")))" }

    /// The bars function with its argument types, as `to_regprocedure` takes it.
    public func barsFunctionSignature(_ measurement: String) -> String {
        barsFunction(measurement) + "(text, timestamptz, timestamptz, interval)"
    }

    /// The fields a measurement's bars are made of, given its table's columns (column →
    /// SQL type): the configured ones once their columns exist; else, with
    /// `automaticBars`, a numeric `price` and the first numeric volume field of
    /// `defaultVolumeFields` it has. Nil: no bars, or not yet (a field may come later).
    public func barFields(_ measurement: String, columns: [String: String]) -> MirrorOptions.BarFields? {
        if let configured = options.bars[measurement] {
            let needed = [configured.price] + (configured.volume.map { [$0] } ?? [])
            return needed.allSatisfy { columns[Self.columnName($0)] != nil } ? configured : nil
        }
        guard options.automaticBars else { return nil }
        let numeric = { (field: String) in columns[Self.columnName(field)].map(Self.isNumeric) ?? false }
        guard numeric(MirrorOptions.defaultPriceField), let volume = MirrorOptions.defaultVolumeFields.first(where: numeric) else { return nil }
        return MirrorOptions.BarFields(price: MirrorOptions.defaultPriceField, volume: volume)
    }

    static func isNumeric(_ sqlType: String) -> Bool { sqlType == "double precision" || sqlType == "bigint" }

    /// The price column, and the volume and VWAP of a group of rows (NULL without a volume field).
    func priceVolumeAndVWAP(_ fields: MirrorOptions.BarFields) -> (price: String, volume: String, vwap: String) {
        let p = q(Self.columnName(fields.price)), v = fields.volume.map { q(Self.columnName($0)) }
        return (p, v.map { "sum(\($0))" } ?? "NULL::double precision", v.map { "sum(\(p) * \($0)) / NULLIF(sum(\($0)), 0)" } ?? "NULL::double precision")
    }

    /// open … vwap of a group of rows, rows of equal time in arrival order, as Strata
    /// orders them (without TimescaleDB's `first`/`last`, so on plain PostgreSQL too). The
    /// group's prices in that order are one array, built and sorted once (PostgreSQL
    /// computes equal aggregates once): open is its first element, close its last (it holds
    /// one element per row, so its length is count(*)); a second array in descending order
    /// for the close cost a quarter more time.
    func barAggregates(_ fields: MirrorOptions.BarFields) -> String {
        let (p, volume, vwap) = priceVolumeAndVWAP(fields)
        let prices = "array_agg(\(p) ORDER BY time_ns, seq)"
        return "(\(prices))[1] AS open, max(\(p)) AS high, min(\(p)) AS low, (\(prices))[count(*)] AS close, "
            + "\(volume) AS volume, count(*) AS count, \(vwap) AS vwap"
    }

    /// The 1-minute bars of a measurement: bucket, symbol, open, high, low, close, volume,
    /// count, vwap (TimescaleDB: a continuous aggregate and its refresh policy).
    public func bars(_ measurement: String, _ fields: MirrorOptions.BarFields) -> [String] {
        if timescale {
            let (p, volume, vwap) = priceVolumeAndVWAP(fields)
            let view = barsView(measurement)
            // first/last take one ordering value: time, then arrival order for equal times.
            let order = "time_ns::numeric * 9223372036854775808 + seq"
            return [
                """
                CREATE MATERIALIZED VIEW IF NOT EXISTS \(view) WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS \
                SELECT time_bucket(INTERVAL '1 minute', time) AS bucket, symbol, first(\(p), \(order)) AS open, max(\(p)) AS high, \
                min(\(p)) AS low, last(\(p), \(order)) AS close, \(volume) AS volume, count(*) AS count, \(vwap) AS vwap \
                FROM \(table(measurement)) GROUP BY bucket, symbol WITH NO DATA
                """,
                "SELECT add_continuous_aggregate_policy(\(PostgresConnection.quoteLiteral(view)), start_offset => INTERVAL '1 day', end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE)",
            ]
        }
        return [
            "CREATE OR REPLACE VIEW \(barsView(measurement)) AS SELECT date_trunc('minute', time) AS bucket, symbol, \(barAggregates(fields)) "
                + "FROM \(table(measurement)) GROUP BY 1, 2",
        ]
    }

    /// The statement that creates a measurement's bars function (the same SQL with and
    /// without TimescaleDB). Buckets are `bucket_width` long from the Unix epoch, as `strata
    /// query --interval` makes them (minutes, hours and days of UTC); a width of months
    /// is refused by `date_bin`. One plain `SELECT` in a `STABLE` SQL function with no
    /// `SET` clause, so that PostgreSQL inlines it: the caller's symbol and times become the
    /// index's bounds (and TimescaleDB's chunk exclusion). Its columns have the view's types.
    public func barsFunction(_ measurement: String, _ fields: MirrorOptions.BarFields, columns: [String: String]) throws(StrataError) -> String {
        func type(_ field: String) throws(StrataError) -> String {
            guard let t = columns[Self.columnName(field)], Self.isNumeric(t) else {
                throw StrataError(.invalidInput, "mirror bars of \(measurement) need numeric fields, but \(field) is \(columns[Self.columnName(field)] ?? "not a column of \(table(measurement))")")
            }
            return t
        }
        let price = try type(fields.price)
        var volume: String?
        if let v = fields.volume { volume = try type(v) }
        // What sum() and the division give, as in the view: sum(bigint) is numeric.
        let volumeType = volume == "bigint" ? "numeric" : "double precision"
        let vwapType = price == "bigint" && volume == "bigint" ? "numeric" : "double precision"
        let body = "SELECT date_bin($4, time, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket, symbol, \(barAggregates(fields)) "
            + "FROM \(table(measurement)) WHERE symbol = $1 AND time >= $2 AND time < $3 GROUP BY 1, 2 ORDER BY 1"
        return "CREATE OR REPLACE FUNCTION \(barsFunction(measurement))(for_symbol text, from_time timestamptz, to_time timestamptz, "
            + "bucket_width interval DEFAULT INTERVAL '1 minute') RETURNS TABLE (bucket timestamptz, symbol text, open \(price), high \(price), "
            + "low \(price), close \(price), volume \(volumeType), count bigint, vwap \(vwapType)) LANGUAGE sql STABLE AS \(PostgresConnection.quoteLiteral(body))"
    }
}
