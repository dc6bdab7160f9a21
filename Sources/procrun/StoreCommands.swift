import ArgumentParser
import Engine
import Foundation
import Integrations
import ProcessModel
import Store
import Values
import Views

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

    /// A runner over the store, opened for writing (created and migrated if needed).
    func runner() throws -> DurableRunner {
        try runner(readOnly: false)
    }

    /// A runner over the store opened read-only: for commands that only look (`tasks`,
    /// `instances`, `show`, `check`), which then work on read-only files and never migrate.
    func reader() throws -> DurableRunner {
        try runner(readOnly: true)
    }

    private func runner(readOnly: Bool) throws -> DurableRunner {
        let timeZone = try Inputs.timeZone(timezone)
        let store = try InstanceStore(path: path, readOnly: readOnly)
        let environment = ProcessInfo.processInfo.environment
        let runner = DurableRunner(
            store: store,
            handlers: [
                HTTPJobHandler(HTTPWebhookPerformer(userAgent: "procrun/\(procrunVersion)", timeZone: timeZone)),
                // Commands without --smtp-url send e-mails through $PROCRUN_SMTP_URL.
                SMTPEmailHandler(
                    url: environment["PROCRUN_SMTP_URL"].flatMap { $0.isEmpty ? nil : $0 },
                    from: environment["PROCRUN_SMTP_FROM"].flatMap { $0.isEmpty ? nil : $0 } ?? "procrun@localhost",
                    timeZone: timeZone),
            ])
        runner.timeZone = timeZone
        runner.onLeftJob = warnLeft
        return runner
    }
}

/// A stored instance with what commands show of it: its process and its open tasks.
struct StoredView {
    var stored: StoredInstance
    var version: Int
    var process: ProcessDefinition
    var tasks: [OpenTask]

    init(_ runner: DurableRunner, _ id: String) throws {
        guard let stored = try runner.store.instance(id),
            let definition = try runner.store.definition(id: stored.definitionID)
        else {
            throw StoreError.noSuchInstance(id: id, store: runner.store.path)
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
        "instance": .string(task.instanceID), "task": .string(task.nodeID),
        "name": task.name.map(JSONValue.string) ?? .null,
        "lane": task.lane.map(JSONValue.string) ?? .null, "candidates": .array(task.candidates.map(JSONValue.string)),
    ]
}

struct StartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Create an instance in the store and run it until it completes or waits.",
        discussion:
            "Tasks named in --answers complete by themselves; the others wait for `procrun complete`. Exit 0 completed, 4 waiting, 3 incident."
    )

    @OptionGroup var inputs: InstanceInputs
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var notify: NotifyOptions

    func run() async throws {
        let loaded = try inputs.load()
        let runner = try storeOptions.runner()
        try notify.configure(runner, userAgent: "procrun/\(procrunVersion)", timeZone: runner.timeZone)
        runner.maxSteps = inputs.maxSteps
        let id = try runner.start(
            file: inputs.file, xml: loaded.xml, process: loaded.process, context: loaded.context,
            answers: loaded.answersJSON,
            directory: loaded.directoryJSON, initiator: loaded.initiator)
        try await runner.runDueJobs(instance: id)
        try finish(runner, id, json: storeOptions.json)
    }
}

struct TasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tasks", abstract: "List open user tasks.")
    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        let tasks = try storeOptions.reader().store.openTasks()
        if storeOptions.json {
            print(JSONWriter.string(.array(tasks.map(taskJSON)), pretty: true))
            return
        }
        for task in tasks {
            print(
                "\(task.instanceID)  \(Trace.pad(task.nodeID, 20)) \(Trace.pad(task.name ?? "", 28)) \(Trace.pad(task.lane ?? "", 16)) \(task.candidates.joined(separator: ", "))"
            )
        }
    }
}

