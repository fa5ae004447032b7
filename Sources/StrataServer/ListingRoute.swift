import Hummingbird
import NIOCore
import StrataEngine
import StrataPlatform
import StrataText

/// GET /api/v1/symbols?measurement=M: the measurement's symbols with their partitions,
/// segments, rows, bytes and time range (as `strata ls M`), JSON or `format=csv`. Counts are
/// of rows in segments; a symbol whose rows are all still in memory is listed with zeros.
extension StrataServer {
    static let listingParameters = ["measurement", "format"]

    func listSymbols(_ request: Request) async -> Response {
        let parameters = request.uri.queryParameters.map { (String($0.key), String($0.value)) }
        if let unknown = parameters.first(where: { !Self.listingParameters.contains($0.0) }) {
            return Self.error(.badRequest, "unknown parameter '\(unknown.0)' (known: \(Self.listingParameters.joined(separator: ", ")))")
        }
        guard let measurement = parameters.first(where: { $0.0 == "measurement" })?.1, !measurement.isEmpty else {
            return Self.error(.badRequest, "the parameter 'measurement' is required")
        }
        var format = ResultWriter.Format.json
        if let text = parameters.first(where: { $0.0 == "format" })?.1 {
            guard let f = ResultWriter.Format(rawValue: text) else { return Self.error(.badRequest, "'format' is json or csv, not '\(text)'") }
            format = f
        }
        let chosen = format
        let outcome = await blocking.result { [self] () throws(StrataError) -> String in
            let known = try database.existingSeries(measurement: measurement, symbols: nil)
            var entries = try FileSystem.isDirectory(database.store.measurementPath(measurement)) ? database.store.listSymbols(measurement) : []
            let listed = Set(entries.map(\.name))
            for s in known where !listed.contains(s.symbol) { entries.append(StoreListing.Entry(name: s.symbol)) }
            entries.sort { $0.name < $1.name }
            return ListingWriter.render(entries, .symbols, format: chosen)
        }
        switch outcome {
        case .success(let text):
            var headers = HTTPFields()
            headers[.contentType] = format == .csv ? "text/csv; charset=utf-8" : "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        case .failure(let error):
            switch error.code {
            case .invalidInput: return Self.error(.badRequest, error.message)
            case .notFound: return Self.error(.notFound, error.message)
            case .busy: return Self.retryLater(error.message)
            default: return Self.error(.internalServerError, error.description)
            }
        }
    }
}
