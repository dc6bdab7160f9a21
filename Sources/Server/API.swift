import BPMNLoader
import Engine
import Foundation
import Hummingbird
import ProcessModel
import Runtime
import Store
import Values
import Views

/// The JSON API under `/api` (documented in `Sources/Server/openapi.json`, served at
/// `/api/openapi.json`).
struct API {
    let host: RuntimeHost
    let settings: ServerSettings

    func register(on router: Router<ServerContext>) {
        let api = router.group("api")
        api.post("login") { request, context in try await login(request, context) }
        api.get("me") { _, context in
            let user = try context.user()
            return Reply.json(["id": .string(user.id), "admin": .bool(user.isAdmin)])
        }
        api.get("definitions") { _, context in try await definitions(context) }
        api.post("definitions") { request, context in try await deploy(request, context) }
        api.get("definitions/:id") { _, context in try await definition(context, as: "json") }
        api.get("definitions/:id/xml") { _, context in try await definition(context, as: "xml") }
        api.get("definitions/:id/svg") { _, context in try await definition(context, as: "svg") }
        api.post("instances") { request, context in try await start(request, context) }
        api.get("instances") { request, context in try await instances(request, context) }
        api.get("instances/:id") { _, context in
            Reply.json(try await instanceView(try context.parameter("id"), context).json)
        }
        api.get("instances/:id/svg") { _, context in
            let view = try await instanceView(try context.parameter("id"), context)
            return Reply.text(try await view.svg(host), type: "image/svg+xml; charset=utf-8")
        }
        api.post("instances/:id/cancel") { _, context in try await operate(.cancel, context) }
        api.post("instances/:id/retry") { _, context in try await operate(.retryIncident, context) }
        api.post("instances/:id/skip") { _, context in try await operate(.skipIncident, context) }
        api.get("tasks") { request, context in try await tasks(request, context) }
        api.post("instances/:id/tasks/:task/complete") { request, context in try await complete(request, context) }
        api.post("instances/:id/tasks/:task/claim") { _, context in try await claim(context, claiming: true) }
        api.post("instances/:id/tasks/:task/unclaim") { _, context in try await claim(context, claiming: false) }
        api.get("incidents") { request, context in
            _ = try context.admin()
            return try await instances(request, context, status: "incident")
        }
        api.post("messages") { request, context in try await message(request, context) }
        api.post("signals") { request, context in try await signal(request, context) }
        api.get("notifications") { _, context in try await notifications(context) }
        api.post("notifications/:id/read") { _, context in
            let user = try context.user()
            guard let id = Int64(try context.parameter("id")) else {
                throw APIError.notFound("no notification '\(context.parameters.get("id") ?? "")'")
            }
            let store = host.store
            guard try await host.run({ _ in try store.markNotificationRead(id, user: user.id, now: Date()) }) else {
                throw APIError.notFound("no notification \(id) of \(user.id)")
            }
            return Reply.json(["id": .number(Double(id)), "read": .bool(true)])
        }
        api.get("openapi.json") { _, _ in Reply.text(OpenAPI.document, type: "application/json; charset=utf-8") }
    }

    // MARK: Login

    func login(_ request: Request, _ context: ServerContext) async throws -> Response {
        var request = request
        let fields = try Fields(try await request.jsonObject(limit: settings.maxBody), allowed: ["user", "password"])
        let id = try fields.string("user", required: true)!
        let password = try fields.string("password", required: true)!
        let principal = try await settings.authenticator.login(user: id, password: password)
        var response = Reply.json(["id": .string(principal.id), "admin": .bool(principal.isAdmin)])
        response.setCookie(settings.authenticator.sessionCookie(for: principal.id))
        return response
    }

    // MARK: Definitions

    func definitions(_ context: ServerContext) async throws -> Response {
        _ = try context.user()
        let store = host.store
        let list = try await host.run { _ in try store.definitionSummaries() }
        return Reply.json(.array(list.map(Self.json)))
    }

    static func json(_ definition: DefinitionSummary) -> JSONValue {
        [
            "id": .number(Double(definition.id)), "processId": .string(definition.processID),
            "version": .number(Double(definition.version)), "file": .string(definition.file),
            "deployedAt": .string(Timestamp.rfc3339(definition.deployedAt)),
        ]
    }

