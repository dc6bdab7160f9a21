import Expressions
import Foundation
import ProcessModel
import Values

/// What the outside world tells an instance.
public enum EngineEvent: Sendable {
    /// A person completed the user, manual or receive task the token waits at.
    case taskCompleted(token: Int, by: String?, variables: JSONObject)
    /// A try of an integration node's job ended.
    case jobFinished(token: Int, outcome: JobOutcome)
    /// The delay before the next try of an integration node's job has passed.
    case retryDue(token: Int)
    /// A timer fell due.
    case timerFired(timer: Int)
    /// An operator repeats the step that stopped in an incident.
    case retryIncident
    /// An operator leaves the failed node by its success path.
    case skipIncident
    /// An operator interrupts the instance.
    case cancel
    /// A signal was broadcast (by another instance, or from outside).
    case signal(name: String)
    /// A message arrived; its variables merge into the context.
    case message(name: String, variables: JSONObject)
}

/// How a webhook try ended, as a `WebhookPerformer` tells it.
public enum WebhookOutcome: Sendable {
    /// A 2xx answer; `result` is `{status, headers, body}`.
    case delivered(status: Int, result: JSONValue)
    /// The try failed. `retryable` is false when retrying cannot help (a template variable is not set).
    case failed(status: Int?, message: String, retryable: Bool)
}

/// What the instance asks the outside world to do.
public enum Effect: Sendable {
    /// A person must complete this task (user, manual or receive task).
    case openTask(token: Int, node: Int)
    /// Make one try of the job of the integration node the token stands at (the handler of
    /// the node's type does it). `attempt` counts from 1.
    case runJob(token: Int, node: Int, attempt: Int, idempotencyKey: String)
    /// Send `retryDue` for the token after `delay` seconds.
    case scheduleRetry(token: Int, node: Int, delay: Double, nextAttempt: Int)
    /// Tell these people that an integration node failed for good, or a notify node's message.
    /// `message` is the engine's summary (kept in the instance); `error` the last try's error
    /// and `attempts` how many tries were made (empty and 0 for a notify node), for the text
    /// each person receives (`NotificationText`).
    /// `context`: the variables as they were at the node, which the text reads.
    case notify(
        node: Int, recipients: [ResolvedRecipient], message: String, error: String, attempts: Int, context: JSONObject)
    /// Send `timerFired` at `due`.
    case scheduleTimer(timer: Int, due: Date)
    /// Broadcast a signal to the other instances (this one has already caught it).
    case throwSignal(name: String)
    /// Send a message to another instance, or start one whose process has a message start event.
    case sendMessage(name: String, variables: JSONObject)
}

/// A notification recipient with context variables and the current user already resolved;
/// groups and org units are resolved against the directory by the runner.
public enum ResolvedRecipient: Sendable, Hashable {
    case user(String)
    case group(String)
    case orgUnit(String)
}

public struct EngineError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// The interpreter: a pure, deterministic function from (instance, event) to (instance', effects).
/// It performs no I/O; time comes in as a parameter.
public struct Engine: Sendable {
    /// What an engine prepared once and never changes, shared by its copies (a step, a runner
    /// and every cache hold one): copying an engine is one reference, not the process's arrays.
    final class Prepared: Sendable {
        let process: ProcessDefinition
        let scripts: any ScriptRunner
        let upstreamOfFlow: [Int: [Bool]]
        let stateCodec: StateCodec
        /// By scope (a sub-process node; -1: the process level): its start events and its event
        /// sub-processes, found once instead of by a scan of every node each time a scope begins.
        let startEvents: [Int: [Int]]
        let eventSubProcesses: [Int: [Int]]

        init(
            process: ProcessDefinition, scripts: any ScriptRunner, upstreamOfFlow: [Int: [Bool]], stateCodec: StateCodec
        ) {
            self.process = process
            self.scripts = scripts
            self.upstreamOfFlow = upstreamOfFlow
            self.stateCodec = stateCodec
            // One pass, in node order (as `startEvents(inScope:)` and `eventSubProcesses(inScope:)` list them).
            var starts: [Int: [Int]] = [:]
            var subProcesses: [Int: [Int]] = [:]
            for (index, node) in process.nodes.enumerated() {
                if node.kind == .startEvent { starts[node.scope ?? -1, default: []].append(index) }
                if node.kind == .subProcess(.event) { subProcesses[node.scope ?? -1, default: []].append(index) }
            }
            startEvents = starts
            eventSubProcesses = subProcesses
        }
    }

