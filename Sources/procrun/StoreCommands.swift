import ArgumentParser
import Engine
import Foundation
import Integrations
import ProcessModel
import Store
import Values

/// `--store PATH`, else `PROCRUN_STORE`, else `.procrun/procrun.sqlite` under the current directory.
struct StoreOptions: ParsableArguments {
    @Option(help: "The SQLite store (default: $PROCRUN_STORE, else .procrun/procrun.sqlite).")
    var store: String?

    @Option(help: "Time zone for DateTime() in webhook templates (default: TZ, else the system's).")
    var timezone: String?

    @Flag(help: "Print JSON instead of text.")
    var json = false

    var path: String {
        store ?? ProcessInfo.processInfo.environment["PROCRUN_STORE"] ?? ".procrun/procrun.sqlite"
    }

    func runner() throws(ExitWith) -> DurableRunner {
        let timeZone = try Inputs.timeZone(timezone)
        do {
            let store = try InstanceStore(path: path)
            return DurableRunner(store: store, performer: HTTPWebhookPerformer(userAgent: "procrun/\(procrunVersion)", timeZone: timeZone))
        } catch {
            throw Inputs.fail([.error(at: nil, "cannot open the store '\(path)': \(error)")])
        }
    }
}

/// A stored instance with what commands show of it: its process and its open tasks.
struct StoredView {
    var stored: StoredInstance
    var version: Int
    var process: ProcessDefinition
    var tasks: [OpenTask]

    init(_ runner: DurableRunner, _ id: String) throws {
        guard let stored = try runner.store.instance(id), let definition = try runner.store.definition(id: stored.definitionID) else {
            throw Inputs.fail([.error(at: nil, "no instance '\(id)' in the store")])
        }
        self.stored = stored
        version = definition.version
        process = try runner.process(of: stored.definitionID)
        tasks = try runner.store.openTasks(instance: id)
    }

    /// Issue 2's report, plus the open tasks.
    var report: JSONValue {
        var report = Report.json(stored.instance, process: process).objectValue ?? JSONObject()
        report["openTasks"] = .array(tasks.map(taskJSON))
        return .object(report)
    }
}

/// Prints an instance after a command moved it, and exits by its status.
func finish(_ runner: DurableRunner, _ id: String, json: Bool) throws {
    let view = try StoredView(runner, id)
    let instance = view.stored.instance
    if json {
        print(JSONWriter.string(view.report, pretty: true))
    } else {
        print("\(id) \(instance.status.rawValue)")
        for task in view.tasks { print("  open task \(task.nodeID)\(task.name.map { " «\($0)»" } ?? "")") }
        if let incident = instance.incident { print("  incident at '\(incident.node)': \(incident.message)") }
    }
    try Inputs.exit(for: instance.status)
}

func taskJSON(_ task: OpenTask) -> JSONValue {
    [
        "instance": .string(task.instanceID), "task": .string(task.nodeID), "name": task.name.map(JSONValue.string) ?? .null,
        "lane": task.lane.map(JSONValue.string) ?? .null, "candidates": .array(task.candidates.map(JSONValue.string)),
    ]
}

struct StartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Create an instance in the store and run it until it completes or waits.",
        discussion: "Tasks named in --answers complete by themselves; the others wait for `procrun complete`. Exit 0 completed, 4 waiting, 3 incident.")

    @OptionGroup var inputs: InstanceInputs
    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        let loaded = try inputs.load()
        let runner = try storeOptions.runner()
        let id = try runner.start(
            file: inputs.file, xml: loaded.xml, process: loaded.process, context: loaded.context, answers: loaded.answersJSON,
            directory: loaded.directoryJSON, initiator: loaded.initiator)
        try await runner.runDueJobs(instance: id)
        try finish(runner, id, json: storeOptions.json)
    }
}

struct TasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tasks", abstract: "List open user tasks.")
    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        let tasks = try storeOptions.runner().store.openTasks()
        if storeOptions.json {
            print(JSONWriter.string(.array(tasks.map(taskJSON)), pretty: true))
            return
        }
        for task in tasks {
            print("\(task.instanceID)  \(Trace.pad(task.nodeID, 20)) \(Trace.pad(task.name ?? "", 28)) \(Trace.pad(task.lane ?? "", 16)) \(task.candidates.joined(separator: ", "))")
        }
    }
}