    /// `POST /api/definitions`: a BPMN file as the body (`?file=name.bpmn` names it), or a
    /// multipart form with a file part. Admins only. Every process of the file is deployed.
    func deploy(_ request: Request, _ context: ServerContext) async throws -> Response {
        let user = try context.user()
        guard Policy.mayDeploy(user) else {
            throw APIError.forbidden("only administrators deploy definitions")
        }
        var request = request
        var bytes = try await request.bytes(limit: settings.maxBody)
        var file = request.query("file") ?? "upload.bpmn"
        if let type = request.headers[.contentType], type.lowercased().hasPrefix("multipart/form-data") {
            guard let part = Multipart.firstFile(bytes, contentType: type) else {
                throw APIError.badRequest("the form has no file part", field: "file")
            }
            bytes = part.bytes
            file = part.filename ?? file
        }
        let name = file
        let body = bytes
        let deployed = try await host.run { runner -> Result<[DefinitionSummary], APIError> in
            let result = BPMNLoader.load(bytes: body, file: name, options: runner.loadOptions)
            guard !result.hasErrors, let definitions = result.definitions else {
                let errors = result.diagnostics.filter { $0.severity == .error }
                return .failure(
                    APIError(
                        .badRequest, "invalid_bpmn",
                        errors.map(\.description).joined(separator: "\n"), field: "body"))
            }
            var list: [DefinitionSummary] = []
            for process in definitions.processes where process.isExecutable {
                let stored = try runner.deploy(file: name, xml: body, process: process)
                list.append(
                    DefinitionSummary(
                        id: stored.id, processID: stored.processID, version: stored.version, file: stored.file,
                        deployedAt: Date()))
            }
            if list.isEmpty {
                return .failure(
                    .badRequest("the file has no executable process (isExecutable=\"true\")", field: "body"))
            }
            return .success(list)
        }
        return Reply.json(.array(try deployed.get().map(Self.json)), status: .created)
    }

    func definition(_ context: ServerContext, as format: String) async throws -> Response {
        _ = try context.user()
        guard let id = Int64(try context.parameter("id")) else {
            throw APIError.notFound("no definition '\(context.parameters.get("id") ?? "")'")
        }
        let store = host.store
        guard let stored = try await host.run({ _ in try store.definition(id: id) }) else {
            throw APIError.notFound("no definition \(id)")
        }
        switch format {
        case "xml":
            var response = Reply.text(
                String(decoding: stored.xml, as: UTF8.self), type: "application/xml; charset=utf-8")
            // A download, never a page of this origin (an uploaded file could hold XHTML).
            response.headers[.contentDisposition] = "attachment; filename=\"definition-\(stored.id).bpmn\""
            response.headers[.contentSecurityPolicy] = "sandbox"
            return response
        case "svg":
            return Reply.text(try Self.svg(stored, highlight: nil), type: "image/svg+xml; charset=utf-8")
        default:
            return Reply.json([
                "id": .number(Double(stored.id)), "processId": .string(stored.processID),
                "version": .number(Double(stored.version)), "file": .string(stored.file),
                "xml": .string("/api/definitions/\(id)/xml"), "svg": .string("/api/definitions/\(id)/svg"),
            ])
        }
    }

    static func svg(_ stored: StoredDefinition, highlight: DiagramSVG.Highlight?) throws -> String {
        var options = LoadOptions()
        options.readDiagram = true
        guard let diagram = BPMNLoader.load(bytes: stored.xml, file: stored.file, options: options).diagram,
            !diagram.isEmpty
        else {
            throw APIError.notFound("'\(stored.file)' has no diagram (BPMNDI) to draw")
        }
        return DiagramSVG.render(diagram, highlight: highlight)
    }

    // MARK: Instances

