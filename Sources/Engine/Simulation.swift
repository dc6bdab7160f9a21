import Expressions
import Foundation
import ProcessModel
import Values

/// `--answers FILE`: a task id or task name → `{"by": "user id", "variables": {…}}`.
public struct Answers: Sendable {
    public struct Answer: Sendable {
        public var by: String?
        public var variables: JSONObject
    }

    public var entries: [String: Answer] = [:]

    public init() {}

    public init(json: JSONValue, file: String) throws(Diagnostic) {
        func fail(_ message: String) -> Diagnostic { .error(at: SourceLocation(file: file, line: 1, column: 1), message) }
        guard case .object(let root) = json else { throw fail("answers must be a JSON object: task id or name → {\"by\", \"variables\"}") }
        for (task, value) in root {
            guard case .object(let answer) = value else { throw fail("answer for \"\(task)\" must be an object with \"by\" and/or \"variables\"") }
            for key in answer.keys where key != "by" && key != "variables" {
                throw fail("unknown key \"\(key)\" in the answer for \"\(task)\" (known: by, variables)")
            }
            var by: String?
            if let value = answer["by"] {
                guard case .string(let user) = value else { throw fail("\"by\" of \"\(task)\" must be a user id string") }
                by = user
            }
            var variables = JSONObject()
            if let value = answer["variables"] {
                guard case .object(let object) = value else { throw fail("\"variables\" of \"\(task)\" must be an object") }
                variables = object
            }
            entries[task] = Answer(by: by, variables: variables)
        }
    }

    public func answer(for node: FlowNode) -> Answer? {
        entries[node.id] ?? node.name.flatMap { entries[$0] }
    }
}

/// One webhook try, as the runner hands it to a transport.
public struct WebhookCall: Sendable {
    public var instanceID: String
    public var processName: String
    public var node: FlowNode
    public var webhook: WebhookConfig
    public var context: JSONObject
    public var attempt: Int
    public var idempotencyKey: String
    /// The request of this execution, built when the node was entered (`WebhookPerformer.prepare`):
    /// the try sends it as it is. nil: the performer builds the request from `context` now (a
    /// performer that keeps no snapshots, or a job stored by an older procrun).
    public var request: WebhookRequestSnapshot?

    public init(
        instanceID: String, processName: String, node: FlowNode, webhook: WebhookConfig, context: JSONObject, attempt: Int,
        idempotencyKey: String, request: WebhookRequestSnapshot? = nil
    ) {
        self.instanceID = instanceID
        self.processName = processName
        self.node = node
        self.webhook = webhook
        self.context = context
        self.attempt = attempt
        self.idempotencyKey = idempotencyKey
        self.request = request
    }
}

/// Carries out webhook tries (the libcurl transport in production).
public protocol WebhookPerformer: Sendable {
    /// Builds the request of one webhook execution when its node is entered (the call of its
    /// first try): every try of the execution sends this snapshot, so a retry sends the same
    /// bytes under the same `Idempotency-Key` even if the context changed meanwhile. `.failed`
    /// (a variable that is not set) fails the first try before anything is sent, for good.
    /// nil: this performer keeps no snapshots and builds each try's request itself.
    func prepare(_ call: WebhookCall) -> WebhookPreparation?
    func perform(_ call: WebhookCall) async -> WebhookOutcome
}

extension WebhookPerformer {
    public func prepare(_ call: WebhookCall) -> WebhookPreparation? { nil }
}

/// Waits without holding a thread. Tests pass a manual clock.
public protocol Scheduler: Sendable {
    var now: Date { get }
    func sleep(seconds: Double) async
}

public struct SystemScheduler: Scheduler {
    public init() {}
    public var now: Date { Date() }
    public func sleep(seconds: Double) async {
        guard seconds > 0 else { return }
        try? await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
    }
}

/// Receives each notification the runner resolves (the trace, `--notify-url`, `--smtp-url`).
public protocol NotificationSink: Sendable {
    func deliver(_ notification: OutgoingNotification, instance: Instance) async
}

