import Glibc
import StrataEngine
import StrataFormat
import StrataMirror
import StrataPlatform
import StrataSystem
import Testing

@Suite struct MirrorSchemaTests {
    /// TimescaleDB is in neither Debian nor PyPI: the hypertable path is checked as text.
    @Test func theTimescaleDDLAsksForHypertablesCompressionAndBars() throws {
        var options = MirrorOptions()
        options.schema = "market"
        options.retentionSeconds = 365 * 86_400
        options.bars["trade"] = .init(price: "price", volume: "size")
        let s = MirrorSchema(options: options, timescale: true)
        let create = s.create("trade", fields: [Field("price", .float64), Field("size", .int64)])
        #expect(create.contains(#"CREATE TABLE IF NOT EXISTS "market"."trade" (time timestamptz NOT NULL, time_ns bigint NOT NULL, seq bigint NOT NULL, symbol text NOT NULL, "price" double precision, "size" bigint)"#))
        #expect(create.contains(#"SELECT create_hypertable('"market"."trade"', 'time', chunk_time_interval => INTERVAL '86400 seconds', create_default_indexes => FALSE, if_not_exists => TRUE)"#))
        #expect(create.contains(#"ALTER TABLE "market"."trade" SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = 'time DESC, time_ns DESC, seq DESC')"#))
        #expect(create.contains(#"SELECT add_compression_policy('"market"."trade"', INTERVAL '604800 seconds', if_not_exists => TRUE)"#))
        #expect(create.contains(#"SELECT add_retention_policy('"market"."trade"', INTERVAL '31536000 seconds', if_not_exists => TRUE)"#))
        #expect(create.suffix(2) == [#"CREATE INDEX IF NOT EXISTS "trade_symbol_time_idx" ON "market"."trade" (symbol, time)"#,
                                     #"CREATE INDEX IF NOT EXISTS "trade_time_idx" ON "market"."trade" (time)"#])
        let bars = s.bars("trade", options.bars["trade"]!)
        #expect(bars[0].hasPrefix(#"CREATE MATERIALIZED VIEW IF NOT EXISTS "market"."trade_ohlcv_1m" WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS SELECT time_bucket(INTERVAL '1 minute', time) AS bucket, symbol, first("price", time_ns::numeric * 9223372036854775808 + seq) AS open"#))
        #expect(bars[0].hasSuffix("GROUP BY bucket, symbol WITH NO DATA"))
        #expect(bars[1].contains("add_continuous_aggregate_policy") && bars[1].contains("schedule_interval => INTERVAL '1 minute'"))
        // Without TimescaleDB: no hypertable, a plain view of the same name and columns.
        let plain = MirrorSchema(options: options, timescale: false)
        #expect(!plain.create("trade", fields: []).contains { $0.contains("timescaledb") || $0.contains("hypertable") })
        #expect(plain.bars("trade", options.bars["trade"]!)[0].hasPrefix(#"CREATE OR REPLACE VIEW "market"."trade_ohlcv_1m" AS SELECT date_trunc('minute', time) AS bucket, symbol"#))
        // The bars function is the same SQL on both (date_bin, array_agg: no Timescale
        // function), and one inlinable SELECT (SQL, STABLE, no SET clause).
        let columns = ["price": "double precision", "size": "bigint"]
        let function = try s.barsFunction("trade", options.bars["trade"]!, columns: columns)
        #expect(try function == plain.barsFunction("trade", options.bars["trade"]!, columns: columns))
        #expect(function.hasPrefix(#"CREATE OR REPLACE FUNCTION "market"."trade_ohlcv"(for_symbol text, from_time timestamptz, to_time timestamptz, bucket_width interval DEFAULT INTERVAL '1 minute') RETURNS TABLE (bucket timestamptz, symbol text, open double precision"#))
        #expect(function.contains("volume numeric, count bigint, vwap double precision) LANGUAGE sql STABLE AS 'SELECT date_bin($4, time, TIMESTAMPTZ ''1970-01-01 00:00:00+00'') AS bucket"))
        #expect(function.hasSuffix(#"FROM "market"."trade" WHERE symbol = $1 AND time >= $2 AND time < $3 GROUP BY 1, 2 ORDER BY 1'"#))
        #expect(MirrorSchema(options: options, timescale: false).table(#"we"ird"#) == #""market"."we""ird""#)
    }
}

