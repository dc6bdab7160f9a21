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
            throw fail([.error(at: SourceLocation(file: path, line: 1, column: 1), "the context must be a JSON object of variable name → value")])
        }
        return object
    }

    static func answers(_ path: String?) throws(ExitWith) -> Answers {
        guard let path else { return Answers() }
        let json = try readJSON(path)
        do { return try Answers(json: json, file: path) } catch { throw fail([error]) }
    }

    static func directory(_ path: String?) throws(ExitWith) -> Directory {
        guard let path else { return Directory() }
        let json = try readJSON(path)
        do { return try Directory(json: json, file: path) } catch { throw fail([error]) }
    }

    /// Loads a BPMN file and picks the process to run; prints warnings, fails on errors.
    static func process(_ path: String, id: String?) throws(ExitWith) -> (Definitions, ProcessDefinition) {
        let result = BPMNLoader.load(path: path)
        for diagnostic in result.diagnostics where diagnostic.severity == .warning { printError(diagnostic.description) }
        guard let definitions = result.definitions, !result.hasErrors else { throw fail(result.errors) }
        guard let process = definitions.process(id: id) else {
            let known = definitions.processes.map(\.id).joined(separator: ", ")
            let what = id.map { "no process '\($0)'" } ?? "no executable process"
            throw fail([.error(at: SourceLocation(file: path, line: 1, column: 1), "\(what) in this file (processes: \(known.isEmpty ? "none" : known))")])
        }
        return (definitions, process)
    }
}
