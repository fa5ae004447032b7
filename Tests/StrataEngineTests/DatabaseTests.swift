import Glibc
@testable import StrataEngine
import StrataFormat
import StrataPlatform
import StrataTestSupport
import Testing

@Suite struct DatabaseTests {
    let root = TemporaryDirectory()
    let es = try! SeriesKey(measurement: "trade", symbol: "ESH4")
    let nq = try! SeriesKey(measurement: "trade", symbol: "NQH4")
    let base = ns("2024-01-02T14:30:00Z")

    func configuration(_ change: (inout DatabaseConfiguration) -> Void = { _ in }) -> DatabaseConfiguration {
        var c = DatabaseConfiguration()
        c.fsync = .none
        change(&c)
        return c
    }

    func walFiles() -> [String] {
        ((try? FileSystem.list("\(root.path)/_wal")) ?? []).filter { $0.hasSuffix(".wal") }
    }

    @Test func appendedRowsAreReadableAtOnceAndAfterReopening() async throws {
        let db = try Database(directory: root.path, configuration: configuration())
        // Out of order, with equal timestamps that must keep arrival order.
        try await db.append(es, schema: TradeRows.schema, rows: TradeRows.rows([base + 5, base + 1, base + 5], firstSeq: 0))
        try await db.append([Store.SeriesRows(series: es, schema: TradeRows.schema, rows: TradeRows.rows([base + 3, base + 5], firstSeq: 3)),
                             Store.SeriesRows(series: nq, schema: TradeRows.schema, rows: TradeRows.rows([base], firstSeq: 100))])
        let expected: [Int64] = [1, 3, 0, 2, 4]
        #expect(TradeRows.seqs(try db.query(es)) == expected)
        #expect(try db.query(es).rows.timestamps == [base + 1, base + 3, base + 5, base + 5, base + 5])
        #expect(segmentFiles(root.path).isEmpty)
        try db.close()
        #expect(segmentFiles(root.path).count == 2)
        #expect(walFiles().count == 1)
        let again = try Database(directory: root.path, configuration: configuration())
        #expect(again.recovery.rowsRecovered == 0)
        #expect(TradeRows.seqs(try again.query(es)) == expected)
        #expect(TradeRows.seqs(try again.query(nq)) == [100])
        try again.close()
        // The plain store reads the same segments.
        #expect(TradeRows.seqs(try Store(directory: root.path).query(es)) == expected)
    }

    @Test func aSecondOpenOfTheSameDirectoryIsRefused() throws {
        let db = try Database(directory: root.path, configuration: configuration())
        #expect { try Database(directory: root.path) } throws: { ($0 as? StrataError)?.code == .conflict }
        try db.close()
        try Database(directory: root.path, configuration: configuration()).close()
    }

    @Test func unflushedRowsAreReplayedAfterACrash() async throws {
        let db = try Database(directory: root.path, configuration: configuration())
        for k in 0..<10 {
            try await db.append(es, schema: TradeRows.schema, rows: TradeRows.rows((0..<100).map { base + Int64(k * 100 + $0) }, firstSeq: Int64(k * 100)))
        }
        db.simulateCrash()
        #expect(segmentFiles(root.path).isEmpty)
        let again = try Database(directory: root.path, configuration: configuration())
        #expect(again.recovery.rowsRecovered == 1000)
        #expect(again.recovery.records == 10)
        #expect(again.recovery.damage.isEmpty)
        #expect(TradeRows.seqs(try again.query(es)) == Array(0..<1000))
        // Replayed rows are flushed on open and the old WAL file removed.
        #expect(segmentFiles(root.path).count == 1)
        #expect(walFiles() == ["0000000000000002.wal"])
        try again.close()
    }

