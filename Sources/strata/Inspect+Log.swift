import StrataEngine
import StrataFormat
import StrataPlatform

extension Inspect {
    /// A write-ahead log file: its header, then every record's framing, checksum and payload
    /// (rows records' blocks with their own checksums), read as recovery reads them. A torn
    /// tail is the normal end of a log cut by a crash and verifies ok with a note; damage
    /// followed by more bytes is an error naming the record and its offset.
    func describeLog(_ path: String, _ file: MappedFile, out: inout Output) throws {
        try file.withUnsafeBytes { bytes in try describeLog(path, bytes, out: &out) }
    }

    private func describeLog(_ path: String, _ bytes: UnsafeRawBufferPointer, out: inout Output) throws {
        do throws(FormatError) {
            try WALLayout.verifyHeader(bytes)
        } catch {
            // A crash while the file was being created leaves a header cut short (or space
            // the file system allocated but the write never filled); recovery skips it.
            guard bytes.count < WALLayout.headerSize, bytes.allSatisfy({ $0 == 0 }) || WALLayout.header().starts(with: bytes) else {
                throw StrataError.corrupt(error, path: path)
            }
            head(path, format: "STRATWAL version \(WALLayout.version), a write-ahead log file", out: &out)
            out.write("records: 0\n")
            out.write("end: torn header: \(bytes.count) of its \(WALLayout.headerSize) bytes, as a crash while the file was being created leaves it\n")
            if verify {
                out.write("verify: ok (no records); torn header at byte 0: the file holds \(bytes.count) of the header's \(WALLayout.headerSize) bytes, as a crash while it was being created leaves it; recovery skips it\n")
            }
            out.write("\n")
            return
        }
        var records = 0, rowsRecords = 0, deletes = 0, rows = 0
        var series: [String] = [], seen = Set<String>()
        var first: Int64?, last: Int64?
        let end = try WALLayout.scan(bytes) { offset, payload in
            let record: WALRecord
            do throws(FormatError) {
                record = try WALRecord.decode(payload, baseOffset: offset + WALLayout.recordHeaderSize)
            } catch {
                throw StrataError(.corrupt, "record \(records + 1) (at byte \(offset)) has a good checksum but does not decode: \(error.message)",
                                  path: path, offset: error.offset ?? offset)
            }
            records += 1
            let name: String
            switch record {
            case .rows(let measurement, let symbol, _, let block):
                rowsRecords += 1
                rows += block.rowCount
                if let lo = block.timestamps.min(), let hi = block.timestamps.max() {
                    first = min(first ?? lo, lo)
                    last = max(last ?? hi, hi)
                }
                name = "\(measurement) / \(symbol)"
            case .delete(let measurement, let symbol, _, _):
                deletes += 1
                name = "\(measurement) / \(symbol)"
            }
            if seen.insert(name).inserted { series.append(name) }
        }
        head(path, format: "STRATWAL version \(WALLayout.version), a write-ahead log file", out: &out)
        out.write("records: \(records)\(records == 0 ? "" : " (rows \(rowsRecords), delete \(deletes))")\n")
        out.write("rows: \(rows)\n")
        if !series.isEmpty { out.write("series: \(series.joined(separator: ", "))\n") }
        if let first, let last { out.write("time: \(CivilTime.format(first)) … \(CivilTime.format(last))\n") }
        let checked = records == 0 ? "header; no records"
            : "header; \(counted(records, "record")): lengths, checksums and payloads, \(counted(rowsRecords, "block checksum"))"
        switch end {
        case .clean:
            out.write("end: byte \(bytes.count), after the last whole record\n")
            if verify { out.write("verify: ok (\(checked))\n") }
        case .torn(let offset):
            out.write("end: torn tail at byte \(offset): the last \(bytes.count - offset) bytes are a record cut short (or zeros), as a crash during a write leaves it\n")
            if verify { out.write("verify: ok (\(checked)); torn tail at byte \(offset) (\(bytes.count - offset) bytes), normal after a crash: recovery drops it\n") }
        case .corrupt(let offset, let reason):
            out.write("end: damaged at byte \(offset)\n")
            throw StrataError(.corrupt, "damaged write-ahead log: record \(records + 1) (at byte \(offset)): \(reason), and \(bytes.count - offset) bytes follow it; the records after it cannot be read (recovery replays the \(counted(records, "record")) before it and moves the file to _wal/damaged/)",
                              path: path, offset: offset)
        }
        out.write("\n")
    }
}