/// `procrun run`: one instance from start to end, people simulated from `--answers`, the
/// directory and the lanes.
public struct Simulation: Sendable {
    public var engine: Engine
    public var answers: Answers
    public var directory: Directory
    public var performer: any WebhookPerformer
    public var scheduler: any Scheduler
    public var sinks: [any NotificationSink]
    /// For `DateTime()` in notification templates.
    public var timeZone: TimeZone = .current

    public init(
        engine: Engine, answers: Answers = Answers(), directory: Directory = Directory(), performer: any WebhookPerformer,
        scheduler: any Scheduler = SystemScheduler(), sinks: [any NotificationSink] = []
    ) {
        self.engine = engine
        self.answers = answers
        self.directory = directory
        self.performer = performer
        self.scheduler = scheduler
        self.sinks = sinks
    }

    /// Who completes a task: the answer's `by`, else the assignee, else a candidate user, else a
    /// member of the lane's org unit or group (or a candidate group), else the initiator.
    public func performer(for node: FlowNode, instance: Instance) -> String {
        if let by = answers.answer(for: node)?.by { return by }
        if let assignee = node.assignee?.trimmingWhitespace(), !assignee.isEmpty {
            if assignee.hasPrefix("${") || assignee.hasPrefix("#{") || assignee.hasPrefix("=") {
                if let expression = try? FEELExpression(assignee),
                    case .string(let user)? = try? expression.evaluate(in: instance.context)
                {
                    return user
                }
            } else {
                return assignee
            }
        }
        if let user = node.candidateUsers.first { return user }
        if let lane = node.lane {
            if let member = directory.orgUnit(lane)?.first ?? directory.group(lane)?.first { return member }
        }
        for group in node.candidateGroups {
            if let member = directory.group(group)?.first ?? directory.orgUnit(group)?.first { return member }
        }
        return instance.initiator
    }

    /// Resolves recipients to user ids, each once, in the order configured.
    public func resolve(_ recipients: [ResolvedRecipient]) -> [String] {
        var users: [String] = []
        for recipient in recipients {
            let ids: [String]
            switch recipient {
            case .user(let id): ids = [id]
            case .group(let name): ids = directory.group(name) ?? []
            case .orgUnit(let name): ids = directory.orgUnit(name) ?? []
            }
            for id in ids where !users.contains(id) { users.append(id) }
        }
        return users
    }

    /// Runs one instance until it completes, stops in an incident, or can go no further.
    /// `observe` sees the history as it grows, for a live trace.
    /// `horizon`: timed events after this moment are left pending (a cycle without end would
    /// otherwise run forever).
    public func run(
        id: String, context: JSONObject, initiator: String, horizon: Date? = nil, observe: (([HistoryEntry], Instance) -> Void)? = nil
    ) async -> Instance {
        await runAll([Start(engine: engine, id: id, context: context)], initiator: initiator, horizon: horizon, observe: observe)[0]
    }

    /// At most this many instances run side by side in one `runAll`.
    public static let instanceLimit = 1_000

    /// An instance to start: which process, its id and variables.
    public struct Start: Sendable {
        public var engine: Engine
        public var id: String
        public var context: JSONObject

        public init(engine: Engine, id: String, context: JSONObject) {
            self.engine = engine
            self.id = id
            self.context = context
        }
    }