    func start(_ request: Request, _ context: ServerContext) async throws -> Response {
        let user = try context.user()
        var request = request
        let fields = try Fields(
            try await request.jsonObject(limit: settings.maxBody), allowed: ["processId", "variables", "businessKey"])
        let processID = try fields.string("processId", required: true)!
        let variables = try fields.object("variables")
        let businessKey = try fields.string("businessKey")
        let directory = settings.directory
        let id = try await host.step("start") { runner -> String in
            guard let definitionID = try runner.store.latestDefinition(processID: processID),
                let stored = try runner.store.definition(id: definitionID)
            else {
                throw APIError(
                    .notFound, "not_found", "no deployed process '\(processID)' (POST /api/definitions deploys one)",
                    field: "processId")
            }
            let process = try runner.process(of: definitionID)
            return try runner.start(
                file: stored.file, xml: stored.xml, process: process, context: variables, answers: nil,
                directory: directory, initiator: user.id, businessKey: businessKey)
        }
        settings.wakeWorkers()
        host.metrics.increment("procrun_instances_started_total")
        return Reply.json(try await instanceView(id, context).json, status: .created)
    }

    func instances(_ request: Request, _ context: ServerContext, status fixed: String? = nil) async throws -> Response {
        let user = try context.user()
        let (limit, offset) = try page(request)
        let status = fixed ?? request.query("status")
        if let status, InstanceStatus(rawValue: status) == nil {
            throw APIError.badRequest(
                "status '\(status)' is none of running, waiting, completed, incident, terminated", field: "status")
        }
        let process = request.query("process")
        let startedBy = request.query("startedBy")
        let store = host.store
        let (total, items) = try await host.run { _ in
            try store.instanceSummaries(
                status: status, processID: process, startedBy: startedBy, visibleTo: user.isAdmin ? nil : user.id,
                limit: limit, offset: offset)
        }
        return Reply.json([
            "total": .number(Double(total)), "limit": .number(Double(limit)), "offset": .number(Double(offset)),
            "items": .array(items.map(Self.json)),
        ])
    }

    static func json(_ summary: InstanceSummary) -> JSONValue {
        [
            "id": .string(summary.id), "processId": .string(summary.processID),
            "definitionId": .number(Double(summary.definitionID)), "status": .string(summary.status),
            "startedBy": summary.startedBy.map(JSONValue.string) ?? .null,
            "businessKey": summary.businessKey.map(JSONValue.string) ?? .null,
            "createdAt": .string(Timestamp.rfc3339(summary.createdAt)),
            "updatedAt": .string(Timestamp.rfc3339(summary.updatedAt)),
        ]
    }

    func page(_ request: Request) throws -> (limit: Int, offset: Int) {
        var limit = 50
        var offset = 0
        if let text = request.query("limit") {
            guard let value = Int(text), (1...500).contains(value) else {
                throw APIError.badRequest("limit must be a whole number from 1 to 500", field: "limit")
            }
            limit = value
        }
        if let text = request.query("offset") {
            guard let value = Int(text), (0...1_000_000_000).contains(value) else {
                throw APIError.badRequest("offset must be a whole number from 0 to 1000000000", field: "offset")
            }
            offset = value
        }
        return (limit, offset)
    }

    /// An instance the person may see (404 for one they may not: its existence is not told):
    /// one they started or took part in, or with a task they may perform or claim.
    func instanceView(_ id: String, _ context: ServerContext) async throws -> InstanceView {
        let user = try context.user()
        let view = try await host.run { runner in try InstanceView(runner, id) }
        guard
            Policy.maySee(startedBy: view.startedBy, participants: view.participants, user)
                || view.tasks.contains(where: {
                    Policy.mayClaim($0, user, declared: Policy.declaresPerformers($0, in: view.process))
                })
        else {
            throw APIError.notFound("no instance '\(id)'")
        }
        return view
    }

