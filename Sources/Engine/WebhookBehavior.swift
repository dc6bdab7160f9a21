import Expressions
import Foundation
import ProcessModel
import Values

/// The Webhook node: tries, retries with delays, notifications, and the interrupt transition.
/// The HTTP itself is an effect (`callWebhook`); this is only the decision-making.
extension Step {
    /// The error code a webhook failure throws to an error boundary event.
    static let webhookErrorCode = "webhook-failed"

    mutating func startWebhook(_ token: Token) {
        guard let index = tokenIndex(token.id) else { return }
        instance.tokens[index].state = .waitingWebhook
        let node = process.nodes[token.node]
        let execution = instance.webhookRuns.filter { $0.node == token.node }.count + 1
        let key = "\(instance.id)-\(node.id)-\(execution)"
        instance.webhookRuns.append(WebhookRun(node: token.node, token: token.id, idempotencyKey: key))
        record(.entered, node: token.node)
        effects.append(.callWebhook(token: token.id, node: token.node, attempt: 1, idempotencyKey: key))
        activateBoundaryEvents(token)
    }

    func runIndex(token: Int) -> Int? {
        instance.webhookRuns.lastIndex { $0.token == token && $0.outcome == .pending }
    }

    mutating func retryWebhook(token id: Int) {
        guard let token = instance.token(id), token.state == .waitingWebhook, let run = runIndex(token: id) else {
            return
        }
        let attempt = instance.webhookRuns[run].tries.count + 1
        effects.append(
            .callWebhook(
                token: id, node: token.node, attempt: attempt, idempotencyKey: instance.webhookRuns[run].idempotencyKey)
        )
    }

    mutating func finishWebhookTry(token id: Int, outcome: WebhookOutcome) {
        guard let token = instance.token(id), token.state == .waitingWebhook, let run = runIndex(token: id) else {
            return
        }
        let node = process.nodes[token.node]
        guard let webhook = node.webhook else { return }
        let attempt = instance.webhookRuns[run].tries.count + 1
        let interruptFlow = process.interruptFlow(of: token.node)
        switch outcome {
        case .delivered(let status, let result):
            instance.webhookRuns[run].tries.append(.init(attempt: attempt, time: now, status: status, error: nil))
            record(.tried, node: token.node, note: "try \(attempt): HTTP \(status), delivered")
            instance.webhookRuns[run].outcome = .delivered
            if let variable = webhook.resultVariable { instance.context[variable] = result }
            leave(id, excluding: interruptFlow)
        case .failed(let status, let message, let retryable):
            instance.webhookRuns[run].tries.append(.init(attempt: attempt, time: now, status: status, error: message))
            let allowed = (webhook.onError?.retries ?? 0) + 1
            let willRetry = retryable && attempt < allowed
            let delay = webhook.onError?.delay ?? 0
            record(
                .tried, node: token.node,
                note:
                    "try \(attempt) of \(allowed) failed: \(message)\(willRetry ? "; next try in \(JSONWriter.number(delay)) s" : "")"
            )
            if willRetry {
                effects.append(.scheduleRetry(token: id, node: token.node, delay: delay, nextAttempt: attempt + 1))
                return
            }
            failWebhook(
                token, node: node, webhook: webhook, run: run, attempts: attempt, message: message,
                interruptFlow: interruptFlow)
        }
    }

    mutating func failWebhook(
        _ token: Token, node: FlowNode, webhook: WebhookConfig, run: Int, attempts: Int, message: String,
        interruptFlow: Int?
    ) {
        let summary =
            "webhook '\(node.displayName)' failed after \(attempts) \(attempts == 1 ? "try" : "tries"): \(message)"
        if let onError = webhook.onError, !onError.notify.isEmpty {
            var recipients: [ResolvedRecipient] = []
            for recipient in onError.notify {
                switch recipient {
                case .currentUser:
                    // Before any user task completed, the current user is the initiator.
                    recipients.append(.user(instance.currentUser ?? instance.initiator))
                case .user(let user): recipients.append(.user(user))
                case .group(let group): recipients.append(.group(group))
                case .orgUnit(let unit): recipients.append(.orgUnit(unit))
                case .variable(let name):
                    switch instance.context[name] {
                    case .string(let user)?: recipients.append(.user(user))
                    case .array(let users)?:
                        for case .string(let user) in users { recipients.append(.user(user)) }
                    default: break
                    }
                }
            }
            let text = "Process «\(process.displayName)», instance \(instance.id): \(summary)"
            effects.append(
                .notify(node: token.node, recipients: recipients, message: text, error: message, attempts: attempts))
        }
        if let flow = interruptFlow {
            instance.webhookRuns[run].outcome = .interrupted
            record(.error, node: token.node, note: summary)
            take([flow], from: token.id)
        } else if let boundary = catcher(on: token.node, code: Step.webhookErrorCode) {
            instance.webhookRuns[run].outcome = .caught
            catchAtBoundary(token: token, boundary: boundary, note: summary)
        } else {
            instance.webhookRuns[run].outcome = .incident
            raiseIncident(at: token.node, summary)
        }
    }
}