    /// Runs instances side by side on one clock, in the order given (each runs until it waits
    /// before the next starts). Signals one throws reach the others; a message goes to the
    /// first instance that waits for it, or starts an instance of a `partners` process (the
    /// other processes of the file) whose message start event it names. Returns every instance,
    /// the started ones first, then those messages and signals started.
    ///
    /// A discrete-event loop: effects that need no time (people, webhook tries, notifications,
    /// messages) run first, in order; then the clock moves to the earliest timer or retry,
    /// through the scheduler (a scheduled wait, or a virtual clock in tests). `observe` sees the
    /// first instance's history as it grows.
    ///
    /// Simulated people answer at once, so everything an instance does between two timed events
    /// is one transaction for the step budget (`Engine.maxSteps`): a cycle through a user task
    /// that people keep answering stops in an incident like a cycle that never waits.
    public func runAll(
        _ starts: [Start], partners: [Engine] = [], initiator: String, horizon: Date? = nil,
        observe: (([HistoryEntry], Instance) -> Void)? = nil
    ) async -> [Instance] {
        var engines: [Engine] = []
        var instances: [Instance] = []
        // Each instance's step budget, renewed when a timer or retry falls due.
        var budgets: [StepBudget] = []
        var shown = 0
        func show() {
            if let observe, let first = instances.first, first.history.count > shown {
                observe(Array(first.history[shown...]), first)
                shown = first.history.count
            }
        }
        var queue: [(instance: Int, effect: Effect)] = []
        var timed: [(due: Date, order: Int, instance: Int, event: EngineEvent)] = []
        var order = 0
        // The request of each webhook execution in flight, by instance and Idempotency-Key:
        // built when the step that entered the node ends, sent as it is by every try.
        var requests: [RequestKey: WebhookPreparation] = [:]
        func enqueue(_ i: Int, _ effects: [Effect]) {
            for effect in effects {
                if case .callWebhook(_, let node, let attempt, let key) = effect, requests[RequestKey(instance: i, key: key)] == nil {
                    let flowNode = engines[i].process.nodes[node]
                    if let webhook = flowNode.webhook {
                        let call = WebhookCall(
                            instanceID: instances[i].id, processName: engines[i].process.displayName, node: flowNode, webhook: webhook,
                            context: instances[i].context, attempt: attempt, idempotencyKey: key)
                        requests[RequestKey(instance: i, key: key)] = performer.prepare(call)
                    }
                }
                queue.append((i, effect))
            }
        }
        func begin(_ engine: Engine, id: String, context: JSONObject, at start: Int? = nil) {
            // Processes that start each other by signals could otherwise start instances forever.
            guard instances.count < Simulation.instanceLimit else { return }
            var budget = StepBudget(limit: engine.maxSteps)
            let (instance, effects) = engine.start(id: id, context: context, initiator: initiator, now: scheduler.now, at: start, budget: &budget)
            engines.append(engine)
            instances.append(instance)
            budgets.append(budget)
            enqueue(instances.count - 1, effects)
        }
        func isLive(_ i: Int) -> Bool { instances[i].status == .waiting || instances[i].status == .running }
        var pendingStarts = starts[...]
        while true {
            guard !queue.isEmpty else {
                if let next = pendingStarts.popFirst() {
                    begin(next.engine, id: next.id, context: next.context)
                    show()
                    continue
                }
                // Nothing immediate is left: move the clock to the next timed event.
                timed.removeAll { !isLive($0.instance) }
                guard !timed.isEmpty else { break }
                timed.sort { ($0.due, $0.order) < ($1.due, $1.order) }
                if let horizon, timed[0].due > horizon { break }
                let next = timed.removeFirst()
                let wait = next.due.timeIntervalSince(scheduler.now)
                if wait > 0 { await scheduler.sleep(seconds: wait) }
                budgets[next.instance] = StepBudget(limit: engines[next.instance].maxSteps)
                let effects = engines[next.instance].handle(next.event, in: &instances[next.instance], now: scheduler.now, budget: &budgets[next.instance])
                enqueue(next.instance, effects)
                show()
                continue
            }
            let (i, effect) = queue.removeFirst()
            let engine = engines[i]
            // Every effect is carried out, even after the instance ended: a final webhook failure
            // both notifies people and leaves by the interrupt flow in one step.
            var event: EngineEvent?
            switch effect {
            case .openTask(let token, let node):
                // A terminate end event or a caught error may have removed the token meanwhile.
                guard instances[i].token(token) != nil else { continue }
                let flowNode = engine.process.nodes[node]
                let by = performer(for: flowNode, instance: instances[i])
                event = .taskCompleted(token: token, by: by, variables: answers.answer(for: flowNode)?.variables ?? JSONObject())
            case .callWebhook(let token, let node, let attempt, let key):
                guard instances[i].token(token) != nil else {
                    requests[RequestKey(instance: i, key: key)] = nil
                    continue
                }
                let flowNode = engine.process.nodes[node]
                guard let webhook = flowNode.webhook else { continue }
                let request = RequestKey(instance: i, key: key)
                switch requests[request] {
                case .failed(let message)?:
                    // A variable that is not set: the try fails before anything is sent.
                    requests[request] = nil
                    event = .webhookFinished(token: token, outcome: .failed(status: nil, message: message, retryable: false))
                case let prepared:
                    var snapshot: WebhookRequestSnapshot?
                    if case .request(let built)? = prepared { snapshot = built }
                    let call = WebhookCall(
                        instanceID: instances[i].id, processName: engine.process.displayName, node: flowNode, webhook: webhook,
                        context: instances[i].context, attempt: attempt, idempotencyKey: key, request: snapshot)
                    let outcome = await performer.perform(call)
                    let effects = engine.handle(
                        .webhookFinished(token: token, outcome: outcome), in: &instances[i], now: scheduler.now, budget: &budgets[i])
                    // The execution is over unless a retry follows: its request is no longer needed.
                    let retries = effects.contains { if case .scheduleRetry(token, _, _, _) = $0 { true } else { false } }
                    if !retries { requests[request] = nil }
                    enqueue(i, effects)
                }
            case .scheduleRetry(let token, _, let delay, _):
                timed.append((scheduler.now.addingTimeInterval(delay), order, i, .retryDue(token: token)))
                order += 1
            case .scheduleTimer(let timer, let due):
                timed.append((due, order, i, .timerFired(timer: timer)))
                order += 1
            case .notify(let node, let recipients, let message, let error, let attempts):
                for (number, notification) in engine.recordNotifications(node: node, users: resolve(recipients), message: message, in: &instances[i]) {
                    let outgoing = NotificationText.compose(
                        key: "\(instances[i].id)-notify-\(number)", process: engine.process,
                        node: engine.process.nodes[node], instance: instances[i], user: notification.user, directory: directory, message: message,
                        error: error, attempts: attempts, now: scheduler.now, timeZone: timeZone)
                    for sink in sinks { await sink.deliver(outgoing, instance: instances[i]) }
                }
            case .throwSignal(let name):
                for j in instances.indices where j != i && isLive(j) {
                    let effects = engines[j].handle(.signal(name: name), in: &instances[j], now: scheduler.now, budget: &budgets[j])
                    enqueue(j, effects)
                }
                for partner in partners where partner.process.id != engine.process.id {
                    if let start = partner.startEvent(for: .signal(name)) {
                        begin(partner, id: "\(instances[0].id)-\(instances.count)", context: JSONObject(), at: start)
                    }
                }
            case .sendMessage(let name, let variables):
                if let j = instances.indices.first(where: { $0 != i && engines[$0].catches(.message(name), in: instances[$0]) }) {
                    let effects = engines[j].handle(
                        .message(name: name, variables: variables), in: &instances[j], now: scheduler.now, budget: &budgets[j])
                    enqueue(j, effects)
                } else if let partner = partners.first(where: { $0.process.id != engine.process.id && $0.startEvent(for: .message(name)) != nil }) {
                    begin(partner, id: "\(instances[0].id)-\(instances.count)", context: variables, at: partner.startEvent(for: .message(name)))
                }
            }
            if let event {
                enqueue(i, engine.handle(event, in: &instances[i], now: scheduler.now, budget: &budgets[i]))
            }
            show()
        }
        return instances
    }
}

/// A webhook execution of one of the instances a simulation runs.
struct RequestKey: Hashable {
    var instance: Int
    var key: String
}