@Suite(.enabled(if: PostgresTestServer.enabled, "needs the PostgreSQL server scripts/test starts"))
struct MirrorWriterTests {
    let schema = [Field("price", .float64), Field("size", .int64)]
    let base = Int64(1_704_205_800) * 1_000_000_000  // 2024-01-02T14:30:00Z

    func writer(_ name: String, store: String = "0123456789abcdef", bars: Bool = false) throws -> MirrorWriter {
        var options = MirrorOptions()
        options.schema = try PostgresTestServer.schema(name)
        if bars { options.bars["trade"] = .init(price: "price", volume: "size") }
        return try MirrorWriter(connection: try PostgresTestServer.connect(), options: options, store: store)
    }

    func rows(_ times: [Int64], _ prices: [Double], _ sizes: [Int64]) -> RowBlock {
        RowBlock(timestamps: times, columns: [Column(.float64(prices)), Column(.int64(sizes))])
    }

    @Test func aSecondStoreInTheSameSchemaIsRefusedNamingTheFirst() throws {
        let first = try writer("shared", store: "aaaaaaaaaaaaaaaa")
        var options = MirrorOptions()
        options.schema = first.schema.options.schema
        #expect {
            try MirrorWriter(connection: try PostgresTestServer.connect(), options: options, store: "bbbbbbbbbbbbbbbb")
        } throws: {
            let e = $0 as! StrataError
            return e.code == .conflict && e.message.contains("already mirrors another store (aaaaaaaaaaaaaaaa)")
                && e.message.contains("DELETE FROM \"\(options.schema)\".strata_mirror_cursor WHERE store = 'aaaaaaaaaaaaaaaa'")
        }
        // The first store goes on; the cursor removed as told, the second one is taken.
        _ = try MirrorWriter(connection: try PostgresTestServer.connect(), options: options, store: "aaaaaaaaaaaaaaaa")
        try first.connection.execute("DELETE FROM \"\(options.schema)\".strata_mirror_cursor WHERE store = 'aaaaaaaaaaaaaaaa'")
        _ = try MirrorWriter(connection: try PostgresTestServer.connect(), options: options, store: "bbbbbbbbbbbbbbbb")
    }

    @Test func rowsDeletesAndANewFieldArriveOnceInOrder() throws {
        let w = try writer("writer")
        // Against a server without TimescaleDB (Debian's), the plain path, and why.
        #expect(w.schema.timescale || w.plainReason?.contains("timescaledb") == true)
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4"), nq = try SeriesKey(measurement: "trade", symbol: "NQH4")
        // Equal timestamps, nanoseconds below a microsecond, a tab in a string field later.
        var cursor = try w.apply([
            .rows(es, schema, rows([base + 1, base + 1, base + 2_500], [4512.25, 4512.5, 4513], [1, 2, 3])),
            .rows(nq, schema, rows([base], [16800.25], [1])),
        ], through: WALPosition(file: 1, offset: 100), expected: try w.cursor())
        #expect(cursor == MirrorCursor(position: WALPosition(file: 1, offset: 100), nextSeq: 4))
        #expect(try w.cursor() == cursor)
        let table = w.schema.table("trade")
        // The index rows in time order append to (the server reads it backwards for newest first).
        let index = try w.connection.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'trade_symbol_time_idx'", [w.schema.options.schema])
        #expect(index.value(0, 0)?.hasSuffix(#"USING btree (symbol, "time")"#) == true, "\(index.rows)")
        let r = try w.connection.execute("SELECT time_ns, seq, symbol, price, size, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM \(table) ORDER BY seq")
        #expect(r.rows == [
            ["\(base + 1)", "0", "ESH4", "4512.25", "1", "2024-01-02 14:30:00.000000"],
            ["\(base + 1)", "1", "ESH4", "4512.5", "2", "2024-01-02 14:30:00.000000"],
            ["\(base + 2_500)", "2", "ESH4", "4513", "3", "2024-01-02 14:30:00.000002"],
            ["\(base)", "3", "NQH4", "16800.25", "1", "2024-01-02 14:30:00.000000"],
        ])
        // A field first seen now; a delete of ESH4's first microsecond, then a correction.
        let withVenue = schema + [Field("venue", .string)]
        cursor = try w.apply([
            .rows(es, withVenue, RowBlock(timestamps: [base + 5_000], columns: [Column(.float64([4514])), Column(.int64([4])), Column(.string(["X\tY\\Z"]))])),
            .delete(es, from: base, to: base + 999),
            .rows(es, schema, rows([base + 1], [4512.75], [9])),
        ], through: WALPosition(file: 2, offset: 40), expected: cursor)
        #expect(cursor.nextSeq == 6)
        let after = try w.connection.execute("SELECT seq, price, venue FROM \(table) WHERE symbol = 'ESH4' ORDER BY time_ns, seq")
        #expect(after.rows == [["5", "4512.75", nil], ["2", "4513", nil], ["4", "4514", "X\tY\\Z"]])
        // A batch from a stale cursor is refused: another mirror moved it.
        #expect { try w.apply([.rows(nq, schema, rows([base], [1], [1]))], through: WALPosition(file: 3, offset: 0), expected: .start) } throws: {
            ($0 as! StrataError).code == .conflict
        }
        #expect(try w.connection.execute("SELECT count(*) FROM \(table)").value(0, 0) == "4")
        // A type conflict is named.
        #expect { try w.prepare("trade", fields: [Field("size", .string)]) } throws: {
            ($0 as! StrataError).message.contains("has column size of type bigint")
        }
    }

    /// Names PostgreSQL cannot take as they are: fields named like the mirror's own
    /// columns, names past PostgreSQL's 63 bytes, and a NUL in a text value.
    @Test func awkwardNamesAndValuesDoNotStopTheMirror() throws {
        let w = try writer("names")
        let long = String(repeating: "m", count: 100), longField = String(repeating: "f", count: 70) + "é"
        let series = try SeriesKey(measurement: long, symbol: "ESH4")
        let fields = [Field("seq", .int64), Field("symbol", .string), Field(longField, .float64), Field(longField + "2", .float64)]
        let rows = RowBlock(timestamps: [base], columns: [Column(.int64([7])), Column(.string(["a\0b"])), Column(.float64([1.5])), Column(.float64([2.5]))])
        let c = try w.apply([.rows(series, fields, rows)], through: WALPosition(file: 1, offset: 1), expected: try w.cursor())
        let table = w.schema.table(long)
        #expect(MirrorSchema.identifier(long).utf8.count <= 63 && MirrorSchema.identifier(longField) != MirrorSchema.identifier(longField + "2"))
        let r = try w.connection.execute("SELECT seq, field_seq, field_symbol, \(PostgresConnection.quoteIdentifier(MirrorSchema.columnName(longField))), \(PostgresConnection.quoteIdentifier(MirrorSchema.columnName(longField + "2"))) FROM \(table)")
        #expect(r.rows == [["0", "7", "a\u{FFFD}b", "1.5", "2.5"]])
        // A later writer (a restart) finds the table and its columns by their shortened names.
        var options = MirrorOptions()
        options.schema = w.schema.options.schema
        let again = try MirrorWriter(connection: try PostgresTestServer.connect(), options: options, store: "0123456789abcdef")
        try again.apply([.delete(series, from: base, to: base), .rows(series, fields, rows)], through: WALPosition(file: 1, offset: 2), expected: c)
        #expect(try again.connection.execute("SELECT count(*) FROM \(table)").value(0, 0) == "1")
    }

    /// The connection dies after the COPY, before COMMIT: neither the rows nor the cursor
    /// stay, and applying the batch again from the database's cursor writes it once.
    @Test func aConnectionLostBeforeCommitLeavesNothingAndTheRetryWritesOnce() throws {
        let w = try writer("lost")
        let es = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let first = try w.apply([.rows(es, schema, rows([base], [1], [1]))], through: WALPosition(file: 1, offset: 10), expected: .start)
        let batch: [MirrorChange] = [.rows(es, schema, rows((0..<10_000).map { base + Int64($0) }, Array(repeating: 2, count: 10_000), Array(repeating: 1, count: 10_000)))]
        let pid = try w.connection.execute("SELECT pg_backend_pid()").value(0, 0)!
        #expect(throws: StrataError.self) {
            try w.apply(batch, through: WALPosition(file: 1, offset: 20), expected: first) { () throws(StrataError) in
                let killer = try PostgresTestServer.connect()
                try killer.execute("SELECT pg_terminate_backend($1::int)", [pid])
            }
        }
        var options = MirrorOptions()
        options.schema = w.schema.options.schema
        let fresh = try MirrorWriter(connection: try PostgresTestServer.connect(), options: options, store: "0123456789abcdef")
        #expect(try fresh.cursor() == first)
        #expect(try fresh.connection.execute("SELECT count(*) FROM \(fresh.schema.table("trade"))").value(0, 0) == "1")
        try fresh.apply(batch, through: WALPosition(file: 1, offset: 20), expected: try fresh.cursor())
        #expect(try fresh.connection.execute("SELECT count(*), sum(price) FROM \(fresh.schema.table("trade"))").rows == [["10001", "20001"]])
    }

    /// What a SQL user writes on the mirror gives the bars `strata query --interval 1m` gives.
    @Test func sqlBarsOnTheMirrorEqualStrataBars() throws {
        let w = try writer("bars", bars: true)
        let root = TemporaryDirectory()
        let store = try Store(directory: root.path, create: true)
        let series = try SeriesKey(measurement: "trade", symbol: "ESH4")
        let ticks = SyntheticTicks(seed: 3).trades(count: 100_000)
        _ = try store.write(series, schema: schema, rows: ticks)
        let expected = try store.bars(series, spec: BarSpec(interval: 60_000_000_000, source: .ticks(price: "price", volume: "size")))
        try w.apply([.rows(series, schema, ticks)], through: WALPosition(file: 1, offset: 1), expected: .start)
        let user = try w.connection.execute("""
            SELECT extract(epoch FROM date_trunc('minute', time))::bigint, (array_agg(price ORDER BY time_ns, seq))[1], max(price), min(price),
                   (array_agg(price ORDER BY time_ns DESC, seq DESC))[1], sum(size), count(*)
            FROM \(w.schema.table("trade")) WHERE symbol = 'ESH4' GROUP BY 1 ORDER BY 1
            """)
        #expect(user.rowCount == expected.count && expected.count > 10)
        for (row, bar) in zip(user.rows, expected) {
            #expect(Int64(row[0]!)! * 1_000_000_000 == bar.start)
            #expect(Double(row[1]!) == bar.open && Double(row[2]!) == bar.high && Double(row[3]!) == bar.low && Double(row[4]!) == bar.close)
            #expect(Double(row[5]!) == bar.volume && Int(row[6]!) == bar.count)
        }
        let view = try w.connection.execute("SELECT open, close, count, vwap FROM \(w.schema.barsView("trade")) ORDER BY bucket")
        let function = try w.connection.execute("SELECT open, close, count, vwap FROM \(w.schema.barsFunction("trade"))('ESH4', '-infinity', 'infinity')")
        #expect(view.rowCount == expected.count && function.rows == view.rows)
        for (row, bar) in zip(view.rows, expected) {
            #expect(Double(row[0]!) == bar.open && Double(row[1]!) == bar.close && Int(row[2]!) == bar.count)
            #expect(abs(Double(row[3]!)! - bar.vwap!) < 1e-9 * bar.vwap!)
        }
    }
}

