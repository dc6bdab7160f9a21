import ArgumentParser
import Engine
import Foundation
import Integrations
import ProcessModel
import Runtime
import Store
import Values
import Views

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

    @Option(help: "Time zone for DateTime() in templates and for the trace (default: TZ, else the system's).")
    var timezone: String?

    @OptionGroup var notify: NotifyOptions

    @Option(help: "Keep the instance in this SQLite store, every step committed (default: in memory, no files).")
    var store: String?

    func run() async throws {
        let loaded = try inputs.load()
        let timeZone = try Inputs.timeZone(timezone)
        let userAgent = "procrun/\(procrunVersion)"
        let performer = HTTPWebhookPerformer(userAgent: userAgent, timeZone: timeZone)
        guard let store else {
            return try await simulate(on: MemoryStore(), loaded, performer: performer, timeZone: timeZone)
        }
        let opened: InstanceStore
        do {
            opened = try InstanceStore(path: store)
        } catch {
            throw Inputs.fail([.error(at: nil, "cannot open the store '\(store)': \(error)")])
        }
        try await simulate(on: opened, loaded, performer: performer, timeZone: timeZone)
    }

    /// Runs the instance on the runtime with simulated people: in memory (`MemoryStore`), or
    /// with every step committed to the store (`run --store`). The trace follows each committed step.
    func simulate<Store: RuntimeStore>(
        on store: Store, _ loaded: InstanceInputs.Loaded, performer: HTTPWebhookPerformer, timeZone: TimeZone
    ) async throws {
        let process = loaded.process
        let inMemory = store is MemoryStore
        let runtime = ProcessRuntime(store: store, handlers: [HTTPJobHandler(performer)])
        try notify.configure(runtime, userAgent: "procrun/\(procrunVersion)", timeZone: timeZone)
        runtime.maxSteps = inputs.maxSteps
        runtime.timeZone = timeZone
        runtime.recordsStarted = true
        if inMemory {
            // Nothing outlives this process: each notification is sent once, a failure is a
            // warning. A store keeps failed ones for the next tries of a worker.
            runtime.instanceLimit = 1_000
            runtime.notificationTries = 1
            runtime.onNotificationFailure = { notification, channel, reason in
                printError("procrun: warning: notification to \(notification.user) by \(channel) failed: \(reason)")
            }
        }
        let id = UUID().uuidString.lowercased()
        let trace = Trace(process: process, timeZone: timeZone)
        if !json {
            trace.header(instanceID: id)
            let live = LiveTrace(trace: trace)
            runtime.onCommit = { if let instance = try? store.instance(id)?.instance { live.show(instance) } }
        }
        // Messages and signals may start the file's other processes (another pool).
        _ = try runtime.start(
            file: inputs.file, xml: loaded.xml, process: process, context: loaded.context, answers: loaded.answersJSON,
            directory: loaded.directoryJSON, initiator: loaded.initiator, simulatePeople: true, id: id,
            engine: loaded.engine,
            partners: loaded.partners)
        try await runtime.drainStarted(everything: inMemory)
        guard let instance = try store.instance(id)?.instance else { throw ExitWith(code: Exit.internalError) }
        if json {
            Swift.print(JSONWriter.string(Report.json(instance, process: process), pretty: true))
        } else {
            trace.summary(instance)
            for other in runtime.started.dropFirst() {
                guard let stored = try store.instance(other) else { continue }
                let name = (try? runtime.process(of: stored.definitionID).displayName) ?? stored.instance.processID
                Swift.print(
                    "also ran: \(name) (\(other)), started by a message or signal: \(stored.instance.status.rawValue)")
            }
        }
        try Inputs.exit(for: instance.status)
    }
}

/// The trace of `run` as it happens: after each committed step, the instance's new history
/// entries, then whom that step notified.
final class LiveTrace {
    let trace: Trace
    private var shownHistory = 0
    private var shownNotifications = 0

    init(trace: Trace) {
        self.trace = trace
    }

    func show(_ instance: Instance) {
        if instance.history.count > shownHistory {
            trace.print(Array(instance.history[shownHistory...]), instance: instance)
            shownHistory = instance.history.count
        }
        for notification in instance.notifications.dropFirst(shownNotifications) { trace.notified(notification) }
        shownNotifications = max(shownNotifications, instance.notifications.count)
    }
}
