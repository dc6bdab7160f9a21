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
        case .throwing(let triggers):
            record(.entered, node: token.node)
            for trigger in triggers {
                guard instance.token(token.id) != nil else { return }
                throwTrigger(trigger, from: token)
            }
            // A signal from an end event is caught before its scope can complete (one from an
            // intermediate event waits for the round, so parallel branches arm first).
            if !pendingSignals.isEmpty {
                let signals = pendingSignals
                pendingSignals = []
                for name in signals { deliver(.signal(name)) }
            }
            if let current = instance.token(token.id), current.state == .ready { finish(current) }
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
        func catches(_ b: Int, exact: Bool) -> Bool {
            guard case .boundary(_, let triggers, _) = process.nodes[b].kind else { return false }
            return triggers.contains {
                if case .error(let caught) = $0 {
                    exact ? caught != nil && caught == code : caught == nil
                } else {
                    false
                }
            }
        }
        return boundaries.first { catches($0, exact: true) } ?? boundaries.first { catches($0, exact: false) }
    }

    /// The event sub-process of a scope node (nil: the process) that an error `code` starts:
    /// an exact code match first, then a catch-all.
    func errorSubProcess(inScope node: Int?, code: String?) -> Int? {
        let subs = engine.eventSubProcesses(inScope: node)
        func catches(_ sub: Int, exact: Bool) -> Bool {
            guard let start = process.eventStart(of: sub) else { return false }
            return start.triggers.contains {
                if case .error(let caught) = $0 {
                    exact ? caught != nil && caught == code : caught == nil
                } else {
                    false
                }
            }
        }
        return subs.first { catches($0, exact: true) } ?? subs.first { catches($0, exact: false) }
    }

    /// Propagates an error thrown inside `scope` outwards: at each level an error event
    /// sub-process first, then the boundary events of the enclosing sub-process. Returns false
    /// when nothing catches it.
    mutating func throwError(code: String?, fromScope scope: Int) -> Bool {
        var current = scope
        while true {
            let s = instance.scopes.first { $0.id == current }
            if current != 0 && s == nil { return false }
            let inner = s.flatMap { instance.token($0.ownerToken) }.map(isInnerInstance) ?? false
            if !inner, let sub = errorSubProcess(inScope: s?.node, code: code) {
                startEventSubProcess(sub, in: current, interrupting: true)
                return true
            }
            guard let s else { return false }
            // A sub-process run as one instance of a multi-instance activity: its boundary
            // events belong to the multi-instance activity, one scope further out.
            if !inner, let boundary = catcher(on: s.node, code: code), let owner = instance.token(s.ownerToken) {
                fireBoundary(boundary, on: owner, interrupting: true, note: "error '\(code ?? "")' caught")
                return true
            }
            current = s.parent
        }
    }

    /// An activity throws a BPMN error (a script): its own boundary events catch it first, then
    /// the enclosing event sub-processes and sub-processes; uncaught, the instance stops in an incident.
    mutating func throwFromActivity(_ token: Token, code: String) {
        if let boundary = catcher(on: token.node, code: code) {
            return catchAtBoundary(token: token, boundary: boundary, note: "error '\(code)' thrown")
        }
        guard enclosingCatcherExists(code: code, fromScope: token.scope) else {
            return raiseIncident(
                at: token.node, "error '\(code)' thrown by '\(process.nodes[token.node].id)' was not caught")
        }
        remove(token: token.id)
        _ = throwError(code: code, fromScope: token.scope)
    }

    /// Whether an event sub-process or a sub-process around `scope` catches `code`.
    func enclosingCatcherExists(code: String?, fromScope scope: Int) -> Bool {
        var current = scope
        while true {
            let s = instance.scopes.first { $0.id == current }
            if current != 0 && s == nil { return false }
            let inner = s.flatMap { instance.token($0.ownerToken) }.map(isInnerInstance) ?? false
            if !inner && errorSubProcess(inScope: s?.node, code: code) != nil { return true }
            guard let s else { return false }
            if !inner && catcher(on: s.node, code: code) != nil { return true }
            current = s.parent
        }
    }

    /// Interrupts the activity a token waits at and continues at its boundary event.
    mutating func catchAtBoundary(token: Token, boundary: Int, note: String) {
        let activity = activityToken(for: token)
        fireBoundary(boundary, on: activity, interrupting: true, note: note)
    }
}
