import Foundation
import ProcessModel
import Values

/// One try of an integration node's job, as the runtime hands it to the handler of its type.
public struct JobCall: Sendable {
    public var instanceID: String
    public var processName: String
    public var node: FlowNode
    public var integration: IntegrationNode
    public var context: JSONObject
    /// Counts from 1.
    public var attempt: Int
    /// The same for every try of one execution of the node: `<instance>-<node>-<execution>`.
    public var idempotencyKey: String
    /// What the handler's `prepare` fixed when the node was entered; nil in `prepare` itself,
    /// and for a job stored by an older procrun.
    public var prepared: [UInt8]?
    /// The instance's directory, for recipients.
    public var directory: Directory
    /// ELMA365's current user: whoever completed the last user task, else the initiator.
    public var currentUser: String

    public init(
        instanceID: String, processName: String, node: FlowNode, integration: IntegrationNode, context: JSONObject,
        attempt: Int, idempotencyKey: String, prepared: [UInt8]? = nil, directory: Directory = Directory(),
        currentUser: String
    ) {
        self.instanceID = instanceID
        self.processName = processName
        self.node = node
        self.integration = integration
        self.context = context
        self.attempt = attempt
        self.idempotencyKey = idempotencyKey
        self.prepared = prepared
        self.directory = directory
        self.currentUser = currentUser
    }

    /// The people `recipients` name, resolved against the context and the directory: user ids,
    /// each once, in the order named.
    public func users(_ recipients: [Recipient]) -> [String] {
        directory.users(for: Recipient.resolve(recipients, currentUser: currentUser, context: context))
    }
}

/// How one try of a job ended.
public enum JobOutcome: Sendable {
    /// The work is done. `status`: a protocol status kept with the try (HTTP); `summary`: what
    /// the trace says ("HTTP 201, delivered"); `variables`: merged into the context.
    case succeeded(status: Int?, summary: String, variables: JSONObject)
    /// The try failed. `retryable` is false when trying again cannot help (a template variable
    /// that is not set): the node's retries are then skipped.
    case failed(status: Int?, message: String, retryable: Bool)
    /// The work ended in a business error (Camunda's `bpmnError` of a connector's
    /// `errorExpression`): thrown from the node with `code` to its error boundary event (or an
    /// enclosing catcher), else an incident. Not retried.
    case bpmnError(status: Int?, code: String, message: String)
}

/// Carries out the jobs of one integration node type. Register it with the runtime
/// (`ProcessRuntime(store:handlers:)`); the node type's reader (`IntegrationReader`) makes the
/// nodes whose jobs it gets. The runtime stores the jobs, leases them to workers, and applies
/// the node's on-error policy to the outcomes: a handler only does one try.
public protocol JobHandler: Sendable {
    /// The job type: the `IntegrationNode.type` of the nodes it serves.
    var type: String { get }
    /// Called when the node is entered, in the transaction of that step: fixes what every try
    /// of this execution works from (a request, a message), which is stored with the job, so
    /// that each try sends the same thing whatever the context holds by then. nil: each try
    /// works from `call.context` as it is then.
    func prepare(_ call: JobCall) -> [UInt8]?
    /// One try. It must not block the thread it runs on (await I/O, never sleep).
    func perform(_ call: JobCall) async -> JobOutcome
    /// Why this handler cannot work in this process (an e-mail handler without an SMTP
    /// server), or nil. Its jobs are then left pending for another worker, not failed.
    var unavailableReason: String? { get }
}

extension JobHandler {
    public func prepare(_ call: JobCall) -> [UInt8]? { nil }
    public var unavailableReason: String? { nil }
}

extension Recipient {
    /// Recipients with the current user and context variables read: a variable holds a user id
    /// or a list of them. Groups and org units are left for the directory.
    public static func resolve(_ recipients: [Recipient], currentUser: String, context: JSONObject)
        -> [ResolvedRecipient]
    {
        var resolved: [ResolvedRecipient] = []
        for recipient in recipients {
            switch recipient {
            case .currentUser: resolved.append(.user(currentUser))
            case .user(let user): resolved.append(.user(user))
            case .group(let group): resolved.append(.group(group))
            case .orgUnit(let unit): resolved.append(.orgUnit(unit))
            case .variable(let name):
                switch context[name] {
                case .string(let user)?: resolved.append(.user(user))
                case .array(let users)?:
                    for case .string(let user) in users { resolved.append(.user(user)) }
                default: break
                }
            }
        }
        return resolved
    }
}

/// The `webhook` job type on a `WebhookPerformer`: the libcurl performer in production, a test's
/// in tests.
public struct WebhookJobHandler: JobHandler {
    public let performer: any WebhookPerformer
    public var type: String { "webhook" }

    public init(_ performer: any WebhookPerformer) { self.performer = performer }

    func webhookCall(_ call: JobCall, webhook: WebhookConfig) -> WebhookCall {
        WebhookCall(
            instanceID: call.instanceID, processName: call.processName, node: call.node, webhook: webhook,
            context: call.context, attempt: call.attempt, idempotencyKey: call.idempotencyKey)
    }

    public func prepare(_ call: JobCall) -> [UInt8]? {
        guard let webhook = call.integration.config as? WebhookConfig else { return nil }
        return performer.prepare(webhookCall(call, webhook: webhook))?.encoded
    }

    public func perform(_ call: JobCall) async -> JobOutcome {
        guard let webhook = call.integration.config as? WebhookConfig else {
            return .failed(status: nil, message: "node '\(call.node.id)' is not a procrun:webhook", retryable: false)
        }
        var webhookCall = webhookCall(call, webhook: webhook)
        // The request built when the node was entered; a job of an older store has none, and
        // its try builds the request now.
        let outcome: WebhookOutcome
        switch call.prepared.map(WebhookPreparation.init(encoded:)) {
        case nil:
            outcome = await performer.perform(webhookCall)
        case .request(let snapshot)??:
            webhookCall.request = snapshot
            outcome = await performer.perform(webhookCall)
        case .failed(let message)??:
            // A variable was not set when the node was entered: nothing is sent.
            outcome = .failed(status: nil, message: message, retryable: false)
        case nil?:
            outcome = .failed(
                status: nil,
                message: "the stored request of this try cannot be read (damaged, or written by a newer procrun)",
                retryable: false)
        }
        switch outcome {
        case .delivered(let status, let result):
            var variables = JSONObject()
            if let name = webhook.resultVariable { variables[name] = result }
            return .succeeded(status: status, summary: "HTTP \(status), delivered", variables: variables)
        case .failed(let status, let message, let retryable):
            return .failed(status: status, message: message, retryable: retryable)
        }
    }
}

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
