import ArgumentParser
import Glibc
import StrataEngine
import StrataFormat
import StrataPlatform
import StrataSystem

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe and verify Strata's files: segments, cold objects, day manifests, schemas, WAL files, backup catalogs.",
        discussion: "Reads segment files (.seg), cold objects (.strata, e.g. fetched with aws s3 cp; encrypted ones with the keys of STRATA_ENCRYPTION_KEY_FILE or STRATA_ENCRYPTION_KEY), day manifests (_manifest), schemas (_schema), write-ahead log files (_wal/*.wal), backup catalogs (backups/<id>/catalog) and a backup's sealed copies, each recognised by its first bytes. With --verify every checksum is checked and everything is decoded; any damage is reported with file and byte offset (or line) and the exit status is 1. A WAL file whose last record was cut short by a crash verifies ok, with a note.")

    @Flag(help: "Check every checksum.") var verify = false
    @Flag(help: "List every block, not only the per-column summary.") var blocks = false
    @Argument(help: "Files Strata wrote.") var files: [String]

    func run() throws {
        var out = Output()
        var failures = 0
        for path in files {
            do {
                try describe(path, out: &out)
            } catch let e as StrataError {
                out.flush()
                Output.standardError("strata: \(e.description)\n")
                failures += 1
            } catch {
                out.flush()
                Output.standardError("strata: \(path): \(error)\n")
                failures += 1
            }
        }
        out.flush()
        if failures > 0 { Glibc.exit(1) }
    }

    func describe(_ path: String, out: inout Output) throws {
        let file = try MappedFile(path: path)
        let name = String(path.split(separator: "/").last ?? "")
        guard let kind = file.withUnsafeBytes({ InspectedKind(firstBytes: $0) }) ?? InspectedKind(fileName: name) else {
            throw file.withUnsafeBytes { InspectedKind.foreign($0, path: path) }
        }
        switch kind {
        case .segment, .coldObject: try describeSegment(path, file, cold: kind == .coldObject, out: &out)
        case .wal: try describeLog(path, file, out: &out)
        case .packManifest: try describePackManifest(path, file, out: &out)
        case .pack: try describePack(path, file, out: &out)
        case .manifest, .schema, .catalog, .checksummedText, .sealed:
            try describeSmallFile(kind, path: path, bytes: file.withUnsafeBytes { Array($0) }, out: &out)
        }
    }

    /// A segment, or a cold object read back into the segment it was made from.
    func describeSegment(_ path: String, _ file: MappedFile, cold: Bool, out: inout Output) throws {
        let id = SegmentID(fileName: String(path.split(separator: "/").last ?? "")) ?? SegmentID(0)
        let segment: Segment
        var keyID: String?
        if cold {
            // A cold object: its blocks decompressed give back the segment it was made from.
            let opened = try file.withUnsafeBytes { raw in try ArchiveFiles.openColdObject(raw, location: path) }
            segment = try Segment(bytes: opened.segment, name: path, id: id)
            keyID = opened.keyID
        } else {
            segment = try Segment(path: path, id: id)
        }
        let footer = segment.footer
        let day = Day(daysSinceEpoch: footer.day)
        out.write("file: \(path)\n")
        if cold {
            out.write("format: STRATCLD version \(ArchiveFiles.coldObjectVersion), a zstd-compressed STRATSEG version \(SegmentLayout.version) segment\n")
            if let keyID { out.write("encryption: AES-256-GCM, key \(keyID)\n") }
            out.write("object size: \(file.size) bytes (\(footer.rowCount > 0 ? format3(Double(file.size) / Double(footer.rowCount)) : "-") bytes/row)\n")
        } else {
            out.write("format: STRATSEG version \(SegmentLayout.version)\n")
        }
        out.write("series: \(footer.measurement) / \(footer.symbol)\n")
        out.write("day: \(day)\n")
        out.write("size: \(segment.size) bytes\n")
        out.write("rows: \(footer.rowCount)\n")
        if let lo = footer.minTime, let hi = footer.maxTime {
            out.write("time: \(CivilTime.format(lo)) … \(CivilTime.format(hi))\n")
        }
        out.write("blocks: \(footer.blocks.count)\n")
        out.write("bytes/row: \(footer.rowCount > 0 ? format3(Double(segment.size) / Double(footer.rowCount)) : "-")\n")
        out.write("schema: \(footer.schema.map(\.description).joined(separator: ", "))\n")
        // Per column: bytes, values, encodings used.
        let columnCount = footer.schema.count + 1
        var bytes = [Int](repeating: 0, count: columnCount)
        var values = [Int](repeating: 0, count: columnCount)
        var encodings = [[String: Int]](repeating: [:], count: columnCount)
        for b in footer.blocks.indices {
            let chunks = try segment.describeBlock(b)
            if blocks {
                let s = footer.blocks[b].statistics
                let parts = chunks.map { c in
                    "\(c.fieldIndex.map { footer.schema[$0].name } ?? "time")=\(c.encoding?.description ?? "null"):\(c.byteCount)B"
                }
                out.write("  block \(b): offset \(footer.blocks[b].offset), \(footer.blocks[b].length) bytes, \(s.rowCount) rows, \(CivilTime.format(s.minTime)) … \(CivilTime.format(s.maxTime)): \(parts.joined(separator: " "))\n")
            }
            for c in chunks {
                let k = c.fieldIndex.map { $0 + 1 } ?? 0
                bytes[k] += c.byteCount
                values[k] += c.presentCount
                encodings[k][c.encoding?.description ?? "null", default: 0] += 1
            }
        }
        out.write("columns:\n")
        for k in 0..<columnCount {
            let name = k == 0 ? "time" : footer.schema[k - 1].name
            let type = k == 0 ? "timestamp" : footer.schema[k - 1].type.description
            let perValue = values[k] > 0 ? format3(Double(bytes[k]) / Double(values[k])) : "-"
            let used = encodings[k].sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " ")
            out.write("  \(name) (\(type)): \(bytes[k]) bytes, \(values[k]) values, \(perValue) bytes/value, \(used)\n")
        }
        if verify {
            try segment.verify()
            // Decode everything too: a checksum can match bytes that do not decode.
            for b in footer.blocks.indices { _ = try segment.decodeBlock(b) }
            let checkedBlocks = "\(counted(footer.blocks.count, "block")): checksums and decoding"
            if cold {
                let frames = "\(counted(footer.blocks.count, "frame")): checksums\(keyID == nil ? "" : ", GCM tags") and zstd"
                out.write("verify: ok (header, index checksum, \(frames); the segment's header, footer and trailer; \(checkedBlocks))\n")
            } else {
                out.write("verify: ok (header, footer and trailer; \(checkedBlocks))\n")
            }
        }
        out.write("\n")
    }
}