struct CompleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "complete", abstract: "Complete an open task and run the instance on.",
        discussion: """
            Exit 5 (conflict) when the task is no longer open, for example because someone else completed it first; \
            nothing is changed then. System variables (names starting with __) are read-only.
            """)
    @Argument(help: "The instance id (or a unique prefix of at least 4 characters).") var instance: String
    @Argument(help: "The task id or name.") var task: String
    @Option(help: "The user completing the task.") var by: String
    @Option(name: .customLong("set"), help: "Set a variable: name=value (value as JSON, else text). Repeatable.")
    var assignments: [String] = []
    @Option(help: "A JSON object of variables to set.") var variables: String?
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var notify: NotifyOptions

    func run() async throws {
        let values = try Inputs.variables(file: variables, assignments: assignments)
        let runner = try storeOptions.runner()
        try notify.configure(runner, userAgent: "procrun/\(procrunVersion)", timeZone: runner.timeZone)
        let id = try runner.store.resolve(instance)
        _ = try runner.complete(instance: id, task: task, by: by, variables: values)
        try await runner.runDueJobs(instance: id)
        try finish(runner, id, json: storeOptions.json)
    }
}

struct InstancesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "instances", abstract: "List instances in the store.")
    @Option(
        help:
            "Only instances with this status (running, waiting, completed, incident, terminated), or corrupt: those whose state cannot be read."
    ) var status: String?
    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        var filter: InstanceStatus?
        if let status, status != "corrupt" {
            guard let parsed = InstanceStatus(rawValue: status) else {
                throw Inputs.fail([.error(at: nil, "unknown status '\(status)'")])
            }
            filter = parsed
        }
        let store = try storeOptions.reader().store
        if status == "corrupt" {
            for row in try store.corruptInstances().corrupt {
                print("\(row.id)  \(Trace.pad(row.processID, 16)) \(Trace.pad("corrupt", 10)) \(row.problem ?? "")")
            }
            return
        }
        let rows = try store.instances(status: filter)
        if storeOptions.json {
            print(
                JSONWriter.string(
                    .array(
                        rows.map {
                            [
                                "instance": .string($0.id), "process": .string($0.processID),
                                "status": .string($0.status.rawValue),
                                "updatedAt": .string(Timestamp.rfc3339($0.updatedAt)),
                            ]
                        }), pretty: true))
            return
        }
        for row in rows {
            print(
                "\(row.id)  \(Trace.pad(row.processID, 16)) \(Trace.pad(row.status.rawValue, 10)) \(Timestamp.rfc3339(row.updatedAt))"
            )
        }
    }
}

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show an instance: status, context, history, open tasks, incident.",
        discussion:
            "Exit 0 when the instance was shown, whatever its status; 6 when its stored state cannot be read (what can be read is shown)."
    )
    @Argument(help: "The instance id (or a unique prefix of at least 4 characters).") var instance: String
    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        let runner = try storeOptions.reader()
        let id = try runner.store.resolve(instance)
        let view: StoredView
        do {
            view = try StoredView(runner, id)
        } catch let error as StoreError where error.kind == .unavailable {
            // The state cannot be decoded: show the row, then the error.
            guard let row = try runner.store.row(id), row.problem != nil else { throw error }
            let version = try runner.store.definition(id: row.definitionID)?.version
            if storeOptions.json {
                let report: JSONValue = [
                    "instance": .string(row.id), "process": .string(row.processID), "status": .string(row.status),
                    "version": version.map { .number(Double($0)) } ?? .null,
                    "updatedAt": .string(Timestamp.rfc3339(row.updatedAt)),
                    "error": .string(error.message),
                ]
                print(JSONWriter.string(report, pretty: true))
            } else {
                print(
                    "instance \(row.id) of process \(row.processID)\(version.map { ", version \($0)" } ?? ""): \(row.status), updated \(Timestamp.rfc3339(row.updatedAt))"
                )
            }
            throw error
        }
        let stored = view.stored
        if storeOptions.json {
            print(JSONWriter.string(view.report, pretty: true))
            return
        }
        print(
            "instance \(id) of «\(view.process.displayName)» (\(view.process.id), version \(view.version)): \(stored.instance.status.rawValue)"
        )
        print("context: \(JSONWriter.string(.object(stored.instance.context)))")
        Trace(process: view.process, timeZone: .current).print(stored.instance.history, instance: stored.instance)
        for task in view.tasks { print("open task \(task.nodeID)\(task.name.map { " «\($0)»" } ?? "")") }
        if let incident = stored.instance.incident { print("incident at '\(incident.node)': \(incident.message)") }
    }
}

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Check every stored instance's state; list those that cannot be read.",
        discussion: """
            Opens the store read-only. Exit 0 when every state reads (or those that do not have ended), 6 when an instance \
            that has not ended cannot be read (each is listed; `cancel --force` terminates one).
            """)
    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        let store = try storeOptions.reader().store
        let (checked, corrupt) = try store.corruptInstances()
        if storeOptions.json {
            let list: [JSONValue] = corrupt.map { row in
                [
                    "instance": .string(row.id), "process": .string(row.processID), "status": .string(row.status),
                    "problem": .string(row.problem ?? ""),
                ]
            }
            print(JSONWriter.string(["checked": .number(Double(checked)), "corrupt": .array(list)], pretty: true))
        } else {
            for row in corrupt { print("\(row.id)  \(Trace.pad(row.processID, 16)) \(row.problem ?? "")") }
            print("\(checked) instances checked, \(corrupt.count) corrupt")
        }
        // A corrupt instance that ended (say, by `cancel --force`) needs nothing more.
        let ended = [InstanceStatus.completed.rawValue, InstanceStatus.terminated.rawValue]
        if corrupt.contains(where: { !ended.contains($0.status) }) { throw ExitWith(code: Exit.storeUnavailable) }
    }
}

