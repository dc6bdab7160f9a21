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

/// The fields of a value type (a flow node, a process) in one shared box, so that copying the value
/// is one retain, not a retain of every field. The value's `_modify` copies the box first when
/// another copy shares it, so the box is changed only while uniquely referenced: no access
/// overlaps a change, and reads need no run-time exclusivity check.
@usableFromInline
final class SharedFields<Fields: Sendable>: @unchecked Sendable {
    @exclusivity(unchecked) @usableFromInline var fields: Fields

    @usableFromInline init(_ fields: Fields) {
        self.fields = fields
    }
}

/// One process, flattened: every node (including those inside embedded sub-processes) lives in
/// `nodes`, addressed by index; `scope` links a node to the sub-process that contains it.
@dynamicMemberLookup
public struct ProcessDefinition: Sendable {
    /// A process's fields. A `ProcessDefinition` keeps them in one shared box, so copying a
    /// process (into a store's definition row, a runner's cache, a command's arguments) is one
    /// retain; a change copies the box first when another copy shares it.
    public struct Fields: Sendable {
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
        /// By message name: how an instance's key for it is computed (Zeebe's
        /// `<zeebe:subscription correlationKey="=orderId">` on the message), for messages sent
        /// from outside with a correlation key (`procrun message NAME --correlation-key K`).
        public var correlationKeys: [String: FEELExpression] = [:]

        fileprivate var indexByID: [String: Int]
    }

    @usableFromInline var box: SharedFields<Fields>

    public init(
        id: String, name: String?, isExecutable: Bool, location: SourceLocation, nodes: [FlowNode],
        flows: [SequenceFlow], lanes: [Lane], participantName: String?, deferredErrors: [Diagnostic]
    ) {
        var index: [String: Int] = [:]
        for (i, node) in nodes.enumerated() { index[node.id] = i }
        box = SharedFields(
            Fields(
                id: id, name: name, isExecutable: isExecutable, location: location, nodes: nodes, flows: flows,
                lanes: lanes,
                participantName: participantName, deferredErrors: deferredErrors, indexByID: index))
    }

    @inlinable
    public subscript<T>(dynamicMember field: WritableKeyPath<Fields, T>) -> T {
        get { box.fields[keyPath: field] }
        _modify {
            if !isKnownUniquelyReferenced(&box) { box = SharedFields(box.fields) }
            yield &box.fields[keyPath: field]
        }
    }

    public func nodeIndex(id: String) -> Int? { box.fields.indexByID[id] }

    /// The start events a scope begins with (`nil` for the process level).
    public func startEvents(inScope scope: Int?) -> [Int] {
        self.nodes.indices.filter { self.nodes[$0].scope == scope && self.nodes[$0].kind == .startEvent }
    }

    /// The event sub-processes directly inside a scope (`nil` for the process level).
    public func eventSubProcesses(inScope scope: Int?) -> [Int] {
        self.nodes.indices.filter { self.nodes[$0].scope == scope && self.nodes[$0].kind == .subProcess(.event) }
    }

    /// The start event of an event sub-process, with its triggers.
    public func eventStart(of subProcess: Int) -> (node: Int, triggers: [EventTrigger], interrupting: Bool)? {
        for i in self.nodes.indices where self.nodes[i].scope == subProcess {
            if case .eventStart(let triggers, let interrupting) = self.nodes[i].kind {
                return (i, triggers, interrupting)
            }
        }
        return nil
    }

    /// Start events of the process level that a message or signal triggers.
    public func triggeredStarts() -> [(node: Int, triggers: [EventTrigger])] {
        self.nodes.indices.compactMap { i in
            guard self.nodes[i].scope == nil else { return nil }
            if case .eventStart(let triggers, _) = self.nodes[i].kind { return (i, triggers) }
            if self.nodes[i].instantiate, self.nodes[i].incoming.isEmpty, let message = self.nodes[i].message {
                return (i, [.message(message)])
            }
            return nil
        }
    }

    /// The display name of the process: its name, else its pool's, else its id.
    public var displayName: String { self.name ?? self.participantName ?? self.id }
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
    /// An end event that throws: a message, signal, escalation, cancel or compensation.
    case throwing([EventTrigger])
}

/// What an event waits for or throws: one event definition.
public enum EventTrigger: Sendable, Equatable {
    /// A message, by the message's name (else its id).
    case message(String)
    /// A signal, by the signal's name (else its id).
    case signal(String)
    case timer(TimerDefinition)
    /// An error; a nil code catches every error.
    case error(code: String?)
    /// An escalation; a nil code catches every escalation.
    case escalation(code: String?)
    case conditional(FEELExpression)
    case cancel
    /// Compensation of one activity (by id), or of every completed activity of the scope.
    case compensate(activity: String?)
    /// A link: a go-to within one process level, by the link's name.
    case link(String)

    /// The event definition's element name without "EventDefinition".
    public var name: String {
        switch self {
        case .message: "message"
        case .signal: "signal"
        case .timer: "timer"
        case .error: "error"
        case .escalation: "escalation"
        case .conditional: "conditional"
        case .cancel: "cancel"
        case .compensate: "compensate"
        case .link: "link"
        }
    }

