import Benchmark

// Entry point read by the benchmark plugin. Each benchmark builds its data in its setup
// closure (outside the measured time), so listing or filtering benchmarks stays fast.
//
// Reading the figures:
// - Codec/* and Block/*: one iteration processes exactly 1,000,000 values (rows) in
//   blocks of 8192 (122 full blocks and one of 576, as the store cuts them), with
//   scalingFactor .mega, so the throughput column reads as M values/s and the wall
//   clock as time per value.
// - Ingest/* and Query/*: one whole operation per iteration; read the wall-clock p50.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock],
        warmupIterations: 3,
        scalingFactor: .one,
        maxDuration: .seconds(3),
        maxIterations: 100_000
    )
    registerCodecBenchmarks()
    registerBlockBenchmarks()
    registerEngineBenchmarks()
    registerPartitionBenchmarks()
    registerLiveBenchmarks()
    registerArchiveBenchmarks()
    registerBackupBenchmarks()
    registerMirrorBenchmarks()
    registerCacheBenchmarks()
    registerServerBenchmarks()
    registerServerConcurrencyBenchmarks()
}

/// Configuration of the Codec/* and Block/* benchmarks (1M values per iteration).
var perMillionValues: Benchmark.Configuration {
    .init(metrics: [.throughput, .wallClock], warmupIterations: 3, scalingFactor: .mega,
          maxDuration: .seconds(3), maxIterations: 10_000)
}
