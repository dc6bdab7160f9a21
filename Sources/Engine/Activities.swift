import Expressions
import ProcessModel
import Values

/// Tasks and embedded sub-processes.
extension Step {
    mutating func executeTask(_ token: Token, node: FlowNode, kind: TaskKind) {
        guard let index = tokenIndex(token.id) else { return }
        if node.webhook != nil {
            return startWebhook(token)
        }
        switch kind {
        case .userTask, .manualTask, .receiveTask:
            instance.tokens[index].state = .waitingTask
            record(.entered, node: token.node)
            effects.append(.openTask(token: token.id, node: token.node))
        case .scriptTask:
            if let script = node.script {
                do {
                    instance.context.merge(try script.run(in: instance.context))
                } catch {
                    return raiseIncident(at: token.node, "script of '\(node.id)' failed: \(error.message)")
                }
            }
            leave(token.id)
        default:
            leave(token.id)
        }
    }

    mutating func enterSubProcess(_ token: Token) {
        guard let index = tokenIndex(token.id) else { return }
        let scope = ScopeInstance(id: instance.nextScopeID, node: token.node, parent: token.scope, ownerToken: token.id)
        instance.nextScopeID += 1
        instance.scopes.append(scope)
        instance.tokens[index].state = .inSubProcess(scope: scope.id)
        record(.entered, node: token.node)
        for start in process.startEvents(inScope: token.node) {
            spawn(at: start, scope: scope.id, via: nil)
        }
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
        case .webhookFinished(let token, let outcome):
            finishWebhookTry(token: token, outcome: outcome)
        case .retryDue(let token):
            retryWebhook(token: token)
        }
    }
}
