import Expressions
import Foundation
import ProcessModel
import Values

/// Something in an instance that waits for a trigger right now.
enum Catcher {
    /// A token waiting at an intermediate catch event (or a receive task); `index` is the
    /// trigger that matched.
    case waiting(token: Int, index: Int)
    /// A token at an event-based gateway; `target` is the catch event the trigger leads to.
    case gateway(token: Int, target: Int)
    /// A boundary event of the activity `token` stands at.
    case boundary(token: Int, boundary: Int, interrupting: Bool)
    /// An event sub-process of a running scope (0: the process itself).
    case eventSubProcess(scope: Int, subProcess: Int, interrupting: Bool)
}

/// Catching and throwing: messages, signals, escalations, conditions, links, compensation and
/// cancellation, and the event sub-processes they start.
extension Step {
    // MARK: Waiting

    /// A token arrives at an intermediate catch event: it waits for one of its triggers (a
    /// link catch event was jumped to, and passes on at once).
    mutating func waitForEvent(_ token: Token, triggers: [EventTrigger]) {
        guard let index = tokenIndex(token.id) else { return }
        if triggers.contains(where: { if case .link = $0 { true } else { false } }) { return leave(token.id) }
        instance.tokens[index].state = .waitingEvent
        record(.entered, node: token.node)
        for trigger in triggers {
            if case .timer(let timer) = trigger { arm(timer, node: token.node, token: token.id) }
        }
        if let fired = triggers.firstIndex(where: conditionHolds) {
            catchAt(token: token.id, index: fired)
        }
    }

    /// A token arrives at an event-based gateway: it waits for the first event its flows lead to.
    mutating func waitAtEventGateway(_ token: Token) {
        guard let index = tokenIndex(token.id) else { return }
        instance.tokens[index].state = .waitingEvent
        record(.entered, node: token.node)
        for flow in process.nodes[token.node].outgoing {
            let target = process.flows[flow].target
            for trigger in triggers(of: target) {
                if case .timer(let timer) = trigger { arm(timer, node: target, token: token.id) }
            }
        }
        for flow in process.nodes[token.node].outgoing {
            let target = process.flows[flow].target
            if triggers(of: target).contains(where: conditionHolds) { return passGateway(token: token.id, to: target) }
        }
    }

    /// What a catching node waits for.
    func triggers(of node: Int) -> [EventTrigger] {
        switch process.nodes[node].kind {
        case .catchEvent(let triggers, _), .eventStart(let triggers, _), .boundary(_, let triggers, _): return triggers
        case .task(.receiveTask): return process.nodes[node].message.map { [.message($0)] } ?? []
        default: return []
        }
    }

    func conditionHolds(_ trigger: EventTrigger) -> Bool {
        guard case .conditional(let condition) = trigger else { return false }
        return (try? condition.evaluateCondition(in: instance.context)) == true
    }

    /// The scopes that run now, innermost last: the process (0) and every sub-process instance
    /// (not the bookkeeping scopes of multi-instance activities).
    var runningScopes: [(id: Int, node: Int?)] {
        [(0, nil)]
            + instance.scopes.filter { s in !instance.multiInstances.contains { $0.scope == s.id } }.map {
                ($0.id, $0.node)
            }
    }

    /// Everything that waits for `trigger` now, in a stable order: waiting tokens first, then
    /// boundary events, then event sub-processes.
    func catchers(of trigger: EventTrigger) -> [Catcher] {
        var found: [Catcher] = []
        for token in instance.tokens {
            let node = process.nodes[token.node]
            if token.state == .waitingEvent {
                if node.kind == .eventBasedGateway {
                    for flow in node.outgoing {
                        let target = process.flows[flow].target
                        if triggers(of: target).contains(where: { trigger.isCaught(by: $0) }) {
                            found.append(.gateway(token: token.id, target: target))
                            break
                        }
                    }
                } else if let index = triggers(of: token.node).firstIndex(where: { trigger.isCaught(by: $0) }) {
                    found.append(.waiting(token: token.id, index: index))
                }
            }
            if isActive(token), !isInnerInstance(token) {
                for boundary in node.boundaryEvents {
                    guard case .boundary(_, let triggers, let cancel) = process.nodes[boundary].kind,
                        triggers.contains(where: { trigger.isCaught(by: $0) })
                    else { continue }
                    found.append(.boundary(token: token.id, boundary: boundary, interrupting: cancel))
                }
            }
        }
        for scope in runningScopes {
            for sub in engine.eventSubProcesses(inScope: scope.node) {
                guard let start = process.eventStart(of: sub),
                    start.triggers.contains(where: { trigger.isCaught(by: $0) })
                else { continue }
                found.append(.eventSubProcess(scope: scope.id, subProcess: sub, interrupting: start.interrupting))
            }
        }
        return found
    }

