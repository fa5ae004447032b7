import Hummingbird
import NIOCore
import StrataEngine
import StrataPlatform
import StrataText

/// The write routes: InfluxDB line protocol (v1 `/write`, v2 `/api/v2/write`, v3
/// `/api/v3/write_lp`) and JSON records (`/api/v1/records`).
extension StrataServer {
    /// The InfluxDB write API a request came in by: each names its precision its own way and
    /// InfluxDB 3's reports refused lines in its own shape.
    enum WriteAPI {
        case v1, v2, v3
    }

    /// POST /write, /api/v2/write and /api/v3/write_lp: line protocol in, rows durable
    /// before the reply (`no_sync=true` on v3: written to the operating system).
    func write(_ request: Request, api: WriteAPI) async throws -> Response {
        let parameters = request.uri.queryParameters
        var options = LineProtocolOptions()
        let precision = parameters["precision"].map(String.init)
        var write = WriteOptions()
        if api == .v3 {
            switch precision ?? "auto" {
            case "auto": options.guessesPrecision = true
            case let text:
                guard let unit = TimeUnit(influx3Precision: text) else {
                    return Self.error(.badRequest, "unknown precision '\(text)': use auto, nanosecond, microsecond, millisecond or second")
                }
                options.precision = unit
            }
            do throws(StrataError) {
                write.acceptPartial = try Self.flag(parameters["accept_partial"], "accept_partial") ?? true
                write.waitForSync = !(try Self.flag(parameters["no_sync"], "no_sync") ?? false)
            } catch {
                return Self.error(.badRequest, error.message)
            }
            write.v3Errors = true
        } else {
            guard let unit = TimeUnit(influxPrecision: precision ?? "ns") else {
                return Self.error(.badRequest, "unknown precision '\(precision ?? "")': use ns, us, ms or s")
            }
            options.precision = unit
        }
        options.symbolTag = configuration.symbolTag
        options.maxLineBytes = configuration.maxLineBytes
        options.now = CivilTime.now()
        let database = self.database
        options.knownType = { measurement, field in database.fieldType(measurement, field) }
        write.precision = options.guessesPrecision ? nil : options.precision
        return try await ingest(request, unit: "lines", write) { body in body.withUnsafeReadableBytes { LineProtocol.parse($0, options: options) } }
    }

    /// POST /api/v1/records: JSON records (`symbol`, `timestamp`, `data_type`, fields), an
    /// array or one per line; `measurement=` names the measurement of records without
    /// `data_type`.
    func writeRecords(_ request: Request) async throws -> Response {
        var options = JSONRecords.Options()
        options.measurement = request.uri.queryParameters["measurement"].map(String.init)
        let database = self.database
        options.knownType = { measurement, field in database.fieldType(measurement, field) }
        return try await ingest(request, unit: "records", WriteOptions()) { body in JSONRecords.parse(Array(buffer: body), options: options) }
    }

    /// How a write is acknowledged and reported.
    struct WriteOptions {
        /// false: a body with any bad line writes nothing (v3's `accept_partial=false`).
        var acceptPartial = true
        /// false: the reply does not wait for fdatasync (v3's `no_sync=true`).
        var waitForSync = true
        /// Refused lines reported as InfluxDB 3 does (`error`, `data` with `line_number`,
        /// `original_line` and `error_message`), beside Strata's own fields.
        var v3Errors = false
        /// The unit integer timestamps were read in (nil: guessed per timestamp), for the
        /// warning about a body that lands entirely before 1971.
        var precision: TimeUnit?
    }

    /// 503 with Retry-After: nothing was written, the client sends the same body again.
    static func retryLater(_ reason: String) -> Response {
        var headers = HTTPFields()
        headers[.retryAfter] = "1"
        return error(.serviceUnavailable, "\(reason); retry in a second", headers: headers)
    }

    /// What every write route does: read the body (inflating gzip within the size limit),
    /// refuse it at the memory bound, parse it, append the valid rows durably, and report
    /// the refused ones with their numbers.
    func ingest(_ request: Request, unit: String, _ write: WriteOptions, parse: (ByteBuffer) -> IngestBatch) async throws -> Response {
        let encoding = request.headers[.contentEncoding]?.lowercased() ?? "identity"
        guard encoding == "identity" || encoding == "gzip" else {
            return Self.error(.unsupportedMediaType, "Content-Encoding '\(encoding)' is not supported (gzip is)")
        }
        var body: ByteBuffer
        do {
            body = try await BodyReader(limit: configuration.maxBodyBytes).collect(request)
        } catch let refusal as BodyReader.Refusal {
            return Self.refusal(refusal, limit: configuration.maxBodyBytes)
        }
        if encoding == "gzip" {
            do throws(StrataError) {
                let inflated = try body.withUnsafeReadableBytes { (raw) throws(StrataError) in try Gzip.decompress(raw, limit: configuration.maxBodyBytes) }
                body = ByteBuffer(bytes: inflated)
            } catch {
                return Self.error(error.code == .tooLarge ? .contentTooLarge : .badRequest, error.message)
            }
        }
        // Rows wait in memory for a flush beyond the bound: the client retries instead.
        guard !database.isMemoryFull(countingRefusal: true) else {
            return Self.retryLater("unflushed rows are at the memory bound")
        }
        let batch = parse(body)
        metrics.bytesReceived.increment(by: Int64(body.readableBytes))
        metrics.linesRejected.increment(by: Int64(batch.badLines))
        let total = batch.rows + batch.badLines
        if batch.badLines > 0 && !write.acceptPartial {
            return refused(batch, body: body, unit: unit, written: 0, write)
        }
        if !batch.series.isEmpty {
            do throws(StrataError) {
                try await database.append(batch.series, waitingForMemory: false, waitingForSync: write.waitForSync)
            } catch where error.code == .busy {
                return Self.retryLater(error.message)
            } catch {
                return Self.error(error.code == .invalidInput || error.code == .conflict ? .badRequest : .internalServerError,
                                  error.description, extra: ["written": "0", "rejected": "\(total)"])
            }
        }
        metrics.rowsWritten.increment(by: Int64(batch.rows))
        guard batch.badLines == 0 else { return refused(batch, body: body, unit: unit, written: batch.rows, write) }
        var headers = HTTPFields()
        if let warning = Self.earlyTimesWarning(batch, precision: write.precision) {
            headers[Self.warningField] = "199 strata \(TextFormat.jsonString(warning))"
        }
        return Response(status: .noContent, headers: headers)
    }

