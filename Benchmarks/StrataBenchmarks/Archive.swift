import Benchmark
import Glibc
import StrataArchive
import StrataBenchmarkSupport
import StrataEngine
import StrataFormat
import StrataPlatform

/// The archive: a directory by default, or the S3 server named by STRATA_BENCH_S3_ENDPOINT
/// (with STRATA_BENCH_S3_ACCESS_KEY and STRATA_BENCH_S3_SECRET_KEY), e.g. the loopback
/// SeaweedFS that `scripts/s3-server start` prints.
func benchmarkObjects(_ name: String) -> (store: any ObjectStore, label: String) {
    func env(_ n: String) -> String? { getenv(n).map { String(cString: $0) } }
    if let endpoint = env("STRATA_BENCH_S3_ENDPOINT"), let access = env("STRATA_BENCH_S3_ACCESS_KEY"), let secret = env("STRATA_BENCH_S3_SECRET_KEY") {
        var c = S3Configuration(endpoint: endpoint, bucket: "strata-bench-\(name)-\(getpid())", accessKey: access, secretKey: secret)
        c.partSize = 5 << 20
        let store = try! S3ObjectStore(c)
        try! store.createBucketIfMissing()
        return (store, "S3")
    }
    return (try! LocalObjectStore(directory: Fixtures.makeTemporaryDirectory("strata-bench-objects")), "directory")
}

/// A day of 450k trades written as one segment, and its bytes.
func tradeDaySegment() -> (store: Store, series: SeriesKey, segment: [UInt8]) {
    let (store, series, summary) = try! Fixtures.tradeStore()
    let file = try! MappedFile(path: summary.segments[0])
    return (store, series, file.withUnsafeBytes { Array($0) })
}

/// A keyring of one fixed key, for the encrypted variants.
let benchmarkKeyring = Keyring(keys: [EncryptionKey(bytes: Array(0..<32))], source: "benchmark key")

func registerArchiveBenchmarks() {
    // Raw transfer: one iteration puts (multipart on S3: 5 MiB parts, 4 at a time) or gets
    // a 64 MiB object. MB/s = 67.1 / seconds per iteration.
    for step in ["put", "get"] {
        Benchmark("Archive/\(step) a 64 MiB object",
                  configuration: .init(metrics: [.wallClock], warmupIterations: 1, scalingFactor: .one,
                                       maxDuration: .seconds(10), maxIterations: 20)) { (_: Benchmark, fixture: (objects: any ObjectStore, bytes: [UInt8])) in
            if step == "put" {
                try! fixture.objects.put("bench/64MiB", fixture.bytes)
            } else {
                blackHole(try! fixture.objects.get("bench/64MiB"))
            }
        } setup: {
            let objects = benchmarkObjects("transfer-\(step)").store
            var rng = SystemRandomNumberGenerator()
            let bytes = (0..<(64 << 20) / 8).flatMap { _ in withUnsafeBytes(of: rng.next() as UInt64, Array.init) }
            if step == "get" { try objects.put("bench/64MiB", bytes) }
            return (objects, bytes)
        }
    }

    // AES-256-GCM alone: one iteration seals (or opens) 64 units of 8 KiB, 512 KiB in all —
    // about what one trade day's frames are.
    for step in ["seal", "open"] {
        Benchmark("Archive/\(step) 512 KiB in 8 KiB units",
                  configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 3, scalingFactor: .one,
                                       maxDuration: .seconds(3))) { (_: Benchmark, fixture: (cipher: ObjectCipher, units: [[UInt8]])) in
            for (i, unit) in fixture.units.enumerated() {
                if step == "seal" {
                    blackHole(fixture.cipher.seal(unit, unit: UInt64(i)))
                } else {
                    blackHole(try! unit.withUnsafeBytes { try fixture.cipher.open($0, unit: UInt64(i)) })
                }
            }
        } setup: {
            let cipher = ObjectCipher.new(benchmarkKeyring.current)
            let plain = (0..<64).map { i in [UInt8]((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }) }
            return (cipher, step == "seal" ? plain : plain.enumerated().map { cipher.seal($0.element, unit: UInt64($0.offset)) })
        }
    }

    for encrypted in [false, true] {
        let label = encrypted ? ", encrypted" : ""
        let keyring = encrypted ? benchmarkKeyring : nil
        // One iteration: convert a 450k-trade segment into a cold object and upload it.
        // Throughput reads as MB/s of segment bytes.
        Benchmark("Archive/make cold object and upload one trade day\(label)",
                  configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 1, scalingFactor: .one,
                                       maxDuration: .seconds(10), maxIterations: 50)) { (_: Benchmark, fixture: (objects: any ObjectStore, segment: [UInt8])) in
            let cipher = keyring.map { ObjectCipher.new($0.current) }
            let cold = try! fixture.segment.withUnsafeBytes { raw throws in try ColdObject.make(fromSegment: raw, cipher: cipher) }
            try! fixture.objects.put("trade/ESH4/2024/01/02/0000000000000001.strata", cold)
        } setup: {
            (benchmarkObjects("upload").store, tradeDaySegment().segment)
        }

        // One iteration: download a whole cold day and rebuild its segment.
        Benchmark("Archive/download and rebuild one trade day\(label)",
                  configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 1, scalingFactor: .one,
                                       maxDuration: .seconds(10), maxIterations: 50)) { (_: Benchmark, objects: any ObjectStore) in
            let object = try! objects.get("trade/ESH4/2024/01/02/0000000000000001.strata")
            blackHole(try! object.withUnsafeBytes { raw throws in try ColdObject.segmentBytes(raw, keyring: keyring, location: "benchmark") })
        } setup: {
            let objects = benchmarkObjects("download").store
            let cipher = keyring.map { ObjectCipher.new($0.current) }
            let cold = try tradeDaySegment().segment.withUnsafeBytes { raw throws in try ColdObject.make(fromSegment: raw, cipher: cipher) }
            try objects.put("trade/ESH4/2024/01/02/0000000000000001.strata", cold)
            return objects
        }
    }

    // One hour inside a day: warm (a local segment) and cold (the same day archived; the
    // index is cached after the first iteration, the blocks are not: each iteration fetches
    // them with one ranged GET).
    for tier in ["warm", "cold", "cold encrypted"] {
        Benchmark("Archive/raw rows of one hour, \(tier) day",
                  configuration: .init(metrics: [.throughput, .wallClock], warmupIterations: 3, scalingFactor: .one,
                                       maxDuration: .seconds(5))) { (_: Benchmark, fixture: (db: Database, series: SeriesKey)) in
            let from = Fixtures.trades.timestamps[0] + 600_000_000_000
            blackHole(try! fixture.db.query(fixture.series, from: from, to: from + 3_600_000_000_000 - 1))
        } setup: {
            let dir = Fixtures.makeTemporaryDirectory("strata-bench-tier")
            var c = DatabaseConfiguration()
            c.fsync = .none
            // No cache: every iteration fetches the hour's blocks again.
            let archive = Archive(objects: benchmarkObjects("tier").store, keyring: tier == "cold encrypted" ? benchmarkKeyring : nil, cacheBytes: 0)
            c.store.coldStorage = archive
            let db = try Database(directory: dir, configuration: c)
            let series = try SeriesKey(measurement: "trade", symbol: "ESH4")
            try await db.append(series, schema: [Field("price", .float64), Field("size", .int64)], rows: Fixtures.trades)
            try db.flush()
            if tier != "warm" { _ = try archive.push(db, olderThan: 0) }
            return (db, series)
        }
    }
}
