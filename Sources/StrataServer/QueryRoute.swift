import Hummingbird
import NIOCore
import StrataEngine
import StrataFormat
import StrataSystem

/// GET /api/v1/query: raw rows or bars of one or more symbols of a measurement, across
/// memory, local segments and the archive, as JSON or CSV, streamed.
///
///     measurement  required
///     symbol       required; several separated by commas
///     from, to     RFC 3339, a date, or an epoch integer (unit from its magnitude); inclusive
///     interval     bar length (1m, 5m, 1h, 1d…) — with ohlcv
///     ohlcv        PRICE[,VOLUME] (bars from ticks) or OPEN,HIGH,LOW,CLOSE[,VOLUME] (roll-up)
///     format       json (default) or csv
///     time_format  rfc3339 (default) or ns
///
/// A symbol without rows in the range returns none. Everything that can be checked is
/// checked before the status is sent: a bad parameter (also an `ohlcv` field the
/// measurement lacks or that is not numeric) is a 400 naming it, a measurement or symbol
/// the store does not have a 404 naming it (as `strata query` refuses them), and the first
/// symbol is read before the status too. A failure reading a later symbol comes after the
/// status: the body then ends with a line `error: …` instead of its proper end.
extension StrataServer {
    struct QueryRequest: Sendable {
        var series: [SeriesKey]
        var from = Int64.min
        var to = Int64.max
        var bars: BarSpec?
        var format = ResultWriter.Format.json
        var timeFormat = ResultWriter.TimeFormat.rfc3339
    }

    func query(_ request: Request) -> Response {
        let started = ContinuousClock.now
        let wallClock = CivilTime.now()
        let parameters = request.uri.queryParameters
        let parsed: QueryRequest
        let first: QueryOutcome
        do throws(StrataError) {
            parsed = try Self.queryRequest { parameters[Substring($0)].map(String.init) }
            try check(parsed)
        } catch {
            switch error.code {
            case .invalidInput: return Self.error(.badRequest, error.message)
            case .notFound: return Self.error(.notFound, error.message)
            default: return Self.error(.internalServerError, error.description)
            }
        }
        do throws(StrataError) {
            first = try read(parsed.series[0], parsed)
        } catch {
            return Self.error(error.code == .invalidInput ? .badRequest : .internalServerError, error.description)
        }
        var headers = HTTPFields()
        headers[.contentType] = parsed.format == .csv ? "text/csv; charset=utf-8" : "application/json"
        let database = self.database
        let metrics = self.metrics
        let queries = self.queries
        let text = request.uri.query ?? ""
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer {
                let duration = ContinuousClock.now - started
                metrics.query(kind: parsed.bars == nil ? "raw" : "bars", duration: duration)
                let c = duration.components
                queries.record(query: text, seconds: Double(c.seconds) + Double(c.attoseconds) / 1e18, at: wallClock)
            }
            var text = ""
            var out = ResultWriter(format: parsed.format, timeFormat: parsed.timeFormat)
            var begun = false
            for (i, series) in parsed.series.enumerated() {
                let outcome = i == 0 ? .success(first) : Result { () throws(StrataError) in try read(series, parsed) }
                guard case .success(let (result, bars)) = outcome else {
                    // Too late for a status: the body says so and stops (a JSON reader
                    // sees it as malformed, a CSV reader as a line that is not a row).
                    if case .failure(let error) = outcome { try await writer.write(ByteBuffer(string: "\nerror: \(error.description)\n")) }
                    try await writer.finish(nil)
                    return
                }
                if let result {
                    if !begun { out.beginRows(result.schema, into: &text) }
                    var start = 0
                    while start < result.rows.rowCount {
                        let end = min(result.rows.rowCount, start + 4_096)
                        out.rows(result, range: start..<end, into: &text)
                        try await writer.write(ByteBuffer(string: text))
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
            try await writer.write(ByteBuffer(string: text))
            try await writer.finish(nil)
        })
    }

    /// One symbol's rows (raw) or bars.
    typealias QueryOutcome = (rows: QueryResult?, bars: [Bar])

    func read(_ series: SeriesKey, _ q: QueryRequest) throws(StrataError) -> QueryOutcome {
        if let spec = q.bars { return (nil, try database.bars(series, spec: spec, from: q.from, to: q.to)) }
        return (try database.query(series, from: q.from, to: q.to), [])
    }

    /// What the parameters name against the store: the measurement and every symbol exist
    /// (`notFound`), and the bars' fields are numeric fields of the measurement.
    func check(_ q: QueryRequest) throws(StrataError) {
        let measurement = q.series[0].measurement
        _ = try database.existingSeries(measurement: measurement, symbols: q.series.map(\.symbol))
        if let spec = q.bars {
            let schema = try database.schema(measurement)
            do throws(StrataError) {
                try spec.check(schema, measurement: measurement)
            } catch {
                throw StrataError(.invalidInput, "'ohlcv': \(error.message)", field: "ohlcv")
            }
        }
    }

    /// Reads and checks the parameters.
    static func queryRequest(_ parameter: (String) -> String?) throws(StrataError) -> QueryRequest {
        func bad(_ message: String, _ name: String) -> StrataError { StrataError(.invalidInput, message, field: name) }
        guard let measurement = parameter("measurement"), !measurement.isEmpty else { throw bad("the parameter 'measurement' is required", "measurement") }
        guard let symbols = parameter("symbol"), !symbols.isEmpty else { throw bad("the parameter 'symbol' is required (several separated by commas)", "symbol") }
        var q = QueryRequest(series: [])
        for symbol in symbols.split(separator: ",", omittingEmptySubsequences: false) {
            q.series.append(try SeriesKey(measurement: measurement, symbol: String(symbol)))
        }
        if let text = parameter("from") { q.from = try CivilTime.parseInstant(text, what: "'from'") }
        if let text = parameter("to") { q.to = try CivilTime.parseRangeEnd(text, what: "'to'") }
        guard q.from <= q.to else { throw bad("'from' is after 'to'", "from") }
        switch (parameter("interval"), parameter("ohlcv")) {
        case (nil, nil): break
        case (let interval?, let ohlcv?):
            let length: Int64
            do throws(StrataError) {
                length = try parseDuration(interval)
            } catch {
                throw bad("'interval' \(error.message)", "interval")
            }
            guard length > 0 else { throw bad("'interval' must be more than zero", "interval") }
            guard let source = BarSpec.Source(fields: ohlcv) else {
                throw bad("'ohlcv' takes PRICE[,VOLUME] or OPEN,HIGH,LOW,CLOSE[,VOLUME]", "ohlcv")
            }
            q.bars = BarSpec(interval: length, source: source)
        default:
            throw bad("'interval' and 'ohlcv' go together", "interval")
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
