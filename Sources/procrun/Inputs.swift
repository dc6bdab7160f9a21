import ArgumentParser
import BPMNLoader
import Engine
import Foundation
import ProcessModel
import Values

/// Reading the files a command is given; every problem becomes a diagnostic and exit 2.
enum Inputs {
    static func fail(_ diagnostics: [Diagnostic]) -> ExitWith {
        for diagnostic in diagnostics { printError(diagnostic.description) }
        return ExitWith(code: Exit.invalidInput)
    }

    static func readJSON(_ path: String) throws(ExitWith) -> JSONValue {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot read file" : "no such file"
            throw fail([.error(at: nil, "\(path): \(reason)")])
        }
        do {
            return try JSONParser.parse([UInt8](data), file: path)
        } catch {
            throw fail([error])
        }
    }

    static func context(_ path: String?) throws(ExitWith) -> JSONObject {
        guard let path else { return JSONObject() }
        guard case .object(let object) = try readJSON(path) else {
            throw fail([
                .error(
                    at: SourceLocation(file: path, line: 1, column: 1),
                    "the context must be a JSON object of variable name → value")
            ])
        }
        return object
    }

    /// Loads a BPMN file and picks the process to run; prints warnings, fails on errors.
    static func process(_ path: String, id: String?, strict: Bool = false) throws(ExitWith) -> (
        Definitions, ProcessDefinition
    ) {
        let result = BPMNLoader.load(path: path, options: LoadOptions(strict: strict))
        for diagnostic in result.diagnostics where diagnostic.severity == .warning {
            printError(diagnostic.description)
        }
        guard let definitions = result.definitions, !result.hasErrors else { throw fail(result.errors) }
        guard let process = definitions.process(id: id) else {
            let known = definitions.processes.map(\.id).joined(separator: ", ")
            let what = id.map { "no process '\($0)'" } ?? "no executable process"
            throw fail([
                .error(
                    at: SourceLocation(file: path, line: 1, column: 1),
                    "\(what) in this file (processes: \(known.isEmpty ? "none" : known))")
            ])
        }
        return (definitions, process)
    }

    /// `--timezone NAME`, else TZ, else the system's zone.
    static func timeZone(_ name: String?) throws(ExitWith) -> TimeZone {
        guard let name else { return TimeZone.current }
        guard let zone = TimeZone(identifier: name) else {
            throw fail([.error(at: nil, "unknown time zone '\(name)' (use an IANA name such as Europe/Moscow)")])
        }
        return zone
    }

    /// `--initiator`, else the context's `__createdBy`, else `$USER`.
    static func initiator(_ flag: String?, context: JSONObject) -> String {
        flag ?? context["__createdBy"]?.stringValue ?? ProcessInfo.processInfo.environment["USER"] ?? "anonymous"
    }

    /// Ends the command with the exit code the instance's status calls for.
    static func exit(for status: InstanceStatus) throws(ExitWith) {
        switch status {
        case .completed, .terminated: return
        case .incident: throw ExitWith(code: Exit.incident)
        case .waiting, .running: throw ExitWith(code: Exit.waiting)
        }
    }
}

/// The inputs of one new instance, shared by `run` and `start`.
struct InstanceInputs: ParsableArguments {
    @Argument(help: "The BPMN 2.0 XML file.")
    var file: String

    @Option(help: "A JSON object with the instance's starting variables.")
    var context: String?

    @Option(help: "JSON: task id or name → {\"by\": \"user id\", \"variables\": {…}}.")
    var answers: String?

    @Option(help: "JSON directory of users, groups and org units.")
    var directory: String?

    @Option(help: "The id of the process (default: the only process, else the first executable one).")
    var process: String?

    @Option(help: "The user who starts the instance (default: the context's __createdBy, else $USER).")
    var initiator: String?

    @Option(
        help: ArgumentHelp(
            "Steps an event may take before the instance must wait; past them, an incident (default: \(Engine.defaultMaxSteps)).",
            valueName: "n"))
    var maxSteps: Int?

