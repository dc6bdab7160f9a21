import Expressions
import ProcessModel
import Values

/// Tasks and embedded sub-processes.
extension Step {
    mutating func executeTask(_ token: Token, node: FlowNode, kind: TaskKind) {
        guard let index = tokenIndex(token.id) else { return }
        if let integration = node.integration {
            return startJob(token, integration: integration)
        }
        switch kind {
        case .receiveTask where node.instantiate && node.incoming.isEmpty:
            // The message that started the instance is the one this task receives.
            record(.entered, node: token.node)
            leave(token.id)
        case .receiveTask where node.message != nil:
            // A receive task with a message waits for it, like a message catch event.
            instance.tokens[index].state = .waitingEvent
            record(.entered, node: token.node)
            activateBoundaryEvents(token)
        case .sendTask where node.message != nil:
            record(.entered, node: token.node)
            throwTrigger(.message(node.message!), from: token)
            leave(token.id)
        case .userTask, .manualTask, .receiveTask:
            instance.tokens[index].state = .waitingTask
            record(.entered, node: token.node)
            effects.append(.openTask(token: token.id, node: token.node))
            activateBoundaryEvents(token)
        case .scriptTask:
            let outcome = engine.scripts.run(node, context: instance.context)
            instance.log.append(contentsOf: outcome.log)
            if let failure = outcome.failure {
                return raiseIncident(at: token.node, "script of '\(node.id)' failed: \(failure)")
            }
            instance.context.merge(outcome.variables)
            if let code = outcome.thrownError {
                return throwFromActivity(token, code: code)
            }
            if outcome.duration > 0 {
                // A script that works for a while: the task waits on a timer of its own.
                instance.tokens[index].state = .waitingEvent
                record(.entered, node: token.node, note: "working for \(outcome.duration) s")
                activateBoundaryEvents(token)
                return arm(TimerDefinition(seconds: outcome.duration), node: token.node, token: token.id)
            }
            leave(token.id)
        default:
            // A task whose implementation procrun cannot run passes through, and says so.
            leave(token.id, note: node.skippedImplementation.map { "skipped (\($0))" })
        }
    }

    mutating func enterSubProcess(_ token: Token) {
        guard let index = tokenIndex(token.id) else { return }
        let scope = ScopeInstance(id: instance.nextScopeID, node: token.node, parent: token.scope, ownerToken: token.id)
        instance.nextScopeID += 1
        instance.scopes.append(scope)
        instance.tokens[index].state = .inSubProcess(scope: scope.id)
        record(.entered, node: token.node)
        if case .subProcess(.adHoc) = process.nodes[token.node].kind {
            // An ad-hoc sub-process starts every inner activity that no flow leads to.
            for inner in process.nodes.indices
            where process.nodes[inner].scope == token.node && process.nodes[inner].incoming.isEmpty
                && process.nodes[inner].kind.isActivity && !process.nodes[inner].isForCompensation
            {
                spawn(at: inner, scope: scope.id, via: nil)
            }
        } else {
            for start in engine.startEvents(inScope: token.node) {
                spawn(at: start, scope: scope.id, via: nil)
            }
        }
        activateScopeEvents(scope: scope.id)
        if let current = instance.token(token.id) { activateBoundaryEvents(current) }
    }

    /// A person finished a task: their variables merge into the context and they become the
    /// instance's current user.
    mutating func completeTask(token id: Int, by performer: String?, variables: JSONObject) {
        guard let token = instance.token(id), token.state == .waitingTask else { return }
        instance.context.merge(variables)
        if let performer { instance.currentUser = performer }
        leave(id, performer: performer)
    }

    mutating func apply(_ event: EngineEvent) {
        switch event {
        case .taskCompleted(let token, let by, let variables):
            completeTask(token: token, by: by, variables: variables)
        case .jobFinished(let token, let outcome):
            finishJobTry(token: token, outcome: outcome)
        case .retryDue(let token):
            retryJob(token: token)
        case .retryIncident, .skipIncident:
            resolveIncident(skip: { if case .skipIncident = event { true } else { false } }())
        case .timerFired(let timer):
            fire(timer: timer)
        case .signal(let name):
            deliver(.signal(name))
        case .message(let name, let variables):
            deliver(.message(name), variables: variables)
        case .cancel:
            guard instance.status != .completed else { return }
            clear(scope: 0)
            instance.readyQueue.removeAll()
            instance.scopes.removeAll()
            instance.multiInstances.removeAll()
            instance.status = .terminated
        }
    }

    /// ELMA365's incident handling: repeat the failed step, or leave the failed node by its
    /// success path. The incident's token is the one still standing at the incident's node.
    ///
    /// An incident of the step budget has no failed node: `retry` lets the queued tokens go on
    /// for another budget's worth of steps; `skip` leaves it as it is.
    mutating func resolveIncident(skip: Bool) {
        if instance.status == .incident, instance.incident?.isStepBudget == true {
            guard !skip else { return }
            instance.status = .running
            instance.incident = nil
            return
        }
        guard instance.status == .incident, let incident = instance.incident,
            let node = process.nodeIndex(id: incident.node),
            let token = instance.tokens.first(where: { $0.node == node })
        else { return }
        instance.status = .running
        instance.incident = nil
        if incident.atOutputs == true {
            // The node did its work; only its outputs failed: try them again, or leave without.
            if skip { record(.error, node: node, note: "skipped after incident") }
            return leave(token.id, excluding: process.interruptFlow(of: node), outputs: !skip)
        }
        if let run = instance.jobRuns.lastIndex(where: { $0.token == token.id && $0.outcome == .incident }) {
            instance.jobRuns[run].outcome = skip ? .interrupted : .pending
        }
        guard let index = tokenIndex(token.id) else { return }
        if skip {
            let interrupt = process.interruptFlow(of: node)
            record(.error, node: node, note: "skipped after incident")
            leave(token.id, excluding: interrupt, outputs: false)
        } else if process.nodes[node].integration != nil, let run = runIndex(token: token.id) {
            instance.tokens[index].state = .waitingJob
            let attempt = instance.jobRuns[run].tries.count + 1
            effects.append(
                .runJob(
                    token: token.id, node: node, attempt: attempt, idempotencyKey: instance.jobRuns[run].idempotencyKey)
            )
        } else {
            // A condition or script that failed: run the node again from the start.
            instance.tokens[index].state = .ready
            instance.readyQueue.append(token.id)
        }
    }
}