struct MessageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "message",
        abstract: "Send a message from outside: to the stored instance waiting for it, else start a process with it.",
        discussion: """
            The oldest instance (by start) that waits for the message (at a message catch event, receive task, boundary \
            or event sub-process) gets it, with its variables; with --correlation-key only one whose key for the \
            message is K: what the message's zeebe:subscription correlationKey computes from its variables, else \
            its id. If none waits, the newest deployed version of a process whose message start event names it \
            starts an instance. Then, as `complete`, prints the instance and its status. Exit 0 completed, 4 \
            waiting, 3 incident, 2 when nobody takes the message (nothing is changed).
            """)
    @Argument(help: "The message name.") var name: String
    @Option(help: "Only an instance whose correlation key for the message is this.") var correlationKey: String?
    @Option(help: "A JSON object of variables the message carries.") var variables: String?
    @Option(name: .customLong("set"), help: "A variable it carries: name=value (value as JSON, else text). Repeatable.")
    var assignments: [String] = []
    @Option(help: "The user id an instance the message starts is started by.") var initiator = "external"
    @Option(help: "JSON directory of users, groups and org units, kept with an instance the message starts.")
    var directory: String?
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var notify: NotifyOptions

    func run() async throws {
        let values = try Inputs.variables(file: variables, assignments: assignments)
        let directoryJSON = try directory.map { path throws(ExitWith) in try Inputs.readJSON(path) }
        if let directoryJSON, let directory {
            do {
                _ = try Directory(json: directoryJSON, file: directory)
            } catch {
                throw Inputs.fail([error])
            }
        }
        let runner = try storeOptions.runner()
        try notify.configure(runner, userAgent: "procrun/\(procrunVersion)", timeZone: runner.timeZone)
        guard
            let outcome = try runner.correlate(
                message: name, correlationKey: correlationKey, variables: values, initiator: initiator,
                directory: directoryJSON, definitions: try runner.store.latestDefinitionIDs())
        else {
            throw StoreError.noReceiver(message: name, correlationKey: correlationKey)
        }
        let id: String
        switch outcome {
        case .correlated(let instance): id = instance
        case .started(let instance): id = instance
        }
        try await runner.runDueJobs(instance: id)
        try finish(runner, id, json: storeOptions.json)
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run due jobs (webhook and e-mail tries, retries, timers) for every instance in the store.",
        discussion: """
            Without --until-idle it runs until stopped, sleeping until the next job falls due. Jobs are claimed with a \
            lock owner and expiry, so several workers can share one store; a webhook or e-mail job whose worker died is taken \
            over once its timeout (plus 5 s) has passed. With --notify-url or --smtp-url (or their environment \
            variables) it also delivers the notifications in the outbox, 5 tries each, 1, 2, 4 and 8 s apart. \
            A job whose instance cannot be read (a damaged state, a definition that no longer loads) is reported \
            and left; the others go on, and --until-idle then exits 6.
            """)
    @Flag(help: "Exit once no job is due or pending (nor, with a channel, a notification).") var untilIdle = false
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var notify: NotifyOptions

    func run() async throws {
        let runner = try storeOptions.runner()
        try notify.configure(runner, userAgent: "procrun/\(procrunVersion)", timeZone: runner.timeZone)
        runner.onSkippedJob = { job, error in
            printError(
                "procrun: warning: the \(job.kind.rawValue) job of instance '\(job.instanceID)' cannot run, the others go on: \(error.message)"
            )
        }
        try await runner.work(untilIdle: untilIdle)
        let instances = Set(runner.skippedJobs.values.map(\.instance))
        if !instances.isEmpty {
            printError(
                "procrun: error: \(runner.skippedJobs.count) job(s) of \(instances.count) instance(s) could not run, as their instances cannot be read: "
                    + instances.sorted().joined(separator: ", ")
                    + " (`procrun check` lists them, `procrun cancel ID --force` ends one)")
            throw ExitWith(code: Exit.storeUnavailable)
        }
    }
}

