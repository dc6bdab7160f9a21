import Expressions
import ProcessModel

/// End events and error propagation.
extension Step {
    mutating func endEvent(_ token: Token, kind: EndEventKind) {
        switch kind {
        case .none:
            finish(token)
        case .terminate:
            record(.left, node: token.node)
            if token.scope == 0 {
                clear(scope: 0)
                instance.endNode = token.node
                instance.status = .completed
            } else {
                clear(scope: token.scope)
                scopeMayHaveFinished(token.scope)
            }
        case .error(let code):
            record(.left, node: token.node, note: "throws error '\(code ?? "")'")
            remove(token: token.id)
            if !throwError(code: code, fromScope: token.scope) {
                // Uncaught: as in Camunda 7, the error end event behaves like a none end event,
                // and the instance remembers it ended by an error nobody caught.
                instance.uncaughtError = code ?? ""
                if token.scope == 0 { instance.endNode = token.node }
                scopeMayHaveFinished(token.scope)
            }
        }
    }

    /// A none end event: the token is consumed; the last one in the process completes it.
    mutating func finish(_ token: Token) {
        record(.left, node: token.node)
        remove(token: token.id)
        if token.scope == 0 { instance.endNode = token.node }
        scopeMayHaveFinished(token.scope)
    }

    /// The boundary event on `activity` that catches `code`: an exact code match first, then a
    /// catch-all (no errorRef).
    func catcher(on activity: Int, code: String?) -> Int? {
        let boundaries = process.nodes[activity].boundaryEvents
        for b in boundaries {
            if case .errorBoundary(_, let caught?) = process.nodes[b].kind, caught == code { return b }
        }
        for b in boundaries {
            if case .errorBoundary(_, nil) = process.nodes[b].kind { return b }
        }
        return nil
    }

    /// Propagates an error thrown inside `scope` outwards through enclosing sub-processes.
    /// Returns false when nothing catches it.
    mutating func throwError(code: String?, fromScope scope: Int) -> Bool {
        var current = scope
        while current != 0 {
            guard let s = instance.scopes.first(where: { $0.id == current }) else { return false }
            // A sub-process run as one instance of a multi-instance activity: its boundary
            // events belong to the multi-instance activity, one scope further out.
            if let owner = instance.token(s.ownerToken), isInnerInstance(owner) {
                current = s.parent
                continue
            }
            if let boundary = catcher(on: s.node, code: code) {
                clear(scope: s.id)
                drop(scope: s.id)
                let owner = instance.token(s.ownerToken)
                remove(token: s.ownerToken)
                record(.error, node: s.node, note: "error '\(code ?? "")' caught by '\(process.nodes[boundary].id)'")
                spawn(at: boundary, scope: owner?.scope ?? s.parent, via: nil)
                return true
            }
            current = s.parent
        }
        return false
    }

    /// An activity throws a BPMN error (a script): its own boundary events catch it first, then
    /// those of the enclosing sub-processes; uncaught, the instance stops in an incident.
    mutating func throwFromActivity(_ token: Token, code: String) {
        if let boundary = catcher(on: token.node, code: code) {
            return catchAtBoundary(token: token, boundary: boundary, note: "error '\(code)' thrown")
        }
        guard enclosingCatcherExists(code: code, fromScope: token.scope) else {
            return raiseIncident(at: token.node, "error '\(code)' thrown by '\(process.nodes[token.node].id)' was not caught")
        }
        remove(token: token.id)
        _ = throwError(code: code, fromScope: token.scope)
    }

    /// Whether a sub-process around `scope` has a boundary event that catches `code`.
    func enclosingCatcherExists(code: String?, fromScope scope: Int) -> Bool {
        var current = scope
        while current != 0, let s = instance.scopes.first(where: { $0.id == current }) {
            let inner = instance.token(s.ownerToken).map(isInnerInstance) ?? false
            if !inner && catcher(on: s.node, code: code) != nil { return true }
            current = s.parent
        }
        return false
    }

    /// Interrupts the activity a token waits at and continues at its boundary event.
    mutating func catchAtBoundary(token: Token, boundary: Int, note: String) {
        let activity = activityToken(for: token)
        record(.error, node: activity.node, note: note)
        remove(token: activity.id)
        spawn(at: boundary, scope: activity.scope, via: nil)
    }
}
