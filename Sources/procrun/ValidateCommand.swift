import ArgumentParser
import BPMNLoader
import Foundation
import ProcessModel
import Values

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

struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Deploy every executable process of BPMN files to the store, for `message` (and `start`).",
        discussion: """
            A file's processes deploy by content: the same bytes deploy once, changed bytes deploy a new version. \
            Prints one line per process: its id and version. Exit 2 when a file has an error (nothing of it is \
            deployed), 6 when the store cannot be written.
            """)

    @Argument(help: "BPMN 2.0 XML files.")
    var files: [String]

    @Flag(help: "A task whose Camunda or Zeebe implementation procrun cannot run is an error (default: a warning).")
    var strict = false

    @OptionGroup var storeOptions: StoreOptions

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one BPMN file") }
    }

    func run() async throws {
        var loaded: [(file: String, bytes: [UInt8], processes: [ProcessDefinition])] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw Inputs.fail([.error(at: nil, "\(file): cannot read file")])
            }
            let result = BPMNLoader.load(bytes: [UInt8](data), file: file, options: LoadOptions(strict: strict))
            for diagnostic in result.diagnostics { printError(diagnostic.description) }
            guard !result.hasErrors, let definitions = result.definitions else {
                throw ExitWith(code: Exit.invalidInput)
            }
            let executable = definitions.processes.filter(\.isExecutable)
            if executable.isEmpty { throw Inputs.fail([.error(at: nil, "\(file): no executable process to deploy")]) }
            loaded.append((file, [UInt8](data), executable))
        }
        let runner = try storeOptions.runner()
        var deployed: [JSONValue] = []
        for (file, bytes, processes) in loaded {
            for process in processes {
                let definition = try runner.deploy(file: file, xml: bytes, process: process)
                deployed.append([
                    "process": .string(process.id), "version": .number(Double(definition.version)),
                    "file": .string(file),
                ])
                if !storeOptions.json { print("\(process.id) v\(definition.version) (\(file))") }
            }
        }
        if storeOptions.json { print(JSONWriter.string(.array(deployed), pretty: true)) }
    }
}