    /// Every message and signal something in the instance waits for now (the sources `catchers`
    /// looks at), each once.
    func awaitedTriggers() -> [EventTrigger] {
        var found: [EventTrigger] = []
        func add(_ triggers: [EventTrigger]) {
            for trigger in triggers where !found.contains(trigger) {
                switch trigger {
                case .message, .signal: found.append(trigger)
                default: break
                }
            }
        }
        for token in instance.tokens {
            // The node's fields are read in place: a copy of the whole node per token costs more
            // than the look-up.
            if token.state == .waitingEvent {
                if process.nodes[token.node].kind == .eventBasedGateway {
                    for flow in process.nodes[token.node].outgoing { add(triggers(of: process.flows[flow].target)) }
                } else {
                    add(triggers(of: token.node))
                }
            }
            if !process.nodes[token.node].boundaryEvents.isEmpty, isActive(token), !isInnerInstance(token) {
                for boundary in process.nodes[token.node].boundaryEvents { add(triggers(of: boundary)) }
            }
        }
        for scope in runningScopes {
            for sub in engine.eventSubProcesses(inScope: scope.node) {
                if let start = process.eventStart(of: sub) { add(start.triggers) }
            }
        }
        return found
    }

    /// Whether the token stands inside a running activity (whose boundary events listen).
    func isActive(_ token: Token) -> Bool {
        guard process.nodes[token.node].kind.isActivity else { return false }
        switch token.state {
        case .waitingTask, .waitingJob, .inSubProcess, .waitingEvent: return true
        case .ready, .joining: return false
        }
    }

    // MARK: Delivering

    /// Delivers a trigger to what waits for it: a signal to all, anything else to the first.
    /// Returns whether anything caught it.
    @discardableResult
    mutating func deliver(_ trigger: EventTrigger, variables: JSONObject = JSONObject()) -> Bool {
        var caught = false
        var all = catchers(of: trigger)
        if case .signal = trigger {} else { all = Array(all.prefix(1)) }
        for catcher in all where stillWaits(catcher) {
            if !caught { instance.context.merge(variables) }
            caught = true
            fire(catcher, note: "\(trigger.name) caught")
        }
        return caught
    }

    /// A catcher found before an earlier one fired may be gone (an interrupting event cleared it).
    func stillWaits(_ catcher: Catcher) -> Bool {
        switch catcher {
        case .waiting(let token, _), .gateway(let token, _): return instance.token(token)?.state == .waitingEvent
        case .boundary(let token, _, _): return instance.token(token).map(isActive) ?? false
        case .eventSubProcess(let scope, _, _): return scope == 0 || instance.scopes.contains { $0.id == scope }
        }
    }

    mutating func fire(_ catcher: Catcher, note: String) {
        switch catcher {
        case .waiting(let token, let index): catchAt(token: token, index: index)
        case .gateway(let token, let target): passGateway(token: token, to: target)
        case .boundary(let token, let boundary, let interrupting):
            guard let t = instance.token(token) else { return }
            fireBoundary(boundary, on: t, interrupting: interrupting, note: note)
        case .eventSubProcess(let scope, let sub, let interrupting):
            startEventSubProcess(sub, in: scope, interrupting: interrupting)
        }
    }

