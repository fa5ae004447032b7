import StrataEngine
import StrataFormat

/// `SegmentReader` and `BlockCodec.decode`: every query over warm data, compaction, and
/// `strata inspect`; group images (magic `STRATGRP`) through the same reader in group mode.
enum SegmentTarget {
    static func run(_ body: UnsafeRawBufferPointer) {
        let bytes = Array(body)
        let valid = check(bytes)
        if !valid, let repaired = Repair.segment(bytes) { _ = check(repaired) }
    }

    /// The segment's blocks, or nil if the reader refuses it (which it may, by throwing).
    static func read(_ bytes: [UInt8]) -> (footer: SegmentFooter, blocks: [RowBlock?])? {
        bytes.withUnsafeBytes { raw in
            guard let reader = try? SegmentReader(raw, group: isGroup(bytes)) else { return nil }
            return (reader.footer, reader.footer.blocks.indices.map { try? reader.decodeBlock($0) })
        }
    }

    static func isGroup(_ bytes: [UInt8]) -> Bool { bytes.starts(with: SegmentLayout.groupMagic) }

    /// Reads a segment and checks what must hold; returns whether every block decoded.
    static func check(_ bytes: [UInt8]) -> Bool {
        guard let (footer, blocks) = read(bytes) else { return false }
        let decoded = blocks.compactMap { $0 }
        for (i, b) in decoded.enumerated() {
            require(b.columns.count == footer.schema.count, "block \(i): \(b.columns.count) columns for \(footer.schema.count) fields")
            for (f, c) in zip(footer.schema, b.columns) { require(c.values.type == f.type, "block \(i): field \(f.name) decoded as \(c.values.type)") }
        }
        guard decoded.count == blocks.count else { return false }
        checkRewrite(footer, decoded)
        checkDamage(bytes, blocks: decoded)
        return true
    }

    /// Decoded rows, written again by the segment writer, read back as the same rows (when
    /// they are in time order, as the writer requires and compaction keeps them).
    static func checkRewrite(_ footer: SegmentFooter, _ blocks: [RowBlock]) {
        let group = footer.symbol.isEmpty && !blocks.allSatisfy({ $0.stableTimeOrder() == nil })
        guard group || blocks.allSatisfy({ $0.stableTimeOrder() == nil }) else { return }
        var builder = group
            ? SegmentBuilder(groupOf: footer.measurement, day: footer.day, dayOffsetSeconds: footer.dayOffsetSeconds, schema: footer.schema)
            : SegmentBuilder(measurement: footer.measurement, symbol: footer.symbol, day: footer.day,
                             dayOffsetSeconds: footer.dayOffsetSeconds, schema: footer.schema)
        var file = builder.header()
        for b in blocks { file += builder.append(SegmentBuilder.encodeGroupBlock(b, schema: footer.schema)) }
        file += builder.finish()
        guard let (again, reread) = read(file) else { return require(false, "a rewritten segment does not open") }
        require(again.measurement == footer.measurement && again.symbol == footer.symbol && again.day == footer.day
                && again.dayOffsetSeconds == footer.dayOffsetSeconds && again.schema == footer.schema,
                "a rewritten segment's footer names another series, day or schema")
        for (i, b) in blocks.enumerated() {
            guard let r = reread[i] else { return require(false, "block \(i) of a rewritten segment does not decode") }
            if let d = difference(b, r) { require(false, "block \(i) rewritten: \(d)") }
            require(again.blocks[i].statistics.rowCount == b.rowCount, "block \(i) rewritten: the footer counts other rows")
        }
    }

    /// A valid segment with a byte flipped, or cut short, is refused when opened or when a
    /// block is read: never read as other rows.
    static func checkDamage(_ bytes: [UInt8], blocks: [RowBlock]) {
        for flip in flips(of: bytes, count: 4) {
            guard let (_, damaged) = read(flipped(bytes, flip)) else { continue }
            require(damaged.contains { $0 == nil },
                    "byte \(flip.offset) of a \(bytes.count)-byte segment flipped (xor \(flip.mask)) and every block still decodes")
        }
        for cut in [bytes.count - 1, bytes.count / 2, SegmentLayout.headerSize + SegmentLayout.trailerSize] where cut >= 0 && cut < bytes.count {
            guard let (_, damaged) = read(Array(bytes[..<cut])) else { continue }
            require(damaged.contains { $0 == nil }, "a segment cut to \(cut) of \(bytes.count) bytes still reads")
        }
    }

    static func seeds() -> [(String, [UInt8])] {
        [
            ("trades.seg", SeedData.segment(blockRows: [5, 1, 24], schema: SeedData.tradeSchema)),
            ("bars-offset.seg", SeedData.segment(blockRows: [12], schema: SeedData.barSchema, dayOffsetSeconds: -18_000)),
            ("slices.group", SeedData.groupImage(sliceRows: [3, 20, 1], blockRows: 8, schema: SeedData.tradeSchema)),
        ]
    }
}
