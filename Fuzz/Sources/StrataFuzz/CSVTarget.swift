import Glibc
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataText

/// `CSVScanner` and `CSVIngester` (`strata ingest`, the HTTP CSV write), with a sink so
/// that nothing is written: the store is an empty one, only asked for stored schemas.
enum CSVTarget {
    nonisolated(unsafe) static var store: Store?
    nonisolated(unsafe) static var directory: String?

    static func prepare() {
        var template = Array("/tmp/strata-fuzz-csv-XXXXXX".utf8CString)
        guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }).map({ String(cString: $0) }) else {
            fatalError("mkdtemp failed")
        }
        // The store stays empty (the ingester only asks it for stored schemas): the
        // directory goes when libFuzzer exits.
        directory = dir
        atexit { if let dir = CSVTarget.directory { rmdir(dir) } }
        do throws(StrataError) {
            store = try Store(directory: dir, create: true)
        } catch {
            fatalError("cannot create a store in \(dir): \(error)")
        }
    }

    static let options: [CSVIngestOptions] = {
        let plain = CSVIngestOptions(measurement: "trade")
        var fixed = CSVIngestOptions(measurement: "quote")
        fixed.symbol = "ESH4"
        fixed.batchRows = 3
        fixed.schema = [Field("price", .float64), Field("size", .int64)]
        var strict = CSVIngestOptions(measurement: "bar")
        strict.strict = true
        strict.allowNonFinite = true
        strict.timeUnit = .ms
        return [plain, fixed, strict]
    }()

    static func run(_ body: UnsafeRawBufferPointer) {
        let bytes = UnsafeBufferPointer(start: body.baseAddress?.assumingMemoryBound(to: UInt8.self), count: body.count)
        scan(bytes)
        for (k, o) in options.enumerated() {
            ingest(bytes, o, "CSV (options \(k))")
        }
    }

    /// The scanner's records: fields inside the input, in order, and progress on every call.
    static func scan(_ bytes: UnsafeBufferPointer<UInt8>) {
        var scanner = CSVScanner(bytes)
        var fields: [CSVScanner.FieldRange] = []
        var lastLine = 0
        var records = 0
        while let record = scanner.next(into: &fields) {
            records += 1
            require(records <= bytes.count, "CSV scanner: more records than bytes")
            require(record.line > lastLine, "CSV scanner: record at line \(record.line) after line \(lastLine)")
            lastLine = record.line
            var previousEnd = 0
            for f in fields {
                require(f.start >= previousEnd && f.start <= f.end && f.end <= bytes.count,
                        "CSV scanner: field \(f.start)..<\(f.end) in \(bytes.count) bytes after \(previousEnd)")
                previousEnd = f.end
                _ = scanner.string(f)
            }
        }
    }

    static func ingest(_ bytes: UnsafeBufferPointer<UInt8>, _ options: CSVIngestOptions, _ what: String) {
        let ingester = CSVIngester(store: store!, options: options)
        var delivered = 0
        var lastLine = 0
        let report: IngestReport
        do throws(StrataError) {
            report = try ingester.ingest(bytes, source: "fuzz.csv") { (batch, throughLine) throws(StrataError) in
                require(throughLine >= lastLine, "\(what): a batch through line \(throughLine) after one through \(lastLine)")
                lastLine = throughLine
                for item in batch {
                    delivered += item.rows.rowCount
                    checkWritable(item, what)
                    checkWALRoundTrip(item, what)
                }
            }
        } catch {
            require(error.code == .invalidInput, "\(what): refused with \(error.code), not invalidInput: \(error)")
            return
        }
        require(report.rowsWritten == delivered, "\(what): the report says \(report.rowsWritten) rows written, the sink got \(delivered)")
        require(report.issues.count == min(report.badRowCount, 100), "\(what): \(report.issues.count) issues for \(report.badRowCount) bad rows")
        if options.strict && report.badRowCount > 0 {
            require(delivered == 0, "\(what): strict, with \(report.badRowCount) bad rows, yet \(delivered) rows written")
        } else {
            // Every record after the header is written or reported: none is lost.
            require(report.rowsRead == report.rowsWritten + report.badRowCount,
                    "\(what): \(report.rowsRead) rows read, \(report.rowsWritten) written, \(report.badRowCount) bad")
        }
    }

    static func seeds() -> [(String, [UInt8])] {
        [
            ("trades.csv", """
            time,symbol,price,size,side,venue
            2024-01-02T09:00:00.120Z,005930,71500,120,true,KRX
            2024-01-02T09:00:00.121Z,005930,71600.5,3,false,"K,R""X"
            2024-01-02 09:00:01+09:00,ESH4,4780.25,,true,
            1704186000123,ESH4,4780.5,2,TRUE,"multi
            line"
            bad time,ESH4,1,1,true,x
            2024-01-02T09:00:02Z,ESH4,NaN,1,true,x
            2024-01-02T09:00:03Z,ESH4,1,1.5,true,x,extra

            """),
            ("quotes.csv", "\u{FEFF}ts,price,size,note\r\n1704186000,1.5,2,a\r\n1704186001,2,3,\"b\"\r\n1704186002,inf,,\r\n"),
            ("bars.csv", "date,ticker,open,high,low,close,volume\n2024-01-02,ES,1,2,0.5,1.5,10\n2024-01-03,ES,1.5,2.5,1,2,11\n\"2024-01-04\"x,ES,1,1,1,1,1\n"),
        ].map { ($0.0, Array($0.1.utf8)) }
    }
}
