import Expressions
import ProcessModel
import Values

/// One running multi-instance activity: its inner instances live in a scope of their own.
public struct MultiInstanceRun: Sendable, Hashable, Decodable {
    public var scope: Int
    public var node: Int
    public var ownerToken: Int
    public var total: Int
    public var started: Int
    public var completed: Int
    public var sequential: Bool
}

/// Multi-instance activities: the token that arrives (the owner) waits while inner tokens run
/// the activity `loopCardinality` times, in sequence or all at once; boundary events belong to
/// the whole multi-instance activity.
extension Step {
    /// Whether the token is one of a multi-instance activity's inner instances.
    func isInnerInstance(_ token: Token) -> Bool {
        instance.multiInstances.contains { $0.scope == token.scope && $0.node == token.node }
    }

    mutating func startMultiInstance(_ token: Token, _ multi: MultiInstance) {
        guard let index = tokenIndex(token.id) else { return }
        let node = process.nodes[token.node]
        let total: Int
        do {
            let value = try multi.cardinality.evaluate(in: instance.context)
            let limit = MultiInstance.maximumCardinality
            guard case .number(let n) = value, n >= 0, n == n.rounded() else {
                return raiseIncident(
                    at: token.node,
                    "loopCardinality of '\(node.id)' gave \(JSONWriter.string(value)), not a whole number from 0 to \(limit)"
                )
            }
            guard n <= Double(limit) else {
                return raiseIncident(
                    at: token.node,
                    "loopCardinality of '\(node.id)' gave \(JSONWriter.string(value)), more than the limit of \(limit) instances"
                )
            }
            total = Int(n)
        } catch {
            return raiseIncident(
                at: token.node, "cannot evaluate the loopCardinality of '\(node.id)': \(error.message)")
        }
        guard total > 0 else { return leave(token.id) }
        let scope = ScopeInstance(id: instance.nextScopeID, node: token.node, parent: token.scope, ownerToken: token.id)
        instance.nextScopeID += 1
        instance.scopes.append(scope)
        instance.tokens[index].state = .inSubProcess(scope: scope.id)
        instance.multiInstances.append(
            MultiInstanceRun(
                scope: scope.id, node: token.node, ownerToken: token.id, total: total, started: 0, completed: 0,
                sequential: multi.sequential))
        record(.entered, node: token.node, note: "\(total) instances, \(multi.sequential ? "in sequence" : "at once")")
        activateBoundaryEvents(instance.tokens[index])
        for _ in 0..<(multi.sequential ? 1 : total) { startInnerInstance(scope: scope.id) }
    }

    mutating func startInnerInstance(scope: Int) {
        guard let run = instance.multiInstances.firstIndex(where: { $0.scope == scope }) else { return }
        instance.multiInstances[run].started += 1
        spawn(at: instance.multiInstances[run].node, scope: scope, via: nil)
    }

    /// An inner instance finished: start the next (in sequence), or, when all are done or the
    /// completion condition holds, cancel the rest and let the owner token move on.
    mutating func completeInnerInstance(_ token: Token, performer: String?) {
        guard let run = instance.multiInstances.firstIndex(where: { $0.scope == token.scope && $0.node == token.node })
        else { return }
        record(
            .left, node: token.node, performer: performer,
            note: "instance \(instance.multiInstances[run].completed + 1) of \(instance.multiInstances[run].total)")
        remove(token: token.id)
        instance.multiInstances[run].completed += 1
        let state = instance.multiInstances[run]
        // Behaviour events (`None`: after each instance, `One`: after the first, `Complex`: when
        // a definition's condition holds) are caught by the activity's own boundary events,
        // which let it go on.
        var variables = instance.context
        variables["nrOfInstances"] = .number(Double(state.total))
        variables["nrOfCompletedInstances"] = .number(Double(state.completed))
        variables["nrOfActiveInstances"] = .number(Double(state.started - state.completed))
        variables["loopCounter"] = .number(Double(state.completed))
        if let multi = process.nodes[token.node].multiInstance, let owner = instance.token(state.ownerToken) {
            var thrown: [EventTrigger] = []
            if let event = multi.behaviorEvent, !multi.behaviorOnce || state.completed == 1 { thrown.append(event) }
            for behavior in multi.complexBehaviors
            where (try? behavior.condition.evaluateCondition(in: variables)) == true {
                thrown.append(behavior.event)
            }
            for event in thrown {
                for boundary in process.nodes[token.node].boundaryEvents {
                    if case .boundary(_, let triggers, _) = process.nodes[boundary].kind,
                        triggers.contains(where: { event.isCaught(by: $0) })
                    {
                        record(
                            .waiting, node: token.node,
                            note: "behavior event \(event.name) caught by '\(process.nodes[boundary].id)'")
                        spawn(at: boundary, scope: owner.scope, via: nil)
                    }
                }
            }
        }
        var done = state.completed >= state.total
        if !done, let condition = process.nodes[token.node].multiInstance?.completionCondition {
            do {
                done = try condition.evaluateCondition(in: variables)
            } catch {
                return raiseIncident(
                    at: token.node,
                    "cannot evaluate the completionCondition of '\(process.nodes[token.node].id)': \(error.message)")
            }
        }
        if done {
            clear(scope: state.scope)
            drop(scope: state.scope)
            leave(state.ownerToken)
        } else if state.sequential && state.started < state.total {
            startInnerInstance(scope: state.scope)
        }
    }

    /// The token that stands for the whole activity: for an inner instance, its owner (the
    /// inner instances are cancelled); otherwise the token itself.
    mutating func activityToken(for token: Token) -> Token {
        guard isInnerInstance(token), let run = instance.multiInstances.first(where: { $0.scope == token.scope }),
            let owner = instance.token(run.ownerToken)
        else { return token }
        clear(scope: run.scope)
        drop(scope: run.scope)
        return owner
    }

    /// Forgets a scope (a sub-process or multi-instance run) whose tokens are gone.
    mutating func drop(scope: Int) {
        instance.scopes.removeAll { $0.id == scope }
        instance.multiInstances.removeAll { $0.scope == scope }
    }
}
