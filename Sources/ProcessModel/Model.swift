import Expressions
import Values

/// A loaded BPMN file: its processes and the collaboration around them.
public struct Definitions: Sendable {
    public var id: String?
    public var name: String?
    public var file: String
    public var processes: [ProcessDefinition]
    public var participants: [Participant]

    public init(id: String?, name: String?, file: String, processes: [ProcessDefinition], participants: [Participant]) {
        self.id = id
        self.name = name
        self.file = file
        self.processes = processes
        self.participants = participants
    }

    /// The process `--process ID` names, else the only process, else the first executable one.
    public func process(id: String?) -> ProcessDefinition? {
        if let id { return processes.first { $0.id == id } }
        if processes.count == 1 { return processes[0] }
        return processes.first { $0.isExecutable }
    }
}

public struct Participant: Sendable {
    public var id: String
    public var name: String?
    public var processRef: String?

    public init(id: String, name: String?, processRef: String?) {
        self.id = id
        self.name = name
        self.processRef = processRef
    }
}

public struct Lane: Sendable {
    public var id: String
    public var name: String?
    public var location: SourceLocation

    public init(id: String, name: String?, location: SourceLocation) {
        self.id = id
        self.name = name
        self.location = location
    }
}

/// One process, flattened: every node (including those inside embedded sub-processes) lives in
/// `nodes`, addressed by index; `scope` links a node to the sub-process that contains it.
public struct ProcessDefinition: Sendable {
    public var id: String
    public var name: String?
    public var isExecutable: Bool
    public var location: SourceLocation
    public var nodes: [FlowNode]
    public var flows: [SequenceFlow]
    public var lanes: [Lane]
    /// The participant (pool) that holds the process, if the file has a collaboration.
    public var participantName: String?
    /// Problems that only matter when the process runs (unsupported elements in a process not
    /// marked executable). `validate` reports them as warnings; running the process refuses it.
    public var deferredErrors: [Diagnostic]

    private var indexByID: [String: Int]

    public init(
        id: String, name: String?, isExecutable: Bool, location: SourceLocation, nodes: [FlowNode],
        flows: [SequenceFlow], lanes: [Lane], participantName: String?, deferredErrors: [Diagnostic]
    ) {
        self.id = id
        self.name = name
        self.isExecutable = isExecutable
        self.location = location
        self.nodes = nodes
        self.flows = flows
        self.lanes = lanes
        self.participantName = participantName
        self.deferredErrors = deferredErrors
        var index: [String: Int] = [:]
        for (i, node) in nodes.enumerated() { index[node.id] = i }
        self.indexByID = index
    }

    public func nodeIndex(id: String) -> Int? { indexByID[id] }

    /// The start events a scope begins with (`nil` for the process level).
    public func startEvents(inScope scope: Int?) -> [Int] {
        nodes.indices.filter { nodes[$0].scope == scope && nodes[$0].kind == .startEvent }
    }

    /// The display name of the process: its name, else its pool's, else its id.
    public var displayName: String { name ?? participantName ?? id }
}

public enum TaskKind: String, Sendable {
    case task, userTask, manualTask, serviceTask, sendTask, receiveTask, scriptTask, businessRuleTask

    /// Tasks a person completes; `run` completes them by itself.
    public var isHuman: Bool { self == .userTask || self == .manualTask }
}

public enum EndEventKind: Sendable, Equatable {
    case none
    case terminate
    /// An error end event; `code` is the referenced error's errorCode (or its id/name).
    case error(code: String?)
}

public enum NodeKind: Sendable, Equatable {
    case startEvent
    case endEvent(EndEventKind)
    case task(TaskKind)
    case exclusiveGateway
    case parallelGateway
    case inclusiveGateway
    /// Splits like an inclusive gateway; joins when its activation condition holds (else like
    /// an inclusive join), then lets the rest of the wave pass without firing again.
    case complexGateway
    case subProcess
    /// An error boundary event. `errorCode` nil catches every error.
    case errorBoundary(attachedTo: Int, errorCode: String?)
    /// A timer boundary event: fires while its activity runs; interrupting or not.
    case timerBoundary(attachedTo: Int, timer: TimerDefinition, cancelActivity: Bool)
    /// An intermediate timer catch event: the token waits until it fires.
    case timerCatch(TimerDefinition)
    /// A none intermediate throw event: a milestone the token passes.
    case intermediateEvent
    /// An element procrun cannot run yet; kept so that references to it resolve. A process
    /// holding one is refused when it is run.
    case unsupported(element: String)