    /// Before acting on an instance's task: the instance's process, or 404 when the person may
    /// not see the instance at all (then nothing about it is told, not even its tasks' state).
    /// A candidate of the task (by its node and the instance's directory) learns of a conflict
    /// even when someone else has just completed or claimed it.
    static func taskAccess(_ runner: DurableRunner, id: String, task: String, user: Principal) throws
        -> ProcessDefinition
    {
        guard let definitionID = try runner.store.read({ try $0.definitionID(ofInstance: id) }) else {
            throw APIError.notFound("no instance '\(id)'")
        }
        let process = try runner.process(of: definitionID)
        let people = try runner.store.people(ofInstance: id)
        if !Policy.maySee(startedBy: people.startedBy, participants: people.participants, user) {
            let open = try runner.store.openTasks(instance: id)
            if !open.contains(where: {
                Policy.mayClaim($0, user, declared: Policy.declaresPerformers($0, in: process))
            }) {
                let directory = try runner.store.instance(id)?.directory.flatMap {
                    try? Directory(json: $0, file: "directory")
                }
                guard let directory,
                    process.nodes.contains(where: {
                        ($0.id == task || $0.name == task)
                            && DurableRunner.candidates(of: $0, in: directory).contains(user.id)
                    })
                else { throw APIError.notFound("no instance '\(id)'") }
            }
        }
        return process
    }

    func operate(_ event: EngineEvent, _ context: ServerContext) async throws -> Response {
        let user = try context.user()
        let id = try context.parameter("id")
        let view = try await instanceView(id, context)
        let startedBy = view.startedBy
        _ = try await host.step("\(event.operationName)") { runner in
            // Checked on the instance as the step's transaction reads it.
            try runner.operate(event, on: id) { stored in
                if case .cancel = event {
                    let inIncident = stored.instance.status == .incident
                    guard Policy.mayCancel(startedBy: startedBy, inIncident: inIncident, user) else {
                        throw APIError.forbidden(
                            inIncident
                                ? "only administrators cancel an instance in an incident"
                                : "only administrators and the person who started it cancel an instance")
                    }
                } else if !Policy.mayOperateIncidents(user) {
                    throw APIError.forbidden("only administrators retry or skip incidents")
                }
            }
        }
        settings.wakeWorkers()
        return Reply.json(try await instanceView(id, context).json)
    }

    // MARK: Tasks

    func tasks(_ request: Request, _ context: ServerContext) async throws -> Response {
        let user = try context.user()
        let (limit, offset) = try page(request)
        let mine = try await host.run { runner in try Self.tasks(of: user, runner).map(\.task) }
        let items = mine.dropFirst(offset).prefix(limit)
        return Reply.json([
            "total": .number(Double(mine.count)), "limit": .number(Double(limit)), "offset": .number(Double(offset)),
            "items": .array(items.map(Self.json)),
        ])
    }

    /// The open tasks a person may perform or claim, with their instance's process.
    static func tasks(of user: Principal, _ runner: DurableRunner) throws -> [(
        task: OpenTask, process: ProcessDefinition?
    )] {
        var processes: [String: ProcessDefinition?] = [:]
        return try runner.store.openTasks().compactMap { task in
            if processes[task.instanceID] == nil {
                processes[task.instanceID] =
                    try runner.store.read { try $0.definitionID(ofInstance: task.instanceID) }
                    .flatMap { try? runner.process(of: $0) }
            }
            let process = processes[task.instanceID] ?? nil
            let declared = Policy.declaresPerformers(task, in: process)
            guard Policy.mayPerform(task, user, declared: declared) || Policy.mayClaim(task, user, declared: declared)
            else { return nil }
            return (task, process)
        }
    }

    static func json(_ task: OpenTask) -> JSONValue {
        [
            "instance": .string(task.instanceID), "task": .string(task.nodeID),
            "name": task.name.map(JSONValue.string) ?? .null, "lane": task.lane.map(JSONValue.string) ?? .null,
            "candidates": .array(task.candidates.map(JSONValue.string)),
            "assignee": task.assignee.map(JSONValue.string) ?? .null,
        ]
    }

    func complete(_ request: Request, _ context: ServerContext) async throws -> Response {
        let user = try context.user()
        let id = try context.parameter("id")
        let task = try context.parameter("task")
        var request = request
        let fields = try Fields(try await request.jsonObject(limit: settings.maxBody), allowed: ["variables"])
        let variables = try fields.object("variables")
        try await completeTask(id: id, task: task, variables: variables, user: user)
        return Reply.json(try await instanceView(id, context).json)
    }