    @Flag(
        help:
            "Refuse a task whose Camunda or Zeebe implementation procrun cannot run (default: a warning, and it is skipped)."
    )
    var strict = false

    func validate() throws {
        if let maxSteps, maxSteps < 1 {
            throw ValidationError("--max-steps must be a whole number from 1 (got \(maxSteps))")
        }
    }

    struct Loaded {
        var process: ProcessDefinition
        /// The process prepared to run: elements procrun cannot run are refused here.
        var engine: Engine
        /// The file's other runnable processes: messages and signals may start them.
        var partners: [Engine]
        /// The step budget per event (`--max-steps`, else the default): what a runner's engines use.
        var maxSteps: Int
        var xml: [UInt8]
        var context: JSONObject
        var answers: Answers
        var answersJSON: JSONValue?
        var directory: Directory
        var directoryJSON: JSONValue?
        var initiator: String
    }

    /// Reads and checks every input; any problem is a diagnostic and exit 2.
    func load() throws(ExitWith) -> Loaded {
        let (definitions, process) = try Inputs.process(file, id: self.process, strict: strict)
        let maxSteps = self.maxSteps ?? Engine.defaultMaxSteps
        let partners = definitions.processes.filter { $0.id != process.id && $0.isExecutable }.compactMap {
            try? Engine(process: $0, maxSteps: maxSteps)
        }
        // A process that only a timer, a message or a signal starts is started by hand here: say so.
        if process.startEvents(inScope: nil).isEmpty, let start = process.triggeredStarts().first {
            let node = process.nodes[start.node]
            let timer = start.triggers.contains { if case .timer = $0 { true } else { false } }
            printError(
                "procrun: process «\(process.displayName)» starts only by its \(node.kind.elementName) «\(node.displayName)»; "
                    + "started by hand, now\(timer ? " (on its timer, a worker starts it once it is deployed to the store)" : "")"
            )
        }
        let engine: Engine
        do {
            engine = try Engine(process: process, maxSteps: maxSteps)
        } catch {
            throw Inputs.fail(error.diagnostics)
        }
        let context = try Inputs.context(self.context)
        let answersJSON = try answers.map { path throws(ExitWith) in try Inputs.readJSON(path) }
        let directoryJSON = try directory.map { path throws(ExitWith) in try Inputs.readJSON(path) }
        var parsedAnswers = Answers()
        var parsedDirectory = Directory()
        do {
            if let answersJSON, let answers { parsedAnswers = try Answers(json: answersJSON, file: answers) }
            if let directoryJSON, let directory {
                parsedDirectory = try Directory(json: directoryJSON, file: directory)
            }
        } catch {
            throw Inputs.fail([error])
        }
        return Loaded(
            process: process, engine: engine, partners: partners, maxSteps: maxSteps,
            xml: [UInt8](FileManager.default.contents(atPath: file) ?? Data()), context: context,
            answers: parsedAnswers, answersJSON: answersJSON, directory: parsedDirectory, directoryJSON: directoryJSON,
            initiator: Inputs.initiator(initiator, context: context))
    }
}

extension Inputs {
    /// Variables a command sets: a JSON object file (`--variables`) and `--set name=value`
    /// (value as JSON, else text); names starting with `__` are procrun's and refused.
    static func variables(file: String?, assignments: [String]) throws -> JSONObject {
        var values = JSONObject()
        if let file {
            guard case .object(let object) = try readJSON(file) else {
                throw fail([
                    .error(at: SourceLocation(file: file, line: 1, column: 1), "variables must be a JSON object")
                ])
            }
            values = object
        }
        for assignment in assignments {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                throw fail([.error(at: nil, "--set needs name=value, got '\(assignment)'")])
            }
            let text = String(assignment[assignment.index(after: equals)...])
            values[String(assignment[..<equals])] = (try? JSONParser.parse(text)) ?? .string(text)
        }
        if let system = values.keys.first(where: { $0.hasPrefix("__") }) {
            throw fail([
                .error(
                    at: nil,
                    "variable '\(system)' is a system variable and read-only (names starting with __ are set by procrun)"
                )
            ])
        }
        return values
    }
}
