import Hummingbird
import NIOCore
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem
import StrataText

/// GET /api/v1/query: raw rows or bars of one or more symbols of a measurement, across
/// memory, local segments and the archive, as JSON or CSV, streamed.
///
///     measurement  required
///     symbol       required; several separated by commas (`\,` within a symbol) or repeated
///     from, to     RFC 3339, a date, or an epoch integer (unit from its magnitude); inclusive
///     interval     bar length (1m, 5m, 1h, 1d…) — with ohlcv
///     ohlcv        PRICE[,VOLUME] (bars from ticks) or OPEN,HIGH,LOW,CLOSE[,VOLUME] (roll-up)
///     format       json (default) or csv
///     time_format  rfc3339 (default) or ns
///
/// GET /api/v1/latest answers with the latest row of each symbol (the last a query returns:
/// the greatest time, and of the rows at that time the last to arrive), with the same
/// `measurement`, `symbol` (every symbol of the measurement when left out), `format` and
/// `time_format`, and rows as the query API writes them.
///
/// A symbol without rows in the range returns none. Everything that can be checked is
/// checked before the status is sent: a bad parameter (also an `ohlcv` field the
/// measurement lacks or that is not numeric) is a 400 naming it, a measurement or symbol
/// the store does not have a 404 naming it (as `strata query` refuses them), and the first
/// symbol is read before the status too. A failure reading a later symbol comes after the
/// status: the body then ends with a line `error: …` instead of its proper end.
extension StrataServer {
    struct QueryRequest: Sendable {
        var measurement: String
        /// Empty only in a latest request that names no symbol (every symbol), until `check`.
        var series: [SeriesKey]
        var from = Int64.min
        var to = Int64.max
        var bars: BarSpec?
        var format = ResultWriter.Format.json
        var timeFormat = ResultWriter.TimeFormat.rfc3339
        /// Each symbol's latest row (GET /api/v1/latest); `series` empty: every symbol.
        var latest = false
        /// The latest rows of every series, read at once (10^5 contracts share partitions).
        var latestRows: [QueryResult] = []
    }

