import Foundation
import Testing

/// The `bench` executable runs and reports in its documented shape (its figures are not checked:
/// speed is measured by running it, not in tests).
@Suite struct BenchTests {
    static var binary: URL { CLI.binary.deletingLastPathComponent().appendingPathComponent("bench") }

    @Test func interpreterAndStartupFiguresAreReported() throws {
        let process = Process()
        process.executableURL = Self.binary
        // No --peers: by default the model comes from the repository's fixtures (a clone has no
        // ../shared beside it).
        process.arguments = ["interpreter", "startup", "--rounds", "1", "--python", "/nonexistent/python"]
        process.currentDirectoryURL = CLI.packageRoot
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        process.standardOutput = try FileHandle(forWritingTo: output)
        try process.run()
        process.waitUntilExit()
        let text = try String(contentsOf: output, encoding: .utf8)
        #expect(process.terminationStatus == 0, "\(text)")
        let lines = text.split(separator: "\n").map(String.init)
        // Every instance must complete as SpiffWorkflow's does, or bench stops; without the peer it says how to get it.
        #expect(lines.contains { $0.hasPrefix("interpreter: SpiffWorkflow not found at /nonexistent/python") })
        #expect(lines.contains { $0.hasPrefix("interpreter: procrun ") && $0.contains(" instances/s (median of 1: ") })
        #expect(lines.contains { $0.hasPrefix("startup: procrun ") && $0.contains(" ms (median of 21: ") })
    }
}
