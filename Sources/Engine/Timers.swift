import Foundation
import ProcessModel

/// Timer catch events and timer boundary events. Starting a timer is an effect
/// (`scheduleTimer`); the runner sends `timerFired` when it is due, on a real or virtual clock.
extension Step {
    mutating func arm(_ timer: TimerDefinition, node: Int, token: Int, firing: Int = 1, startedAt: Date? = nil) {
        let start = startedAt ?? now
        guard let due = timer.due(firing: firing, startedAt: start) else { return }
        let pending = PendingTimer(
            id: instance.nextTimerID, token: token, node: node, startedAt: start, firing: firing, due: due)
        instance.nextTimerID += 1
        instance.timers.append(pending)
        effects.append(.scheduleTimer(timer: pending.id, due: due))
    }

    mutating func fire(timer id: Int) {
        // A timer whose activity already ended was removed with it: nothing to do.
        guard let pending = instance.timers.first(where: { $0.id == id }) else { return }
        instance.timers.removeAll { $0.id == id }
        let node = process.nodes[pending.node]
        // The timer start event of an event sub-process: its scope is the one `token` owns.
        if case .eventStart(let triggers, let interrupting) = node.kind, let sub = node.scope {
            let scope = pending.token == 0 ? 0 : instance.scopes.first { $0.ownerToken == pending.token }?.id
            guard let scope, scope == 0 ? instance.status != .completed : true else { return }
            if case .timer(let timer)? = triggers.first(where: { if case .timer = $0 { true } else { false } }),
                !interrupting, timer.due(firing: pending.firing + 1, startedAt: pending.startedAt) != nil
            {
                arm(
                    timer, node: pending.node, token: pending.token, firing: pending.firing + 1,
                    startedAt: pending.startedAt)
            }
            return startEventSubProcess(sub, in: scope, interrupting: interrupting)
        }
        guard let token = instance.token(pending.token) else { return }
        switch node.kind {
        case .catchEvent(let triggers, _):
            if process.nodes[token.node].kind == .eventBasedGateway, token.state == .waitingEvent {
                return passGateway(token: token.id, to: pending.node)
            }
            guard token.node == pending.node, token.state == .waitingEvent,
                let index = triggers.firstIndex(where: { if case .timer = $0 { true } else { false } })
            else { return }
            // A cycle fires once per repetition, each firing sending a token on (betsy's reading
            // of timeCycle on an intermediate event); the last firing moves the waiting token.
            if case .timer(let timer) = triggers[index],
                timer.due(firing: pending.firing + 1, startedAt: pending.startedAt) != nil
            {
                arm(
                    timer, node: pending.node, token: token.id, firing: pending.firing + 1, startedAt: pending.startedAt
                )
                let copy = Token(
                    id: instance.nextTokenID, node: token.node, scope: token.scope, arrivedVia: token.arrivedVia,
                    state: .waitingEvent)
                instance.nextTokenID += 1
                instance.tokens.append(copy)
                return catchAt(token: copy.id, index: index)
            }
            catchAt(token: token.id, index: index)
        case .task:
            // A script's working time is over.
            guard token.node == pending.node, token.state == .waitingEvent else { return }
            leave(token.id)
        case .boundary(let host, let triggers, let cancelActivity):
            guard token.node == host, isActive(token) else { return }
            if !cancelActivity,
                case .timer(let timer)? = triggers.first(where: { if case .timer = $0 { true } else { false } })
            {
                arm(
                    timer, node: pending.node, token: token.id, firing: pending.firing + 1, startedAt: pending.startedAt
                )
            }
            let source = triggers.compactMap { if case .timer(let t) = $0 { t.source } else { nil } }.first ?? ""
            fireBoundary(pending.node, on: token, interrupting: cancelActivity, note: "timer '\(node.id)' (\(source))")
        default:
            return
        }
    }
}