    private let prepared: Prepared

    public var process: ProcessDefinition {
        _read { yield prepared.process }
    }
    /// Runs script tasks: FEEL by default; the conformance harness plugs in its token adapter.
    public var scripts: any ScriptRunner { prepared.scripts }
    /// For each incoming flow of a joining inclusive gateway: which nodes can still reach it
    /// (without passing through the gateway). Indexed by flow index.
    var upstreamOfFlow: [Int: [Bool]] {
        _read { yield prepared.upstreamOfFlow }
    }
    /// Reads and writes the stored states of the process's instances (element ids, not indices).
    public var stateCodec: StateCodec { prepared.stateCodec }
    /// `process.startEvents(inScope:)`, found once.
    func startEvents(inScope scope: Int?) -> [Int] { prepared.startEvents[scope ?? -1] ?? [] }
    /// `process.eventSubProcesses(inScope:)`, found once.
    func eventSubProcesses(inScope scope: Int?) -> [Int] { prepared.eventSubProcesses[scope ?? -1] ?? [] }

    /// The step budget runners use unless told otherwise (`--max-steps`).
    public static let defaultMaxSteps = 10_000

    /// At most this many steps per event (start, task completed, timer fired, …) before the
    /// instance must reach a wait state; past it the instance stops in an incident naming the
    /// node it kept cycling through (see `StepBudget`). At least 1.
    public var maxSteps: Int {
        didSet { maxSteps = max(1, maxSteps) }
    }

    /// Prepares a process to run. Fails when it holds elements procrun cannot run.
    /// `maxSteps`: the step budget of each event (see `StepBudget`).
    public init(
        process: ProcessDefinition, scripts: any ScriptRunner = FEELScriptRunner(),
        maxSteps: Int = Engine.defaultMaxSteps
    ) throws(EngineError) {
        if !process.deferredErrors.isEmpty { throw EngineError(diagnostics: process.deferredErrors) }
        guard process.startEvents(inScope: nil).first ?? process.triggeredStarts().first?.node != nil else {
            throw EngineError(diagnostics: [.error(at: process.location, "process '\(process.id)' has no start event")])
        }
        self.maxSteps = max(1, maxSteps)
        var upstream: [Int: [Bool]] = [:]
        for (g, node) in process.nodes.enumerated()
        where (node.kind == .inclusiveGateway || node.kind == .complexGateway) && node.incoming.count > 1 {
            for flow in node.incoming {
                var reach = [Bool](repeating: false, count: process.nodes.count)
                var stack = [process.flows[flow].source]
                while let n = stack.popLast() {
                    if n == g || reach[n] { continue }
                    reach[n] = true
                    for f in process.nodes[n].incoming { stack.append(process.flows[f].source) }
                    // A boundary event is reached through its host activity.
                    if let host = process.nodes[n].kind.host { stack.append(host) }
                }
                upstream[flow] = reach
            }
        }
        prepared = Prepared(
            process: process, scripts: scripts, upstreamOfFlow: upstream, stateCodec: StateCodec(process: process))
    }

    /// Creates an instance, sets ELMA365's system variables and runs it until it waits or ends.
    /// `at` names the start event (a message or signal start); by default the none start event.
    public func start(id: String, context: JSONObject, initiator: String, now: Date, at startEvent: Int? = nil) -> (
        Instance, [Effect]
    ) {
        var budget = StepBudget(limit: maxSteps)
        return start(id: id, context: context, initiator: initiator, now: now, at: startEvent, budget: &budget)
    }

    /// `start` within a budget the caller carries across events (see `StepBudget`).
    public func start(
        id: String, context: JSONObject, initiator: String, now: Date, at startEvent: Int? = nil,
        budget: inout StepBudget
    ) -> (Instance, [Effect]) {
        var context = context
        context["__id"] = .string(id)
        context["__name"] = .string(process.displayName)
        context["__createdBy"] = .string(initiator)
        context["__createdAt"] = .string(Timestamp.rfc3339(now))
        var step = Step(
            engine: self,
            instance: Instance(id: id, processID: process.id, context: context, initiator: initiator, createdAt: now),
            now: now,
            budget: budget)
        let start = startEvent ?? startEvents(inScope: nil).first ?? process.triggeredStarts()[0].node
        step.spawn(at: start, scope: 0, via: nil)
        step.activateScopeEvents(scope: 0)
        step.run()
        budget = step.budget
        // Moved out of the step, not copied.
        var instance = Instance.placeholder
        swap(&instance, &step.instance)
        var effects: [Effect] = []
        swap(&effects, &step.effects)
        return (instance, effects)
    }