    /// Whether a thrown `self` is caught by a catch event waiting for `other`.
    public func isCaught(by other: EventTrigger) -> Bool {
        switch (self, other) {
        case (.message(let a), .message(let b)), (.signal(let a), .signal(let b)), (.link(let a), .link(let b)): a == b
        case (.error(let a), .error(let b)), (.escalation(let a), .escalation(let b)): b == nil || a == b
        case (.cancel, .cancel): true
        case (.compensate, .compensate): true
        default: false
        }
    }
}

/// How a sub-process node runs its content.
public enum SubProcessKind: Sendable, Equatable {
    case embedded
    /// A transaction: a cancel end event inside compensates it and leaves by its cancel boundary event.
    case transaction
    /// An ad-hoc sub-process: every inner activity without incoming flow starts, in parallel or
    /// one after the other.
    case adHoc(sequential: Bool)
    /// An event sub-process: not reached by flows; its start event's trigger starts it while
    /// the enclosing scope runs.
    case event
    /// A call activity, with the called process copied in as its content.
    case call(calledElement: String)
}

public enum NodeKind: Sendable, Equatable {
    case startEvent
    /// A start event with a trigger: of an event sub-process, or a message/signal/timer start
    /// of a process.
    case eventStart(triggers: [EventTrigger], interrupting: Bool)
    case endEvent(EndEventKind)
    case task(TaskKind)
    case exclusiveGateway
    case parallelGateway
    case inclusiveGateway
    /// Splits like an inclusive gateway; joins when its activation condition holds (else like
    /// an inclusive join), then lets the rest of the wave pass without firing again.
    case complexGateway
    case subProcess(SubProcessKind)
    /// Waits for the first of the events its outgoing flows lead to.
    case eventBasedGateway
    /// A boundary event: fires while its activity runs; interrupting or not.
    case boundary(attachedTo: Int, triggers: [EventTrigger], cancelActivity: Bool)
    /// An intermediate catch event: the token waits until one (or, `parallel`, every) trigger fires.
    case catchEvent(triggers: [EventTrigger], parallel: Bool)
    /// An intermediate throw event with event definitions: throws each, then goes on.
    case throwEvent([EventTrigger])
    /// A none intermediate throw event: a milestone the token passes.
    case intermediateEvent
    /// An element procrun cannot run yet; kept so that references to it resolve. A process
    /// holding one is refused when it is run.
    case unsupported(element: String)

    /// The BPMN element name, as traces and messages show it.
    public var elementName: String {
        switch self {
        case .startEvent: "startEvent"
        case .eventStart(let triggers, _): "startEvent(\(triggers.map(\.name).joined(separator: ", ")))"
        case .endEvent(.none): "endEvent"
        case .endEvent(.terminate): "endEvent(terminate)"
        case .endEvent(.error): "endEvent(error)"
        case .endEvent(.throwing(let triggers)): "endEvent(\(triggers.map(\.name).joined(separator: ", ")))"
        case .task(let kind): kind.rawValue
        case .exclusiveGateway: "exclusiveGateway"
        case .parallelGateway: "parallelGateway"
        case .inclusiveGateway: "inclusiveGateway"
        case .complexGateway: "complexGateway"
        case .subProcess(.embedded): "subProcess"
        case .subProcess(.transaction): "transaction"
        case .subProcess(.adHoc): "adHocSubProcess"
        case .subProcess(.event): "event subProcess"
        case .subProcess(.call): "callActivity"
        case .eventBasedGateway: "eventBasedGateway"
        case .boundary(_, let triggers, let cancel):
            "boundaryEvent(\(triggers.map(\.name).joined(separator: ", "))\(cancel ? "" : ", non-interrupting"))"
        case .catchEvent(let triggers, _): "intermediateCatchEvent(\(triggers.map(\.name).joined(separator: ", ")))"
        case .throwEvent(let triggers): "intermediateThrowEvent(\(triggers.map(\.name).joined(separator: ", ")))"
        case .intermediateEvent: "intermediateThrowEvent"
        case .unsupported(let element): element
        }
    }

    public var isGateway: Bool {
        switch self {
        case .exclusiveGateway, .parallelGateway, .inclusiveGateway, .complexGateway, .eventBasedGateway: true
        default: false
        }
    }

    /// The activity a boundary event is attached to.
    public var host: Int? {
        if case .boundary(let host, _, _) = self { return host }
        return nil
    }

    public var isActivity: Bool {
        switch self {
        case .task: true
        case .subProcess(let kind): kind != .event
        case .unsupported(let element):
            ["callActivity", "transaction", "adHocSubProcess"].contains(element) || element.hasSuffix("Task")
        default: false
        }
    }
}

