import ArgumentParser
import Engine
import Foundation
import ProcessModel
import Values

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one instance of a process to its end, completing user tasks by simulated people.",
        discussion: """
            Prints a trace, one line per step, then a summary; with --json, one JSON report object instead.
            Exit codes: 0 an end event was reached; 2 invalid input, nothing ran; 3 incident; 4 waiting.
            """
    )

    @Argument(help: "The BPMN 2.0 XML file.")
    var file: String

    @Option(help: "A JSON object with the instance's starting variables.")
    var context: String?

    @Option(help: "JSON: task id or name → {\"by\": \"user id\", \"variables\": {…}}.")
    var answers: String?

    @Option(help: "JSON directory of users, groups and org units.")
    var directory: String?

    @Option(help: "The id of the process to run (default: the only process, else the first executable one).")
    var process: String?

    @Option(help: "The user who starts the instance (default: the context's __createdBy, else $USER).")
    var initiator: String?

    @Flag(help: "Print one JSON report object instead of the trace.")
    var json = false

    func run() async throws {
        let (_, process) = try Inputs.process(file, id: self.process)
        let context = try Inputs.context(self.context)
        let answers = try Inputs.answers(self.answers)
        let directory = try Inputs.directory(self.directory)
        let engine: Engine
        do {
            engine = try Engine(process: process)
        } catch {
            throw Inputs.fail(error.diagnostics)
        }
        let initiator =
            self.initiator ?? context["__createdBy"]?.stringValue ?? ProcessInfo.processInfo.environment["USER"] ?? "anonymous"
        let simulation = Simulation(
            engine: engine, answers: answers, directory: directory, performer: UnavailableTransport())
        let id = UUID().uuidString.lowercased()
        let trace = Trace(process: process)
        if !json { trace.header(instanceID: id) }
        let observe: (([HistoryEntry], Instance) -> Void)? =
            json ? nil : { entries, instance in trace.print(entries, instance: instance) }
        let instance = await simulation.run(id: id, context: context, initiator: initiator, observe: observe)
        if json {
            Swift.print(JSONWriter.string(Report.json(instance, process: process), pretty: true))
        } else {
            trace.summary(instance)
        }
        switch instance.status {
        case .completed, .terminated: return
        case .incident: throw ExitWith(code: Exit.incident)
        case .waiting, .running: throw ExitWith(code: Exit.waiting)
        }
    }
}

/// Until the libcurl transport lands, webhook tries fail without sending.
struct UnavailableTransport: WebhookPerformer {
    func perform(_ call: WebhookCall) async -> WebhookOutcome {
        .failed(status: nil, message: "no HTTP transport in this build", retryable: false)
    }
}
