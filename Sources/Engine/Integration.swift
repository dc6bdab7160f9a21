import Foundation
import ProcessModel
import Values

/// One webhook try, as the runner hands it to a transport.
public struct WebhookCall: Sendable {
    public var instanceID: String
    public var processName: String
    public var node: FlowNode
    public var webhook: WebhookConfig
    public var context: JSONObject
    public var attempt: Int
    public var idempotencyKey: String
    /// The request of this execution, built when the node was entered (`WebhookPerformer.prepare`):
    /// the try sends it as it is. nil: the performer builds the request from `context` now (a
    /// performer that keeps no snapshots, or a job stored by an older procrun).
    public var request: WebhookRequestSnapshot?

    public init(
        instanceID: String, processName: String, node: FlowNode, webhook: WebhookConfig, context: JSONObject,
        attempt: Int,
        idempotencyKey: String, request: WebhookRequestSnapshot? = nil
    ) {
        self.instanceID = instanceID
        self.processName = processName
        self.node = node
        self.webhook = webhook
        self.context = context
        self.attempt = attempt
        self.idempotencyKey = idempotencyKey
        self.request = request
    }
}

/// Carries out webhook tries (the libcurl transport in production).
public protocol WebhookPerformer: Sendable {
    /// Builds the request of one webhook execution when its node is entered (the call of its
    /// first try): every try of the execution sends this snapshot, so a retry sends the same
    /// bytes under the same `Idempotency-Key` even if the context changed meanwhile. `.failed`
    /// (a variable that is not set) fails the first try before anything is sent, for good.
    /// nil: this performer keeps no snapshots and builds each try's request itself.
    func prepare(_ call: WebhookCall) -> WebhookPreparation?
    func perform(_ call: WebhookCall) async -> WebhookOutcome
}

extension WebhookPerformer {
    public func prepare(_ call: WebhookCall) -> WebhookPreparation? { nil }
}

/// Waits without holding a thread. Tests pass a manual clock.
public protocol Scheduler: Sendable {
    var now: Date { get }
    func sleep(seconds: Double) async
}

public struct SystemScheduler: Scheduler {
    public init() {}
    public var now: Date { Date() }
    public func sleep(seconds: Double) async {
        guard seconds > 0 else { return }
        try? await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
    }
}
