// swift-tools-version: 6.1
import PackageDescription

// Strata's fuzz targets: a package of its own (as Benchmarks/ is), so that the main
// package's `swift build` never sees a sanitizer flag or a fuzz target. scripts/fuzz
// builds it into Fuzz/.build with `-Xswiftc -sanitize=fuzzer,address` (libFuzzer and
// AddressSanitizer from the toolchain) and runs one target at a time:
//
//     scripts/fuzz                    # every target, 20 s each
//     scripts/fuzz lineprotocol 3600  # one target for an hour
//
// Targets and what each asserts: Sources/StrataFuzz/Targets.swift.
let package = Package(
    name: "StrataFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Strata", path: ".."),
    ],
    targets: [
        // libFuzzer's LLVMFuzzerRunDriver, declared for Swift.
        .target(name: "CLibFuzzer"),
        .executableTarget(
            name: "StrataFuzz",
            dependencies: [
                "CLibFuzzer",
                .product(name: "StrataFormat", package: "Strata"),
                .product(name: "StrataEngine", package: "Strata"),
                .product(name: "StrataText", package: "Strata"),
                .product(name: "StrataArchive", package: "Strata"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
