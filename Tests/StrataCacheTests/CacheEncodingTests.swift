import StrataCache
import StrataEngine
import StrataFormat
import StrataPlatform
import Testing

@Suite struct CacheEncodingTests {
    let es = try! SeriesKey(measurement: "trade", symbol: "ESH4")

    func text(_ w: RESPWriter) -> String { String(decoding: w.bytes, as: UTF8.self) }

    @Test func keysEscapeColonsAndPercentSigns() {
        let keys = CacheKeys(prefix: "strata")
        let odd = try! SeriesKey(measurement: "fx:spot", symbol: "EUR:USD%")
        #expect(keys.stream(es) == "strata:trade:ESH4" && keys.last(es) == "strata:last:trade:ESH4")
        #expect(keys.stream(odd) == "strata:fx%3Aspot:EUR%3AUSD%25")
        #expect(keys.series(ofStream: keys.stream(odd)) == odd && keys.series(ofStream: keys.stream(es)) == es)
        #expect(keys.series(ofStream: keys.last(es)) == nil && keys.series(ofStream: keys.status(store: "ab")) == nil)
        #expect(keys.series(ofStream: "strata:a:b%zz") == nil && keys.series(ofStream: "other:trade:ESH4") == nil)
    }

    @Test func idsFollowTimeAndNeverGoBack() {
        let start = StreamID.zero
        let a = start.next(forTime: 1_704_205_800_000_000_001)
        #expect(a.description == "1704205800000-0")
        #expect(a.next(forTime: 1_704_205_800_000_999_999).description == "1704205800000-1")  // same millisecond
        #expect(a.next(forTime: 1_704_205_799_000_000_000).description == "1704205800000-1")  // late: after the newest
        #expect(a.next(forTime: 1_704_205_800_002_000_000).description == "1704205800002-0")
        #expect(start.next(forTime: -5).description == "0-1")  // before 1970: never 0-0
        #expect(StreamID("12-3") == StreamID(milliseconds: 12, sequence: 3) && StreamID("12") == nil && StreamID("-1-0") == nil)
    }

    /// The exact commands, byte for byte: a row with an absent field, trimming on the last
    /// row of a run, and the last hash in a transaction.
    @Test func rowsAndLastHashesAsRESP() {
        let encoder = CacheEncoder(keys: CacheKeys(prefix: "s"), windowMilliseconds: 1_000, lastTTLMilliseconds: 60_000)
        let schema = [Field("price", .float64), Field("time", .int64), Field("ok", .bool)]
        let rows = RowBlock(timestamps: [5_000_000_000, 5_000_000_001], columns: [
            Column(.float64([1.5, 2])), Column(.int64([7, 0]), presence: [true, false]), Column(.bool([true, false])),
        ])
        var w = RESPWriter()
        let id = encoder.appendRows(es, schema: schema, rows: rows, range: 0..<2, after: .zero, into: &w)
        #expect(id.description == "5000-1" && w.commands == 2 && w.isComplete)
        #expect(text(w) == "*11\r\n$4\r\nXADD\r\n$12\r\ns:trade:ESH4\r\n$6\r\n5000-0\r\n$4\r\ntime\r\n$10\r\n5000000000\r\n$5\r\nprice\r\n$3\r\n1.5\r\n$10\r\nfield_time\r\n$1\r\n7\r\n$2\r\nok\r\n$4\r\ntrue\r\n"
            + "*12\r\n$4\r\nXADD\r\n$12\r\ns:trade:ESH4\r\n$5\r\nMINID\r\n$1\r\n~\r\n$4\r\n4000\r\n$6\r\n5000-1\r\n$4\r\ntime\r\n$10\r\n5000000001\r\n$5\r\nprice\r\n$1\r\n2\r\n$2\r\nok\r\n$5\r\nfalse\r\n")
        w.removeAll()
        encoder.appendLast(es, schema: schema, rows: rows, row: 1, into: &w)
        #expect(w.commands == 5 && w.isComplete)
        #expect(text(w) == "*1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nDEL\r\n$17\r\ns:last:trade:ESH4\r\n"
            + "*8\r\n$4\r\nHSET\r\n$17\r\ns:last:trade:ESH4\r\n$4\r\ntime\r\n$10\r\n5000000001\r\n$5\r\nprice\r\n$1\r\n2\r\n$2\r\nok\r\n$5\r\nfalse\r\n"
            + "*3\r\n$7\r\nPEXPIRE\r\n$17\r\ns:last:trade:ESH4\r\n$5\r\n60000\r\n*1\r\n$4\r\nEXEC\r\n")
        w.removeAll()
        encoder.appendLastIfNewer(es, schema: schema, rows: rows, row: 0, into: &w)
        #expect(w.commands == 1 && w.isComplete)
    }

    @Test func reconnectsBackOffWithJitterAndStartOverOnSuccess() {
        var s = ReconnectSchedule(initialMilliseconds: 100, maxMilliseconds: 400)
        #expect(s.isDue(0))
        var bounds: [ClosedRange<Int>] = []
        let waits = (0..<4).map { _ in s.failed(at: 1_000) { bounds.append($0); return $0.upperBound } }
        #expect(bounds == [50...100, 100...200, 200...400, 200...400] && waits == [100, 200, 400, 400])
        #expect(!s.isDue(1_000 + 399_999_999) && s.isDue(1_000 + 400_000_000) && s.consecutiveFailures == 4)
        s.connected()
        #expect(!s.isDue(.max) && s.backoffMilliseconds == 100 && s.consecutiveFailures == 0)
        #expect(s.failed(at: 0) { $0.lowerBound } == 50)
    }

    /// One change per outage: the first failure and the first success after it; a first
    /// success at start and further failures say nothing.
    @Test func reachabilityReportsEachOutageOnceAndItsEnd() {
        var r = Reachability()
        let down = StrataError(.io, "cannot connect to Redis at 127.0.0.1:1/0: Connection refused")
        var changes: [String] = []
        func note(_ change: Reachability.Change?) {
            switch change {
            case .failing(let e)?: changes.append("failing: \(e.message)")
            case .recovered?: changes.append("recovered")
            case nil: changes.append("-")
            }
        }
        note(r.reached())
        note(r.failed(down))
        note(r.failed(down))
        note(r.failed(down))
        note(r.reached())
        note(r.reached())
        note(r.failed(StrataError(.io, "lost")))
        #expect(changes == ["-", "failing: \(down.message)", "-", "-", "recovered", "-", "failing: lost"])
        #expect(r.isFailing)
    }
}