    /// Records the notifications of a `notify` effect, once the runner has resolved its
    /// recipients to people (groups and org units need the directory the runner holds). The
    /// instance keeps them, and only the engine changes an instance. Returns each with its
    /// number in the instance (from 1), which names its deliveries.
    public func recordNotifications(node: Int, users: [String], message: String, in instance: inout Instance) -> [(
        number: Int, notification: ProcessNotification
    )] {
        users.map { user in
            let notification = ProcessNotification(node: process.nodes[node].id, user: user, message: message)
            instance.notifications.append(notification)
            return (instance.notifications.count, notification)
        }
    }

    /// Applies one event and runs the instance until it waits or ends, or until `maxSteps`
    /// steps are spent (an incident).
    public func handle(_ event: EngineEvent, in instance: inout Instance, now: Date) -> [Effect] {
        var budget = StepBudget(limit: maxSteps)
        return handle(event, in: &instance, now: now, budget: &budget)
    }

    /// `handle` within a budget the caller carries across events (see `StepBudget`).
    public func handle(_ event: EngineEvent, in instance: inout Instance, now: Date, budget: inout StepBudget)
        -> [Effect]
    {
        // The step works on the caller's instance itself, not on a second reference to it (which
        // would make every array the step changes a copy).
        var step = Step(engine: self, instance: Instance.placeholder, now: now, budget: budget)
        swap(&step.instance, &instance)
        step.apply(event)
        step.run()
        swap(&step.instance, &instance)
        budget = step.budget
        return step.effects
    }

    /// Whether something in the instance waits for this trigger now (a message is delivered to
    /// the first instance that does).
    public func catches(_ trigger: EventTrigger, in instance: Instance) -> Bool {
        guard instance.status == .waiting || instance.status == .running else { return false }
        return !Step(engine: self, instance: instance, now: instance.createdAt).catchers(of: trigger).isEmpty
    }

    /// The messages and signals the instance waits for now, each once: what a store indexes to
    /// route them between instances.
    public func subscriptions(of instance: Instance) -> [EventTrigger] {
        guard instance.status == .waiting || instance.status == .running else { return [] }
        return Step(engine: self, instance: instance, now: instance.createdAt).awaitedTriggers()
    }

    /// The process-level start event this trigger starts a new instance at, if any.
    public func startEvent(for trigger: EventTrigger) -> Int? {
        process.triggeredStarts().first { start in start.triggers.contains { trigger.isCaught(by: $0) } }?.node
    }
}

/// One application of the step function: mutable working state over a copy of the instance.
struct Step {
    let engine: Engine
    var instance: Instance
    let now: Date
    var effects: [Effect] = []
    /// Signals thrown inside the instance, caught when the current round of tokens has moved.
    var pendingSignals: [String] = []
    /// The steps this event may still take.
    var budget: StepBudget

    var process: ProcessDefinition {
        _read { yield engine.process }
    }

    init(engine: Engine, instance: Instance, now: Date, budget: StepBudget? = nil) {
        self.engine = engine
        self.instance = instance
        self.now = now
        var budget = budget ?? StepBudget(limit: engine.maxSteps)
        budget.events += 1
        self.budget = budget
    }

    // MARK: Tokens

    mutating func spawn(at node: Int, scope: Int, via flow: Int?) {
        let token = Token(id: instance.nextTokenID, node: node, scope: scope, arrivedVia: flow, state: .ready)
        instance.nextTokenID += 1
        instance.tokens.append(token)
        instance.readyQueue.append(token.id)
    }

    func tokenIndex(_ id: Int) -> Int? { instance.tokenIndex(id) }

    /// Removes a token. Its id may stay in the ready queue: `run` skips ids without a token
    /// (ids are never reused), so that ending each of thousands of tokens costs no queue scan.
    mutating func remove(token id: Int) {
        if let index = tokenIndex(id) { instance.tokens.remove(at: index) }
        instance.timers.removeAll { $0.token == id }
    }