    @Test func rowsAlreadyFlushedAreNotReplayedTwice() async throws {
        let db = try Database(directory: root.path, configuration: configuration { $0.flushRows = 250; $0.compactAfterSegments = 0 })
        for k in 0..<10 {
            try await db.append(es, schema: TradeRows.schema, rows: TradeRows.rows((0..<100).map { base + Int64(k * 100 + $0) }, firstSeq: Int64(k * 100)))
            try await db.append(nq, schema: TradeRows.schema, rows: TradeRows.rows([base + Int64(k)], firstSeq: Int64(5000 + k)))
        }
        // Wait for the flush thread to take ESH4 (over 250 rows) at least once.
        for _ in 0..<200 where db.statistics.flushes == 0 { try await Task.sleep(nanoseconds: 10_000_000) }
        #expect(db.statistics.flushes > 0)
        db.simulateCrash()
        let again = try Database(directory: root.path, configuration: configuration())
        #expect(again.recovery.rowsAlreadyFlushed > 0)
        #expect(again.recovery.rowsRecovered + again.recovery.rowsAlreadyFlushed == 1010)
        #expect(TradeRows.seqs(try again.query(es)) == Array(0..<1000))
        #expect(TradeRows.seqs(try again.query(nq)) == Array(5000..<5010))
        try again.close()
    }

    @Test func replayThatFlushesForMemoryKeepsTheLogFilesItHasNotReadYet() throws {
        // 40 appends of 1,000 rows over several small WAL files; reopened with a memory
        // bound that forces flushes halfway through the replay.
        let db = try Database(directory: root.path, configuration: configuration {
            $0.walFileSize = 1 << 12
            $0.compactAfterSegments = 0
        })
        for k in 0..<40 {
            try db.appendBlocking([Store.SeriesRows(series: es, schema: TradeRows.schema,
                                                    rows: TradeRows.rows((0..<1000).map { base + Int64(k * 1000 + $0) }, firstSeq: Int64(k * 1000)))])
        }
        db.simulateCrash()
        #expect(walFiles().count >= 4)
        let again = try Database(directory: root.path, configuration: configuration {
            $0.memoryLimit = 1 << 16
            $0.compactAfterSegments = 0
        })
        #expect(again.statistics.flushes > 1)
        #expect(again.recovery.rowsRecovered == 40_000)
        #expect(TradeRows.seqs(try again.query(es)) == Array(0..<40_000))
        try again.close()
        let third = try Database(directory: root.path, configuration: configuration())
        #expect(TradeRows.seqs(try third.query(es)) == Array(0..<40_000))
        try third.close()
    }

    @Test func aBatchThatDoesNotFitWhileMemoryIsUnderHalfIsNotLeftWaiting() async throws {
        let db = try Database(directory: root.path, configuration: configuration {
            $0.memoryLimit = 1 << 16
            $0.compactAfterSegments = 0
        })
        // About 40% of the bound, then a batch that does not fit beside it: the flush thread
        // must flush for the waiting appender although memory is under half full.
        try await db.append(es, schema: TradeRows.schema, rows: TradeRows.rows((0..<800).map { base + Int64($0) }, firstSeq: 0))
        #expect(db.statistics.memoryBytes < (1 << 16) / 2)
        try await db.append(es, schema: TradeRows.schema, rows: TradeRows.rows((0..<1250).map { base + 1000 + Int64($0) }, firstSeq: 800))
        #expect(db.statistics.backpressureWaits == 1)
        #expect(TradeRows.seqs(try db.query(es)) == Array(0..<2050))
        try db.close()
    }

