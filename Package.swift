// swift-tools-version: 6.1
import PackageDescription

// Strata: a native Swift time-series store for market data.
// Layers (arrows point down; README.md's "Modules" draws them, scripts/check-layers keeps
// them): strata CLI, StrataServer → StrataSystem (StrataInstance, the composition root) →
// StrataArchive / StrataMirror / StrataCache / StrataText → StrataEngine → StrataFormat and
// StrataPlatform. StrataFormat is pure (bytes in, bytes out); StrataPlatform owns system
// calls; StrataEngine owns storage and queries; each service owns its C library.
let package = Package(
    name: "Strata",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "StrataFormat", targets: ["StrataFormat"]),
        .library(name: "StrataPlatform", targets: ["StrataPlatform"]),
        .library(name: "StrataEngine", targets: ["StrataEngine"]),
        .library(name: "StrataText", targets: ["StrataText"]),
        .library(name: "StrataArchive", targets: ["StrataArchive"]),
        .library(name: "StrataMirror", targets: ["StrataMirror"]),
        .library(name: "StrataCache", targets: ["StrataCache"]),
        .library(name: "StrataSystem", targets: ["StrataSystem"]),
        .library(name: "StrataServer", targets: ["StrataServer"]),
        .executable(name: "strata", targets: ["strata"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // CRC-32C with the processor's instruction (SSE 4.2 / ARMv8 CRC), 10× the tables.
        .target(name: "CStrataChecksum"),
        // libzstd: cold objects compress each block, pack manifests each page, with zstd.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(name: "StrataFormat", dependencies: ["CStrataChecksum", "CZstd"]),
        // syncfs(2) for group durability of bulk writes; Glibc's module map hides it.
        .target(name: "CStrataSystem"),
        // The system beneath the engine: files, mmap, locks, threads, and the error type
        // that keeps errno as a value.
        .target(name: "StrataPlatform", dependencies: ["CStrataSystem"]),
        .target(name: "StrataEngine", dependencies: ["StrataFormat", "StrataPlatform"]),
        // Text formats over the engine: line protocol, JSON records, CSV ingest, results.
        .target(name: "StrataText", dependencies: ["StrataEngine", "StrataFormat", "StrataPlatform"]),
        // libcurl (HTTP for S3), with typed wrappers for its variadic calls.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(
            name: "StrataArchive",
            dependencies: [
                "StrataEngine", "StrataFormat", "StrataPlatform", "CCurl",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // libpq (the TimescaleDB / PostgreSQL mirror), with shims for its character macros.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(name: "StrataMirror", dependencies: ["StrataEngine", "StrataFormat", "StrataPlatform", "CLibPQ"]),
        // hiredis (the Redis hot tier): Debian's 0.14, fed with commands Strata formats. Its
        // headers are under the standard include path (<hiredis/hiredis.h>), so no pkgConfig:
        // hiredis.pc's -D_FILE_OFFSET_BITS=64 is a flag SwiftPM refuses with a warning.
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .target(name: "StrataCache", dependencies: ["StrataEngine", "StrataFormat", "StrataPlatform", "StrataText", "CHiredis"]),
        // The facade over the engine and the services: backups (and later configuration,
        // tier policy and scheduling).
        .target(
            name: "StrataSystem",
            dependencies: ["StrataEngine", "StrataFormat", "StrataPlatform", "StrataText", "StrataArchive", "StrataMirror", "StrataCache"]
        ),
        // zlib: gzip request bodies.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // HTTP: line protocol writes, queries, /metrics, /status (Hummingbird on SwiftNIO).
        .target(
            name: "StrataServer",
            dependencies: [
                "StrataSystem", "StrataEngine", "StrataFormat", "StrataPlatform", "StrataText", "CZlib",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "strata",
            dependencies: [
                "StrataSystem", "StrataServer", "StrataEngine", "StrataFormat", "StrataPlatform", "StrataText",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "StrataFormatTests", dependencies: ["StrataFormat"]),
        // What the test targets share: temporary directories, the `strata` binary, trade rows.
        .target(name: "StrataTestSupport", dependencies: ["StrataEngine", "StrataFormat", "StrataPlatform"], path: "Tests/StrataTestSupport"),
        .testTarget(
            name: "StrataEngineTests",
            dependencies: ["StrataEngine", "StrataFormat", "StrataPlatform", "StrataSystem", "StrataTestSupport"]
        ),
        .testTarget(
            name: "StrataSystemTests",
            dependencies: ["StrataSystem", "StrataArchive", "StrataCache", "StrataEngine", "StrataFormat", "StrataPlatform", "StrataTestSupport"]
        ),
        .testTarget(
            name: "StrataServerTests",
            dependencies: ["StrataServer", "StrataEngine", "StrataPlatform", .product(name: "HTTPTypes", package: "swift-http-types")]
        ),
        .testTarget(name: "StrataTextTests", dependencies: ["StrataText", "StrataEngine", "StrataFormat", "StrataPlatform", "StrataTestSupport"]),
        // The CLI and the HTTP server as users see them: the `strata` executable, run.
        .testTarget(
            name: "StrataEndToEndTests",
            dependencies: ["strata", "StrataEngine", "StrataFormat", "StrataPlatform", "StrataText", "StrataArchive", "StrataSystem",
                           "StrataTestSupport"]
        ),
        .testTarget(
            name: "StrataArchiveTests",
            dependencies: ["StrataArchive", "StrataSystem", "StrataCache", "StrataEngine", "StrataFormat", "StrataPlatform"]
        ),
        .testTarget(name: "StrataMirrorTests", dependencies: ["StrataMirror", "StrataEngine", "StrataFormat", "StrataPlatform", "StrataSystem"]),
        .testTarget(
            name: "StrataCacheTests",
            dependencies: ["StrataCache", "StrataEngine", "StrataFormat", "StrataPlatform", "StrataText", "StrataSystem"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