struct CompleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "complete", abstract: "Complete an open task and run the instance on.")
    @Argument(help: "The instance id.") var instance: String
    @Argument(help: "The task id or name.") var task: String
    @Option(help: "The user completing the task.") var by: String
    @Option(name: .customLong("set"), help: "Set a variable: name=value (value as JSON, else text). Repeatable.") var assignments: [String] = []
    @Option(help: "A JSON object of variables to set.") var variables: String?
    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        var values = JSONObject()
        if let variables {
            guard case .object(let object) = try Inputs.readJSON(variables) else {
                throw Inputs.fail([.error(at: SourceLocation(file: variables, line: 1, column: 1), "variables must be a JSON object")])
            }
            values = object
        }
        for assignment in assignments {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                throw Inputs.fail([.error(at: nil, "--set needs name=value, got '\(assignment)'")])
            }
            let text = String(assignment[assignment.index(after: equals)...])
            values[String(assignment[..<equals])] = (try? JSONParser.parse(text)) ?? .string(text)
        }
        let runner = try storeOptions.runner()
        do {
            _ = try runner.complete(instance: instance, task: task, by: by, variables: values)
        } catch let error as StoreError {
            throw Inputs.fail([.error(at: nil, error.message)])
        }
        try await runner.runDueJobs(instance: instance)
        try finish(runner, instance, json: storeOptions.json)
    }
}

struct InstancesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "instances", abstract: "List instances in the store.")
    @Option(help: "Only instances with this status (running, waiting, completed, incident, terminated).") var status: String?
    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        var filter: InstanceStatus?
        if let status {
            guard let parsed = InstanceStatus(rawValue: status) else { throw Inputs.fail([.error(at: nil, "unknown status '\(status)'")]) }
            filter = parsed
        }
        let rows = try storeOptions.runner().store.instances(status: filter)
        if storeOptions.json {
            print(JSONWriter.string(.array(rows.map { ["instance": .string($0.id), "process": .string($0.processID), "status": .string($0.status.rawValue), "updatedAt": .string(Timestamp.rfc3339($0.updatedAt))] }), pretty: true))
            return
        }
        for row in rows { print("\(row.id)  \(Trace.pad(row.processID, 16)) \(Trace.pad(row.status.rawValue, 10)) \(Timestamp.rfc3339(row.updatedAt))") }
    }
}

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show an instance: status, context, history, open tasks, incident.")
    @Argument(help: "The instance id.") var instance: String
    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        let view = try StoredView(try storeOptions.runner(), instance)
        let stored = view.stored
        if storeOptions.json {
            print(JSONWriter.string(view.report, pretty: true))
            return
        }
        print("instance \(instance) of «\(view.process.displayName)» (\(view.process.id), version \(view.version)): \(stored.instance.status.rawValue)")
        print("context: \(JSONWriter.string(.object(stored.instance.context)))")
        Trace(process: view.process, timeZone: .current).print(stored.instance.history, instance: stored.instance)
        for task in view.tasks { print("open task \(task.nodeID)\(task.name.map { " «\($0)»" } ?? "")") }
        if let incident = stored.instance.incident { print("incident at '\(incident.node)': \(incident.message)") }
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Run due jobs (webhook tries and retries) for every instance in the store.",
        discussion: """
            Without --until-idle it runs until stopped, sleeping until the next job falls due. Jobs are claimed with a \
            lock owner and expiry, so several workers can share one store; a webhook job whose worker died is taken \
            over once its timeout (plus 5 s) has passed.
            """)
    @Flag(help: "Exit once no job is due or pending.") var untilIdle = false
    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        try await storeOptions.runner().work(untilIdle: untilIdle)
    }
}

/// `retry`, `skip` and `cancel`: incident handling as ELMA365 users know it.
struct OperateCommand {
    static func run(_ event: EngineEvent, instance: String, options: StoreOptions) async throws {
        let runner = try options.runner()
        do {
            _ = try runner.operate(event, on: instance)
        } catch let error as StoreError {
            throw Inputs.fail([.error(at: nil, error.message)])
        }
        try await runner.runDueJobs(instance: instance)
        try finish(runner, instance, json: options.json)
    }
}

struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "retry", abstract: "Repeat the step an instance's incident stopped at.")
    @Argument(help: "The instance id.") var instance: String
    @OptionGroup var storeOptions: StoreOptions
    func run() async throws { try await OperateCommand.run(.retryIncident, instance: instance, options: storeOptions) }
}

struct SkipCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "skip", abstract: "Leave the failed node by its success path.")
    @Argument(help: "The instance id.") var instance: String
    @OptionGroup var storeOptions: StoreOptions
    func run() async throws { try await OperateCommand.run(.skipIncident, instance: instance, options: storeOptions) }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Interrupt an instance.")
    @Argument(help: "The instance id.") var instance: String
    @OptionGroup var storeOptions: StoreOptions
    func run() async throws { try await OperateCommand.run(.cancel, instance: instance, options: storeOptions) }
}