    /// Completes a task if the person may (checked in the step's transaction).
    func completeTask(id: String, task: String, variables: JSONObject, user: Principal) async throws {
        _ = try await host.step("complete") { runner in
            let process = try Self.taskAccess(runner, id: id, task: task, user: user)
            let may = { (open: OpenTask) in
                Policy.mayPerform(open, user, declared: Policy.declaresPerformers(open, in: process))
            }
            return try runner.complete(
                instance: id, task: task, by: user.id, variables: variables,
                authorize: { open in
                    guard may(open) else { throw Policy.refuseTask(open, user) }
                }, prefer: may)
        }
        settings.wakeWorkers()
    }

    func claim(_ context: ServerContext, claiming: Bool) async throws -> Response {
        let user = try context.user()
        let id = try context.parameter("id")
        let task = try context.parameter("task")
        let claimed = try await host.step("claim") { runner in
            let process = try Self.taskAccess(runner, id: id, task: task, user: user)
            let may = { (open: OpenTask) in
                Policy.mayClaim(open, user, declared: Policy.declaresPerformers(open, in: process))
            }
            return try runner.claim(
                instance: id, task: task, for: claiming ? user.id : nil,
                authorize: { open in
                    guard may(open) else { throw Policy.refuseTask(open, user) }
                    if !claiming, let assignee = open.assignee, assignee != user.id {
                        throw APIError(
                            .conflict, "claimed", "task '\(open.nodeID)' is claimed by \(assignee), not you")
                    }
                },
                // Of several copies (a multi-instance task): one free, else one this person holds.
                prefer: { may($0) && ($0.assignee == nil || $0.assignee == user.id) })
        }
        return Reply.json(Self.json(claimed))
    }

    // MARK: Messages and signals

    func message(_ request: Request, _ context: ServerContext) async throws -> Response {
        let user = try context.user()
        var request = request
        let fields = try Fields(
            try await request.jsonObject(limit: settings.maxBody), allowed: ["name", "correlationKey", "variables"])
        let name = try fields.string("name", required: true)!
        let key = try fields.string("correlationKey")
        let variables = try fields.object("variables")
        let directory = settings.directory
        let outcome = try await host.step("message") { runner in
            try runner.correlate(
                message: name, correlationKey: key, variables: variables, initiator: user.id, directory: directory,
                definitions: try runner.store.latestDefinitionIDs())
        }
        settings.wakeWorkers()
        switch outcome {
        case .correlated(let id)?:
            // The instance it reached is named only to someone who may see it.
            let people = try await host.run { runner in try runner.store.people(ofInstance: id) }
            let visible = Policy.maySee(startedBy: people.startedBy, participants: people.participants, user)
            return Reply.json(["result": "correlated", "instance": visible ? .string(id) : .null])
        case .started(let id)?:
            host.metrics.increment("procrun_instances_started_total")
            return Reply.json(["result": "started", "instance": .string(id)], status: .created)
        case nil:
            throw APIError(
                .notFound, "no_receiver",
                "no instance waits for message '\(name)'\(key.map { " with correlation key '\($0)'" } ?? "") and no deployed process starts with it",
                field: "name")
        }
    }

    /// A signal to every instance waiting for it (each in its own step).
    func signal(_ request: Request, _ context: ServerContext) async throws -> Response {
        let user = try context.user()
        var request = request
        let fields = try Fields(try await request.jsonObject(limit: settings.maxBody), allowed: ["name"])
        let name = try fields.string("name", required: true)!
        let delivered = try await host.step("signal") { runner -> [String] in
            let waiting = try runner.store.read { try $0.subscribers(kind: "signal", name: name, except: "") }
            var delivered: [String] = []
            for id in waiting {
                // One that ended or moved on meanwhile is not waiting any more: skip it.
                if (try? runner.apply(.signal(name: name), to: id)) != nil { delivered.append(id) }
            }
            return delivered
        }
        settings.wakeWorkers()
        // How many it reached; by id, only those the caller may see.
        let visible = try await host.run { runner in
            try delivered.filter { id in
                let people = try runner.store.people(ofInstance: id)
                return Policy.maySee(startedBy: people.startedBy, participants: people.participants, user)
            }
        }
        return Reply.json([
            "delivered": .number(Double(delivered.count)), "instances": .array(visible.map(JSONValue.string)),
        ])
    }

