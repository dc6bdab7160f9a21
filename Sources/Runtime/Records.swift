import Engine
import Foundation
import Values

/// An open user task, as `procrun tasks` lists it.
public struct OpenTask: Sendable {
    public var instanceID: String
    public var token: Int
    public var nodeID: String
    public var name: String?
    public var lane: String?
    public var candidates: [String]
    /// Who claimed it (only they may complete it now); nil: nobody yet.
    public var assignee: String?

    public init(
        instanceID: String, token: Int, nodeID: String, name: String?, lane: String?, candidates: [String],
        assignee: String? = nil
    ) {
        self.instanceID = instanceID
        self.token = token
        self.nodeID = nodeID
        self.name = name
        self.lane = lane
        self.candidates = candidates
        self.assignee = assignee
    }
}

/// A claimed job: a try of an integration node's job, a retry that fell due, a task answered
/// in advance, or a timer.
public struct Job: Sendable {
    public enum Kind: String, Sendable {
        /// A try of the job of the integration node the token stands at (of any type: the node
        /// says which); a retry that fell due; a task answered in advance; a timer (token holds
        /// the timer id).
        case integration = "job"
        case retry, answer, timer

        /// A stored kind; `webhook` is what stores before schema v6 called an integration job.
        public init?(stored: String) {
            self.init(rawValue: stored == "webhook" ? "job" : stored)
        }
    }

    public var id: Int64
    public var instanceID: String
    public var token: Int
    public var kind: Kind
    public var dueAt: Date
    public var attempt: Int
    public var idempotencyKey: String?
    /// An integration or retry job: what the handler's `prepare` fixed when the node was
    /// entered (a webhook's request snapshot, `WebhookPreparation.encoded`); nil when it fixed
    /// nothing, and in a webhook job stored by an older procrun.
    public var request: Data?

    public init(
        id: Int64, instanceID: String, token: Int, kind: Kind, dueAt: Date, attempt: Int, idempotencyKey: String?,
        request: Data?
    ) {
        self.id = id
        self.instanceID = instanceID
        self.token = token
        self.kind = kind
        self.dueAt = dueAt
        self.attempt = attempt
        self.idempotencyKey = idempotencyKey
        self.request = request
    }
}

/// What an instance row carries besides its state.
public struct StoredInstance: Sendable {
    public var instance: Instance
    public var definitionID: Int64
    public var answers: JSONValue?
    public var directory: JSONValue?
    /// Every task completes by itself (`procrun run --store`).
    public var simulated: Bool
    /// Raised by every step; a step's update checks the version it read.
    public var version: Int64
    /// The step budget per event it was started with (`--max-steps`); nil: the runner's.
    public var maxSteps: Int?

    public init(
        instance: Instance, definitionID: Int64, answers: JSONValue?, directory: JSONValue?, simulated: Bool,
        version: Int64, maxSteps: Int?
    ) {
        self.instance = instance
        self.definitionID = definitionID
        self.answers = answers
        self.directory = directory
        self.simulated = simulated
        self.version = version
        self.maxSteps = maxSteps
    }
}

/// A notification in the outbox, as `procrun notifications` lists it and workers deliver it.
public struct StoredNotification: Sendable {
    public enum Status: String, Sendable {
        /// Not delivered yet: no worker with a channel took it, or a try failed and another is due.
        case pending
        case delivered
        /// Every try failed, or no channel could reach the person (the reason says why).
        case failed
    }

    public var id: Int64
    public var outgoing: OutgoingNotification
    public var status: Status
    /// The channels that delivered it ("url", "email"), comma-separated.
    public var channel: String?
    /// The channels that are done with it: delivered, or unable to deliver it.
    public var done: Set<String>
    public var attempts: Int
    public var dueAt: Date
    public var lastError: String?
    public var sentAt: Date?

    public init(
        id: Int64, outgoing: OutgoingNotification, status: Status, channel: String?, done: Set<String>, attempts: Int,
        dueAt: Date, lastError: String?, sentAt: Date?
    ) {
        self.id = id
        self.outgoing = outgoing
        self.status = status
        self.channel = channel
        self.done = done
        self.attempts = attempts
        self.dueAt = dueAt
        self.lastError = lastError
        self.sentAt = sentAt
    }
}