    /// The trigger at `index` fired for the token waiting at a catch event: it moves on (at a
    /// parallel multiple event, once every trigger has fired).
    mutating func catchAt(token id: Int, index: Int) {
        guard let token = instance.token(id) else { return }
        if case .catchEvent(let triggers, true) = process.nodes[token.node].kind {
            var fired = instance.caughtTriggers[id] ?? []
            if !fired.contains(index) { fired.append(index) }
            guard fired.count >= triggers.count else {
                instance.caughtTriggers[id] = fired
                record(.waiting, node: token.node, note: "\(fired.count) of \(triggers.count) events")
                return
            }
            instance.caughtTriggers[id] = nil
        }
        leave(id)
    }

    /// An event-based gateway's token goes to the catch event (or receive task) whose event came.
    mutating func passGateway(token id: Int, to target: Int) {
        guard let index = tokenIndex(id) else { return }
        let gateway = instance.tokens[index].node
        instance.timers.removeAll { $0.token == id }
        record(
            .left, node: gateway, flows: process.nodes[gateway].outgoing.filter { process.flows[$0].target == target })
        instance.tokens[index].node = target
        instance.tokens[index].arrivedVia = process.nodes[gateway].outgoing.first { process.flows[$0].target == target }
        record(.entered, node: target)
        leave(id)
    }

    /// A boundary event fires: an interrupting one ends the activity first.
    mutating func fireBoundary(_ boundary: Int, on token: Token, interrupting: Bool, note: String) {
        if interrupting {
            interrupt(activity: token, note: "\(note) by '\(process.nodes[boundary].id)'")
        }
        spawn(at: boundary, scope: token.scope, via: nil)
    }

    /// Ends the activity a token stands at, with whatever runs inside it.
    mutating func interrupt(activity token: Token, note: String) {
        if case .inSubProcess(let scope) = token.state {
            clear(scope: scope)
            drop(scope: scope)
        }
        if let run = instance.jobRuns.lastIndex(where: { $0.token == token.id && $0.outcome == .pending }) {
            instance.jobRuns[run].outcome = .interrupted
        }
        record(.error, node: token.node, note: "interrupted: \(note)")
        remove(token: token.id)
    }

    /// Starts an event sub-process inside a running scope; an interrupting one first ends
    /// everything else that runs in the scope.
    mutating func startEventSubProcess(_ sub: Int, in scope: Int, interrupting: Bool) {
        guard let start = process.eventStart(of: sub) else { return }
        if interrupting {
            clear(scope: scope)
            // Its sibling event sub-processes' timers stop too.
            let owner = ownerToken(of: scope)
            let nodes = process.nodes
            instance.timers.removeAll { timer in
                timer.token == owner && { if case .eventStart = nodes[timer.node].kind { true } else { false } }()
            }
        }
        let owner = Token(id: instance.nextTokenID, node: sub, scope: scope, arrivedVia: nil, state: .ready)
        instance.nextTokenID += 1
        let inner = ScopeInstance(id: instance.nextScopeID, node: sub, parent: scope, ownerToken: owner.id)
        instance.nextScopeID += 1
        var token = owner
        token.state = .inSubProcess(scope: inner.id)
        instance.tokens.append(token)
        instance.scopes.append(inner)
        record(.entered, node: sub, note: interrupting ? "interrupting" : "non-interrupting")
        spawn(at: start.node, scope: inner.id, via: nil)
        activateScopeEvents(scope: inner.id)
    }

    /// The token that owns a scope (0 for the process: no token).
    func ownerToken(of scope: Int) -> Int {
        instance.scopes.first { $0.id == scope }?.ownerToken ?? 0
    }

    /// A scope starts: its event sub-processes' timers start, and those whose condition already
    /// holds start at once.
    mutating func activateScopeEvents(scope: Int) {
        let node = scope == 0 ? nil : instance.scopes.first { $0.id == scope }?.node
        let subProcesses = engine.eventSubProcesses(inScope: node)
        if subProcesses.isEmpty { return }
        for sub in subProcesses {
            guard let start = process.eventStart(of: sub) else { continue }
            for case .timer(let timer) in start.triggers {
                arm(timer, node: start.node, token: ownerToken(of: scope))
            }
        }
        for sub in subProcesses {
            guard let start = process.eventStart(of: sub), start.triggers.contains(where: conditionHolds) else {
                continue
            }
            guard scope == 0 || instance.scopes.contains(where: { $0.id == scope }) else { return }
            startEventSubProcess(sub, in: scope, interrupting: start.interrupting)
        }
    }