    mutating func record(
        _ event: HistoryEntry.Event, node: Int, flows: [Int] = [], performer: String? = nil, note: String? = nil
    ) {
        instance.history.append(
            HistoryEntry(time: now, event: event, node: node, flows: flows, performer: performer, note: note))
    }

    mutating func raiseIncident(at node: Int, atOutputs: Bool = false, _ message: String) {
        instance.status = .incident
        instance.incident = Incident(node: process.nodes[node].id, message: message, atOutputs: atOutputs ? true : nil)
        record(.incident, node: node, note: message)
    }

    // MARK: The loop

    /// Executes ready tokens in FIFO order until none is left, then settles joins and status.
    mutating func run() {
        guard instance.status == .running || instance.status == .waiting else { return }
        instance.status = .running
        // Tokens move in rounds: each ready token takes one step. A signal thrown in a round is
        // caught after it, so that parallel branches arm their catch events first.
        var roundLeft = 0
        // The queue is read from `head` on; nothing else removes from it while this runs, and
        // what was read is dropped once at the end (not one shift of the whole queue per step).
        var head = 0
        defer {
            instance.readyQueue = instance.readyQueue[head...].filter { instance.tokenIndex($0) != nil }
        }
        while instance.status == .running {
            if roundLeft == 0 {
                if !pendingSignals.isEmpty {
                    let signals = pendingSignals
                    pendingSignals = []
                    for name in signals { _ = deliver(.signal(name)) }
                }
                roundLeft = instance.readyQueue.count - head
                if roundLeft == 0 {
                    // A join or condition that fires queues tokens, whose steps count.
                    if fireReadyInclusiveJoin() || fireTrueConditions() { continue }
                    break
                }
            }
            // An id whose token has gone (joined, ended, interrupted) is skipped.
            guard let index = tokenIndex(instance.readyQueue[head]) else {
                head += 1
                roundLeft -= 1
                continue
            }
            // Every token step counts, so that a fork bomb stops before its tokens fill memory.
            guard takeStep(at: instance.tokens[index].node) else { break }
            head += 1
            roundLeft -= 1
            execute(index)
        }
        guard instance.status == .running else {
            if instance.status == .completed { instance.timers.removeAll() }
            return
        }
        if instance.tokens.isEmpty {
            instance.status = .completed
            instance.timers.removeAll()
        } else {
            instance.status = .waiting
        }
    }

    mutating func execute(_ index: Int) {
        let token = instance.tokens[index]
        let node = process.nodes[token.node]
        // `startQuantity`: the activity waits for that many tokens, which merge into one.
        if node.startQuantity > 1 {
            let arrived = arrivedTokens(at: token.node, scope: token.scope)
            guard arrived.count >= node.startQuantity else {
                instance.tokens[index].state = .joining
                record(.waiting, node: token.node, note: "\(arrived.count) of \(node.startQuantity) tokens")
                return
            }
            for other in arrived.filter({ $0.id != token.id }).prefix(node.startQuantity - 1) {
                remove(token: other.id)
            }
        }
        if let multi = node.multiInstance, !isInnerInstance(token) {
            return startMultiInstance(token, multi)
        }
        // A `testBefore` loop checks its condition before the first run, too.
        if let loop = node.loop, loop.testBefore, instance.loopCounts[token.id] == nil {
            guard let again = loopAgain(loop, token: token) else { return }
            if !again {
                guard let selected = selectFlows(of: token) else { return }
                return take(selected, from: token.id)
            }
        }
        switch node.kind {
        case .startEvent, .eventStart, .intermediateEvent, .boundary:
            leave(token.id)
        case .catchEvent(let triggers, _):
            waitForEvent(token, triggers: triggers)
        case .throwEvent(let triggers):
            record(.entered, node: token.node)
            for trigger in triggers {
                guard instance.token(token.id)?.node == token.node else { return }
                throwTrigger(trigger, from: token)
            }
            // A link moved the token; a compensation makes it wait for its handlers.
            if let current = instance.token(token.id), current.node == token.node, current.state == .ready {
                leave(token.id)
            }
        case .eventBasedGateway:
            waitAtEventGateway(token)
        case .task(let kind):
            guard node.mappings.inputs.isEmpty || applyMappings(node.mappings.inputs, of: token.node, input: true)
            else { return }
            executeTask(token, node: node, kind: kind)
        case .subProcess(.event):
            // Reached only by its start event's trigger, never by a flow.
            leave(token.id)
        case .subProcess:
            guard node.mappings.inputs.isEmpty || applyMappings(node.mappings.inputs, of: token.node, input: true)
            else { return }
            enterSubProcess(token)
        case .exclusiveGateway:
            exclusiveGateway(token)
        case .parallelGateway:
            parallelGateway(token)
        case .inclusiveGateway:
            inclusiveGateway(token)
        case .complexGateway:
            complexGateway(token)
        case .endEvent(let kind):
            endEvent(token, kind: kind)
        case .unsupported(let element):
            raiseIncident(at: token.node, "procrun cannot run '\(element)' yet")
        }
    }