/// The bars SQL users get without configuring anything, and the function that reads one
/// symbol's range through the index.
@Suite(.enabled(if: PostgresTestServer.enabled, "needs the PostgreSQL server scripts/test starts"))
struct MirrorBarsTests {
    let schema = [Field("price", .float64), Field("size", .int64)]
    let base = Int64(1_704_205_800) * 1_000_000_000  // 2024-01-02T14:30:00Z

    func writer(_ schemaName: String, reset: Bool = true, _ configure: (inout MirrorOptions) -> Void = { _ in }) throws -> MirrorWriter {
        var options = MirrorOptions()
        options.schema = reset ? try PostgresTestServer.schema(schemaName) : "strata_test_\(schemaName)"
        configure(&options)
        return try MirrorWriter(connection: try PostgresTestServer.connect(), options: options, store: "0123456789abcdef")
    }

    /// Whether the measurement's bars view and bars function exist.
    func bars(_ w: MirrorWriter, _ measurement: String) throws -> [String?] {
        try w.connection.execute("SELECT to_regclass($1) IS NOT NULL, to_regprocedure($2) IS NOT NULL",
                                 [w.schema.barsView(measurement), w.schema.barsFunctionSignature(measurement)]).rows[0]
    }

    @Test func measurementsWithPriceAndVolumeGetBarsByDefaultAndAgainWhenTheyAreGone() throws {
        let w = try writer("default_bars")
        let trade = try SeriesKey(measurement: "trade", symbol: "ESH4"), quote = try SeriesKey(measurement: "quote", symbol: "ESH4")
        let fx = try SeriesKey(measurement: "fx", symbol: "EURUSD")
        let quoteFields = [Field("bid", .float64), Field("ask", .float64)]
        var cursor = try w.apply([
            .rows(trade, schema, RowBlock(timestamps: [base, base], columns: [Column(.float64([4512.25, 4512.5])), Column(.int64([1, 2]))])),
            .rows(quote, quoteFields, RowBlock(timestamps: [base], columns: [Column(.float64([4512])), Column(.float64([4512.25]))])),
            // A price, and its volume field only later.
            .rows(fx, [Field("price", .float64)], RowBlock(timestamps: [base], columns: [Column(.float64([1.1]))])),
        ], through: WALPosition(file: 1, offset: 1), expected: try w.cursor())
        #expect(try bars(w, "trade") == ["t", "t"])
        #expect(try bars(w, "quote") == ["f", "f"] && bars(w, "fx") == ["f", "f"])
        let view = try w.connection.execute("SELECT bucket = '2024-01-02 14:30Z', symbol, open, close, volume, count FROM \(w.schema.barsView("trade"))")
        #expect(view.rows == [["t", "ESH4", "4512.25", "4512.5", "3", "2"]])
        cursor = try w.apply([.rows(fx, [Field("price", .float64), Field("qty", .float64)], RowBlock(timestamps: [base + 1], columns: [Column(.float64([1.2])), Column(.float64([5]))]))],
                             through: WALPosition(file: 1, offset: 2), expected: cursor)
        #expect(try bars(w, "fx") == ["t", "t"])

        // Gone (dropped, or never made: a mirror from before bars came by default): the next
        // start or sync of a mirror makes them again, without rows to replicate.
        try w.connection.execute("DROP VIEW \(w.schema.barsView("trade")); DROP FUNCTION \(w.schema.barsFunction("fx"))")
        let restarted = try writer("default_bars", reset: false)
        try restarted.prepareBars(["trade", "quote", "fx", "never_mirrored"])
        #expect(try bars(restarted, "trade") == ["t", "t"] && bars(restarted, "fx") == ["t", "t"] && bars(restarted, "quote") == ["f", "f"])

        // Configured: the measurements named, and no others unless `auto` is kept.
        try w.connection.execute("DROP VIEW \(w.schema.barsView("trade")); DROP FUNCTION \(w.schema.barsFunction("trade"))")
        let configured = try writer("default_bars", reset: false) { options in
            options.automaticBars = false
            options.bars["quote"] = .init(price: "bid", volume: nil)
        }
        try configured.prepareBars(["trade", "quote"])
        #expect(try bars(configured, "trade") == ["f", "f"] && bars(configured, "quote") == ["t", "t"])
        let quoteBars = try configured.connection.execute("SELECT open, volume, vwap FROM \(configured.schema.barsFunction("quote"))('ESH4', '2024-01-02', '2024-01-03')")
        #expect(quoteBars.rows == [["4512", nil, nil]])
        // Rows arriving change nothing for a measurement whose bars are off.
        try configured.apply([.rows(trade, schema, RowBlock(timestamps: [base + 2], columns: [Column(.float64([4513])), Column(.int64([1]))]))],
                             through: WALPosition(file: 1, offset: 3), expected: cursor)
        #expect(try bars(configured, "trade") == ["f", "f"])
    }