    /// An activity starts: the timers on its boundary start, and a conditional boundary event
    /// whose condition already holds fires.
    mutating func activateBoundaryEvents(_ token: Token) {
        // Inner instances of a multi-instance activity share the whole activity's events.
        if isInnerInstance(token) { return }
        for boundary in process.nodes[token.node].boundaryEvents {
            guard case .boundary(_, let triggers, let cancel) = process.nodes[boundary].kind else { continue }
            for case .timer(let timer) in triggers { arm(timer, node: boundary, token: token.id) }
            if triggers.contains(where: conditionHolds), let current = instance.token(token.id), isActive(current) {
                fireBoundary(boundary, on: current, interrupting: cancel, note: "condition true")
            }
        }
    }

    /// When nothing else can move: intermediate conditional events whose condition has become
    /// true fire.
    mutating func fireTrueConditions() -> Bool {
        for token in instance.tokens where token.state == .waitingEvent {
            let triggers = triggers(of: token.node)
            if process.nodes[token.node].kind == .eventBasedGateway {
                for flow in process.nodes[token.node].outgoing
                where self.triggers(of: process.flows[flow].target).contains(where: conditionHolds) {
                    passGateway(token: token.id, to: process.flows[flow].target)
                    return true
                }
            } else if let index = triggers.firstIndex(where: conditionHolds) {
                catchAt(token: token.id, index: index)
                return true
            }
        }
        return false
    }

    // MARK: Throwing

    /// A throw event (or end event, or send task) throws one trigger.
    mutating func throwTrigger(_ trigger: EventTrigger, from token: Token) {
        switch trigger {
        case .signal(let name):
            pendingSignals.append(name)
            effects.append(.throwSignal(name: name))
        case .message(let name):
            effects.append(
                .sendMessage(
                    name: name,
                    variables: JSONObject(
                        instance.context.filter { !$0.key.hasPrefix("__") }.map { ($0.key, $0.value) })))
        case .escalation(let code):
            throwEscalation(code: code, from: token)
        case .compensate(let activity):
            // The throw event waits for its handlers (BPMN's waitForCompletion).
            let handlers = compensate(
                activity: activity, inScope: token.scope, nodeScope: process.nodes[token.node].scope)
            if !handlers.isEmpty, let index = tokenIndex(token.id) {
                instance.tokens[index].state = .waitingEvent
                instance.awaitingCompensation[token.id] = handlers
            }
        case .link(let name):
            jump(token, toLink: name)
        case .cancel:
            cancelTransaction(from: token)
        case .error, .timer, .conditional:
            break
        }
    }

    /// An escalation goes outwards to the nearest event sub-process or boundary event that
    /// catches it; uncaught, nothing happens. An interrupting catcher ends the thrower's scope.
    mutating func throwEscalation(code: String?, from token: Token) {
        let trigger = EventTrigger.escalation(code: code)
        var current = token.scope
        while true {
            let node = current == 0 ? nil : instance.scopes.first { $0.id == current }?.node
            for sub in engine.eventSubProcesses(inScope: node) {
                if let start = process.eventStart(of: sub), start.triggers.contains(where: { trigger.isCaught(by: $0) })
                {
                    return startEventSubProcess(sub, in: current, interrupting: start.interrupting)
                }
            }
            guard current != 0, let s = instance.scopes.first(where: { $0.id == current }) else { return }
            if let owner = instance.token(s.ownerToken), !isInnerInstance(owner) {
                for boundary in process.nodes[s.node].boundaryEvents {
                    if case .boundary(_, let triggers, let cancel) = process.nodes[boundary].kind,
                        triggers.contains(where: { trigger.isCaught(by: $0) })
                    {
                        return fireBoundary(
                            boundary, on: owner, interrupting: cancel, note: "escalation '\(code ?? "")' caught")
                    }
                }
            }
            current = s.parent
        }
    }