/// `retry`, `skip` and `cancel`: incident handling as ELMA365 users know it.
struct OperateCommand {
    static func run(_ event: EngineEvent, instance: String, options: StoreOptions) async throws {
        let runner = try options.runner()
        let id = try runner.store.resolve(instance)
        _ = try runner.operate(event, on: id)
        try await runner.runDueJobs(instance: id)
        try finish(runner, id, json: options.json)
    }
}

struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry", abstract: "Repeat the step an instance's incident stopped at.")
    @Argument(help: "The instance id (or a unique prefix of at least 4 characters).") var instance: String
    @OptionGroup var storeOptions: StoreOptions
    func run() async throws { try await OperateCommand.run(.retryIncident, instance: instance, options: storeOptions) }
}

struct SkipCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skip", abstract: "Leave the failed node by its success path.")
    @Argument(help: "The instance id (or a unique prefix of at least 4 characters).") var instance: String
    @OptionGroup var storeOptions: StoreOptions
    func run() async throws { try await OperateCommand.run(.skipIncident, instance: instance, options: storeOptions) }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Interrupt an instance.")
    @Argument(help: "The instance id (or a unique prefix of at least 4 characters).") var instance: String
    @Flag(help: "Terminate the instance even if its stored state cannot be read (see `procrun check`).") var force =
        false
    @OptionGroup var storeOptions: StoreOptions
    func run() async throws {
        guard force else { return try await OperateCommand.run(.cancel, instance: instance, options: storeOptions) }
        let runner = try storeOptions.runner()
        let id = try runner.store.resolve(instance)
        // A readable state is cancelled the usual way (compensation-free interrupt, history kept).
        if (try? runner.store.row(id))??.problem == nil {
            return try await OperateCommand.run(.cancel, instance: id, options: storeOptions)
        }
        try runner.forceTerminate(id)
        if storeOptions.json {
            print(JSONWriter.string(["instance": .string(id), "status": "terminated", "forced": true], pretty: true))
        } else {
            print("\(id) terminated (forced: its stored state could not be read)")
        }
    }
}