    /// `<measurement>_ohlcv(symbol, from, to[, width])` gives the view's bars, exact at equal
    /// timestamps (arrival order, also for a row that arrived late), and its range reaches
    /// the (symbol, time) index, where a range on the view's bucket does not.
    @Test func theBarsFunctionGivesTheViewsBarsThroughTheIndex() throws {
        let w = try writer("bars_function")
        let symbols = (0..<10).map { "SYM\($0)" }
        var changes: [MirrorChange] = []
        for (k, symbol) in symbols.enumerated() {
            var ticks = SyntheticTicks(seed: UInt64(k + 1), start: base)
            ticks.gapScale = 14  // about 20,000 trades an hour, with bursts in one millisecond
            changes.append(.rows(try SeriesKey(measurement: "trade", symbol: symbol), schema, ticks.trades(count: 30_000)))
        }
        var cursor = try w.apply(changes, through: WALPosition(file: 1, offset: 1), expected: try w.cursor())
        let table = w.schema.table("trade"), function = w.schema.barsFunction("trade")
        // Late arrivals at the first and the last time of SYM3's 14:40 bucket: the open stays
        // the first to arrive, the close becomes the late one.
        let edges = try w.connection.execute("""
            SELECT min(time_ns), max(time_ns) FROM \(table) WHERE symbol = 'SYM3' AND time >= '2024-01-02 14:40Z' AND time < '2024-01-02 14:41Z'
            """)
        let first = Int64(edges.value(0, 0)!)!, last = Int64(edges.value(0, 1)!)!
        let sym3 = try SeriesKey(measurement: "trade", symbol: "SYM3")
        cursor = try w.apply([.rows(sym3, schema, RowBlock(timestamps: [first, last], columns: [Column(.float64([1, 99_999])), Column(.int64([7, 7]))]))],
                             through: WALPosition(file: 1, offset: 2), expected: cursor)
        try w.connection.execute("ANALYZE \(table)")

        let range = "'SYM3', '2024-01-02 14:35Z', '2024-01-02 14:55Z'"
        let columns = "extract(epoch FROM bucket)::bigint, symbol, open, high, low, close, volume, count, vwap"
        let viaFunction = try w.connection.execute("SELECT \(columns) FROM \(function)(\(range))")
        let viaView = try w.connection.execute("""
            SELECT \(columns) FROM \(w.schema.barsView("trade"))
            WHERE symbol = 'SYM3' AND bucket >= '2024-01-02 14:35Z' AND bucket < '2024-01-02 14:55Z' ORDER BY bucket
            """)
        #expect(viaFunction.rowCount == 20 && viaFunction.rows == viaView.rows)
        let late = try #require(viaFunction.rows.first { $0[0] == "1704206400" })  // 14:40
        let firstPrice = try w.connection.execute("SELECT price FROM \(table) WHERE symbol = 'SYM3' AND time_ns = $1 ORDER BY seq LIMIT 1", [String(first)])
        #expect(late[2] == firstPrice.value(0, 0) && late[2] != "1" && late[4] == "1" && late[5] == "99999" && late[3] == "99999")
        // Other widths: 5-minute bars are the 1-minute bars merged.
        let five = try w.connection.execute("SELECT count(*), sum(count), max(high) FROM \(function)(\(range), INTERVAL '5 minutes')")
        let merged = try w.connection.execute("SELECT count(DISTINCT date_bin('5 minutes', bucket, 'epoch')), sum(count), max(high) FROM \(function)(\(range))")
        #expect(five.rows == merged.rows && five.value(0, 0) == "4")

        // The plan: the symbol and both times bound the index scan; nothing reads the whole table.
        let plan = try w.connection.execute("EXPLAIN SELECT * FROM \(function)(\(range))").rows.compactMap { $0[0] }.joined(separator: "\n")
        #expect(plan.contains("trade_symbol_time_idx") && !plan.contains("Seq Scan"), "\(plan)")
        let bounds = plan.split(separator: "\n").filter { $0.contains("Index Cond:") }
        #expect(bounds.contains { $0.contains("symbol = 'SYM3'") && $0.contains(#""time" >= "#) && $0.contains(#""time" < "#) }, "\(plan)")
        // The view can bound the index by symbol only: its bucket range is a filter.
        let viewPlan = try w.connection.execute("""
            EXPLAIN SELECT * FROM \(w.schema.barsView("trade")) WHERE symbol = 'SYM3' AND bucket >= '2024-01-02 14:35Z' AND bucket < '2024-01-02 14:55Z'
            """).rows.compactMap { $0[0] }.joined(separator: "\n")
        #expect(!viewPlan.split(separator: "\n").contains { $0.contains("Index Cond:") && $0.contains(#""time""#) }, "\(viewPlan)")
    }
}
