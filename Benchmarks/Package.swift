// swift-tools-version: 6.1
import PackageDescription

// Strata's benchmarks: a package of their own, so that users of the library never
// build ordo-one/benchmark. Run from this directory:
//
//     swift package benchmark                 # every benchmark
//     swift package benchmark --filter 'Codec.*'
//     swift run -c release StrataSizes        # bytes per row, bits per value
//     swift run -c release StrataProfile bars # one workload in a loop, for perf/valgrind
//
// Results and the machine they were measured on: RESULTS.md.
let package = Package(
    name: "StrataBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Strata", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // Deterministic in-memory data shared by the executables.
        .target(
            name: "StrataBenchmarkSupport",
            dependencies: [
                .product(name: "StrataFormat", package: "Strata"),
                .product(name: "StrataEngine", package: "Strata"),
                .product(name: "StrataSystem", package: "Strata"),
                .product(name: "StrataText", package: "Strata"),
                .product(name: "StrataPlatform", package: "Strata"),
            ],
            path: "StrataBenchmarkSupport"
        ),
        .executableTarget(
            name: "StrataBenchmarks",
            dependencies: [
                "StrataBenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "StrataFormat", package: "Strata"),
                .product(name: "StrataEngine", package: "Strata"),
                .product(name: "StrataText", package: "Strata"),
                .product(name: "StrataArchive", package: "Strata"),
                .product(name: "StrataSystem", package: "Strata"),
                .product(name: "StrataMirror", package: "Strata"),
                .product(name: "StrataCache", package: "Strata"),
                .product(name: "StrataServer", package: "Strata"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "StrataBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Not under Benchmarks/ directly, so the benchmark plugin does not run it as a
        // benchmark target (it takes every executable whose parent folder is Benchmarks).
        .executableTarget(
            name: "StrataSizes",
            dependencies: [
                "StrataBenchmarkSupport",
                .product(name: "StrataFormat", package: "Strata"),
                .product(name: "StrataEngine", package: "Strata"),
                .product(name: "StrataSystem", package: "Strata"),
            ],
            path: "Tools/StrataSizes"
        ),
        // One workload in a loop, for perf and valgrind (no harness in the profile).
        .executableTarget(
            name: "StrataProfile",
            dependencies: [
                "StrataBenchmarkSupport",
                .product(name: "StrataFormat", package: "Strata"),
                .product(name: "StrataEngine", package: "Strata"),
                .product(name: "StrataText", package: "Strata"),
                .product(name: "StrataSystem", package: "Strata"),
            ],
            path: "Tools/StrataProfile"
        ),
    ],
    swiftLanguageModes: [.v6]
)