    // MARK: Leaving nodes

    /// Completes the token's node and moves it along every flow the node's outgoing rules
    /// select. `excluding` removes one flow from consideration (a webhook's interrupt flow on success).
    /// `outputs`: apply the node's output mappings (not when an operator skips the node).
    mutating func leave(
        _ tokenID: Int, excluding: Int? = nil, performer: String? = nil, note: String? = nil, outputs: Bool = true
    ) {
        guard let index = tokenIndex(tokenID) else { return }
        let token = instance.tokens[index]
        if outputs, !process.nodes[token.node].mappings.outputs.isEmpty, !applyOutputs(of: token) { return }
        if process.nodes[token.node].multiInstance != nil, isInnerInstance(token) {
            return completeInnerInstance(token, performer: performer)
        }
        // A looping activity runs again while its condition holds.
        if let loop = process.nodes[token.node].loop {
            instance.loopCounts[tokenID, default: 0] += 1
            guard let again = loopAgain(loop, token: token) else { return }
            if again {
                record(
                    .left, node: token.node, performer: performer,
                    note: "loop iteration \(instance.loopCounts[tokenID]!)")
                instance.tokens[index].state = .ready
                instance.readyQueue.append(tokenID)
                return
            }
            instance.loopCounts[tokenID] = nil
        }
        guard let selected = selectFlows(of: token, excluding: excluding) else { return }
        take(selected, from: tokenID, performer: performer, note: note)
    }

    /// The output mappings of the node a token leaves; false (an incident) when one fails. Each
    /// instance of a multi-instance activity applies them, the whole activity not again; an
    /// event sub-process has none.
    @inline(never)
    mutating func applyOutputs(of token: Token) -> Bool {
        let node = process.nodes[token.node]
        guard node.multiInstance == nil || isInnerInstance(token), node.kind != .subProcess(.event) else { return true }
        return applyMappings(node.mappings.outputs, of: token.node, input: false)
    }

    /// Sets the variables of an activity's input mappings (as it is entered) or output mappings
    /// (as it completes), in order, each evaluated against the variables as the ones before left
    /// them. False, with the instance in an incident naming the mapping, when one cannot be evaluated.
    mutating func applyMappings(_ mappings: [VariableMapping], of node: Int, input: Bool) -> Bool {
        for mapping in mappings {
            let value: JSONValue
            switch mapping.source {
            case .literal(let text):
                value = text.map(JSONValue.string) ?? .null
            case .expression(let expression):
                do {
                    value = try expression.evaluate(in: instance.context)
                } catch {
                    raiseIncident(
                        at: node, atOutputs: !input,
                        "cannot evaluate the \(input ? "input" : "output") mapping of '\(mapping.target.joined(separator: "."))' on '\(process.nodes[node].id)': \(error.message) in '\(expression.source.trimmingWhitespace())'"
                    )
                    return false
                }
            }
            instance.context.set(value, atPath: mapping.target[...])
        }
        return true
    }

    /// Whether a loop runs (again): its condition holds and its maximum is not reached. Nil when
    /// the condition cannot be evaluated (the instance is then in an incident).
    mutating func loopAgain(_ loop: StandardLoop, token: Token) -> Bool? {
        let done = instance.loopCounts[token.id] ?? 0
        if let maximum = loop.maximum, done >= maximum { return false }
        guard let condition = loop.condition else { return false }
        do {
            return try condition.evaluateCondition(in: instance.context)
        } catch {
            raiseIncident(
                at: token.node,
                "cannot evaluate the loop condition of '\(process.nodes[token.node].id)': \(error.message) in '\(condition.source.trimmingWhitespace())'"
            )
            return nil
        }
    }

