import StrataEngine
import StrataFormat

/// `WALLayout.scan` and `WALRecord.decode`: recovery after a crash, `strata inspect`, and
/// the mirror's and the log reader's cursors.
enum WALTarget {
    struct Scan {
        var payloads: [[UInt8]] = []
        var end: WALLayout.End = .clean
    }

    /// The records of a WAL file, or nil if its header is refused.
    static func scan(_ bytes: [UInt8]) -> Scan? {
        bytes.withUnsafeBytes { raw -> Scan? in
            guard (try? WALLayout.verifyHeader(raw)) != nil else { return nil }
            var scan = Scan()
            scan.end = WALLayout.scan(raw) { _, payload in scan.payloads.append(Array(payload)) }
            return scan
        }
    }

    static func run(_ body: UnsafeRawBufferPointer) {
        let bytes = Array(body)
        if !check(bytes), let repaired = Repair.wal(bytes) { _ = check(repaired) }
    }

    /// Returns whether the file scanned clean to its end.
    static func check(_ bytes: [UInt8]) -> Bool {
        guard let scan = scan(bytes) else { return false }
        var offset = WALLayout.headerSize
        for payload in scan.payloads {
            checkRecord(payload, at: offset + WALLayout.recordHeaderSize)
            offset += WALLayout.recordHeaderSize + payload.count
        }
        switch scan.end {
        case .clean: require(offset == bytes.count, "a clean scan ends at \(offset) of \(bytes.count) bytes")
        case .torn(let at), .corrupt(let at, _): require(at == offset, "the scan stops at \(at), after the records at \(offset)")
        }
        guard scan.end == .clean, !scan.payloads.isEmpty else { return false }
        checkDamage(bytes, scan.payloads)
        return true
    }

    /// A record decodes or throws; one that decodes re-encodes to a record that decodes to
    /// the same value, and the cheap row count agrees with it.
    static func checkRecord(_ payload: [UInt8], at offset: Int) {
        guard let record = payload.withUnsafeBytes({ try? WALRecord.decode($0, baseOffset: offset) }) else { return }
        let counted = payload.withUnsafeBytes { try? WALRecord.rowCount($0, baseOffset: offset) }
        let again = record.encode()
        guard let decodedAgain = again.withUnsafeBytes({ try? WALRecord.decode($0) }) else {
            return require(false, "a WAL record re-encodes to bytes that do not decode")
        }
        switch (record, decodedAgain) {
        case (.rows(let m, let s, let schema, let rows), .rows(let m2, let s2, let schema2, let rows2)):
            require(counted == rows.rowCount, "WAL record of \(rows.rowCount) rows counted as \(String(describing: counted))")
            require(m == m2 && s == s2 && schema == schema2, "a re-encoded rows record names another series or schema")
            if let d = difference(rows, rows2) { require(false, "rows of a re-encoded WAL record: \(d)") }
        case (.delete, .delete):
            require(counted == 0, "a delete record counted as \(String(describing: counted)) rows")
            require(record == decodedAgain, "a re-encoded delete record differs: \(record), then \(decodedAgain)")
        default:
            require(false, "a WAL record re-encodes as another kind")
        }
    }

    /// A log cut anywhere is a torn tail (what a crash leaves), never damage, and keeps the
    /// records before the cut; zeros after the last record are a torn tail too. A byte
    /// flipped after the header stops the scan at the record it is in: the records before
    /// it are read, it and the ones after are not.
    static func checkDamage(_ bytes: [UInt8], _ payloads: [[UInt8]]) {
        for (cut, _) in flips(of: bytes, count: 3) where cut > WALLayout.headerSize {
            guard let scan = scan(Array(bytes[..<cut])) else { return require(false, "a WAL file cut to \(cut) bytes loses its header") }
            if case .corrupt(let at, let why) = scan.end { require(false, "a WAL file cut to \(cut) bytes is reported damaged at \(at): \(why)") }
            require(Array(payloads.prefix(scan.payloads.count)) == scan.payloads, "a WAL file cut to \(cut) bytes reads other records")
        }
        if let zeros = scan(bytes + [UInt8](repeating: 0, count: 4096)) {
            require(zeros.payloads == payloads && zeros.end == .torn(offset: bytes.count), "zeros after a WAL file's records scan as \(zeros.end)")
        }
        for flip in flips(of: bytes, count: 8) {
            guard let scan = scan(flipped(bytes, flip)) else {
                require(flip.offset < WALLayout.headerSize, "a byte flipped at \(flip.offset) breaks the header")
                continue
            }
            require(flip.offset >= WALLayout.headerSize, "a byte flipped at \(flip.offset) of the header goes unnoticed")
            require(scan.end != .clean && scan.payloads.count < payloads.count && Array(payloads.prefix(scan.payloads.count)) == scan.payloads,
                    "a byte flipped at \(flip.offset) (xor \(flip.mask)): \(scan.payloads.count) of \(payloads.count) records read, end \(scan.end)")
        }
    }

    static func seeds() -> [(String, [UInt8])] {
        let trade = SeedData.rows(SeedData.tradeSchema, count: 9, from: SeedData.start, seed: 11)
        let late = SeedData.rows([Field("price", .float64)], count: 3, from: SeedData.start - 5_000_000_000, seed: 12)
        var shuffled = late
        shuffled.timestamps.reverse()
        return [
            ("rows-and-delete.wal", SeedData.walFile([
                .rows(measurement: "trade", symbol: "005930", schema: SeedData.tradeSchema, rows: trade),
                .delete(measurement: "trade", symbol: "005930", from: SeedData.start, to: SeedData.start + 1_000_000_000),
                .rows(measurement: "trade", symbol: "ESH4", schema: [Field("price", .float64)], rows: shuffled),
            ])),
            ("empty.wal", WALLayout.header()),
        ]
    }
}
