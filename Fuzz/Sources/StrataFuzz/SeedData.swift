import StrataArchive
import StrataEngine
import StrataFormat

/// Small valid files made by Strata's own writers, for the seed corpus.
enum SeedData {
    static let tradeSchema = [Field("price", .float64), Field("volume", .int64), Field("buy", .bool),
                              Field("venue", .string), Field("cond", .string), Field("bid", .float64)]
    static let barSchema = [Field("open", .float64), Field("high", .float64), Field("low", .float64),
                            Field("close", .float64), Field("volume", .int64)]
    /// 2024-01-02 09:00 UTC.
    static let start: Int64 = 1_704_186_000_000_000_000
    static let day: Int64 = 19_724

    /// `count` rows in time order from `from`, every column kind the block codec has: all
    /// present, a presence bitmap, none present; decimal-like and irregular floats.
    static func rows(_ schema: [Field], count: Int, from: Int64, seed: UInt64) -> RowBlock {
        var rng = SplitMix(seed: seed)
        var t = from
        let times: [Int64] = (0..<count).map { _ in
            t += [0, 1_000, 250_000_000, 1_000_000_000][Int(rng.next() % 4)]
            return t
        }
        let columns = schema.enumerated().map { k, field -> Column in
            let gaps = k % 3 == 2
            let presence = (0..<count).map { r in !gaps || (r + k) % 3 != 0 }
            switch field.type {
            case .float64:
                let values = (0..<count).map { r in k == 5 ? Double(bitPattern: rng.next()) : Double(71_500 + Int(rng.next() % 40) - 20) / 4 + Double(r) }
                return Column(.float64(values.enumerated().map { presence[$0] ? $1 : 0 }), presence: presence)
            case .int64:
                return Column(.int64((0..<count).map { presence[$0] ? Int64(rng.next() % 500) : 0 }), presence: presence)
            case .bool:
                return Column(.bool((0..<count).map { presence[$0] && rng.next() % 2 == 0 }), presence: presence)
            case .string:
                if field.name == "cond" { return Column.null(.string, count: count) }
                return Column(.string((0..<count).map { presence[$0] ? ["KRX", "XCME", "é/ü"][Int(rng.next() % 3)] : "" }), presence: presence)
            }
        }
        return RowBlock(timestamps: times, columns: columns)
    }

    static func segment(blockRows: [Int], schema: [Field], dayOffsetSeconds: Int64 = 0) -> [UInt8] {
        var builder = SegmentBuilder(measurement: "trade", symbol: "005930", day: day, dayOffsetSeconds: dayOffsetSeconds, schema: schema)
        var file = builder.header()
        var from = start
        for (i, n) in blockRows.enumerated() {
            let block = rows(schema, count: n, from: from, seed: UInt64(i + 1))
            file += builder.block(block).bytes
            from = block.timestamps.last! + 1
        }
        return file + builder.finish()
    }

    /// A group image (Format.md "Group images"): slices of three series one after another,
    /// each from the same start, so that time falls back at every slice's first row.
    static func groupImage(sliceRows: [Int], blockRows: Int, schema: [Field]) -> [UInt8] {
        var builder = SegmentBuilder(groupOf: "option", day: day, schema: schema)
        var file = builder.header()
        let slices = sliceRows.enumerated().map { i, n in rows(schema, count: n, from: start, seed: UInt64(i + 1)) }
        let all = RowBlock.concatenate(slices, schema: schema)
        for at in stride(from: 0, to: all.rowCount, by: blockRows) {
            file += builder.append(SegmentBuilder.encodeGroupBlock(all.slice(at..<min(all.rowCount, at + blockRows)), schema: schema))
        }
        return file + builder.finish()
    }

    static func walFile(_ records: [WALRecord]) -> [UInt8] {
        var file = WALLayout.header()
        for r in records { WALLayout.frame(r.encode(), into: &file) }
        return file
    }

    /// A fixed key, so that the encrypted seeds are the same on every run.
    static let key = EncryptionKey(bytes: (0..<32).map { UInt8($0 &* 7 &+ 3) })
    static let salt: [UInt8] = (0..<16).map { UInt8($0 &* 13 &+ 1) }
    static let keyring: Keyring = {
        var k = Keyring(keys: [key], source: "fuzz")
        k.acceptsPlain = true
        return k
    }()
}
