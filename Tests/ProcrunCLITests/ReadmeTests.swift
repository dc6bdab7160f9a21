import Foundation
import Testing

/// The README's examples run as written.
@Suite struct ReadmeTests {
    /// The "day in the life" block: every line, in a copy of the samples, with the built binary
    /// standing in for `swift build` (a build cannot run inside `swift test`).
    @Test func theDayInTheLifeBlockRunsAsWritten() throws {
        let readme = try String(contentsOf: CLI.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.range(of: "## Durable instances: a day in the life"))
        let start = try #require(readme.range(of: "```bash\n", range: section.upperBound..<readme.endIndex))
        let end = try #require(readme.range(of: "```\n", range: start.upperBound..<readme.endIndex))
        let lines = readme[start.upperBound..<end.lowerBound].split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("swift build && ") == true)

        // Each command line, without its comment, then its exit status.
        var script = ["set -u"]
        for (index, line) in lines.enumerated() {
            var command = line
            if let comment = command.range(of: #"\s+# .*$"#, options: .regularExpression) {
                command.removeSubrange(comment)
            }
            if index == 0 { command = String(command.dropFirst("swift build && ".count)) }
            script.append(command + "; echo \"[exit $?]\"")
        }
        // An inbox the block failed to stop would be left running; the test stops it and says so.
        script.append(
            #"sleep 0.3; for p in $(pgrep -x procrun || true); do [ "$(readlink /proc/$p/cwd)" = "$FOLDER" ] && { echo "[left running: $p]"; kill -9 $p; }; done; true"#
        )
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "procrun-readme-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent(".build/debug"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["Processes", "Samples"] {
            try FileManager.default.copyItem(
                at: CLI.packageRoot.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        try FileManager.default.createSymbolicLink(
            at: folder.appendingPathComponent(".build/debug/procrun"), withDestinationURL: CLI.binary)
        let result = try CLI.shell(
            "cd \"$FOLDER\" && " + script.joined(separator: "\n"), environment: ["FOLDER": folder.path])
        let output = result.stdout
        #expect(result.status == 0, "\(result.stderr)")
        // start printed the id first; tasks shows the first task and its candidates.
        #expect(
            output.contains("Task_accept          Принять заказ                Отдел продаж     ivanov, kozlov"),
            "\(output)")
        let statuses = output.split(separator: "\n").filter { $0.hasPrefix("[exit ") }.map(String.init)
        // inbox &, I=$(…), tasks, three completes (waiting), show, worker, show, kill.
        #expect(
            statuses == [
                "[exit 0]", "[exit 0]", "[exit 0]", "[exit 0]", "[exit 4]", "[exit 4]", "[exit 4]", "[exit 0]",
                "[exit 0]", "[exit 0]", "[exit 0]",
            ], "\(output)\n\(result.stderr)")
        #expect(!output.contains("[left running"), "the block leaves the inbox running")
        #expect(output.contains("HTTP 503"))
        #expect(output.contains("HTTP 200, delivered"), "\(output)")
        #expect(output.contains("Заказ выполнен"))
        #expect(!result.stderr.contains("error"), "\(result.stderr)")
    }
}
