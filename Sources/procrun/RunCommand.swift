import ArgumentParser
import Engine
import Foundation
import Integrations
import Store
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

    @Option(help: "Time zone for DateTime() in webhook templates and for the trace (default: TZ, else the system's).")
    var timezone: String?

    @Option(help: "POST every notification as JSON to this URL as well.")
    var notifyURL: String?

    @Option(help: "Keep the instance in this SQLite store, every step committed (default: in memory, no files).")
    var store: String?

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
        var timeZone = TimeZone.current
        if let name = timezone {
            guard let zone = TimeZone(identifier: name) else {
                throw Inputs.fail([.error(at: nil, "unknown time zone '\(name)' (use an IANA name such as Europe/Moscow)")])
            }
            timeZone = zone
        }
        let userAgent = "procrun/\(procrunVersion)"
        let trace = Trace(process: process, timeZone: timeZone)
        var sinks: [any NotificationSink] = json ? [] : [trace]
        if let notifyURL {
            sinks.append(
                HTTPNotificationSink(
                    url: notifyURL, directory: directory, processName: process.displayName, userAgent: userAgent,
                    onFailure: { printError("procrun: warning: \($0)") }))
        }
        if let store {
            try await runStored(store, process: process, context: context, initiator: initiator, trace: trace, timeZone: timeZone, userAgent: userAgent)
            return
        }
        let simulation = Simulation(
            engine: engine, answers: answers, directory: directory,
            performer: HTTPWebhookPerformer(userAgent: userAgent, timeZone: timeZone), sinks: sinks)
        let id = UUID().uuidString.lowercased()
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

    /// `run --store`: the same simulation, but every step goes through the durable store.
    func runStored(_ path: String, process: ProcessDefinition, context: JSONObject, initiator: String, trace: Trace, timeZone: TimeZone, userAgent: String) async throws {
        let answersJSON = try answers.map { path throws(ExitWith) in try Inputs.readJSON(path) }
        let directoryJSON = try directory.map { path throws(ExitWith) in try Inputs.readJSON(path) }
        let runner: DurableRunner
        do {
            runner = DurableRunner(store: try InstanceStore(path: path), performer: HTTPWebhookPerformer(userAgent: userAgent, timeZone: timeZone))
        } catch {
            throw Inputs.fail([.error(at: nil, "cannot open the store '\(path)': \(error)")])
        }
        let xml = [UInt8](FileManager.default.contents(atPath: file) ?? Data())
        let id = try runner.start(
            file: file, xml: xml, process: process, context: context, answers: answersJSON, directory: directoryJSON, initiator: initiator,
            simulatePeople: true)
        try await runner.drain(instance: id)
        guard let instance = try runner.store.instance(id)?.instance else { throw ExitWith(code: Exit.internalError) }
        if json {
            Swift.print(JSONWriter.string(Report.json(instance, process: process), pretty: true))
        } else {
            trace.header(instanceID: id)
            trace.print(instance.history, instance: instance)
            for notification in instance.notifications { Swift.print("notified \(notification.user): \(notification.message)") }
            trace.summary(instance)
        }
        switch instance.status {
        case .completed, .terminated: return
        case .incident: throw ExitWith(code: Exit.incident)
        case .waiting, .running: throw ExitWith(code: Exit.waiting)
        }
    }
}
