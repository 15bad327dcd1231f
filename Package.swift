// swift-tools-version:6.0
//
// swiftcnn: a convolutional-neural-network library with a Swift core and a plain C ABI.
//
// The Makefile is the one place that knows the build order (library, header, C tests,
// Python extension); this manifest only describes the modules.

import PackageDescription

/// Absolute paths, so that linker flags work whatever directory SwiftPM runs the linker from.
let root = Context.packageDirectory

// MARK: - Products

let products: [Product] = [
    /// libswiftcnn.so: the C ABI (SwiftCNNC) with the core (SwiftCNN) linked in.
    .library(name: "swiftcnn", type: .dynamic, targets: ["SwiftCNNC"]),
    /// The Swift core, for Swift programs.
    .library(name: "SwiftCNN", targets: ["SwiftCNN"]),
    /// The GEMM micro-benchmark of `make bench` (not part of the library).
    .executable(name: "swiftcnn-bench", targets: ["swiftcnn-bench"]),
]

// MARK: - Targets

let targets: [Target] = [
    /// The core: tensors, reference and optimized kernels, layers, analysis, images and filters.
    /// One module, so that whole-module optimization inlines across files.
    .target(
        name: "SwiftCNN",
        path: "Sources/SwiftCNN"
    ),
    /// Typed opaque handles (`scnn_tensor`, …) for the generated header. C declarations only.
    .target(
        name: "CSwiftCNNTypes",
        path: "Sources/CSwiftCNNTypes"
    ),
    /// The C ABI: `@c(scnn_…)` functions that validate, convert and call the core. No logic.
    .target(
        name: "SwiftCNNC",
        dependencies: ["SwiftCNN", "CSwiftCNNTypes"],
        path: "Sources/SwiftCNNC",
        exclude: ["exports.map"],
        swiftSettings: [
            // The compiler's own C header for the @c declarations; scripts/gen_header.py
            // turns it into Include/swiftcnn.h.
            .unsafeFlags(["-emit-clang-header-path", "\(root)/.build/swiftcnn-raw.h"]),
        ],
        linkerSettings: [
            .unsafeFlags([
                // No Swift toolchain needed on the host's library path.
                "-static-stdlib",
                // lld (shipped with the toolchain) honours the version script fully: with
                // GNU ld the core's public Swift symbols linger in .dynsym as LOCAL entries.
                "-use-ld=lld",
                // Export the C ABI and nothing else. The Makefile gives each build its SONAME
                // (-Xlinker -soname=...): the portable library's two variants have their own.
                "-Xlinker", "--version-script=\(root)/Sources/SwiftCNNC/exports.map",
            ]),
        ]
    ),
    /// `make bench`'s GEMM micro-benchmark: Optimized.gemm against a register-only FMA peak.
    .executableTarget(
        name: "swiftcnn-bench",
        dependencies: ["SwiftCNN"],
        path: "Sources/swiftcnn-bench"
    ),
]

// MARK: - Tests

let testTargets: [Target] = [
    .testTarget(
        name: "SwiftCNNTests",
        dependencies: ["SwiftCNN"],
        path: "Tests/SwiftCNNTests",
        exclude: ["Fixtures"]
    ),
]

let package = Package(
    name: "swiftcnn",
    products: products,
    targets: targets + testTargets
)
