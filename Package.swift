// swift-tools-version:6.1
// HiTVideo for Swift: hierarchical video tokens, tools and models on a CPU.
// Layout: C system libraries, then library targets by concern, then one executable per tool.
import PackageDescription

let tools = ["hv-decode", "hv-encode", "hv-mask", "hv-render", "hv-gen", "hv-metrics", "hv-info", "hv-train", "hv-manifest", "hv-bench"]

// Each tool depends on exactly the modules it imports (HVCLI and ArgumentParser: every tool).
func toolDeps(_ name: String) -> [Target.Dependency] {
    let common: [Target.Dependency] = ["HVCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")]
    switch name {
    case "hv-decode": return common + ["HVMedia"]
    case "hv-info": return common + ["HVFormat"]
    case "hv-encode", "hv-render": return common + ["HVFormat", "HVMedia", "HVEngine", "HVTokenizer"]
    case "hv-mask": return common + ["HVFormat"]
    case "hv-metrics": return common + ["HVFormat", "HVMedia", "HVMetrics", "HVEngine", "HVTokenizer"]
    case "hv-gen": return common + ["HVCore", "HVFormat", "HVEngine", "HVText", "HVGen", "HVTokenizer"]
    case "hv-train": return common + ["HVCore", "HVFormat", "HVEngine", "HVTokenizer", "HVGen", "HVText", "HVManifest"]
    case "hv-manifest": return common + ["HVManifest", "HVEngine", "HVText"]
    case "hv-bench": return common + ["CKernels", "HVEngine", "HVMedia", "HVMetrics", "HVTokenizer", "HVText", "HVGen"]
    default: return common
    }
}

let package = Package(
    name: "HiTVideo",
    platforms: [.macOS(.v14)],
    products: tools.map { .executable(name: $0, targets: [$0]) },
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // SQLite access for the dataset manifest (HVManifest); brings its own SQLite module.
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // System libraries (Debian -dev packages, found through pkg-config).
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CFFmpeg", pkgConfig: "libavformat libavcodec libavutil libswscale",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Hand-written AVX-512 kernels (C intrinsics; chosen at run time, HVEngine keeps a fallback).
        .target(name: "CKernels"),

        // Libraries by concern.
        .target(name: "HVCore"),
        .target(name: "HVCLI", dependencies: ["HVCore", "HVFormat", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .target(name: "HVFormat", dependencies: ["HVCore", "CZstd"]),
        .target(name: "HVMedia", dependencies: ["HVCore", "CFFmpeg", "CZlib"]),
        .target(name: "HVEngine", dependencies: ["HVCore", "COpenBLAS", "CKernels"]),
        .target(name: "HVTokenizer", dependencies: ["HVCore", "HVEngine", "HVFormat", "HVMedia"]),
        .target(name: "HVMetrics", dependencies: ["HVCore", "HVMedia"]),
        .target(name: "HVText", dependencies: ["HVCore", "HVEngine"]),
        .target(name: "HVGen", dependencies: ["HVCore", "HVEngine", "HVFormat", "HVText"]),
        .target(name: "HVManifest", dependencies: ["HVCore", "HVFormat", .product(name: "GRDB", package: "GRDB.swift")]),

        // Tests by module.
        .testTarget(name: "HVCoreTests", dependencies: ["HVCore"]),
        .testTarget(name: "HVFormatTests", dependencies: ["HVFormat"], resources: [.copy("Fixtures")]),
        .testTarget(name: "HVMediaTests", dependencies: ["HVMedia"]),
        .testTarget(name: "HVEngineTests", dependencies: ["HVEngine"], resources: [.copy("Golden")]),
        .testTarget(name: "HVTokenizerTests", dependencies: ["HVTokenizer", "HVEngine", "HVFormat"]),
        .testTarget(name: "HVMetricsTests", dependencies: ["HVMetrics", "HVMedia"], resources: [.copy("Golden")]),
        .testTarget(name: "HVManifestTests", dependencies: ["HVManifest", "HVFormat", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "HVTextTests", dependencies: ["HVText", "HVEngine"], resources: [.copy("Golden")]),
        .testTarget(name: "HVGenTests", dependencies: ["HVGen", "HVEngine", "HVFormat"]),
        .testTarget(name: "CLITests", dependencies: ["HVFormat", "HVTokenizer"]),
    ] + tools.map { .executableTarget(name: $0, dependencies: toolDeps($0)) },
    // Swift 5 mode: the engine shares raw buffers across concurrentPerform workers by design.
    swiftLanguageModes: [.v5]
)
