import ArgumentParser
import BPMNLoader
import Foundation

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check BPMN files and exit: 0 when every file is valid, 2 when any has an error.",
        discussion: "Each finding is one line on standard error: FILE:LINE:COL: error|warning: message."
    )

    @Argument(help: "BPMN 2.0 XML files.")
    var files: [String]

    @Flag(help: "A task whose Camunda or Zeebe implementation procrun cannot run is an error (default: a warning).")
    var strict = false

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one BPMN file") }
    }

    func run() async throws {
        var failed = false
        for file in files {
            let result = BPMNLoader.load(path: file, options: LoadOptions(strict: strict))
            for diagnostic in result.diagnostics { printError(diagnostic.description) }
            if result.hasErrors {
                failed = true
            } else if let definitions = result.definitions {
                let processes = definitions.processes.map { "\($0.id)\($0.isExecutable ? "" : " (not executable)")" }
                let warnings = result.diagnostics.count
                print(
                    "\(file): valid: \(processes.isEmpty ? "no processes" : processes.joined(separator: ", "))\(warnings > 0 ? "; \(warnings) warning\(warnings == 1 ? "" : "s")" : "")"
                )
            }
        }
        if failed { throw ExitWith(code: Exit.invalidInput) }
    }
}
