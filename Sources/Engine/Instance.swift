import Expressions
import Foundation
import ProcessModel
import Values

public enum InstanceStatus: String, Sendable, Codable {
    case running, waiting, completed, incident, terminated
}

/// A token: a position of control in an instance.
public struct Token: Sendable, Hashable, Decodable {
    public enum State: Sendable, Hashable {
        /// About to execute `node`.
        case ready
        /// Waiting for a person (user or manual task) or a message (receive task).
        case waitingTask
        /// Waiting for a try of an integration node's job, or for the delay before the next one.
        case waitingJob
        /// Waiting at an intermediate catch event, an event-based gateway or a receive task for
        /// its message.
        case waitingEvent
        /// Arrived at a joining gateway, waiting for the other branches.
        case joining
        /// Inside the embedded sub-process instance `scope`.
        case inSubProcess(scope: Int)
    }

    public var id: Int
    public var node: Int
    /// The scope instance the token lives in; 0 is the process itself.
    public var scope: Int
    /// The sequence flow the token arrived by.
    public var arrivedVia: Int?
    public var state: State
}

/// A running embedded sub-process.
public struct ScopeInstance: Sendable, Hashable, Decodable {
    public var id: Int
    /// The sub-process node.
    public var node: Int
    public var parent: Int
    /// The token waiting at the sub-process node in the parent scope.
    public var ownerToken: Int
}

/// A timer that has been started and not yet fired or cancelled.
public struct PendingTimer: Sendable, Hashable, Decodable {
    public var id: Int
    /// The token waiting at the timer catch event, or at the activity the boundary timer is on.
    public var token: Int
    /// The timer catch event or timer boundary event.
    public var node: Int
    public var startedAt: Date
    /// Which firing this is, from 1 (cycles fire several times).
    public var firing: Int
    public var due: Date
}

public struct Incident: Sendable, Hashable, Codable {
    public var node: String
    public var message: String
    /// Set when the instance stopped because an event took more steps than this budget without
    /// reaching a wait state (a cycle that never waits). The tokens stay where they were:
    /// `retry` goes on for another budget's worth of steps; `skip` does not apply.
    public var stepBudget: Int?
    /// Set (true) when the node did its work and an output mapping of it failed: `retry` applies
    /// the outputs again and `skip` leaves without them; the node's work is not done again.
    public var atOutputs: Bool?

    public init(node: String, message: String, stepBudget: Int? = nil, atOutputs: Bool? = nil) {
        self.node = node
        self.message = message
        self.stepBudget = stepBudget
        self.atOutputs = atOutputs
    }

    /// Whether the step budget stopped the instance (rather than a failed node).
    public var isStepBudget: Bool { stepBudget != nil }
}

public struct HistoryEntry: Sendable, Decodable {
    public enum Event: String, Sendable, Codable {
        case entered, left, waiting, error, incident
        /// A try of an integration node's job ended (the note says how).
        case tried
    }

    public var time: Date
    public var event: Event
    public var node: Int
    /// Flows taken when the node was left.
    public var flows: [Int]
    public var performer: String?
    public var note: String?

    public init(time: Date, event: Event, node: Int, flows: [Int], performer: String?, note: String?) {
        self.time = time
        self.event = event
        self.node = node
        self.flows = flows
        self.performer = performer
        self.note = note
    }
}

/// One execution of an integration node: its job's tries and how it ended.
public struct JobRun: Sendable, Decodable {
    public struct Try: Sendable, Codable {
        public var attempt: Int
        public var time: Date
        public var status: Int?
        public var error: String?
    }

    public enum Outcome: String, Sendable, Codable {
        case pending, delivered, interrupted, caught, incident
    }

    public var node: Int
    public var token: Int
    /// The job type: `webhook`, `email`, …
    public var type: String
    public var idempotencyKey: String
    public var tries: [Try] = []
    public var outcome: Outcome = .pending
}

public struct ProcessNotification: Sendable, Hashable, Codable {
    public var node: String
    public var user: String
    public var message: String

    public init(node: String, user: String, message: String) {
        self.node = node
        self.user = user
        self.message = message
    }
}

/// The whole state of one process instance: a value, changed only by `Engine`.
public struct Instance: Sendable, Decodable {
    public var id: String
    public var processID: String
    public var status: InstanceStatus = .running
    public var tokens: [Token] = []
    public var scopes: [ScopeInstance] = []
    public var context: JSONObject
    public var history = History()
    /// Nodes in the order they completed: the `left` entries of the history.
    public var path: [Int] { history.compactMap { $0.event == .left ? $0.node : nil } }
    /// The end event that completed the instance.
    public var endNode: Int?
    public var incident: Incident?
    public var initiator: String
    /// Whoever completed the last user task: ELMA365's "current user".
    public var currentUser: String?
    public var createdAt: Date
    /// The executions of integration nodes, in the order they began.
    public var jobRuns: [JobRun] = []
    public var notifications: [ProcessNotification] = []
    public var timers: [PendingTimer] = []
    /// Complex gateways that fired and now let the rest of their wave pass: "node/scope".
    public var firedComplexGateways: [String] = []
    /// Multi-instance activities in progress.
    public var multiInstances: [MultiInstanceRun] = []
    /// Completed iterations of looping activities, by token.
    public var loopCounts: [Int: Int] = [:]
    /// Lines script tasks wrote.
    public var log: [String] = []
    /// The error code of an error end event nobody caught, if the instance ended by one.
    public var uncaughtError: String?
    /// Completed activities that have a compensation handler, oldest first.
    public var compensable: [Int] = []
    /// For tokens at a parallel multiple catch event: the triggers that have fired, by their
    /// position among the event's own event definitions (document order inside the one element).
    public var caughtTriggers: [Int: [Int]] = [:]
    /// Tokens at compensation throw events, waiting for the handler tokens they started.
    public var awaitingCompensation: [Int: [Int]] = [:]

    var nextTokenID = 1
    var nextScopeID = 1
    var nextTimerID = 1
    /// Tokens to execute, first in first out: this is what makes runs deterministic.
    var readyQueue: [Int] = []

    public init(id: String, processID: String, context: JSONObject, initiator: String, createdAt: Date) {
        self.id = id
        self.processID = processID
        self.context = context
        self.initiator = initiator
        self.createdAt = createdAt
    }

    /// An empty instance, made once: what a step leaves in the caller's place while it works on
    /// the caller's instance.
    static let placeholder = Instance(
        id: "", processID: "", context: JSONObject(), initiator: "", createdAt: Date(timeIntervalSince1970: 0))

    public func token(_ id: Int) -> Token? { tokenIndex(id).map { tokens[$0] } }

    /// Tokens are kept in the order they were made, so by increasing id (every new token is
    /// appended with the next `nextTokenID`, removals keep the order): a binary search finds one
    /// in a crowd of thousands.
    func tokenIndex(_ id: Int) -> Int? {
        var low = 0
        var high = tokens.count
        while low < high {
            let middle = (low + high) / 2
            if tokens[middle].id < id { low = middle + 1 } else { high = middle }
        }
        return low < tokens.count && tokens[low].id == id ? low : nil
    }

    /// Tokens waiting for a person, with the node they wait at.
    public var openTasks: [Token] { tokens.filter { $0.state == .waitingTask } }
}