    func query(_ request: Request, latest: Bool = false) async -> Response {
        let started = ContinuousClock.now
        let wallClock = CivilTime.now()
        let parameters = request.uri.queryParameters
        var checked: QueryRequest
        let first: QueryOutcome
        do throws(StrataError) {
            let request = try Self.queryRequest(parameters.map { (String($0.key), String($0.value)) }, latest: latest)
            checked = try await blocking.run { [self] () throws(StrataError) in try check(request) }
        } catch {
            switch error.code {
            case .invalidInput: return Self.error(.badRequest, error.message)
            case .notFound: return Self.error(.notFound, error.message)
            case .busy: return Self.retryLater(error.message)
            default: return Self.error(.internalServerError, error.description)
            }
        }
        do throws(StrataError) {
            if checked.latest {
                let series = checked.series
                checked.latestRows = try await blocking.run { [self] () throws(StrataError) in try database.latest(series) }
                first = (checked.latestRows[0], [])
            } else {
                let request = checked
                first = try await blocking.run { [self] () throws(StrataError) in try read(request.series[0], request) }
            }
        } catch {
            if error.code == .busy { return Self.retryLater(error.message) }
            return Self.error(error.code == .invalidInput ? .badRequest : .internalServerError, error.description)
        }
        let parsed = checked
        var headers = HTTPFields()
        headers[.contentType] = parsed.format == .csv ? "text/csv; charset=utf-8" : "application/json"
        headers[.acceptRanges] = "bytes"
        let metrics = self.metrics
        let queries = self.queries
        let text = request.uri.query ?? ""
        @Sendable func finished() {
            let duration = ContinuousClock.now - started
            metrics.query(kind: parsed.latest ? "latest" : parsed.bars == nil ? "raw" : "bars", duration: duration)
            let c = duration.components
            queries.record(query: text, seconds: Double(c.seconds) + Double(c.attoseconds) / 1e18, at: wallClock)
        }
        // HEAD and ranged GETs (polars and other object-store readers treat a URL as a file:
        // its size first, then byte ranges) get the whole answer's length: it is made first.
        if request.method == .head || request.headers[.range] != nil {
            var whole = ""
            let failure = await answer(parsed, first) { whole += $0 }
            finished()
            if let failure { return Self.error(.internalServerError, failure.description) }
            return Self.ranged(ByteBuffer(string: whole), range: request.headers[.range], headers: headers)
        }
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { finished() }
            // Written in pieces of up to 4,096 rows as they are made.
            let failure = try await answer(parsed, first) { try await writer.write(ByteBuffer(string: $0)) }
            // Too late for a status: the body says so and stops (a JSON reader sees it as
            // malformed, a CSV reader as a line that is not a row).
            if let failure { try await writer.write(ByteBuffer(string: "\nerror: \(failure.description)\n")) }
            try await writer.finish(nil)
        })
    }

    /// Makes the answer in pieces and gives each to `emit`: the rows of each symbol in turn
    /// (the first already read), up to 4,096 at a time, or its bars. Returns the error that
    /// stopped it after the first symbol, if one did.
    func answer(_ parsed: QueryRequest, _ first: QueryOutcome, emit: (String) async throws -> Void) async rethrows -> StrataError? {
        var text = ""
        var out = ResultWriter(format: parsed.format, timeFormat: parsed.timeFormat)
        var begun = false
        for (i, series) in parsed.series.enumerated() {
            let outcome: Result<QueryOutcome, StrataError>
            if i == 0 {
                outcome = .success(first)
            } else if parsed.latest {
                outcome = .success((parsed.latestRows[i], []))
            } else {
                outcome = await blocking.result { [self] () throws(StrataError) in try read(series, parsed) }
            }
            let result: QueryResult?
            let bars: [Bar]
            switch outcome {
            case .success(let r): (result, bars) = r
            case .failure(let error):
                try await emit(text)
                return error
            }
            if let result {
                if !begun { out.beginRows(result.schema, into: &text) }
                var start = 0
                while start < result.rows.rowCount {
                    let end = min(result.rows.rowCount, start + 4_096)
                    out.rows(result, range: start..<end, into: &text)
                    try await emit(text)
                    text = ""
                    start = end
                }
            } else {
                if !begun { out.beginBars(into: &text) }
                out.bars(bars, symbol: series.symbol, into: &text)
            }
            begun = true
        }
        out.end(into: &text)
        try await emit(text)
        return nil
    }

    /// A whole answer as a file: 200 with its length, or for `Range: bytes=A-B` (one range;
    /// also `A-` and `-N`) 206 with those bytes, or 416 when the range lies outside it.
    static func ranged(_ body: ByteBuffer, range: String?, headers: HTTPFields) -> Response {
        var headers = headers
        let size = body.readableBytes
        headers[.eTag] = "\"\(String(body.withUnsafeReadableBytes { CRC32C.checksum($0) }, radix: 16))-\(size)\""
        guard let range else { return Response(status: .ok, headers: headers, body: .init(byteBuffer: body)) }
        guard let (lower, upper) = byteRange(range, size: size) else {
            headers[.contentRange] = "bytes */\(size)"
            return error(.rangeNotSatisfiable, "the range '\(range)' is not within the answer's \(size) bytes", headers: headers)
        }
        headers[.contentRange] = "bytes \(lower)-\(upper)/\(size)"
        return Response(status: .partialContent, headers: headers, body: .init(byteBuffer: body.getSlice(at: body.readerIndex + lower, length: upper - lower + 1)!))
    }

    /// The first and last byte of a `Range: bytes=…` header's single range, clamped to `size`.
    static func byteRange(_ text: String, size: Int) -> (Int, Int)? {
        guard text.hasPrefix("bytes="), size > 0 else { return nil }
        let spec = text.dropFirst(6)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let a = spec[..<dash], b = spec[spec.index(after: dash)...]
        if a.isEmpty {
            guard let n = Int(b), n > 0 else { return nil }
            return (max(0, size - n), size - 1)
        }
        guard let lower = Int(a), lower >= 0, lower < size else { return nil }
        if b.isEmpty { return (lower, size - 1) }
        guard let upper = Int(b), upper >= lower else { return nil }
        return (lower, min(upper, size - 1))
    }

    /// One symbol's rows (raw) or bars.
    typealias QueryOutcome = (rows: QueryResult?, bars: [Bar])

    func read(_ series: SeriesKey, _ q: QueryRequest) throws(StrataError) -> QueryOutcome {
        if let spec = q.bars { return (nil, try database.bars(series, spec: spec, from: q.from, to: q.to)) }
        return (try database.query(series, from: q.from, to: q.to), [])
    }

    /// What the parameters name against the store: the measurement and every symbol exist
    /// (`notFound`), and the bars' fields are numeric fields of the measurement. Returns the
    /// request with its series (every symbol, for a latest request that names none).
    func check(_ q: QueryRequest) throws(StrataError) -> QueryRequest {
        var q = q
        let measurement = q.measurement
        q.series = try database.existingSeries(measurement: measurement, symbols: q.series.isEmpty ? nil : q.series.map(\.symbol))
        if q.series.isEmpty { throw StrataError(.notFound, "measurement '\(measurement)' has no symbols yet", field: "measurement") }
        if let spec = q.bars {
            let schema = try database.schema(measurement)
            do throws(StrataError) {
                try spec.check(schema, measurement: measurement)
            } catch {
                throw StrataError(.invalidInput, "'ohlcv': \(error.message)", field: "ohlcv")
            }
        }
        return q
    }

    /// The parameters the query API knows; any other is refused by name (a typo such as
    /// `form=csv` would otherwise answer in JSON, or with every row).
    static let queryParameters = ["measurement", "symbol", "from", "to", "interval", "ohlcv", "tz", "offset", "format", "time_format"]
    static let latestParameters = ["measurement", "symbol", "format", "time_format"]

    /// Distinct symbols one query may name.
    static let maxQuerySymbols = 1_000

    /// Reads and checks the parameters (in their order; `symbol` may repeat).
    static func queryRequest(_ parameters: [(name: String, value: String)], latest: Bool = false) throws(StrataError) -> QueryRequest {
        func bad(_ message: String, _ name: String) -> StrataError { StrataError(.invalidInput, message, field: name) }
        let known = latest ? latestParameters : queryParameters
        let unknown = parameters.map(\.name).filter { !known.contains($0) }
        guard unknown.isEmpty else {
            let names = unknown.map { "'\($0)'" }.joined(separator: ", ")
            throw bad("unknown parameter\(unknown.count == 1 ? "" : "s") \(names) (known: \(known.joined(separator: ", ")))", unknown[0])
        }
        for name in known where name != "symbol" && parameters.filter({ $0.name == name }).count > 1 {
            throw bad("the parameter '\(name)' is given more than once", name)
        }
        func parameter(_ name: String) -> String? { parameters.first { $0.name == name }?.value }
        guard let measurement = parameter("measurement"), !measurement.isEmpty else { throw bad("the parameter 'measurement' is required", "measurement") }
        // Each symbol once, in the order first named; a bounded number of them (a URL of
        // one symbol repeated must not multiply the answer).
        let distinct = Names.distinctNames(parameters.filter { $0.name == "symbol" }.map(\.value))
        guard (!distinct.isEmpty || latest), distinct != [""] else {
            throw bad("the parameter 'symbol' is required (several separated by commas, or symbol= repeated; \\, is a comma within a symbol)", "symbol")
        }
        guard distinct.count <= maxQuerySymbols else {
            throw bad("\(distinct.count) symbols in one query; the limit is \(maxQuerySymbols) (ask in several queries)", "symbol")
        }
        try Names.validate(measurement, what: "measurement")
        var q = QueryRequest(measurement: measurement, series: [])
        q.latest = latest
        for symbol in distinct {
            q.series.append(try SeriesKey(measurement: measurement, symbol: symbol))
        }
        if let text = parameter("from") { q.from = try CivilTime.parseInstant(text, what: "'from'") }
        if let text = parameter("to") { q.to = try CivilTime.parseRangeEnd(text, what: "'to'") }
        guard q.from <= q.to else { throw bad("'from' is after 'to'", "from") }
        switch (parameter("interval"), parameter("ohlcv")) {
        case (nil, nil): break
        case (let interval?, let ohlcv?):
            let bars: BarInterval
            do throws(StrataError) {
                bars = BarInterval(try BarInterval.parseLength(interval),
                                   zone: try parameter("tz").map { name throws(StrataError) in try TimeZoneRules(named: name) } ?? .utc,
                                   sessionStart: try parameter("offset").map(BarInterval.parseSessionStart) ?? 0)
            } catch {
                let name = error.field ?? "interval"
                throw bad("'\(name)': \(error.message)", name)
            }
            guard let source = BarSpec.Source(fields: ohlcv) else {
                throw bad("'ohlcv' takes PRICE[,VOLUME] or OPEN,HIGH,LOW,CLOSE[,VOLUME]", "ohlcv")
            }
            q.bars = BarSpec(interval: bars, source: source)
        default:
            throw bad("'interval' and 'ohlcv' go together", "interval")
        }
        if q.bars == nil, let name = ["tz", "offset"].first(where: { parameter($0) != nil }) {
            throw bad("'\(name)' shapes bars: it needs 'interval' and 'ohlcv'", name)
        }
        if let text = parameter("format") {
            guard let f = ResultWriter.Format(rawValue: text) else { throw bad("'format' is json or csv, not '\(text)'", "format") }
            q.format = f
        }
        if let text = parameter("time_format") {
            guard let f = ResultWriter.TimeFormat(rawValue: text) else { throw bad("'time_format' is rfc3339 or ns, not '\(text)'", "time_format") }
            q.timeFormat = f
        }
        return q
    }
}