    /// The BPMN element name, as traces and messages show it.
    public var elementName: String {
        switch self {
        case .startEvent: "startEvent"
        case .endEvent(.none): "endEvent"
        case .endEvent(.terminate): "endEvent(terminate)"
        case .endEvent(.error): "endEvent(error)"
        case .task(let kind): kind.rawValue
        case .exclusiveGateway: "exclusiveGateway"
        case .parallelGateway: "parallelGateway"
        case .inclusiveGateway: "inclusiveGateway"
        case .complexGateway: "complexGateway"
        case .subProcess: "subProcess"
        case .errorBoundary: "boundaryEvent(error)"
        case .timerBoundary(_, _, let cancel): cancel ? "boundaryEvent(timer)" : "boundaryEvent(timer, non-interrupting)"
        case .timerCatch: "intermediateCatchEvent(timer)"
        case .intermediateEvent: "intermediateThrowEvent"
        case .unsupported(let element): element
        }
    }

    public var isGateway: Bool {
        switch self {
        case .exclusiveGateway, .parallelGateway, .inclusiveGateway, .complexGateway: true
        default: false
        }
    }

    public var isActivity: Bool {
        switch self {
        case .task, .subProcess: true
        case .unsupported(let element): ["callActivity", "transaction", "adHocSubProcess"].contains(element) || element.hasSuffix("Task")
        default: false
        }
    }
}

public struct FlowNode: Sendable {
    public var id: String
    public var name: String?
    public var kind: NodeKind
    public var location: SourceLocation
    /// Index of the containing sub-process node, nil at process level.
    public var scope: Int?
    /// Indices into `ProcessDefinition.flows`, in document order.
    public var incoming: [Int] = []
    public var outgoing: [Int] = []
    public var defaultFlow: Int?
    /// Error boundary events attached to this activity.
    public var boundaryEvents: [Int] = []
    /// The innermost lane holding the node.
    public var lane: String?
    /// `camunda:assignee` / `zeebe:assignmentDefinition assignee` / a humanPerformer, if any.
    public var assignee: String?
    public var candidateUsers: [String] = []
    public var candidateGroups: [String] = []
    public var webhook: WebhookConfig?
    /// A FEEL script (one `name = expression` per line) for script tasks.
    public var script: FEELScript?
    /// Standard loop characteristics: the activity repeats while its condition holds.
    public var loop: StandardLoop?
    /// Multi-instance characteristics: the activity runs several times, in sequence or at once.
    public var multiInstance: MultiInstance?
    /// `startQuantity`: tokens that must arrive before an activity starts (they merge into one).
    public var startQuantity = 1
    /// `completionQuantity`: tokens an activity sends down each outgoing flow when it completes.
    public var completionQuantity = 1
    /// A complex gateway's `activationCondition` (it sees `activationCount`).
    public var activationCondition: FEELExpression?
    /// The script as written, and its `scriptFormat`, for script runners other than FEEL.
    public var scriptText: String?
    public var scriptFormat: String?

    public init(id: String, name: String?, kind: NodeKind, location: SourceLocation, scope: Int?) {
        self.id = id
        self.name = name
        self.kind = kind
        self.location = location
        self.scope = scope
    }

    /// The node's name, else its id.
    public var displayName: String { (name?.isEmpty == false ? name : nil) ?? id }
}

public struct SequenceFlow: Sendable {
    public var id: String
    public var name: String?
    public var source: Int
    public var target: Int
    public var condition: FEELExpression?
    public var location: SourceLocation

    public init(id: String, name: String?, source: Int, target: Int, condition: FEELExpression?, location: SourceLocation) {
        self.id = id
        self.name = name
        self.source = source
        self.target = target
        self.condition = condition
        self.location = location
    }

    /// The label users see on the diagram, else the id.
    public var displayName: String { (name?.isEmpty == false ? name : nil) ?? id }
}

/// `standardLoopCharacteristics`: run the activity, then again while `condition` is true (with
/// `testBefore`, check before the first run too), at most `maximum` times.
public struct StandardLoop: Sendable {
    public var condition: FEELExpression?
    public var testBefore: Bool
    public var maximum: Int?

    public init(condition: FEELExpression?, testBefore: Bool, maximum: Int?) {
        self.condition = condition
        self.testBefore = testBefore
        self.maximum = maximum
    }
}

/// `multiInstanceLoopCharacteristics` with a `loopCardinality`: the activity runs that many
/// times, one after another (`isSequential`) or all at once, until they are all done or the
/// `completionCondition` holds (evaluated with `nrOfInstances`, `nrOfCompletedInstances`,
/// `nrOfActiveInstances` and `loopCounter`).
public struct MultiInstance: Sendable {
    public var cardinality: FEELExpression
    public var sequential: Bool
    public var completionCondition: FEELExpression?

    public init(cardinality: FEELExpression, sequential: Bool, completionCondition: FEELExpression?) {
        self.cardinality = cardinality
        self.sequential = sequential
        self.completionCondition = completionCondition
    }
}
