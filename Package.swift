// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "procrun",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "procrun", targets: ["procrun"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // `procrun serve`: HTTP on SwiftNIO, bcrypt, SHA-256 and HMAC for tokens and sessions,
        // graceful shutdown on SIGTERM. Hummingbird without its default traits (no
        // swift-configuration to build).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibXML2",
            pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]
        ),
        // libcurl behind a shim that loads it on the first request (see include/ccurl.h).
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("dl")]),
        // JSON values, source locations and diagnostics: the vocabulary every other target speaks.
        .target(name: "Values"),
        // FEEL-subset conditions and ELMA365-style templates.
        .target(name: "Expressions", dependencies: ["Values"]),
        // The validated, immutable process model.
        .target(name: "ProcessModel", dependencies: ["Values", "Expressions"]),
        // libxml2 → ProcessModel, with validation and FILE:LINE:COL diagnostics.
        .target(name: "BPMNLoader", dependencies: ["CLibXML2", "Values", "Expressions", "ProcessModel"]),
        // Instance state and the pure step function.
        .target(name: "Engine", dependencies: ["Values", "Expressions", "ProcessModel"]),
        // The Webhook node on the wire: request building and the libcurl transport actor.
        .target(name: "Integrations", dependencies: ["CCurl", "Values", "Expressions", "ProcessModel", "Engine"]),
        // The runtime: one driver of the engine's effects over ports (repository, tasks, jobs,
        // subscriptions, outbox), with its in-memory adapter. No storage library.
        // Cross-module optimisation in release: `ProcessRuntime` is generic over its store, and
        // without it every caller (the CLI, the SQLite adapter, the benchmarks) runs the
        // unspecialised code, looking up the store's witnesses and metadata on each call.
        .target(
            name: "Runtime", dependencies: ["Values", "ProcessModel", "BPMNLoader", "Engine"],
            swiftSettings: [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]),
        // Durable instances: the runtime's SQLite adapter (definitions, instances, open tasks, jobs and the outbox).
        .target(
            name: "Store",
            dependencies: [
                "Values", "ProcessModel", "BPMNLoader", "Engine", "Integrations", "Runtime",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // What people see of processes and instances: the diagram as SVG, an instance as JSON.
        .target(name: "Views", dependencies: ["Values", "ProcessModel", "BPMNLoader", "Engine"]),
        // `procrun serve`: the HTTP API, the web pages, users and roles, in-process workers.
        .target(
            name: "Server",
            dependencies: [
                "Values", "ProcessModel", "BPMNLoader", "Engine", "Runtime", "Store", "Views",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The API's OpenAPI document, compiled in (a static binary has no resource bundle).
            resources: [.embedInCode("Resources/openapi.json")]
        ),
        .executableTarget(
            name: "procrun",
            dependencies: [
                "Values", "Expressions", "ProcessModel", "BPMNLoader", "Engine", "Integrations", "Store", "Views",
                "Server",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // A release binary carries the Swift runtime and Foundation inside: far fewer
            // relocations at start-up (the `startup` benchmark).
            linkerSettings: [
                .unsafeFlags(
                    [
                        "-static-stdlib", "-use-ld=lld", "-Xlinker", "--start-group", "-Xlinker", "-lFoundation",
                        "-Xlinker", "-lFoundationEssentials",
                        "-Xlinker", "-lFoundationInternationalization", "-Xlinker", "-lCoreFoundation", "-Xlinker",
                        "-l_FoundationICU",
                        "-Xlinker", "-l_FoundationCShims", "-Xlinker", "-l_FoundationCollections", "-Xlinker",
                        "-lswiftSynchronization", "-Xlinker", "-lswift_RegexParser", "-Xlinker",
                        "-lswift_StringProcessing", "-Xlinker", "--end-group",
                    ],
                    .when(configuration: .release))
            ]
        ),
        // The betsy conformance harness (not part of the procrun CLI).
        .executableTarget(
            name: "conformance",
            dependencies: ["Values", "Expressions", "ProcessModel", "BPMNLoader", "Engine", "Runtime"]
        ),
        // Benchmarks against SpiffWorkflow and the limits of libxml2, libcurl and SQLite.
        .executableTarget(
            name: "bench",
            dependencies: [
                "CLibXML2", "Values", "ProcessModel", "BPMNLoader", "Engine", "Integrations", "Runtime", "Store",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // Fuzz targets for the loader, FEEL, templates and JSON: libFuzzer when Fuzz/run.sh builds
        // them, a replayer of saved inputs in a plain build.
        .executableTarget(
            name: "procrun-fuzz",
            dependencies: ["Values", "Expressions", "BPMNLoader", "Integrations"],
            path: "Fuzz/Target"
        ),
        .testTarget(name: "ExpressionsTests", dependencies: ["Values", "Expressions"]),
        .testTarget(name: "BPMNLoaderTests", dependencies: ["Values", "ProcessModel", "BPMNLoader"]),
        .testTarget(name: "EngineTests", dependencies: ["Values", "ProcessModel", "BPMNLoader", "Engine", "Runtime"]),
        .testTarget(
            name: "IntegrationsTests",
            dependencies: ["Values", "Expressions", "ProcessModel", "BPMNLoader", "Engine", "Integrations", "Runtime"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "StoreTests",
            dependencies: ["Values", "Expressions", "Engine", "Store", .product(name: "GRDB", package: "GRDB.swift")],
            exclude: ["Fixtures"]),
        .testTarget(name: "ProcrunCLITests", dependencies: ["Values"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
