import Expressions
import Foundation
import Values

/// What the reader of an integration node type read from the file: the node's own settings
/// (a webhook's URL and parameters, an e-mail's templates). The engine never looks inside; the
/// handler registered for the node's type does.
public protocol IntegrationConfig: Sendable {
    /// Seconds one try may take at most. A worker that dies mid-try frees the job once this
    /// (and a margin) has passed, so another worker may try again.
    var timeout: Double { get }
}

/// An integration node: an activity that hands a job of type `type` to the handler registered
/// for that type, and follows one on-error policy whatever the type (retries with a delay and
/// backoff, notifications, the interrupt transition, the error boundary event, else an incident).
public struct IntegrationNode: Sendable {
    /// The job type, which picks the handler: `webhook`, `email`, or a type of the library
    /// user's own.
    public var type: String
    public var config: any IntegrationConfig
    public var onError: OnErrorPolicy?
    /// Where the node's integration element is, for messages.
    public var location: SourceLocation

    public init(type: String, config: any IntegrationConfig, onError: OnErrorPolicy?, location: SourceLocation) {
        self.type = type
        self.config = config
        self.onError = onError
        self.location = location
    }

    /// The error code an error boundary event catches when the node fails for good:
    /// `webhook-failed`, `email-failed`, `<type>-failed`.
    public var errorCode: String { "\(type)-failed" }
}

/// Someone to notify: ELMA365's recipients.
public enum Recipient: Sendable, Equatable {
    case currentUser
    case user(String)
    case group(String)
    case orgUnit(String)
    case variable(String)
}

/// `<procrun:onError>`: what happens when a try of an integration node fails.
public struct OnErrorPolicy: Sendable {
    /// Extra tries after the first.
    public var retries: Int
    /// Seconds before the second try.
    public var delay: Double
    /// Each later delay is the one before times this factor (1: the same delay every time).
    public var backoff: Double
    /// The longest delay between two tries, whatever the backoff (nil: no cap).
    public var maxDelay: Double?
    /// Name or id of the outgoing flow taken after the last failure.
    public var interrupt: String?
    public var notify: [Recipient]
    /// `<procrun:message>`: the text people are notified with, instead of the default one
    /// of their language; it may read `{$error}`, `{$node}`, `{$process}`, `{$instance}`,
    /// `{$attempts}`, `{$user}`, `{$name}` and the context's variables.
    public var message: Template?
    public var location: SourceLocation

    public init(
        retries: Int, delay: Double, backoff: Double = 1, maxDelay: Double? = nil, interrupt: String?,
        notify: [Recipient], message: Template? = nil, location: SourceLocation
    ) {
        self.retries = retries
        self.delay = delay
        self.backoff = backoff
        self.maxDelay = maxDelay
        self.interrupt = interrupt
        self.notify = notify
        self.message = message
        self.location = location
    }

    /// Seconds to wait before try `attempt` (from 2): `delay × backoff^(attempt − 2)`, at most `maxDelay`.
    public func delay(beforeTry attempt: Int) -> Double {
        let factor = backoff == 1 ? 1 : pow(backoff, Double(max(0, attempt - 2)))
        let wanted = delay * factor
        let capped = maxDelay.map { min($0, wanted) } ?? wanted
        // A huge backoff must not overflow into an endless or negative wait.
        return capped.isFinite ? max(0, capped) : (maxDelay ?? 365 * 24 * 3600)
    }
}

/// `<procrun:notify>` as a node of its own: ELMA365's notification block. Its people get the
/// message through the same channels as error notifications (the outbox: `--notify-url`,
/// `--smtp-url`).
public struct NotifyConfig: IntegrationConfig {
    public var recipients: [Recipient]
    /// The text; it may read the context's variables, `{$user}`, `{$name}`, `{$process}`,
    /// `{$instance}` and `{$node}`.
    public var message: Template
    /// The subject of e-mails; nil: "Процесс «…»: «node»" in the person's language.
    public var subject: Template?
    public var timeout: Double { 0 }

    public init(recipients: [Recipient], message: Template, subject: Template?) {
        self.recipients = recipients
        self.message = message
        self.subject = subject
    }
}

/// `<procrun:email>`: sends an e-mail through the SMTP server procrun is given (`--smtp-url`).
public struct EmailConfig: IntegrationConfig {
    /// Comma-separated address templates.
    public var to: Template?
    public var cc: Template?
    /// `<procrun:recipient>`: people of the directory, by their `email`.
    public var recipients: [Recipient]
    public var subject: Template
    public var text: Template?
    public var html: Template?
    public var timeout: Double

    public init(
        to: Template?, cc: Template?, recipients: [Recipient], subject: Template, text: Template?, html: Template?,
        timeout: Double
    ) {
        self.to = to
        self.cc = cc
        self.recipients = recipients
        self.subject = subject
        self.text = text
        self.html = html
        self.timeout = timeout
    }
}

extension FlowNode {
    /// The node's webhook settings, when it is a webhook node (`procrun:webhook`).
    public var webhook: WebhookConfig? { self.integration?.config as? WebhookConfig }
}

extension ProcessDefinition {
    /// The outgoing flow an integration node leaves by after its last failure: the one whose
    /// name equals `interrupt`, else whose id does.
    public func interruptFlow(of node: Int) -> Int? {
        guard let interrupt = self.nodes[node].integration?.onError?.interrupt else { return nil }
        return OnErrorPolicy.interruptFlow(named: interrupt, among: self.nodes[node].outgoing, flows: self.flows)
    }
}

extension OnErrorPolicy {
    public static func interruptFlow(named interrupt: String, among outgoing: [Int], flows: [SequenceFlow]) -> Int? {
        outgoing.first { flows[$0].name == interrupt } ?? outgoing.first { flows[$0].id == interrupt }
    }
}

/// A variable an activity's input or output mapping sets (`camunda:inputParameter`,
/// `camunda:outputParameter`, `zeebe:input`, `zeebe:output`).
public struct VariableMapping: Sendable {
    public enum Source: Sendable {
        /// Text as written (Camunda 7 without `${…}`, Zeebe without `=`); nil: `null`.
        case literal(String?)
        case expression(FEELExpression)
    }

    /// The variable, or a path into one (`customer.address`).
    public var target: [String]
    public var source: Source

    public init(target: [String], source: Source) {
        self.target = target
        self.source = source
    }
}

/// An activity's input and output mappings: the inputs are set when it is entered, the outputs
/// when it completes, each evaluated against the variables in order.
public struct IOMappings: Sendable {
    public var inputs: [VariableMapping] = []
    public var outputs: [VariableMapping] = []

    public init(inputs: [VariableMapping] = [], outputs: [VariableMapping] = []) {
        self.inputs = inputs
        self.outputs = outputs
    }

    public var isEmpty: Bool { inputs.isEmpty && outputs.isEmpty }
}
