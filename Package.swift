// swift-tools-version: 6.1
import PackageDescription

// Strata: a native Swift time-series store for market data.
// Layers (arrows point down): strata CLI → StrataEngine → StrataFormat.
// StrataFormat is pure (bytes in, bytes out); StrataEngine owns files, mmap and queries.
let package = Package(
    name: "Strata",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "StrataFormat", targets: ["StrataFormat"]),
        .library(name: "StrataEngine", targets: ["StrataEngine"]),
        .executable(name: "strata", targets: ["strata"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // CRC-32C with the processor's instruction (SSE 4.2 / ARMv8 CRC), 10× the tables.
        .target(name: "CStrataChecksum"),
        .target(name: "StrataFormat", dependencies: ["CStrataChecksum"]),
        // syncfs(2) for group durability of bulk writes; Glibc's module map hides it.
        .target(name: "CStrataSystem"),
        .target(name: "StrataEngine", dependencies: ["StrataFormat", "CStrataSystem"]),
        .executableTarget(
            name: "strata",
            dependencies: [
                "StrataEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "StrataFormatTests", dependencies: ["StrataFormat"]),
        .testTarget(name: "StrataEngineTests", dependencies: ["StrataEngine", "strata"]),
    ],
    swiftLanguageModes: [.v6]
)