@dynamicMemberLookup
public struct FlowNode: Sendable {
    /// A node's fields. A `FlowNode` keeps them in one shared box, so copying a node (the engine
    /// does so on every move of a token) is one retain, not a retain of every field; a change
    /// copies the box first when another node shares it.
    public struct Fields: Sendable {
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
        /// Boundary events attached to this activity.
        public var boundaryEvents: [Int] = []
        /// `isForCompensation`: the activity only runs as a compensation handler.
        public var isForCompensation = false
        /// For an activity with a compensation boundary event: the handler it is associated with.
        public var compensationHandler: Int?
        /// The message a send task sends or a receive task waits for (by name, else id).
        public var message: String?
        /// A receive task with `instantiate="true"` and no incoming flow: its message starts the process.
        public var instantiate = false
        /// The innermost lane holding the node.
        public var lane: String?
        /// `camunda:assignee` / `zeebe:assignmentDefinition assignee` / a humanPerformer, if any.
        public var assignee: String?
        public var candidateUsers: [String] = []
        public var candidateGroups: [String] = []
        /// A user task's form (Camunda 7's `camunda:formData`): the fields people fill in.
        public var formFields: [FormField] = []
        /// Input and output mappings (Camunda's `camunda:inputOutput`, Zeebe's `zeebe:ioMapping`).
        public var mappings = IOMappings()
        /// An integration node's job type and settings (`procrun:webhook`, `procrun:email`, a REST connector, …).
        public var integration: IntegrationNode?
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
        /// An implementation procrun cannot run, which the task skips (`camunda:class com.acme.Bill`,
        /// `zeebe:taskDefinition type="payment"`, …); the loader warned about it.
        public var skippedImplementation: String?
    }

    @usableFromInline var box: SharedFields<Fields>

    public init(id: String, name: String?, kind: NodeKind, location: SourceLocation, scope: Int?) {
        box = SharedFields(Fields(id: id, name: name, kind: kind, location: location, scope: scope))
    }

    @inlinable
    public subscript<T>(dynamicMember field: WritableKeyPath<Fields, T>) -> T {
        get { box.fields[keyPath: field] }
        _modify {
            if !isKnownUniquelyReferenced(&box) { box = SharedFields(box.fields) }
            yield &box.fields[keyPath: field]
        }
    }

    /// The node's name, else its id.
    public var displayName: String { (self.name?.isEmpty == false ? self.name : nil) ?? self.id }
}

public struct SequenceFlow: Sendable {
    public var id: String
    public var name: String?
    public var source: Int
    public var target: Int
    public var condition: FEELExpression?
    public var location: SourceLocation

    public init(
        id: String, name: String?, source: Int, target: Int, condition: FEELExpression?, location: SourceLocation
    ) {
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

/// One `complexBehaviorDefinition`: a condition over the multi-instance variables and the event
/// it throws.
public struct ComplexBehavior: Sendable {
    public var condition: FEELExpression
    public var event: EventTrigger

    public init(condition: FEELExpression, event: EventTrigger) {
        self.condition = condition
        self.event = event
    }
}

/// `multiInstanceLoopCharacteristics` with a `loopCardinality`: the activity runs that many
/// times, one after another (`isSequential`) or all at once, until they are all done or the
/// `completionCondition` holds (evaluated with `nrOfInstances`, `nrOfCompletedInstances`,
/// `nrOfActiveInstances` and `loopCounter`).
public struct MultiInstance: Sendable {
    /// The most instances one multi-instance activity runs (each is a token in the state).
    public static let maximumCardinality = 99_999

    public var cardinality: FEELExpression
    public var sequential: Bool
    public var completionCondition: FEELExpression?
    /// The behaviour event: thrown after each inner instance completes (`behavior="None"`) or
    /// after the first (`One`, `once`), and caught by the activity's own boundary events.
    public var behaviorEvent: EventTrigger?
    public var behaviorOnce = false
    /// `behavior="Complex"`: after each inner instance, each definition whose condition holds
    /// throws its event (to the activity's boundary events, like the other behaviour events).
    public var complexBehaviors: [ComplexBehavior] = []

    public init(cardinality: FEELExpression, sequential: Bool, completionCondition: FEELExpression?) {
        self.cardinality = cardinality
        self.sequential = sequential
        self.completionCondition = completionCondition
    }
}

/// One field of a user task's form (`camunda:formField`).
public struct FormField: Sendable, Equatable {
    /// `string`, `long`, `boolean`, `date`, `enum` (others are read as `string`).
    public var id: String
    public var label: String?
    public var type: String
    public var defaultValue: String?
    /// An enum field's choices: value id and label.
    public var choices: [(id: String, name: String)]

    public init(id: String, label: String?, type: String, defaultValue: String?, choices: [(id: String, name: String)])
    {
        self.id = id
        self.label = label
        self.type = type
        self.defaultValue = defaultValue
        self.choices = choices
    }

    public static func == (left: FormField, right: FormField) -> Bool {
        left.id == right.id && left.label == right.label && left.type == right.type
            && left.defaultValue == right.defaultValue && left.choices.map(\.id) == right.choices.map(\.id)
            && left.choices.map(\.name) == right.choices.map(\.name)
    }
}
