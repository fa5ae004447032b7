import StrataEngine
import StrataFormat
import StrataText

/// `LineProtocol.parse`, the body of every `/write` and `/api/v2/write` request.
enum LineProtocolTarget {
    static let options: [LineProtocolOptions] = {
        var plain = LineProtocolOptions()
        plain.now = 1_704_186_000_000_000_000
        var other = LineProtocolOptions()
        other.guessesPrecision = true
        other.allowNonFinite = true
        other.symbolTag = "sym"
        other.maxLineBytes = 512
        // A store that already holds i* fields as integers and f* fields as floats.
        other.knownType = { _, field in field.hasPrefix("i") ? .int64 : field.hasPrefix("f") ? .float64 : nil }
        return [plain, other]
    }()

    static func run(_ body: UnsafeRawBufferPointer) {
        let (lines, skipped) = countLines(body)
        for (k, o) in options.enumerated() {
            let batch = LineProtocol.parse(body, options: o)
            let what = "line protocol (options \(k))"
            require(batch.lines == lines, "\(what): \(batch.lines) lines counted, the body has \(lines)")
            // A bad line is refused with its number; the others are kept: none is lost.
            require(batch.rows + batch.badLines + skipped == lines,
                    "\(what): \(batch.rows) rows + \(batch.badLines) refused + \(skipped) blank or comment lines ≠ \(lines) lines")
            require(batch.issues.allSatisfy { $0.line >= 1 && $0.line <= lines }, "\(what): an issue names a line outside 1…\(lines)")
            checkBatch(batch, what)
        }
    }

    /// Lines as the parser splits them (LF, a CR before it dropped), and how many of them
    /// are blank or comments (`#` after spaces and tabs).
    static func countLines(_ body: UnsafeRawBufferPointer) -> (lines: Int, skipped: Int) {
        var lines = 0, skipped = 0
        var start = 0
        while start < body.count {
            var end = start
            while end < body.count && body[end] != 10 { end += 1 }
            lines += 1
            var last = end
            if last > start && body[last - 1] == 13 { last -= 1 }
            var i = start
            while i < last && (body[i] == 32 || body[i] == 9) { i += 1 }
            if i == last || body[i] == UInt8(ascii: "#") { skipped += 1 }
            start = end + 1
        }
        return (lines, skipped)
    }

    static func seeds() -> [(String, [UInt8])] {
        [
            ("trades.lp", """
            # trades of two symbols, every field type
            trade,symbol=005930,venue=KRX price=71500,volume=120i,buy=true,cond="regular" 1704186000120000000
            trade,symbol=005930,venue=KRX price=71600.5,volume=3i,buy=f,cond="odd \\"lot\\"" 1704186000121000000
            trade,symbol=ESH4 price=4780.25,volume=2u,buy=T 1704186000122000000
            trade,symbol=ESH4 price=4780.5,volume=1i
            """),
            ("escapes.lp", "my\\ measure,symbol=BTC\\,USD,ex\\=tag=a\\ b f\\,x=1.5e3,s=\"back\\\\slash\" 1704186000\r\n"
             + "bar,symbol=ES open=1,high=2,low=0.5,close=1.5,volume=10i 1704186000000\n\n  \t# indented comment\n"),
            ("bad.lp", """
            trade,symbol=A price=1 1704186000000000000
            trade price=1
            trade,symbol=A
            trade,symbol=A price=NaN
            trade,symbol=A price=1i,price=2
            trade,symbol=A price="unterminated
            trade,symbol=A price=1 99999999999999999999
            trade,symbol=A volume=1.5
            ,symbol=A x=1
            trade,symbol=A,symbol=B x=1
            trade,symbol=A x=1 2 3
            """),
            ("precision.lp", "quote,sym=A,symbol=X bid=1.25,ask=1.5,i=3,f=4i 1704186000\nquote,sym=A bid=inf,ask=-Infinity 1704186000123\n"),
        ].map { ($0.0, Array($0.1.utf8)) }
    }
}