    /// A link throw event: the token continues at the link catch event of the same name.
    mutating func jump(_ token: Token, toLink name: String) {
        guard let index = tokenIndex(token.id) else { return }
        let scope = process.nodes[token.node].scope
        guard
            let target = process.nodes.indices.first(where: {
                process.nodes[$0].scope == scope
                    && process.nodes[$0].kind == .catchEvent(triggers: [.link(name)], parallel: false)
            })
        else {
            return raiseIncident(
                at: token.node, "no link catch event named '\(name)' on the level of '\(process.nodes[token.node].id)'")
        }
        record(.left, node: token.node, note: "link '\(name)'")
        instance.tokens[index].node = target
        instance.tokens[index].arrivedVia = nil
        instance.tokens[index].state = .ready
        instance.readyQueue.append(token.id)
    }

    /// Runs the compensation handlers of completed activities, newest first: of `activity`
    /// only, or of every activity inside the node scope `nodeScope`. Handlers run in `scope`.
    /// Returns the handler tokens.
    @discardableResult
    mutating func compensate(activity: String?, inScope scope: Int, nodeScope: Int?) -> [Int] {
        var handled: [Int] = []
        var tokens: [Int] = []
        for node in instance.compensable.reversed() {
            if let activity, process.nodes[node].id != activity { continue }
            if activity == nil, !isInside(node, nodeScope) { continue }
            guard let handler = process.nodes[node].compensationHandler else { continue }
            record(.waiting, node: node, note: "compensated by '\(process.nodes[handler].id)'")
            tokens.append(instance.nextTokenID)
            spawn(at: handler, scope: scope, via: nil)
            handled.append(node)
        }
        for node in handled {
            if let i = instance.compensable.lastIndex(of: node) { instance.compensable.remove(at: i) }
        }
        return tokens
    }

    /// A compensation handler's token ended: the throw event that waits for it goes on once
    /// all its handlers are done.
    mutating func compensationHandlerEnded(_ id: Int) {
        guard let thrower = instance.awaitingCompensation.first(where: { $0.value.contains(id) })?.key else { return }
        instance.awaitingCompensation[thrower]?.removeAll { $0 == id }
        guard instance.awaitingCompensation[thrower]?.isEmpty == true else { return }
        instance.awaitingCompensation[thrower] = nil
        guard let token = instance.token(thrower) else { return }
        if case .endEvent = process.nodes[token.node].kind { return finish(token) }
        leave(thrower)
    }

    /// Whether a node lies (at any depth) inside the sub-process node `scope` (nil: the process).
    func isInside(_ node: Int, _ scope: Int?) -> Bool {
        guard let scope else { return true }
        var current = process.nodes[node].scope
        while let c = current {
            if c == scope { return true }
            current = process.nodes[c].scope
        }
        return false
    }

    /// A cancel end event: the enclosing transaction is compensated, ended, and left by its
    /// cancel boundary event.
    mutating func cancelTransaction(from token: Token) {
        var current = token.scope
        while current != 0, let s = instance.scopes.first(where: { $0.id == current }) {
            if process.nodes[s.node].kind == .subProcess(.transaction), let owner = instance.token(s.ownerToken) {
                let boundary = process.nodes[s.node].boundaryEvents.first {
                    if case .boundary(_, let triggers, _) = process.nodes[$0].kind {
                        triggers.contains(.cancel)
                    } else {
                        false
                    }
                }
                interrupt(activity: owner, note: "transaction cancelled")
                compensate(activity: nil, inScope: owner.scope, nodeScope: s.node)
                if let boundary { spawn(at: boundary, scope: owner.scope, via: nil) }
                return
            }
            current = s.parent
        }
        raiseIncident(at: token.node, "cancel end event '\(process.nodes[token.node].id)' is not inside a transaction")
    }
}
