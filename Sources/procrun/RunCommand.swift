import ArgumentParser
import Engine
import Foundation
import Integrations
import ProcessModel
import Store
import Values

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one instance of a process to its end, completing user tasks by simulated people.",
        discussion: """
            Prints a trace, one line per step, then a summary; with --json, one JSON report object instead.
            Exit codes: 0 an end event was reached; 2 invalid input, nothing ran; 3 incident; 4 waiting; 6 the store (--store) could not be used.
            Each event may take at most --max-steps steps (default \(Engine.defaultMaxSteps)) before the instance \
            waits; simulated people answer at once, so the steps between two timers count together. A cycle \
            that never waits stops in an incident (exit 3) naming the node it spins through.
            """
    )

    @OptionGroup var inputs: InstanceInputs

    @Flag(help: "Print one JSON report object instead of the trace.")
    var json = false

    @Option(help: "Time zone for DateTime() in webhook templates and for the trace (default: TZ, else the system's).")
    var timezone: String?

    @OptionGroup var notify: NotifyOptions

    @Option(help: "Keep the instance in this SQLite store, every step committed (default: in memory, no files).")
    var store: String?

    func run() async throws {
        let loaded = try inputs.load()
        let process = loaded.process
        let engine = loaded.engine
        let timeZone = try Inputs.timeZone(timezone)
        let userAgent = "procrun/\(procrunVersion)"
        let trace = Trace(process: process, timeZone: timeZone)
        var sinks: [any NotificationSink] = json ? [] : [trace]
        let channels = try notify.channels(userAgent: userAgent)
        if !channels.isEmpty {
            sinks.append(ChannelSink(channels: channels, onFailure: { printError("procrun: warning: \($0)") }))
        }
        if let store {
            try await runStored(store, loaded, trace: trace, timeZone: timeZone, userAgent: userAgent, channels: channels)
            return
        }
        var simulation = Simulation(
            engine: engine, answers: loaded.answers, directory: loaded.directory,
            performer: HTTPWebhookPerformer(userAgent: userAgent, timeZone: timeZone), sinks: sinks)
        simulation.timeZone = timeZone
        let id = UUID().uuidString.lowercased()
        if !json { trace.header(instanceID: id) }
        let observe: (([HistoryEntry], Instance) -> Void)? =
            json ? nil : { entries, instance in trace.print(entries, instance: instance) }
        // Messages and signals may start the file's other processes (another pool).
        let instances = await simulation.runAll(
            [Simulation.Start(engine: engine, id: id, context: loaded.context)], partners: loaded.partners, initiator: loaded.initiator,
            observe: observe)
        let instance = instances[0]
        if json {
            Swift.print(JSONWriter.string(Report.json(instance, process: process), pretty: true))
        } else {
            trace.summary(instance)
            for other in instances.dropFirst() {
                let name = loaded.partners.first { $0.process.id == other.processID }?.process.displayName ?? other.processID
                Swift.print("also ran: \(name) (\(other.id)), started by a message or signal: \(other.status.rawValue)")
            }
        }
        try Inputs.exit(for: instance.status)
    }

    /// `run --store`: the same simulation, but every step goes through the durable store.
    func runStored(
        _ path: String, _ loaded: InstanceInputs.Loaded, trace: Trace, timeZone: TimeZone, userAgent: String, channels: [any NotificationChannel]
    ) async throws {
        let process = loaded.process
        let runner: DurableRunner
        do {
            runner = DurableRunner(store: try InstanceStore(path: path), performer: HTTPWebhookPerformer(userAgent: userAgent, timeZone: timeZone))
        } catch {
            throw Inputs.fail([.error(at: nil, "cannot open the store '\(path)': \(error)")])
        }
        runner.maxSteps = inputs.maxSteps
        runner.channels = channels
        runner.timeZone = timeZone
        let id = try runner.start(
            file: inputs.file, xml: loaded.xml, process: process, context: loaded.context, answers: loaded.answersJSON,
            directory: loaded.directoryJSON, initiator: loaded.initiator, simulatePeople: true)
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
        try Inputs.exit(for: instance.status)
    }
}
