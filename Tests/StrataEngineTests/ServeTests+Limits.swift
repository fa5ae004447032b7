import Glibc
import StrataEngine
import Testing

/// What cannot be stored is refused before it is acknowledged, in time linear in the body.
extension ServeTests {
    /// A line with 200,000 fields, or lines that together give a measurement more fields than
    /// it may have, are refused with 400 at once; the store keeps working and reopens.
    @Test func tooManyFieldsAreRefusedBeforeTheyAreAcknowledged() throws {
        // Lines up to 8 MiB, so that the field limit, not the line limit, is what refuses.
        writeText(root.path + "/strata.json", "{\"server\": {\"max_line_kib\": 8192}}\n")
        var (pid, url) = try start(["--config", root.path + "/strata.json"])
        defer { kill(pid, SIGKILL); _ = waitForExit(pid) }
        let write = url + "/api/v2/write?precision=s"
        let huge = "trade,symbol=A " + (0..<200_000).map { "f\($0)=1" }.joined(separator: ",") + " 1704205800\n"
        let started = monotonicNanoseconds()
        let one = post(write, huge)
        let seconds = Double(monotonicNanoseconds() - started) / 1e9
        #expect(one.code == 400 && one.body.contains("more than 1024 fields in the line"), "\(one.code) \(one.body.prefix(300))")
        #expect(seconds < 10, "200,000 keys took \(seconds) s")
        // Two lines of 600 new fields each: each fits, together they do not; nothing is written.
        let first = "trade,symbol=B " + (0..<600).map { "a\($0)=1" }.joined(separator: ",") + " 1704205800"
        let second = "trade,symbol=B " + (0..<600).map { "b\($0)=1" }.joined(separator: ",") + " 1704205801"
        let both = post(write, first + "\n" + second + "\n")
        #expect(both.code == 400 && both.body.contains("measurement 'trade' would have 1200 fields; the limit is 1024"), "\(both.code) \(both.body.prefix(300))")
        #expect(post(write, "trade,symbol=C price=1 1704205800\n").code == 204)
        // The store is whole: a kill and a restart replay its log.
        kill(pid, SIGKILL)
        _ = waitForExit(pid)
        (pid, url) = try start(["--config", root.path + "/strata.json"])
        let rows = fetch(url + "/api/v1/query?measurement=trade&symbol=C&format=csv&time_format=ns")
        #expect(rows.code == 200 && rows.body == "time,symbol,price\n1704205800000000000,C,1\n", "\(rows)")
        let records = exchange("POST", url + "/api/v1/records", body: "{\"symbol\":\"D\",\"data_type\":\"trade\",\"timestamp\":1704205800,"
                               + (0..<2_000).map { "\"k\($0)\":1" }.joined(separator: ",") + "}")
        #expect(records.code == 400 && records.body.contains("a measurement may have at most 1024"), "\(records.code) \(records.body.prefix(300))")
    }
}