    /// The flows a node's outgoing rules select, in document order: unconditioned flows and
    /// flows whose condition is true, else the default flow. `firstOnly` stops at the first one
    /// (an exclusive gateway: later conditions are not evaluated). Nil after an incident.
    mutating func selectFlows(of token: Token, firstOnly: Bool = false, excluding: Int? = nil) -> [Int]? {
        let node = process.nodes[token.node]
        var selected: [Int] = []
        for flow in node.outgoing where flow != excluding && flow != node.defaultFlow {
            if let condition = process.flows[flow].condition {
                guard let value = evaluate(condition, flow: flow, at: token.node) else { return nil }
                if !value { continue }
            }
            selected.append(flow)
            if firstOnly { return selected }
        }
        if selected.isEmpty, let flow = node.defaultFlow, flow != excluding { selected.append(flow) }
        return selected
    }

    /// Evaluates a flow condition; on failure raises an incident naming the flow and expression.
    mutating func evaluate(_ condition: FEELExpression, flow: Int, at node: Int) -> Bool? {
        do {
            return try condition.evaluateCondition(in: instance.context)
        } catch {
            let f = process.flows[flow]
            raiseIncident(
                at: node,
                "cannot evaluate the condition of sequence flow '\(f.id)'\(f.name.map { " («\($0)»)" } ?? ""): \(error.message) in '\(condition.source.trimmingWhitespace())'"
            )
            return nil
        }
    }

    /// Moves the token along `flows` (forking when there are several); with none, the token
    /// ends here (an implicit end).
    mutating func take(_ flows: [Int], from tokenID: Int, performer: String? = nil, note: String? = nil) {
        guard let index = tokenIndex(tokenID) else { return }
        let token = instance.tokens[index]
        record(.left, node: token.node, flows: flows, performer: performer, note: note)
        if process.nodes[token.node].compensationHandler != nil { instance.compensable.append(token.node) }
        instance.caughtTriggers[tokenID] = nil
        // Leaving an activity cancels the timers on its boundary.
        instance.timers.removeAll { $0.token == tokenID }
        if flows.isEmpty {
            remove(token: tokenID)
            if !instance.awaitingCompensation.isEmpty { compensationHandlerEnded(tokenID) }
            scopeMayHaveFinished(token.scope)
            return
        }
        // `completionQuantity`: each outgoing flow gets that many tokens.
        let copies = process.nodes[token.node].completionQuantity
        for (i, flow) in flows.lazy.flatMap({ repeatElement($0, count: copies) }).enumerated() {
            let target = process.flows[flow].target
            if i == 0 {
                instance.tokens[index].node = target
                instance.tokens[index].arrivedVia = flow
                instance.tokens[index].state = .ready
                instance.readyQueue.append(tokenID)
            } else {
                spawn(at: target, scope: token.scope, via: flow)
            }
        }
    }

    /// When a scope has no tokens left it is done: the process completes, or the sub-process
    /// token moves on.
    mutating func scopeMayHaveFinished(_ scope: Int) {
        guard !instance.tokens.contains(where: { $0.scope == scope }) else { return }
        if scope == 0 {
            instance.status = .completed
            return
        }
        guard let scopeIndex = instance.scopes.firstIndex(where: { $0.id == scope }) else { return }
        let owner = instance.scopes[scopeIndex].ownerToken
        drop(scope: scope)
        leave(owner)
    }

    /// Removes every token and scope inside `scope` (not the scope's owner token).
    mutating func clear(scope: Int) {
        for child in instance.scopes where child.parent == scope { clear(scope: child.id) }
        let children = instance.scopes.filter { $0.parent == scope }.map(\.id)
        for child in children { drop(scope: child) }
        // In one pass: cancelling a crowd of tokens (a fork bomb) must not cost tokens².
        let ids = Set(instance.tokens.lazy.filter { $0.scope == scope }.map(\.id))
        guard !ids.isEmpty else { return }
        instance.tokens.removeAll { ids.contains($0.id) }
        instance.timers.removeAll { ids.contains($0.token) }
    }
}
