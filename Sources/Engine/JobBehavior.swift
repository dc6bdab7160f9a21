import Expressions
import Foundation
import ProcessModel
import Values

/// Integration nodes: one behaviour for every job type. A try is an effect (`runJob`) the
/// runtime hands to the handler of the node's type; this is only the decision-making: tries,
/// retries with delays and backoff, notifications, the interrupt transition, the error boundary
/// event, else an incident.
extension Step {
    mutating func startJob(_ token: Token, integration: IntegrationNode) {
        guard let index = tokenIndex(token.id) else { return }
        if let notify = integration.config as? NotifyConfig {
            // A notify node: its message goes to the outbox in this step, and the token moves on.
            record(.entered, node: token.node)
            let recipients = Recipient.resolve(
                notify.recipients, currentUser: instance.currentUser ?? instance.initiator, context: instance.context)
            effects.append(
                .notify(
                    node: token.node, recipients: recipients, message: "", error: "", attempts: 0,
                    context: instance.context))
            return leave(token.id)
        }
        instance.tokens[index].state = .waitingJob
        let node = process.nodes[token.node]
        let execution = instance.jobRuns.lazy.filter { $0.node == token.node }.count + 1
        let key = "\(instance.id)-\(node.id)-\(execution)"
        instance.jobRuns.append(JobRun(node: token.node, token: token.id, type: integration.type, idempotencyKey: key))
        record(.entered, node: token.node)
        effects.append(.runJob(token: token.id, node: token.node, attempt: 1, idempotencyKey: key))
        activateBoundaryEvents(token)
    }

    func runIndex(token: Int) -> Int? {
        instance.jobRuns.lastIndex { $0.token == token && $0.outcome == .pending }
    }

    mutating func retryJob(token id: Int) {
        guard let token = instance.token(id), token.state == .waitingJob, let run = runIndex(token: id) else {
            return
        }
        let attempt = instance.jobRuns[run].tries.count + 1
        effects.append(
            .runJob(token: id, node: token.node, attempt: attempt, idempotencyKey: instance.jobRuns[run].idempotencyKey)
        )
    }

    mutating func finishJobTry(token id: Int, outcome: JobOutcome) {
        guard let token = instance.token(id), token.state == .waitingJob, let run = runIndex(token: id) else {
            return
        }
        let node = process.nodes[token.node]
        let attempt = instance.jobRuns[run].tries.count + 1
        guard let integration = node.integration else {
            // The process no longer reads the node as an integration node: nothing can try again.
            if case .failed(let status, let message, _) = outcome {
                instance.jobRuns[run].tries.append(.init(attempt: attempt, time: now, status: status, error: message))
                instance.jobRuns[run].outcome = .incident
                raiseIncident(at: token.node, message)
            }
            return
        }
        let interruptFlow = process.interruptFlow(of: token.node)
        switch outcome {
        case .succeeded(let status, let summary, let variables):
            instance.jobRuns[run].tries.append(.init(attempt: attempt, time: now, status: status, error: nil))
            record(.tried, node: token.node, note: "try \(attempt): \(summary)")
            instance.jobRuns[run].outcome = .delivered
            instance.context.merge(variables)
            leave(id, excluding: interruptFlow)
        case .bpmnError(let status, let code, let message):
            instance.jobRuns[run].tries.append(.init(attempt: attempt, time: now, status: status, error: message))
            record(.tried, node: token.node, note: "try \(attempt): error '\(code)' thrown: \(message)")
            instance.jobRuns[run].outcome = .caught
            throwFromActivity(token, code: code)
            if instance.status == .incident { instance.jobRuns[run].outcome = .incident }
        case .failed(let status, let message, let retryable):
            instance.jobRuns[run].tries.append(.init(attempt: attempt, time: now, status: status, error: message))
            let allowed = (integration.onError?.retries ?? 0) + 1
            let willRetry = retryable && attempt < allowed
            let delay = integration.onError?.delay(beforeTry: attempt + 1) ?? 0
            record(
                .tried, node: token.node,
                note:
                    "try \(attempt) of \(allowed) failed: \(message)\(willRetry ? "; next try in \(JSONWriter.number(delay)) s" : "")"
            )
            if willRetry {
                effects.append(.scheduleRetry(token: id, node: token.node, delay: delay, nextAttempt: attempt + 1))
                return
            }
            failJob(
                token, node: node, integration: integration, run: run, attempts: attempt, message: message,
                interruptFlow: interruptFlow)
        }
    }

    mutating func failJob(
        _ token: Token, node: FlowNode, integration: IntegrationNode, run: Int, attempts: Int, message: String,
        interruptFlow: Int?
    ) {
        let summary =
            "\(integration.type) '\(node.displayName)' failed after \(attempts) \(attempts == 1 ? "try" : "tries"): \(message)"
        if let onError = integration.onError, !onError.notify.isEmpty {
            // Before any user task completed, the current user is the initiator.
            let recipients = Recipient.resolve(
                onError.notify, currentUser: instance.currentUser ?? instance.initiator, context: instance.context)
            let text = "Process «\(process.displayName)», instance \(instance.id): \(summary)"
            effects.append(
                .notify(
                    node: token.node, recipients: recipients, message: text, error: message, attempts: attempts,
                    context: instance.context))
        }
        if let flow = interruptFlow {
            instance.jobRuns[run].outcome = .interrupted
            record(.error, node: token.node, note: summary)
            take([flow], from: token.id)
        } else if let boundary = catcher(on: token.node, code: integration.errorCode) {
            instance.jobRuns[run].outcome = .caught
            catchAtBoundary(token: token, boundary: boundary, note: summary)
        } else {
            instance.jobRuns[run].outcome = .incident
            raiseIncident(at: token.node, summary)
        }
    }
}