    /// The 400 for a body with refused lines: how many, the first one's reason, and each
    /// (the first 100) with its number.
    func refused(_ batch: IngestBatch, body: ByteBuffer, unit: String, written: Int, _ write: WriteOptions) -> Response {
        let first = batch.issues[0]
        let total = batch.rows + batch.badLines
        let refusedLines: String
        if total == 1 {
            refusedLines = "the \(unit.dropLast())"
        } else if batch.badLines == total {
            refusedLines = "all \(total) \(unit)"
        } else {
            refusedLines = "\(batch.badLines) of \(total) \(unit)"
        }
        let summary = written > 0 ? "partial write: \(refusedLines) refused, \(written) written"
            : batch.badLines < total ? "nothing written: \(refusedLines) refused (accept_partial=false)"
            : "nothing written: \(refusedLines) refused"
        let message = summary + "; line \(first.line): \(first.message)"
        var extra = ["written": "\(written)", "rejected": "\(total - written)", "line": "\(first.line)"]
        extra["errors"] = "[" + batch.issues.map { issue in
            "{\"line\":\(issue.line),\(issue.field.map { "\"field\":\(TextFormat.jsonString($0))," } ?? "")\"message\":\(TextFormat.jsonString(issue.message))}"
        }.joined(separator: ",") + "]"
        if write.v3Errors {
            // InfluxDB 3's words, which its clients look for.
            extra["error"] = written == 0 && !write.acceptPartial ? "parsing failed for write_lp endpoint" : "partial write of line protocol occurred"
            let lines = body.withUnsafeReadableBytes { Self.lines(Set(batch.issues.map(\.line)), of: $0) }
            extra["data"] = "[" + batch.issues.map { issue in
                "{\"original_line\":\(TextFormat.jsonString(lines[issue.line] ?? "")),\"line_number\":\(issue.line),\"error_message\":\(TextFormat.jsonString(issue.message))}"
            }.joined(separator: ",") + "]"
        }
        return Self.error(.badRequest, message, extra: extra)
    }

    /// The texts of the lines numbered `wanted` (from 1), each cut at 256 bytes.
    static func lines(_ wanted: Set<Int>, of body: UnsafeRawBufferPointer) -> [Int: String] {
        var found: [Int: String] = [:]
        var number = 0
        for line in body.split(separator: 10, omittingEmptySubsequences: false) {
            number += 1
            guard wanted.contains(number) else { continue }
            var text = line.prefix(256)
            if text.last == 13 { text = text.dropLast() }
            found[number] = String(decoding: text, as: UTF8.self)
            if found.count == wanted.count { break }
        }
        return found
    }

    /// A warning when every timestamp of a body falls before 1971: almost always times in
    /// a coarser unit than the precision they were sent with (InfluxDB's default is ns, so
    /// milliseconds land in January 1970). The rows are stored as sent, as InfluxDB does.
    static func earlyTimesWarning(_ batch: IngestBatch, precision: TimeUnit?) -> String? {
        let year1971: Int64 = 31_536_000_000_000_000
        var latest = Int64.min
        for item in batch.series { for t in item.rows.timestamps where t > latest { latest = t } }
        guard !batch.series.isEmpty, latest < year1971 else { return nil }
        let unit = precision.map { "precision=\($0.rawValue)" } ?? "the precision guessed from each timestamp"
        return "every timestamp of this write falls before 1971 (read with \(unit)); if they are in a coarser unit, set precision (ms, us or s); the rows are stored as sent"
    }

    /// A true/false query parameter.
    static func flag(_ value: Substring?, _ name: String) throws(StrataError) -> Bool? {
        switch value?.lowercased() {
        case nil: return nil
        case "true", "1": return true
        case "false", "0": return false
        case let other?: throw StrataError(.invalidInput, "'\(name)' is true or false, not '\(other)'", field: name)
        }
    }
}

extension TimeUnit {
    /// The write API's `precision`: ns, us, ms or s.
    public init?(influxPrecision text: String) {
        switch text {
        case "ns", "n": self = .ns
        case "us", "u", "µs": self = .us
        case "ms": self = .ms
        case "s": self = .s
        default: return nil
        }
    }

    /// InfluxDB 3's `precision` (besides `auto`): nanosecond … second, or ns … s.
    init?(influx3Precision text: String) {
        switch text {
        case "nanosecond": self = .ns
        case "microsecond": self = .us
        case "millisecond": self = .ms
        case "second": self = .s
        default: self.init(influxPrecision: text)
        }
    }
}
