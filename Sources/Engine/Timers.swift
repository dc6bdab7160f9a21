import Foundation
import ProcessModel

/// Timer catch events and timer boundary events. Starting a timer is an effect
/// (`scheduleTimer`); the runner sends `timerFired` when it is due, on a real or virtual clock.
extension Step {
    mutating func arm(_ timer: TimerDefinition, node: Int, token: Int, firing: Int = 1, startedAt: Date? = nil) {
        let start = startedAt ?? now
        guard let due = timer.due(firing: firing, startedAt: start) else { return }
        let pending = PendingTimer(id: instance.nextTimerID, token: token, node: node, startedAt: start, firing: firing, due: due)
        instance.nextTimerID += 1
        instance.timers.append(pending)
        effects.append(.scheduleTimer(timer: pending.id, due: due))
    }

    /// Starts the timers on the boundary of the activity the token now waits in.
    mutating func armBoundaryTimers(_ token: Token) {
        // Inner instances of a multi-instance activity share the whole activity's timers.
        if isInnerInstance(token) { return }
        for boundary in process.nodes[token.node].boundaryEvents {
            if case .timerBoundary(_, let timer, _) = process.nodes[boundary].kind {
                arm(timer, node: boundary, token: token.id)
            }
        }
    }

    mutating func fire(timer id: Int) {
        // A timer whose activity already ended was removed with it: nothing to do.
        guard let pending = instance.timers.first(where: { $0.id == id }),
            let token = instance.token(pending.token)
        else { return }
        instance.timers.removeAll { $0.id == id }
        switch process.nodes[pending.node].kind {
        case .timerCatch:
            guard token.node == pending.node, token.state == .waitingTimer else { return }
            leave(token.id)
        case .timerBoundary(let host, let timer, let cancelActivity):
            guard token.node == host else { return }
            if cancelActivity {
                if case .inSubProcess(let scope) = token.state {
                    clear(scope: scope)
                    drop(scope: scope)
                }
                if let run = instance.webhookRuns.lastIndex(where: { $0.token == token.id && $0.outcome == .pending }) {
                    instance.webhookRuns[run].outcome = .interrupted
                }
                record(.error, node: host, note: "interrupted by timer '\(process.nodes[pending.node].id)' (\(timer.source))")
                remove(token: token.id)
            } else {
                arm(timer, node: pending.node, token: token.id, firing: pending.firing + 1, startedAt: pending.startedAt)
            }
            spawn(at: pending.node, scope: token.scope, via: nil)
        default:
            return
        }
    }
}