    /// Many appenders at once against a small bound: none may find room that another has
    /// just taken (the check and the accounting were two steps, and the memtable went past
    /// the bound by a batch whenever two appenders checked between them).
    @Test func concurrentAppendersNeverTakeTheMemtablePastTheBound() async throws {
        let limit = 1 << 16
        let db = try Database(directory: root.path, configuration: configuration {
            $0.memoryLimit = limit
            $0.compactAfterSegments = 0
        })
        let base = self.base
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<16 {
                group.addTask {
                    let series = try SeriesKey(measurement: "trade", symbol: "S\(t % 4)")
                    for i in 0..<60 {
                        // 300 rows ≈ 9.4 KiB: six fit in the bound, a seventh does not.
                        let first = Int64(t * 1_000_000 + i * 1_000)
                        try await db.append(series, schema: TradeRows.schema, rows: TradeRows.rows((0..<300).map { base + first + Int64($0) }, firstSeq: first))
                    }
                }
            }
            try await group.waitForAll()
        }
        let s = db.statistics
        #expect(s.backpressureWaits > 0)
        #expect(s.memoryPeakBytes <= limit, "unflushed rows took \(s.memoryPeakBytes) bytes, beyond the bound of \(limit)")
        var rows = 0
        for symbol in 0..<4 { rows += try db.query(try SeriesKey(measurement: "trade", symbol: "S\(symbol)")).rows.rowCount }
        #expect(rows == 16 * 60 * 300)
        try db.close()
    }

    @Test func memoryFreedByADeleteLetsAWaitingAppenderGoOn() async throws {
        let db = try Database(directory: root.path, configuration: configuration {
            $0.memoryLimit = 1 << 16
            $0.compactAfterSegments = 0
        })
        try await db.append(es, schema: TradeRows.schema, rows: TradeRows.rows((0..<800).map { base + Int64($0) }, firstSeq: 0))
        // Flushes fail from now on (a directory is where the schema file must be), so only
        // the delete can free memory.
        try FileSystem.makeDirectories("\(root.path)/trade/_schema")
        let rows = TradeRows.rows((0..<1250).map { base + 10_000 + Int64($0) }, firstSeq: 800)
        let series = es
        let waiting = Task { try await db.append(series, schema: TradeRows.schema, rows: rows) }
        // Sleep without blocking a thread of the (small) cooperative pool the task needs.
        for _ in 0..<1000 where db.statistics.backpressureWaits == 0 { try await Task.sleep(nanoseconds: 5_000_000) }
        #expect(db.statistics.backpressureWaits == 1)
        try await db.delete(es, from: base, to: base + 799)
        try await waiting.value
        #expect(TradeRows.seqs(try db.query(es)) == Array(800..<2050))
        _ = system("rmdir '\(root.path)/trade/_schema'")
        try db.close()
    }

    @Test func afterAFailureAppendersThatMustWaitGetTheErrorInsteadOfWaiting() async throws {
        let db = try Database(directory: root.path, configuration: configuration { $0.memoryLimit = 1 << 16 })
        try await db.append(es, schema: TradeRows.schema, rows: TradeRows.rows((0..<800).map { base + Int64($0) }, firstSeq: 0))
        db.monitor.withLock { db.state.failure = StrataError(.io, "a flush failed halfway (injected)") }
        await #expect { try await db.append(es, schema: TradeRows.schema, rows: TradeRows.rows((0..<1250).map { base + Int64($0) }, firstSeq: 800)) } throws: {
            ($0 as? StrataError)?.message.contains("injected") == true
        }
        #expect { try db.appendBlocking([Store.SeriesRows(series: es, schema: TradeRows.schema, rows: TradeRows.rows((0..<1250).map { base + Int64($0) }, firstSeq: 800))]) } throws: {
            ($0 as? StrataError)?.message.contains("injected") == true
        }
        db.simulateCrash()
    }

    @Test func oldRowsAreFlushedByAgeAndBigSeriesBySize() async throws {
        let db = try Database(directory: root.path, configuration: configuration {
            $0.flushAge = 50_000_000  // 50 ms
            $0.flushRows = 1000
            $0.compactAfterSegments = 0
        })
        // A quiet series: flushed once its first row is 50 ms old.
        try await db.append(nq, schema: TradeRows.schema, rows: TradeRows.rows([base], firstSeq: 0))
        // A busy one: flushed as soon as it holds 1,000 rows.
        try await db.append(es, schema: TradeRows.schema, rows: TradeRows.rows((0..<1500).map { base + Int64($0) }, firstSeq: 1))
        for _ in 0..<300 where !db.seriesInMemory().isEmpty { try await Task.sleep(nanoseconds: 10_000_000) }
        #expect(db.seriesInMemory().isEmpty)
        #expect(try db.store.segmentIDs(nq, Day(containing: base)).count == 1)
        #expect(try db.store.segmentIDs(es, Day(containing: base)).count == 1)
        #expect(TradeRows.seqs(try db.query(es)) == Array(1...1500))
        try db.close()
    }

    @Test func queriesMergeSegmentsAndMemoryAndLateRowsGetTheirOwnSegment() async throws {
        let db = try Database(directory: root.path, configuration: configuration { $0.compactAfterSegments = 0 })
        try await db.append(es, schema: TradeRows.schema, rows: TradeRows.rows([base + 10, base + 20], firstSeq: 0))
        try db.close()
        let again = try Database(directory: root.path, configuration: configuration { $0.compactAfterSegments = 0 })
        // Late rows for the same day, and one equal to a flushed timestamp.
        try await again.append(es, schema: TradeRows.schema, rows: TradeRows.rows([base + 5, base + 20], firstSeq: 2))
        #expect(TradeRows.seqs(try again.query(es)) == [2, 0, 1, 3])
        let bars = try again.bars(es, spec: BarSpec(interval: 1_000_000_000, source: .ticks(price: "price", volume: "size")))
        #expect(bars.count == 1 && bars[0].count == 4)
        #expect(bars[0].open == 100 + 2 * 0.25 && bars[0].close == 100 + 3 * 0.25)
        try again.close()
        let day = Day(containing: base)
        #expect(try Store(directory: root.path).segmentIDs(es, day).count == 2)
        let third = try Database(directory: root.path, configuration: configuration())
        let summary = try third.compact()
        #expect(summary.seriesDays == 1 && summary.segmentsBefore == 2 && summary.segmentsAfter == 1 && summary.rows == 4)
        #expect(TradeRows.seqs(try third.query(es)) == [2, 0, 1, 3])
        try third.close()
        #expect(try Store(directory: root.path).segmentIDs(es, day).map(\.value) == [3])
        #expect(segmentFiles(root.path).count == 1)
    }

    @Test func deletesHideRowsAtOnceAndSpareLaterCorrections() async throws {
        let db = try Database(directory: root.path, configuration: configuration { $0.compactAfterSegments = 0 })
        try await db.append(es, schema: TradeRows.schema, rows: TradeRows.rows((0..<10).map { base + Int64($0) }, firstSeq: 0))
        try db.close()
        let live = try Database(directory: root.path, configuration: configuration { $0.compactAfterSegments = 0 })
        // Rows 10…19 stay in memory; rows 0…9 are in a segment.
        try await live.append(es, schema: TradeRows.schema, rows: TradeRows.rows((10..<20).map { base + Int64($0) }, firstSeq: 10))
        try await live.delete(es, from: base + 3, to: base + 14)
        let kept: [Int64] = [0, 1, 2, 15, 16, 17, 18, 19]
        #expect(TradeRows.seqs(try live.query(es)) == kept)
        // A correction inside the deleted range, appended after the delete, stays.
        try await live.append(es, schema: TradeRows.schema, rows: TradeRows.rows([base + 4], firstSeq: 99))
        let corrected: [Int64] = [0, 1, 2, 99, 15, 16, 17, 18, 19]
        #expect(TradeRows.seqs(try live.query(es)) == corrected)
        let bars = try live.bars(es, spec: BarSpec(interval: 1_000_000_000, source: .ticks(price: "price", volume: nil)))
        #expect(bars.map(\.count) == [9])
        // Replaying the delete after a crash must not touch the correction.
        live.simulateCrash()
        let again = try Database(directory: root.path, configuration: configuration { $0.compactAfterSegments = 0 })
        #expect(again.recovery.deletes == 1)
        #expect(TradeRows.seqs(try again.query(es)) == corrected)
        let day = SeriesDay(es, Day(containing: base))
        #expect(try again.store.manifest(day).tombstones.count == 1)
        let summary = try again.compact()
        #expect(summary.tombstonesPurged == 1 && summary.rows == 9)
        #expect(try again.store.manifest(day).tombstones.isEmpty)
        #expect(TradeRows.seqs(try again.query(es)) == corrected)
        try again.close()
        let last = try Database(directory: root.path, configuration: configuration())
        #expect(TradeRows.seqs(try last.query(es)) == corrected)
        try last.close()
    }

    @Test func anEmptyDeleteRangeIsAnError() async throws {
        let db = try Database(directory: root.path, configuration: configuration())
        await #expect { try await db.delete(es, from: base + 1, to: base) } throws: {
            ($0 as? StrataError)?.message.contains("is after") == true
        }
        try db.close()
    }

    @Test func concurrentAppendsUnderAlwaysShareFsyncs() async throws {
        let db = try Database(directory: root.path, configuration: configuration { $0.fsync = .always })
        let writers = 32, batches = 20, perBatch = 10
        let base = self.base
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<writers {
                group.addTask {
                    let series = try SeriesKey(measurement: "trade", symbol: "S\(w % 4)")
                    for b in 0..<batches {
                        let first = Int64((w * batches + b) * perBatch)
                        try await db.append(series, schema: TradeRows.schema,
                                            rows: TradeRows.rows((0..<perBatch).map { base + first + Int64($0) }, firstSeq: first))
                    }
                }
            }
            try await group.waitForAll()
        }
        let stats = db.statistics
        #expect(stats.appends == writers * batches)
        #expect(stats.wal.syncs > 0 && stats.wal.syncs < stats.appends)
        var all: [Int64] = []
        for s in 0..<4 { all += TradeRows.seqs(try db.query(try SeriesKey(measurement: "trade", symbol: "S\(s)"))) }
        #expect(all.sorted() == Array(0..<Int64(writers * batches * perBatch)))
        try db.close()
    }

    @Test func appendsWaitWhenMemoryIsFullAndLoseNothing() async throws {
        let db = try Database(directory: root.path, configuration: configuration {
            $0.memoryLimit = 1 << 16
            $0.compactAfterSegments = 0
        })
        for k in 0..<100 {
            try await db.append(es, schema: TradeRows.schema, rows: TradeRows.rows((0..<500).map { base + Int64(k * 500 + $0) }, firstSeq: Int64(k * 500)))
            #expect(db.statistics.memoryBytes <= (1 << 16) + 500 * 40)
        }
        #expect(db.statistics.backpressureWaits > 0)
        #expect(db.statistics.flushes > 1)
        #expect(TradeRows.seqs(try db.query(es)) == Array(0..<50_000))
        try db.close()
    }

    @Test func aQuerysColumnsKeepTheirOrderThroughAFlushAndARestart() async throws {
        // NQH4 brings `size` first, ESH4 brings `volume` later; flushing sorts series by
        // name (ESH4 first), which must not reorder the measurement's fields.
        let db = try Database(directory: root.path, configuration: configuration())
        try await db.append(nq, schema: [Field("price", .float64), Field("size", .int64)],
                            rows: RowBlock(timestamps: [base], columns: [Column(.float64([1])), Column(.int64([1]))]))
        try await db.append(es, schema: [Field("price", .float64), Field("volume", .int64)],
                            rows: RowBlock(timestamps: [base], columns: [Column(.float64([2])), Column(.int64([5]))]))
        let expected = ["price", "size", "volume"]
        #expect(try db.query(es).schema.map(\.name) == expected)
        try db.flush()
        #expect(try db.query(es).schema.map(\.name) == expected)
        try db.close()
        let again = try Database(directory: root.path, configuration: configuration())
        #expect(try again.query(es).schema.map(\.name) == expected)
        #expect(try again.schema("trade").fields.map(\.name) == expected)
        try again.close()
    }

    @Test func aFieldWithAnotherTypeIsRefusedAndNothingIsWritten() async throws {
        let db = try Database(directory: root.path, configuration: configuration())
        try await db.append(es, schema: TradeRows.schema, rows: TradeRows.rows([base], firstSeq: 0))
        let wrong = [Store.SeriesRows(series: nq, schema: TradeRows.schema, rows: TradeRows.rows([base], firstSeq: 1)),
                     Store.SeriesRows(series: es, schema: [Field("size", .string)], rows: RowBlock(timestamps: [base], columns: [Column(.string(["x"]))]))]
        await #expect { try await db.append(wrong) } throws: {
            ($0 as? StrataError)?.code == .conflict && ($0 as? StrataError)?.field == "size"
        }
        #expect(try db.query(nq).rows.rowCount == 0)
        #expect(db.statistics.wal.records == 1)
        try db.close()
    }

    @Test func aTornLastRecordIsCutOffAndReported() async throws {
        let db = try Database(directory: root.path, configuration: configuration())
        for k in 0..<3 {
            try await db.append(es, schema: TradeRows.schema, rows: TradeRows.rows([base + Int64(k)], firstSeq: Int64(k)))
        }
        let path = "\(root.path)/_wal/\(walFiles().last!)"
        db.simulateCrash()
        var bytes = try readFile(path)
        let full = bytes.count
        bytes.removeLast(5)  // the last record loses its tail
        writeFile(path, bytes)
        let again = try Database(directory: root.path, configuration: configuration())
        #expect(TradeRows.seqs(try again.query(es)) == [0, 1])
        #expect(again.recovery.damage.count == 1)
        let damage = again.recovery.damage[0]
        #expect(damage.path == path && damage.message.contains("torn"))
        #expect(damage.offset! > WALLayout.headerSize && damage.offset! < full - 5)
        // The store goes on.
        try await again.append(es, schema: TradeRows.schema, rows: TradeRows.rows([base + 9], firstSeq: 9))
        try again.close()
        let last = try Database(directory: root.path, configuration: configuration())
        #expect(TradeRows.seqs(try last.query(es)) == [0, 1, 9])
        try last.close()
    }

    @Test func aFlippedBitInTheMiddleStopsReplayThereAndIsReported() async throws {
        let db = try Database(directory: root.path, configuration: configuration())
        var offsets: [Int] = []
        for k in 0..<3 {
            offsets.append(Int(db.wal.statistics.bytes) + WALLayout.headerSize)
            try await db.append(es, schema: TradeRows.schema, rows: TradeRows.rows([base + Int64(k)], firstSeq: Int64(k)))
        }
        let name = walFiles().last!
        let path = "\(root.path)/_wal/\(name)"
        db.simulateCrash()
        var bytes = try readFile(path)
        bytes[offsets[1] + WALLayout.recordHeaderSize + 3] ^= 0x10  // inside the second record's payload
        writeFile(path, bytes)
        let again = try Database(directory: root.path, configuration: configuration())
        #expect(TradeRows.seqs(try again.query(es)) == [0])
        #expect(again.recovery.damage.count == 1)
        let damage = again.recovery.damage[0]
        #expect(damage.path == path && damage.offset == offsets[1])
        #expect(damage.message.contains("checksum"))
        // The damaged file is kept for inspection, out of the WAL's way.
        #expect(again.recovery.quarantined == ["\(root.path)/_wal/damaged/\(name)"])
        #expect(FileSystem.exists("\(root.path)/_wal/damaged/\(name)"))
        try await again.append(es, schema: TradeRows.schema, rows: TradeRows.rows([base + 9], firstSeq: 9))
        try again.close()
        let last = try Database(directory: root.path, configuration: configuration())
        #expect(TradeRows.seqs(try last.query(es)) == [0, 9])
        #expect(last.recovery.damage.isEmpty)
        try last.close()
    }

    @Test func aFailingFlushIsReportedAndLosesNothing() async throws {
        let db = try Database(directory: root.path, configuration: configuration())
        try await db.append(es, schema: TradeRows.schema, rows: TradeRows.rows([base, base + 1], firstSeq: 0))
        // A file where the series directory must go: every flush of it fails.
        try FileSystem.makeDirectories("\(root.path)/trade")
        writeText("\(root.path)/trade/ESH4", "in the way")
        #expect { try db.close() } throws: { error in
            guard let e = error as? StrataError else { return false }
            return e.code == .io && e.path?.hasPrefix("\(root.path)/trade/ESH4") == true
        }
        try FileSystem.remove("\(root.path)/trade/ESH4")
        let again = try Database(directory: root.path, configuration: configuration())
        #expect(again.recovery.rowsRecovered == 2)
        #expect(TradeRows.seqs(try again.query(es)) == [0, 1])
        try again.close()
    }
}