    // MARK: Notifications

    func notifications(_ context: ServerContext) async throws -> Response {
        let user = try context.user()
        let store = host.store
        let (list, read) = try await host.run { _ in
            (try store.storedNotifications(user: user.id, instance: nil), try store.notificationsRead(user: user.id))
        }
        return Reply.json(
            .array(
                list.reversed().map { item in
                    [
                        "id": .number(Double(item.id)), "instance": .string(item.outgoing.instance),
                        "node": .string(item.outgoing.node), "message": .string(item.outgoing.message),
                        "text": .string(item.outgoing.text),
                        "createdAt": .string(Timestamp.rfc3339(item.outgoing.createdAt)),
                        "read": .bool(read[item.id] != nil),
                    ]
                }))
    }
}

/// What the API and the pages show of one instance.
struct InstanceView: Sendable {
    var stored: StoredInstance
    var definition: StoredDefinition
    var process: ProcessDefinition
    var tasks: [OpenTask]
    var startedBy: String?
    var businessKey: String?
    var participants: [String]
    var notifications: [StoredNotification]

    init(_ runner: DurableRunner, _ id: String) throws {
        guard let stored = try runner.store.instance(id),
            let definition = try runner.store.definition(id: stored.definitionID)
        else {
            throw APIError.notFound("no instance '\(id)'")
        }
        self.stored = stored
        self.definition = definition
        process = try runner.process(of: stored.definitionID)
        tasks = try runner.store.openTasks(instance: id)
        (startedBy, businessKey, participants) = try runner.store.people(ofInstance: id)
        notifications = try runner.store.storedNotifications(user: nil, instance: id)
    }

    var json: JSONValue {
        var report = Report.json(stored.instance, process: process).objectValue ?? JSONObject()
        report["definitionId"] = .number(Double(definition.id))
        report["version"] = .number(Double(definition.version))
        report["startedBy"] = startedBy.map(JSONValue.string) ?? .null
        report["businessKey"] = businessKey.map(JSONValue.string) ?? .null
        report["participants"] = .array(participants.map(JSONValue.string))
        report["tokens"] = .array(
            stored.instance.tokens.map {
                ["node": .string(process.nodes[$0.node].id), "state": .string("\($0.state)")]
            })
        report["openTasks"] = .array(tasks.map(API.json))
        report["outbox"] = .array(
            notifications.map {
                [
                    "id": .number(Double($0.id)), "user": .string($0.outgoing.user),
                    "status": .string($0.status.rawValue), "channel": $0.channel.map(JSONValue.string) ?? .null,
                    "lastError": $0.lastError.map(JSONValue.string) ?? .null,
                ]
            })
        report["history"] = .array(
            stored.instance.history.map { entry in
                [
                    "time": .string(Timestamp.rfc3339(entry.time)), "event": .string(entry.event.rawValue),
                    "node": .string(process.nodes[entry.node].id),
                    "name": process.nodes[entry.node].name.map(JSONValue.string) ?? .null,
                    "performer": entry.performer.map(JSONValue.string) ?? .null,
                    "note": entry.note.map(JSONValue.string) ?? .null,
                ]
            })
        return .object(report)
    }

    /// The diagram with the path taken, the waiting tokens and the node of an incident.
    func svg(_ host: RuntimeHost) async throws -> String {
        var highlight = DiagramSVG.Highlight()
        let instance = stored.instance
        for entry in instance.history {
            highlight.nodes.insert(process.nodes[entry.node].id)
            for flow in entry.flows { highlight.flows.insert(process.flows[flow].id) }
        }
        for token in instance.tokens { highlight.waiting.insert(process.nodes[token.node].id) }
        highlight.incident = instance.incident?.node
        return try API.svg(definition, highlight: highlight)
    }
}

extension EngineEvent {
    /// The operation a server's metrics count it under.
    var operationName: String {
        switch self {
        case .cancel: "cancel"
        case .retryIncident: "retry"
        case .skipIncident: "skip"
        default: "other"
        }
    }
}
