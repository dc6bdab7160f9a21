import Expressions
import ProcessModel
import Values

/// Walks a parsed BPMN tree and builds the model, collecting diagnostics as it goes.
struct ModelBuilder {
    var index: LocationIndex
    let file: String
    let options: LoadOptions
    var diagnostics: [Diagnostic] = []

    /// Where each id was first defined, to report duplicates.
    private var seenIDs: [String: SourceLocation] = [:]
    /// errorRef id → error code.
    private var errorCodes: [String: String] = [:]
    /// escalationRef id → escalation code; signalRef / messageRef id → name.
    private var escalationCodes: [String: String] = [:]
    private var signalNames: [String: String] = [:]
    private var messageNames: [String: String] = [:]
    /// By message name: Zeebe's subscription correlation key.
    private var correlationKeys: [String: FEELExpression] = [:]
    /// Global tasks (`globalScriptTask`, …) a call activity may call, by id.
    private var globalTasks: [String: XMLElement] = [:]
    /// Event definitions declared at the root of the file, by id (for `eventDefinitionRef`).
    private var rootEventDefinitions: [String: XMLElement] = [:]
    private var targetNamespacePrefixes: Set<String> = []

    init(index: LocationIndex, file: String, options: LoadOptions) {
        self.index = index
        self.file = file
        self.options = options
    }

    mutating func error(_ location: SourceLocation, _ message: String) {
        diagnostics.append(.error(at: location, message))
    }

    mutating func warning(_ location: SourceLocation, _ message: String) {
        diagnostics.append(.warning(at: location, message))
    }

    /// "cannot parse WHAT: problem in 'TEXT'"; an expression nested past the parser's limit is
    /// reported in the words of the limit alone, without echoing its (huge) text.
    func parseFailure(_ what: String, _ error: ExpressionError, in text: String) -> String {
        if error.isNestedTooDeeply { return ExpressionError.nestedTooDeeply(offset: nil).message }
        return "cannot parse \(what): \(error.message) in '\(text.trimmingWhitespace())'"
    }

    mutating func register(id: String?, _ location: SourceLocation, element: String) {
        guard let id else { return }
        if let first = seenIDs[id] {
            error(
                location,
                "duplicate id '\(id)' on '\(element)'; it is already used at line \(first.line), column \(first.column)"
            )
        } else {
            seenIDs[id] = location
        }
    }

    mutating func build(root: XMLElement) -> Definitions? {
        let rootLocation = index.locate(root)
        guard root.isBPMN("definitions") else {
            let ns = root.namespace.map { " in namespace '\($0)'" } ?? " without a namespace"
            error(
                rootLocation,
                "root element is '\(root.qualifiedName)'\(ns); expected BPMN 'definitions' in namespace '\(Namespaces.bpmn)'"
            )
            return nil
        }
        // GenMyModel writes id references as QNames in the target namespace ("bpmn2:_Bln…").
        var ns = root.node.pointee.nsDef
        let target = root.attribute("targetNamespace")
        while let n = ns {
            if let prefix = n.pointee.prefix, let href = n.pointee.href,
                String(cString: href) == target || String(cString: href) == Namespaces.bpmn
            {
                targetNamespacePrefixes.insert(String(cString: prefix))
            }
            ns = n.pointee.next
        }

        let children = root.children
        // Error codes are needed before processes refer to them; errors are root-level and cheap to
        // pre-scan without touching the location cursor.
        for child in children where child.isInBPMN && child.localName.hasSuffix("EventDefinition") {
            if let id = child.attribute("id") { rootEventDefinitions[id] = child }
        }
        for child in children where child.isInBPMN {
            guard let id = child.attribute("id") else { continue }
            switch child.localName {
            case "error": errorCodes[id] = child.attribute("errorCode") ?? child.attribute("name") ?? id
            case "escalation": escalationCodes[id] = child.attribute("escalationCode") ?? child.attribute("name") ?? id
            case "signal": signalNames[id] = child.attribute("name") ?? id
            case "message":
                let name = child.attribute("name") ?? id
                messageNames[id] = name
                readCorrelationKey(child, message: name)
            case let name where name.hasPrefix("global") && name.hasSuffix("Task"): globalTasks[id] = child
            default: break
            }
        }

        var processes: [ProcessDefinition] = []
        var participants: [Participant] = []
        for child in children {
            guard child.isInBPMN else { continue }
            switch child.localName {
            case "process":
                if let process = buildProcess(child) { processes.append(process) }
            case "collaboration":
                let location = index.locate(child)
                register(id: child.attribute("id"), location, element: "collaboration")
                for element in child.children where element.isInBPMN {
                    let elementLocation = index.locate(element)
                    if element.localName == "participant" {
                        register(id: element.attribute("id"), elementLocation, element: "participant")
                        participants.append(
                            Participant(
                                id: element.attribute("id") ?? "", name: element.attribute("name"),
                                processRef: element.attribute("processRef").map(stripPrefix)))
                    }
                }
            case "error", "escalation", "signal", "message":
                register(id: child.attribute("id"), index.locate(child), element: child.localName)
            default:
                continue
            }
        }
        var rules = StaticRules(
            index: index, stripPrefix: stripPrefix, messagesFromOutside: options.messagesFromOutside)
        rules.check(root: root, executable: Set(processes.filter(\.isExecutable).map(\.id)))
        diagnostics += rules.diagnostics
        let originals = processes
        for i in processes.indices {
            diagnostics += processes[i].inlineCalls(from: originals)
        }
        // Cycles are judged on a sound graph only: with errors, the flows may not be what was meant.
        if !diagnostics.contains(where: { $0.severity == .error }) {
            for process in processes { diagnostics += CycleRules.check(process) }
        }
        for participant in participants {
            guard let ref = participant.processRef else { continue }
            if let i = processes.firstIndex(where: { $0.id == ref }) {
                processes[i].participantName = participant.name
            }
        }
        return Definitions(
            id: root.attribute("id"), name: root.attribute("name"), file: file, processes: processes,
            participants: participants)
    }

    func stripPrefix(_ ref: String) -> String {
        let ref = ref.trimmingWhitespace()
        if let colon = ref.firstIndex(of: ":"), targetNamespacePrefixes.contains(String(ref[..<colon])) {
            return String(ref[ref.index(after: colon)...])
        }
        return ref
    }

    // MARK: - Processes

    /// What a flow element scan collects before references are resolved.
    struct PendingFlow {
        var id: String
        var name: String?
        var sourceRef: String?
        var targetRef: String?
        var scope: Int?
        var condition: (text: String, location: SourceLocation, language: String?)?
        var location: SourceLocation
    }

    struct ProcessScan {
        var nodes: [FlowNode] = []
        var flows: [PendingFlow] = []
        var defaultRefs: [(node: Int, ref: String)] = []
        var attachments: [(node: Int, ref: String)] = []
        var laneOf: [String: String] = [:]
        var lanes: [Lane] = []
        var deferred: [Diagnostic] = []
        var executable = true
        /// `incoming` / `outgoing` references a node declares, when it declares any.
        var declaredIncoming: [Int: [String]] = [:]
        var declaredOutgoing: [Int: [String]] = [:]
        var gatewayDirection: [Int: String] = [:]
        /// `association` source → target ids (compensation boundary event → handler).
        var associations: [(source: String, target: String)] = []
        /// Event-based gateways (and receive tasks) marked `instantiate="true"`.
        var instantiating: Set<Int> = []
    }

    /// A broken BPMN rule: an error in an executable process, a warning (kept for `run`) elsewhere.
    mutating func structural(_ location: SourceLocation, _ message: String, _ scan: inout ProcessScan) {
        if scan.executable {
            error(location, message)
        } else {
            warning(location, message)
            scan.deferred.append(.error(at: location, message))
        }
    }

    mutating func buildProcess(_ element: XMLElement) -> ProcessDefinition? {
        let location = index.locate(element)
        let id = element.attribute("id") ?? ""
        register(id: element.attribute("id"), location, element: "process")
        if id.isEmpty { error(location, "process has no id") }
        var scan = ProcessScan()
        scan.executable = element.attribute("isExecutable")?.trimmingWhitespace() == "true"
        scanFlowElements(element, scope: nil, into: &scan)

        var nodes = scan.nodes
        var nodeIndex: [String: Int] = [:]
        for (i, node) in nodes.enumerated() where nodeIndex[node.id] == nil { nodeIndex[node.id] = i }
        func resolve(_ ref: String) -> Int? { nodeIndex[ref] ?? nodeIndex[stripPrefix(ref)] }

        // Problems that make the model unusable to run: errors in an executable process,
        // warnings (kept for `run`) otherwise.
        var deferred = scan.deferred
        func problem(_ builder: inout ModelBuilder, _ location: SourceLocation, _ message: String) {
            if scan.executable {
                builder.error(location, message)
            } else {
                builder.warning(location, message)
                deferred.append(.error(at: location, message))
            }
        }

        var flows: [SequenceFlow] = []
        for pending in scan.flows {
            guard let sourceRef = pending.sourceRef, let targetRef = pending.targetRef else {
                error(pending.location, "sequence flow '\(pending.id)' needs both sourceRef and targetRef")
                continue
            }
            guard let source = resolve(sourceRef) else {
                error(
                    pending.location,
                    "sequence flow '\(pending.id)' has sourceRef '\(sourceRef)', which is not a flow node of process '\(id)'"
                )
                continue
            }
            guard let target = resolve(targetRef) else {
                error(
                    pending.location,
                    "sequence flow '\(pending.id)' has targetRef '\(targetRef)', which is not a flow node of process '\(id)'"
                )
                continue
            }
            if nodes[source].scope != pending.scope || nodes[target].scope != pending.scope {
                error(
                    pending.location,
                    "sequence flow '\(pending.id)' crosses a sub-process boundary ('\(sourceRef)' → '\(targetRef)'); BPMN keeps sequence flows inside one sub-process"
                )
                continue
            }
            var condition: FEELExpression?
            if let raw = pending.condition {
                do {
                    condition = try FEELExpression(raw.text, bare: options.bareConditions)
                } catch {
                    let language = raw.language.map { " (language '\($0)')" } ?? ""
                    problem(
                        &self, raw.location,
                        parseFailure("the condition of sequence flow '\(pending.id)'\(language)", error, in: raw.text))
                }
            }
            let flowIndex = flows.count
            flows.append(
                SequenceFlow(
                    id: pending.id, name: pending.name, source: source, target: target, condition: condition,
                    location: pending.location))
            nodes[source].outgoing.append(flowIndex)
            nodes[target].incoming.append(flowIndex)
        }

        for (nodeIdx, ref) in scan.defaultRefs {
            let node = nodes[nodeIdx]
            guard let flowIdx = flows.firstIndex(where: { $0.id == ref || $0.id == stripPrefix(ref) }) else {
                error(
                    node.location,
                    "'\(node.kind.elementName)' '\(node.id)' names default flow '\(ref)', which does not exist")
                continue
            }
            if flows[flowIdx].source != nodeIdx {
                error(
                    node.location,
                    "default flow '\(ref)' of '\(node.id)' does not leave it (it leaves '\(nodes[flows[flowIdx].source].id)'); a default flow must be one of the element's outgoing flows"
                )
                continue
            }
            if flows[flowIdx].condition != nil {
                warning(
                    flows[flowIdx].location, "default flow '\(ref)' has a condition; BPMN ignores it on a default flow")
            }
            nodes[nodeIdx].defaultFlow = flowIdx
        }

        for (boundary, ref) in scan.attachments {
            guard let host = resolve(ref) else {
                error(
                    nodes[boundary].location,
                    "boundary event '\(nodes[boundary].id)' is attached to '\(ref)', which is not a flow node of process '\(id)'"
                )
                continue
            }
            guard nodes[host].kind.isActivity else {
                error(
                    nodes[boundary].location,
                    "boundary event '\(nodes[boundary].id)' is attached to '\(nodes[host].id)', a \(nodes[host].kind.elementName); boundary events attach to activities"
                )
                continue
            }
            if case .boundary(_, let triggers, let cancel) = nodes[boundary].kind {
                nodes[boundary].kind = .boundary(attachedTo: host, triggers: triggers, cancelActivity: cancel)
                if triggers.contains(.cancel), nodes[host].kind != .subProcess(.transaction) {
                    problem(
                        &self, nodes[boundary].location,
                        "cancel boundary event '\(nodes[boundary].id)' is attached to \(nodes[host].kind.elementName) '\(nodes[host].id)'; BPMN attaches cancel boundary events to transactions only"
                    )
                }
                if triggers.contains(where: { if case .compensate = $0 { true } else { false } }) {
                    let handler = scan.associations.first { $0.source == nodes[boundary].id }.flatMap {
                        resolve($0.target)
                    }
                    if let handler, nodes[handler].isForCompensation {
                        nodes[host].compensationHandler = handler
                    } else {
                        problem(
                            &self, nodes[boundary].location,
                            "compensation boundary event '\(nodes[boundary].id)' has no association to an activity marked isForCompensation; BPMN requires its compensation handler"
                        )
                    }
                }
            }
            nodes[host].boundaryEvents.append(boundary)
        }

        for i in nodes.indices {
            if let lane = scan.laneOf[nodes[i].id] { nodes[i].lane = lane }
        }

        validate(
            nodes: nodes, flows: flows, processID: id,
            problem: { builder, location, message in problem(&builder, location, message) })
        validateEvents(
            nodes: nodes, flows: flows, scan: scan,
            problem: { builder, location, message in problem(&builder, location, message) })
        validateDeclarations(
            nodes: nodes, flows: flows, scan: scan,
            problem: { builder, location, message in problem(&builder, location, message) })

        let startsSomewhere = nodes.contains { node in
            guard node.scope == nil else { return false }
            if case .eventStart = node.kind { return true }
            return node.kind == .startEvent || (node.instantiate && node.incoming.isEmpty)
        }
        if !nodes.isEmpty && !startsSomewhere {
            problem(
                &self, location, "process '\(id)' has no start event; BPMN needs a start event to start an instance")
        }

        var process = ProcessDefinition(
            id: id, name: element.attribute("name"), isExecutable: scan.executable, location: location, nodes: nodes,
            flows: flows, lanes: scan.lanes, participantName: nil, deferredErrors: deferred)
        process.correlationKeys = correlationKeys
        return process
    }

    /// `<zeebe:subscription correlationKey="=orderId"/>` of a message.
    mutating func readCorrelationKey(_ message: XMLElement, message name: String) {
        for child in message.children where child.isBPMN("extensionElements") {
            for ext in child.children where ext.namespace == Namespaces.zeebe && ext.localName == "subscription" {
                guard let text = ext.attribute("correlationKey"), !text.trimmingWhitespace().isEmpty else { continue }
                do {
                    correlationKeys[name] = try FEELExpression(text)
                } catch {
                    self.error(
                        index.locateOnLine(ext),
                        parseFailure("the correlation key of message '\(name)'", error, in: text))
                }
            }
        }
    }

    /// Structural rules every node must meet.
    mutating func validate(
        nodes: [FlowNode], flows: [SequenceFlow], processID: String,
        problem: (inout ModelBuilder, SourceLocation, String) -> Void
    ) {
        for (i, node) in nodes.enumerated() {
            let what = "\(node.kind.elementName) '\(node.id)'"
            switch node.kind {
            case .startEvent, .eventStart:
                if !node.incoming.isEmpty {
                    problem(&self, node.location, "\(what) has incoming sequence flows; a start event cannot have any")
                }
            case .endEvent:
                if !node.outgoing.isEmpty {
                    problem(&self, node.location, "\(what) has outgoing sequence flows; an end event cannot have any")
                }
            case .exclusiveGateway, .parallelGateway, .inclusiveGateway, .complexGateway:
                if node.incoming.isEmpty {
                    problem(&self, node.location, "\(what) has no incoming sequence flow; a gateway needs at least one")
                }
                if node.outgoing.isEmpty {
                    problem(&self, node.location, "\(what) has no outgoing sequence flow; a gateway needs at least one")
                }
                if node.kind == .parallelGateway {
                    for f in node.outgoing where flows[f].condition != nil {
                        warning(
                            flows[f].location,
                            "sequence flow '\(flows[f].id)' leaves parallel gateway '\(node.id)' with a condition; a parallel gateway ignores conditions"
                        )
                    }
                } else if node.outgoing.count > 1 {
                    for f in node.outgoing where flows[f].condition == nil && node.defaultFlow != f {
                        warning(
                            flows[f].location,
                            "sequence flow '\(flows[f].id)' leaves \(what) without a condition or being the default; it is always taken"
                        )
                    }
                }
            case .boundary(_, let triggers, _):
                if !node.incoming.isEmpty {
                    problem(
                        &self, node.location, "\(what) has incoming sequence flows; a boundary event cannot have any")
                }
                let compensation = triggers.contains { if case .compensate = $0 { true } else { false } }
                if node.outgoing.isEmpty && !compensation {
                    problem(
                        &self, node.location, "\(what) has no outgoing sequence flow; the caught event would go nowhere"
                    )
                }
                if compensation && !node.outgoing.isEmpty {
                    problem(
                        &self, node.location,
                        "\(what) has outgoing sequence flows; a compensation boundary event leads to its handler by an association only"
                    )
                }
            case .subProcess(.embedded), .subProcess(.transaction):
                if !nodes.contains(where: { $0.scope == i && $0.kind == .startEvent }) {
                    problem(
                        &self, node.location,
                        "\(what) has no start event; an embedded sub-process needs a none start event")
                }
            case .subProcess(.event):
                if !node.incoming.isEmpty || !node.outgoing.isEmpty {
                    problem(
                        &self, node.location,
                        "\(what) has sequence flows; an event sub-process is started by its start event and has no incoming or outgoing flow"
                    )
                }
                let starts = nodes.indices.filter { n in
                    guard nodes[n].scope == i else { return false }
                    if case .eventStart = nodes[n].kind { return true }
                    return nodes[n].kind == .startEvent
                }
                if starts.count != 1 {
                    problem(
                        &self, node.location,
                        "\(what) has \(starts.count) start events; an event sub-process has exactly one, with an event definition"
                    )
                }
            case .eventBasedGateway:
                if node.outgoing.count < 2 {
                    problem(
                        &self, node.location,
                        "\(what) has \(node.outgoing.count) outgoing flow(s); an event-based gateway needs at least two"
                    )
                }
                for f in node.outgoing {
                    let target = nodes[flows[f].target]
                    var fits = false
                    switch target.kind {
                    case .catchEvent(let triggers, _):
                        fits = !triggers.contains { if case .link = $0 { true } else { false } }
                    case .task(.receiveTask): fits = true
                    default: fits = false
                    }
                    if !fits {
                        problem(
                            &self, flows[f].location,
                            "sequence flow '\(flows[f].id)' leads event-based gateway '\(node.id)' to \(target.kind.elementName) '\(target.id)'; BPMN requires an intermediate catch event or a receive task there"
                        )
                    } else if target.incoming.count > 1 {
                        problem(
                            &self, target.location,
                            "\(target.kind.elementName) '\(target.id)' follows event-based gateway '\(node.id)' and has \(target.incoming.count) incoming flows; BPMN allows only the gateway's"
                        )
                    }
                    if flows[f].condition != nil {
                        problem(
                            &self, flows[f].location,
                            "sequence flow '\(flows[f].id)' leaves event-based gateway '\(node.id)' with a condition; BPMN forbids conditions there"
                        )
                    }
                }
            case .throwEvent(let triggers):
                for case .link(let name) in triggers {
                    let targets = nodes.indices.filter {
                        nodes[$0].scope == node.scope
                            && nodes[$0].kind == .catchEvent(triggers: [.link(name)], parallel: false)
                    }
                    if targets.count != 1 {
                        problem(
                            &self, node.location,
                            "link throw event '\(node.id)' names link '\(name)', which \(targets.isEmpty ? "no" : "more than one") link catch event on its level has; BPMN requires exactly one target"
                        )
                    }
                }
                for case .compensate(let activity?) in triggers where !nodes.contains(where: { $0.id == activity }) {
                    problem(
                        &self, node.location, "\(what) compensates activity '\(activity)', which is not in this process"
                    )
                }
            default:
                break
            }
            if let integration = node.integration, let interrupt = integration.onError?.interrupt {
                if OnErrorPolicy.interruptFlow(named: interrupt, among: node.outgoing, flows: flows) == nil {
                    let names = node.outgoing.map { "'\(flows[$0].displayName)'" }.joined(separator: ", ")
                    error(
                        integration.onError?.location ?? integration.location,
                        "\(integration.type) '\(node.id)' interrupts by transition '\(interrupt)', but no outgoing sequence flow of '\(node.id)' has that name or id (outgoing: \(names.isEmpty ? "none" : names))"
                    )
                }
            }
        }
    }

    /// Where events may stand: start and end events, cancel end events, link pairs, event-based
    /// gateways that instantiate.
    mutating func validateEvents(
        nodes: [FlowNode], flows: [SequenceFlow], scan: ProcessScan,
        problem: (inout ModelBuilder, SourceLocation, String) -> Void
    ) {
        for node in nodes {
            let what = "\(node.kind.elementName) '\(node.id)'"
            let parent = node.scope.map { nodes[$0].kind }
            switch node.kind {
            case .startEvent, .eventStart, .endEvent:
                if case .subProcess(.adHoc)? = parent {
                    problem(
                        &self, node.location,
                        "\(what) stands in ad-hoc sub-process '\(nodes[node.scope!].id)'; BPMN forbids start and end events in an ad-hoc sub-process"
                    )
                }
            default:
                break
            }
            if case .endEvent(.throwing(let triggers)) = node.kind, triggers.contains(.cancel),
                parent != .subProcess(.transaction)
            {
                problem(
                    &self, node.location,
                    "cancel \(what) is not directly inside a transaction; BPMN allows cancel end events only in a transaction sub-process"
                )
            }
            if case .catchEvent(let triggers, _) = node.kind {
                for case .link(let name) in triggers {
                    let sources = nodes.filter { $0.scope == node.scope && $0.kind == .throwEvent([.link(name)]) }
                    if sources.isEmpty {
                        problem(
                            &self, node.location,
                            "link catch event '\(node.id)' (link '\(name)') has no link throw event of the same name on its level; BPMN requires at least one source"
                        )
                    }
                }
            }
            if node.kind == .eventBasedGateway {
                for flow in node.outgoing {
                    let target = nodes[flows[flow].target]
                    if target.kind == .task(.receiveTask), !target.boundaryEvents.isEmpty {
                        problem(
                            &self, target.location,
                            "receive task '\(target.id)' follows event-based gateway '\(node.id)' and has boundary events; BPMN forbids attached events on receive tasks of an event gateway"
                        )
                    }
                }
            }
        }
        // A level with a start event has an end event, and one with an end event has a start event.
        let levels: [Int?] =
            [nil]
            + nodes.indices.filter {
                if case .subProcess(let kind) = nodes[$0].kind {
                    kind != .adHoc(sequential: true) && kind != .adHoc(sequential: false)
                } else {
                    false
                }
            }
        for level in levels {
            let inside = nodes.filter { $0.scope == level }
            let hasStart = inside.contains { if case .eventStart = $0.kind { true } else { $0.kind == .startEvent } }
            let hasEnd = inside.contains { if case .endEvent = $0.kind { true } else { false } }
            let owner = level.map { "\(nodes[$0].kind.elementName) '\(nodes[$0].id)'" } ?? "the process"
            let location = level.map { nodes[$0].location } ?? inside.first?.location
            if hasStart && !hasEnd, let location {
                problem(
                    &self, location,
                    "\(owner) has a start event but no end event; BPMN requires an end event where a start event is used"
                )
            } else if hasEnd && !hasStart, let location {
                problem(
                    &self, location,
                    "\(owner) has an end event but no start event; BPMN requires a start event where an end event is used"
                )
            }
        }
        for (i, node) in nodes.enumerated() {
            let what = "\(node.kind.elementName) '\(node.id)'"
            switch node.kind {
            case .catchEvent(let triggers, _):
                let link = triggers.contains { if case .link = $0 { true } else { false } }
                if !link && node.incoming.isEmpty {
                    problem(
                        &self, node.location,
                        "\(what) has no incoming sequence flow; BPMN requires one on an intermediate event (only a link catch event has none)"
                    )
                }
                if node.outgoing.isEmpty {
                    problem(
                        &self, node.location,
                        "\(what) has no outgoing sequence flow; BPMN requires one on an intermediate catch event")
                }
            case .throwEvent(let triggers), .endEvent(.throwing(let triggers)):
                let link = triggers.contains { if case .link = $0 { true } else { false } }
                if case .throwEvent = node.kind {
                    if node.incoming.isEmpty {
                        problem(
                            &self, node.location,
                            "\(what) has no incoming sequence flow; BPMN requires one on an intermediate throw event")
                    }
                    if link && !node.outgoing.isEmpty {
                        problem(
                            &self, node.location,
                            "link throw \(what) has outgoing sequence flows; BPMN continues a link at its catch event, so the throw event has none"
                        )
                    } else if !link && node.outgoing.isEmpty {
                        problem(
                            &self, node.location,
                            "\(what) has no outgoing sequence flow; BPMN requires one on an intermediate throw event (only a link throw event has none)"
                        )
                    }
                }
            case .intermediateEvent:
                if node.incoming.isEmpty || node.outgoing.isEmpty {
                    problem(
                        &self, node.location,
                        "\(what) needs an incoming and an outgoing sequence flow, as every intermediate event does")
                }
            case .subProcess(.adHoc):
                if !nodes.contains(where: { $0.scope == i && $0.kind.isActivity }) {
                    problem(
                        &self, node.location,
                        "ad-hoc sub-process '\(node.id)' contains no activity; BPMN requires at least one")
                }
            default:
                break
            }
        }
        for i in scan.instantiating where nodes[i].kind == .eventBasedGateway && !nodes[i].incoming.isEmpty {
            problem(
                &self, nodes[i].location,
                "event-based gateway '\(nodes[i].id)' instantiates the process and has incoming sequence flows; BPMN allows none on an instantiating gateway"
            )
        }
    }

    /// Rules about what nodes declare: their incoming/outgoing references, gateway directions,
    /// lone conditional flows, and nodes a started process could never reach.
    mutating func validateDeclarations(
        nodes: [FlowNode], flows: [SequenceFlow], scan: ProcessScan,
        problem: (inout ModelBuilder, SourceLocation, String) -> Void
    ) {
        for (i, node) in nodes.enumerated() {
            let what = "\(node.kind.elementName) '\(node.id)'"
            let incomingIDs = Set(node.incoming.map { flows[$0].id })
            let outgoingIDs = Set(node.outgoing.map { flows[$0].id })
            if let declared = scan.declaredIncoming[i], Set(declared) != incomingIDs {
                let missing = incomingIDs.subtracting(declared).sorted()
                let extra = Set(declared).subtracting(incomingIDs).sorted()
                problem(
                    &self, node.location,
                    "\(what) lists incoming flows \(declared) but the flows that target it are \(incomingIDs.sorted())\(missing.isEmpty ? "" : " (not listed: \(missing.joined(separator: ", ")))")\(extra.isEmpty ? "" : " (no such flow into it: \(extra.joined(separator: ", ")))"); BPMN requires them to agree"
                )
            }
            if let declared = scan.declaredOutgoing[i], Set(declared) != outgoingIDs {
                problem(
                    &self, node.location,
                    "\(what) lists outgoing flows \(declared) but the flows that leave it are \(outgoingIDs.sorted()); BPMN requires them to agree"
                )
            }
            switch scan.gatewayDirection[i] {
            case "Converging" where node.outgoing.count > 1:
                problem(
                    &self, node.location,
                    "converging \(what) has \(node.outgoing.count) outgoing flows; a converging gateway has at most one"
                )
            case "Diverging" where node.incoming.count > 1:
                problem(
                    &self, node.location,
                    "diverging \(what) has \(node.incoming.count) incoming flows; a diverging gateway has at most one")
            case "Diverging" where node.outgoing.count < 2:
                problem(
                    &self, node.location,
                    "diverging \(what) has \(node.outgoing.count) outgoing flow(s); a diverging gateway has more than one"
                )
            case "Converging" where node.incoming.count < 2:
                problem(
                    &self, node.location,
                    "converging \(what) has \(node.incoming.count) incoming flow(s); a converging gateway has more than one"
                )
            case "Mixed" where node.incoming.count < 2 || node.outgoing.count < 2:
                problem(
                    &self, node.location,
                    "mixed \(what) has \(node.incoming.count) incoming and \(node.outgoing.count) outgoing flows; a mixed gateway needs more than one of each"
                )
            case _ where node.kind.isGateway && node.incoming.count == 1 && node.outgoing.count == 1:
                problem(
                    &self, node.location,
                    "\(what) has one incoming and one outgoing flow; BPMN requires a gateway to split or join (more than one of either)"
                )
            default:
                break
            }
            if node.kind.isActivity, node.outgoing.count == 1, flows[node.outgoing[0]].condition != nil {
                problem(
                    &self, node.location,
                    "\(what) has a single outgoing flow '\(flows[node.outgoing[0]].id)' and it is conditional; BPMN requires an activity's conditional flows to come with others"
                )
            }
            // With a start event, a node without incoming flow could never run.
            let needsIncoming: Bool
            switch node.kind {
            case .startEvent, .eventStart, .boundary, .subProcess(.event): needsIncoming = false
            case .catchEvent(let triggers, _)
            where triggers.contains(where: { if case .link = $0 { true } else { false } }): needsIncoming = false
            case _ where node.isForCompensation || node.instantiate: needsIncoming = false
            case _
            where node.scope.map({ if case .subProcess(.adHoc) = nodes[$0].kind { true } else { false } }) ?? false:
                needsIncoming = false
            case .unsupported: needsIncoming = false  // already reported as unsupported
            default: needsIncoming = true
            }
            if needsIncoming, node.incoming.isEmpty,
                nodes.contains(where: { $0.scope == node.scope && $0.kind == .startEvent })
            {
                problem(
                    &self, node.location,
                    "\(what) has no incoming sequence flow, but its \(node.scope == nil ? "process" : "sub-process") starts at a start event, so it could never run"
                )
            }
        }
    }

    // MARK: - Flow elements

    static let ignoredElements: Set<String> = [
        "documentation", "extensionElements", "textAnnotation", "group", "dataObject",
        "dataObjectReference", "dataStoreReference", "property", "ioSpecification", "dataInputAssociation",
        "dataOutputAssociation", "auditing", "monitoring", "incoming", "outgoing", "categoryValue",
        "resourceRole", "performer", "humanPerformer", "potentialOwner", "rendering", "dataInput", "dataOutput",
        "inputSet", "outputSet", "supportedInterfaceRef", "ioBinding", "correlationSubscription",
    ]

    mutating func unsupported(
        _ element: XMLElement, id: String?, location: SourceLocation, detail: String = "", into scan: inout ProcessScan
    ) {
        let message = "unsupported element '\(element.localName)'\(detail) (id \(id ?? "?"))"
        if scan.executable {
            error(location, message)
        } else {
            warning(location, message + " in a process that is not executable")
            scan.deferred.append(.error(at: location, message))
        }
    }

    mutating func addNode(_ node: FlowNode, into scan: inout ProcessScan) -> Int {
        scan.nodes.append(node)
        return scan.nodes.count - 1
    }

    /// The event definitions of an event element (inline or by `eventDefinitionRef`), as
    /// triggers. Definitions outside `allowed` (element names without "EventDefinition") are
    /// refused with the element named. `terminate` is returned as no trigger, for end events.
    mutating func readTriggers(
        _ element: XMLElement, id: String, allowed: Set<String>, into scan: inout ProcessScan
    ) -> (triggers: [EventTrigger], terminate: Bool, ok: Bool) {
        var triggers: [EventTrigger] = []
        var terminate = false
        var ok = true
        for child in element.children where child.isInBPMN {
            guard child.localName.hasSuffix("EventDefinition") || child.localName == "eventDefinitionRef" else {
                continue
            }
            let location = index.locate(child)
            var definition = child
            if child.localName == "eventDefinitionRef" {
                let ref = stripPrefix(child.text)
                guard let root = rootEventDefinitions[ref] else {
                    structural(
                        location,
                        "\(element.localName) '\(id)' refers to event definition '\(ref)', which is not declared at the root of this file",
                        &scan)
                    ok = false
                    continue
                }
                definition = root
            }
            let kind = String(definition.localName.dropLast("EventDefinition".count))
            guard allowed.contains(kind) else {
                let list = allowed.sorted().joined(separator: ", ")
                structural(
                    location,
                    "\(element.localName) '\(id)' has a \(kind) event definition; BPMN allows \(list.isEmpty ? "none" : list) on this \(element.localName)",
                    &scan)
                ok = false
                continue
            }
            switch kind {
            case "message":
                let ref = definition.attribute("messageRef").map(stripPrefix)
                triggers.append(.message(ref.map { messageNames[$0] ?? $0 } ?? ""))
            case "signal":
                let ref = definition.attribute("signalRef").map(stripPrefix)
                triggers.append(.signal(ref.map { signalNames[$0] ?? $0 } ?? ""))
            case "timer":
                guard let timer = readTimer(definition, nodeID: id, scan: &scan) else {
                    ok = false
                    continue
                }
                triggers.append(.timer(timer))
            case "error":
                triggers.append(.error(code: errorCode(definition.attribute("errorRef"))))
            case "escalation":
                triggers.append(
                    .escalation(
                        code: definition.attribute("escalationRef").map {
                            escalationCodes[stripPrefix($0)] ?? stripPrefix($0)
                        }))
            case "conditional":
                let condition = definition.children.first { $0.isBPMN("condition") }
                let text = condition?.text ?? ""
                guard !text.trimmingWhitespace().isEmpty else {
                    structural(
                        location, "conditional event '\(id)' has no condition; BPMN requires a condition expression",
                        &scan)
                    ok = false
                    continue
                }
                do {
                    triggers.append(.conditional(try FEELExpression(text, bare: options.bareConditions)))
                } catch {
                    structural(
                        condition.map { index.locate($0) } ?? location,
                        parseFailure("the condition of conditional event '\(id)'", error, in: text), &scan)
                    ok = false
                }
            case "cancel":
                triggers.append(.cancel)
            case "compensate":
                triggers.append(.compensate(activity: definition.attribute("activityRef").map(stripPrefix)))
            case "link":
                triggers.append(.link(definition.attribute("name") ?? element.attribute("name") ?? ""))
            case "terminate":
                terminate = true
            default:
                unsupported(child, id: id, location: location, detail: " in \(element.localName)", into: &scan)
                ok = false
            }
        }
        return (triggers, terminate, ok)
    }

    mutating func scanFlowElements(_ container: XMLElement, scope: Int?, into scan: inout ProcessScan) {
        for element in container.children {
            guard element.isInBPMN else { continue }
            let name = element.localName
            if name == "laneSet" {
                scanLaneSet(element, into: &scan)
                continue
            }
            if ModelBuilder.ignoredElements.contains(name) || name.hasSuffix("LoopCharacteristics") {
                continue
            }
            let location = index.locate(element)
            let id = element.attribute("id")
            register(id: id, location, element: name)
            if id == nil || id!.isEmpty {
                error(location, "'\(element.qualifiedName)' has no id")
                continue
            }
            let nodeID = id!
            let label = element.attribute("name")
            let countBefore = scan.nodes.count
            for attribute in ["startQuantity", "completionQuantity"] {
                if let text = element.attribute(attribute), (Int(text.trimmingWhitespace()) ?? 0) < 1 {
                    structural(
                        location,
                        "\(name) '\(nodeID)' has \(attribute)=\"\(text)\"; BPMN requires a whole number of at least 1",
                        &scan)
                }
            }
            defer {
                if scan.nodes.count > countBefore, scan.nodes[countBefore].id == nodeID {
                    var declaredIn: [String] = []
                    var declaredOut: [String] = []
                    for child in element.children where child.isInBPMN {
                        if child.isBPMN("incoming") {
                            declaredIn.append(stripPrefix(child.text))
                        } else if child.isBPMN("outgoing") {
                            declaredOut.append(stripPrefix(child.text))
                        }
                    }
                    if !declaredIn.isEmpty { scan.declaredIncoming[countBefore] = declaredIn }
                    if !declaredOut.isEmpty { scan.declaredOutgoing[countBefore] = declaredOut }
                    if name.hasSuffix("Gateway") {
                        if let direction = element.attribute("gatewayDirection") {
                            scan.gatewayDirection[countBefore] = direction
                        }
                        if element.attribute("instantiate")?.trimmingWhitespace() == "true" {
                            scan.instantiating.insert(countBefore)
                        }
                    }
                }
            }
            func node(_ kind: NodeKind) -> FlowNode {
                FlowNode(id: nodeID, name: label, kind: kind, location: location, scope: scope)
            }

            switch name {
            case "sequenceFlow":
                var pending = PendingFlow(
                    id: nodeID, name: label, sourceRef: element.attribute("sourceRef"),
                    targetRef: element.attribute("targetRef"),
                    scope: scope, location: location)
                for child in element.children where child.isBPMN("conditionExpression") {
                    let conditionLocation = index.locate(child)
                    let text = child.text
                    if !text.trimmingWhitespace().isEmpty {
                        pending.condition = (text, conditionLocation, child.attribute("language"))
                    } else {
                        structural(
                            conditionLocation,
                            "sequence flow '\(nodeID)' has an empty conditionExpression; a formal expression needs a body",
                            &scan)
                    }
                }
                scan.flows.append(pending)

            case "startEvent":
                let inEventSubProcess = scope.map { scan.nodes[$0].kind == .subProcess(.event) } ?? false
                let allowed: Set<String> =
                    inEventSubProcess
                    ? ["message", "signal", "timer", "conditional", "error", "escalation", "compensate"]
                    : scope == nil ? ["message", "signal", "timer", "conditional"] : []
                let read = readTriggers(element, id: nodeID, allowed: allowed, into: &scan)
                if read.triggers.isEmpty {
                    if inEventSubProcess && read.ok {
                        structural(
                            location,
                            "start event '\(nodeID)' of an event sub-process has no event definition; BPMN requires a triggered start event there",
                            &scan)
                    }
                    _ = addNode(node(.startEvent), into: &scan)
                } else {
                    let interrupting = element.attribute("isInterrupting")?.trimmingWhitespace() != "false"
                    _ = addNode(node(.eventStart(triggers: read.triggers, interrupting: interrupting)), into: &scan)
                }

            case "endEvent":
                let read = readTriggers(
                    element, id: nodeID,
                    allowed: ["terminate", "error", "message", "signal", "escalation", "cancel", "compensate"],
                    into: &scan)
                var kind = EndEventKind.none
                if read.terminate {
                    kind = .terminate
                } else if case .error(let code)? = read.triggers.first {
                    kind = .error(code: code)
                } else if !read.triggers.isEmpty {
                    kind = .throwing(read.triggers)
                }
                _ = addNode(node(.endEvent(kind)), into: &scan)

            case "intermediateThrowEvent":
                let read = readTriggers(
                    element, id: nodeID, allowed: ["message", "signal", "escalation", "compensate", "link"], into: &scan
                )
                _ = addNode(node(read.triggers.isEmpty ? .intermediateEvent : .throwEvent(read.triggers)), into: &scan)

            case "eventBasedGateway":
                _ = addNode(node(.eventBasedGateway), into: &scan)

            case "callActivity":
                var called = element.attribute("calledElement").map(stripPrefix) ?? ""
                var reported = false
                if called.isEmpty, let zeebe = zeebeCalledElement(element) {
                    // Camunda 8 writes the called process as `<zeebe:calledElement processId="…">`;
                    // an expression (`="…"` of a literal aside) chooses it when the instance runs.
                    var processID = zeebe.trimmingWhitespace()
                    if processID.hasPrefix("=") {
                        let expression = String(processID.dropFirst()).trimmingWhitespace()
                        if expression.count >= 2, expression.hasPrefix("\""), expression.hasSuffix("\"") {
                            processID = String(expression.dropFirst().dropLast())
                        } else {
                            structural(
                                location,
                                "call activity '\(nodeID)' chooses the process it calls by the expression '\(zeebe)' (zeebe:calledElement); procrun calls a process named by its id",
                                &scan)
                            processID = ""
                            reported = true
                        }
                    }
                    called = processID
                }
                var call: FlowNode
                if let global = globalTasks[called] {
                    // A call to a global task runs that task here.
                    let kind =
                        TaskKind(rawValue: String(global.localName.dropFirst("global".count)).lowercasedFirst) ?? .task
                    call = node(.task(kind))
                    if kind == .scriptTask { readScript(global, into: &call, scan: &scan) }
                } else {
                    if called.isEmpty && !reported {
                        structural(
                            location,
                            "call activity '\(nodeID)' has no calledElement; BPMN requires the process or global task it calls",
                            &scan)
                    }
                    call = node(.subProcess(.call(calledElement: called)))
                }
                call.mappings = readMappings(element, connector: false)
                (call.loop, call.multiInstance) = checkLoop(element, id: nodeID, into: &scan)
                call.isForCompensation = element.attribute("isForCompensation") == "true"
                let index = addNode(call, into: &scan)
                if let ref = element.attribute("default") { scan.defaultRefs.append((index, ref)) }

            case "task", "userTask", "manualTask", "serviceTask", "sendTask", "receiveTask", "scriptTask",
                "businessRuleTask":
                var taskNode = node(.task(TaskKind(rawValue: name)!))
                taskNode.startQuantity = max(
                    1, Int(element.attribute("startQuantity")?.trimmingWhitespace() ?? "") ?? 1)
                taskNode.completionQuantity = max(
                    1, Int(element.attribute("completionQuantity")?.trimmingWhitespace() ?? "") ?? 1)
                readAssignment(element, into: &taskNode)
                taskNode.isForCompensation = element.attribute("isForCompensation") == "true"
                if name == "sendTask" || name == "receiveTask",
                    let ref = element.attribute("messageRef").map(stripPrefix)
                {
                    taskNode.message = messageNames[ref] ?? ref
                    taskNode.instantiate =
                        name == "receiveTask" && element.attribute("instantiate")?.trimmingWhitespace() == "true"
                }
                // Children are located in document order: extensionElements, then loop
                // characteristics, then the script.
                if let (integration, readerElement) = readIntegration(element) {
                    if ["serviceTask", "sendTask", "task"].contains(name) {
                        taskNode.integration = integration
                    } else {
                        error(
                            readerElement.location,
                            "\(readerElement.qualifiedName) on \(name) '\(nodeID)'; an integration node is a serviceTask, sendTask or task"
                        )
                    }
                }
                if taskNode.integration == nil, let foreign = foreignImplementation(element, task: name) {
                    taskNode.skippedImplementation = foreign
                    if scan.executable {
                        let message = "\(name) '\(nodeID)' has \(foreign), which procrun cannot run"
                        if options.strict {
                            error(
                                location,
                                message + "; --strict refuses it (without --strict the task is skipped, with a warning)"
                            )
                        } else {
                            warning(location, message + "; the task is skipped (it passes through doing nothing)")
                        }
                    }
                }
                taskNode.mappings = readMappings(
                    element, connector: taskNode.integration?.config is RESTConnectorConfig)
                (taskNode.loop, taskNode.multiInstance) = checkLoop(element, id: nodeID, into: &scan)
                if name == "scriptTask" {
                    readScript(element, into: &taskNode, scan: &scan)
                }
                let index = addNode(taskNode, into: &scan)
                if let ref = element.attribute("default") { scan.defaultRefs.append((index, ref)) }

            case "exclusiveGateway", "parallelGateway", "inclusiveGateway", "complexGateway":
                let kind: NodeKind =
                    switch name {
                    case "exclusiveGateway": .exclusiveGateway
                    case "parallelGateway": .parallelGateway
                    case "inclusiveGateway": .inclusiveGateway
                    default: .complexGateway
                    }
                var gateway = node(kind)
                if let activation = element.children.first(where: { $0.isBPMN("activationCondition") }) {
                    let activationLocation = index.locate(activation)
                    do {
                        gateway.activationCondition = try FEELExpression(activation.text, bare: options.bareConditions)
                    } catch {
                        structural(
                            activationLocation,
                            parseFailure("the activationCondition of '\(nodeID)'", error, in: activation.text), &scan)
                    }
                }
                let index = addNode(gateway, into: &scan)
                if let ref = element.attribute("default") {
                    if kind == .parallelGateway {
                        error(
                            location,
                            "parallel gateway '\(nodeID)' has a default flow; only exclusive and inclusive gateways have one"
                        )
                    } else {
                        scan.defaultRefs.append((index, ref))
                    }
                }

            case "subProcess", "transaction", "adHocSubProcess":
                let kind: SubProcessKind
                if element.attribute("triggeredByEvent")?.trimmingWhitespace() == "true" {
                    kind = .event
                } else if name == "transaction" {
                    kind = .transaction
                } else if name == "adHocSubProcess" {
                    kind = .adHoc(sequential: element.attribute("ordering") == "Sequential")
                } else {
                    kind = .embedded
                }
                var subProcess = node(.subProcess(kind))
                subProcess.mappings = readMappings(element, connector: false)
                (subProcess.loop, subProcess.multiInstance) = checkLoop(element, id: nodeID, into: &scan)
                subProcess.isForCompensation = element.attribute("isForCompensation") == "true"
                let index = addNode(subProcess, into: &scan)
                if let ref = element.attribute("default") { scan.defaultRefs.append((index, ref)) }
                scanFlowElements(element, scope: index, into: &scan)

            case "intermediateCatchEvent":
                let read = readTriggers(
                    element, id: nodeID, allowed: ["message", "signal", "timer", "conditional", "link"], into: &scan)
                if read.triggers.isEmpty && read.ok {
                    structural(
                        location,
                        "intermediate catch event '\(nodeID)' has no event definition; BPMN requires one (message, signal, timer, conditional or link)",
                        &scan)
                }
                let parallel = element.attribute("parallelMultiple")?.trimmingWhitespace() == "true"
                _ = addNode(
                    node(
                        read.triggers.isEmpty
                            ? .unsupported(element: name) : .catchEvent(triggers: read.triggers, parallel: parallel)),
                    into: &scan)

            case "boundaryEvent":
                let read = readTriggers(
                    element, id: nodeID,
                    allowed: [
                        "message", "signal", "timer", "error", "escalation", "conditional", "cancel", "compensate",
                    ],
                    into: &scan)
                guard let attachedTo = element.attribute("attachedToRef") else {
                    error(location, "boundary event '\(nodeID)' has no attachedToRef")
                    continue
                }
                if read.triggers.isEmpty {
                    if read.ok {
                        structural(
                            location, "boundary event '\(nodeID)' has no event definition; BPMN requires one", &scan)
                    }
                    _ = addNode(node(.unsupported(element: name)), into: &scan)
                    continue
                }
                // Error and cancel boundary events always interrupt.
                let interrupts = read.triggers.contains {
                    switch $0 {
                    case .error, .cancel, .compensate: true
                    default: false
                    }
                }
                let cancel = interrupts || element.attribute("cancelActivity")?.trimmingWhitespace() != "false"
                if interrupts, element.attribute("cancelActivity")?.trimmingWhitespace() == "false" {
                    structural(
                        location,
                        "boundary event '\(nodeID)' catches \(read.triggers[0].name) with cancelActivity=\"false\"; BPMN requires error, cancel and compensation boundary events to have cancelActivity=\"true\"",
                        &scan)
                }
                let index = addNode(
                    node(.boundary(attachedTo: -1, triggers: read.triggers, cancelActivity: cancel)), into: &scan)
                scan.attachments.append((index, attachedTo))

            case "association":
                if let source = element.attribute("sourceRef"), let target = element.attribute("targetRef") {
                    scan.associations.append((stripPrefix(source), stripPrefix(target)))
                }

            default:
                // Every other BPMN flow element (complexGateway, eventBasedGateway, callActivity,
                // transaction, adHocSubProcess, intermediateCatchEvent, …) is known to BPMN but not run yet.
                unsupported(element, id: id, location: location, into: &scan)
                _ = addNode(node(.unsupported(element: name)), into: &scan)
            }
        }
    }

    /// Reads timeDuration / timeDate / timeCycle; a value procrun cannot read is an error.
    mutating func readTimer(_ definition: XMLElement, nodeID: String, scan: inout ProcessScan) -> TimerDefinition? {
        var texts: [String: String] = [:]
        var location = SourceLocation(file: file, line: definition.line, column: 1)
        for child in definition.children where child.isInBPMN {
            let childLocation = index.locate(child)
            if texts.isEmpty { location = childLocation }
            texts[child.localName] = child.text
        }
        if let timer = TimerDefinition(
            duration: texts["timeDuration"], date: texts["timeDate"], cycle: texts["timeCycle"])
        {
            return timer
        }
        let given = texts.map { "\($0.key) '\($0.value.trimmingWhitespace())'" }.sorted().joined(separator: ", ")
        let message =
            "timer of '\(nodeID)' has \(given.isEmpty ? "no value" : given); procrun reads an ISO-8601 timeDuration (PT10S), timeDate (2026-12-01T10:00:00Z) or timeCycle (R3/PT10S)"
        if scan.executable {
            error(location, message)
        } else {
            warning(location, message)
            scan.deferred.append(.error(at: location, message))
        }
        return nil
    }

    func errorCode(_ ref: String?) -> String? {
        guard let ref else { return nil }
        return errorCodes[ref] ?? errorCodes[stripPrefix(ref)] ?? stripPrefix(ref)
    }

    /// Reads standard loop and multi-instance characteristics.
    mutating func checkLoop(_ element: XMLElement, id: String, into scan: inout ProcessScan) -> (
        StandardLoop?, MultiInstance?
    ) {
        var loop: StandardLoop?
        var multi: MultiInstance?
        for child in element.children
        where child.isInBPMN && child.localName.hasSuffix("LoopCharacteristics") {
            let location = index.locate(child)
            if child.localName == "multiInstanceLoopCharacteristics" {
                multi = readMultiInstance(child, id: id, location: location, scan: &scan)
                continue
            }
            guard child.localName == "standardLoopCharacteristics" else {
                unsupported(child, id: id, location: location, into: &scan)
                continue
            }
            var maximum: Int?
            if let text = child.attribute("loopMaximum") {
                guard let value = Int(text.trimmingWhitespace()), value >= 0 else {
                    structural(
                        location,
                        "loop of '\(id)' has loopMaximum=\"\(text)\"; BPMN requires a whole number that is not negative",
                        &scan)
                    continue
                }
                maximum = value
            }
            var condition: FEELExpression?
            if let conditionElement = child.children.first(where: { $0.isBPMN("loopCondition") }) {
                let conditionLocation = index.locate(conditionElement)
                let text = conditionElement.text
                if !text.trimmingWhitespace().isEmpty {
                    do {
                        condition = try FEELExpression(text, bare: options.bareConditions)
                    } catch {
                        structural(
                            conditionLocation, parseFailure("the loop condition of '\(id)'", error, in: text), &scan)
                    }
                }
            }
            loop = StandardLoop(
                condition: condition, testBefore: child.attribute("testBefore")?.trimmingWhitespace() == "true",
                maximum: maximum)
        }
        return (loop, multi)
    }

    /// A multi-instance activity procrun can run has a `loopCardinality` (collections and
    /// behaviour events are not run yet).
    mutating func readMultiInstance(
        _ element: XMLElement, id: String, location: SourceLocation, scan: inout ProcessScan
    ) -> MultiInstance? {
        var cardinality: FEELExpression?
        var completion: FEELExpression?
        var complexBehaviors: [ComplexBehavior] = []
        var ok = true
        for child in element.children where child.isInBPMN {
            let childLocation = index.locate(child)
            let text = child.text.trimmingWhitespace()
            switch child.localName {
            case "loopCardinality", "completionCondition":
                guard !text.isEmpty else { continue }
                do {
                    let expression = try FEELExpression(text, bare: options.bareConditions)
                    if child.localName == "loopCardinality" {
                        if case .number(let n)? = try? expression.evaluate(in: JSONObject()) {
                            if n < 0 || n != n.rounded() {
                                structural(
                                    childLocation,
                                    "multi-instance '\(id)' has loopCardinality \(text); BPMN requires a whole number that is not negative",
                                    &scan)
                                ok = false
                            } else if n > Double(MultiInstance.maximumCardinality) {
                                structural(
                                    childLocation,
                                    "multi-instance '\(id)' has loopCardinality \(text), more than the limit of \(MultiInstance.maximumCardinality) instances procrun runs of one activity",
                                    &scan)
                                ok = false
                            }
                        }
                        cardinality = expression
                    } else {
                        completion = expression
                    }
                } catch {
                    structural(childLocation, parseFailure("the \(child.localName) of '\(id)'", error, in: text), &scan)
                    ok = false
                }
            case "complexBehaviorDefinition":
                if let behavior = readComplexBehavior(child, id: id, location: childLocation, scan: &scan) {
                    complexBehaviors.append(behavior)
                } else {
                    ok = false
                }
            case "loopDataInputRef", "inputDataItem", "loopDataOutputRef", "outputDataItem":
                unsupported(
                    child, id: id, location: childLocation, detail: " in multiInstanceLoopCharacteristics", into: &scan)
                ok = false
            default:
                break
            }
        }
        var behaviorEvent: EventTrigger?
        let behavior = element.attribute("behavior")?.trimmingWhitespace() ?? "All"
        if behavior == "None" || behavior == "One" {
            let attribute = behavior == "None" ? "noneBehaviorEventRef" : "oneBehaviorEventRef"
            if let ref = element.attribute(attribute).map(stripPrefix) {
                if let definition = rootEventDefinitions[ref], definition.localName == "signalEventDefinition" {
                    let signal = definition.attribute("signalRef").map(stripPrefix)
                    behaviorEvent = .signal(signal.map { signalNames[$0] ?? $0 } ?? "")
                } else {
                    unsupported(
                        element, id: id, location: location,
                        detail:
                            " with \(attribute) '\(ref)' (procrun throws signal event definitions declared at the root)",
                        into: &scan)
                    ok = false
                }
            }
        }
        guard ok else { return nil }
        guard let cardinality else {
            unsupported(element, id: id, location: location, detail: " without a loopCardinality", into: &scan)
            return nil
        }
        var multi = MultiInstance(
            cardinality: cardinality, sequential: element.attribute("isSequential")?.trimmingWhitespace() == "true",
            completionCondition: completion)
        multi.behaviorEvent = behaviorEvent
        multi.behaviorOnce = behavior == "One"
        multi.complexBehaviors = behavior == "Complex" ? complexBehaviors : []
        return multi
    }

    /// A `complexBehaviorDefinition`: its `condition` and the signal its `event` throws.
    mutating func readComplexBehavior(
        _ element: XMLElement, id: String, location: SourceLocation, scan: inout ProcessScan
    ) -> ComplexBehavior? {
        let conditionText = element.children.first { $0.isBPMN("condition") }?.text ?? ""
        let condition: FEELExpression
        do {
            condition = try FEELExpression(conditionText.isEmpty ? "true" : conditionText, bare: options.bareConditions)
        } catch {
            structural(
                location, parseFailure("the complexBehaviorDefinition condition of '\(id)'", error, in: conditionText),
                &scan)
            return nil
        }
        guard let event = element.children.first(where: { $0.isBPMN("event") }) else {
            structural(
                location, "complexBehaviorDefinition of '\(id)' has no event; BPMN requires the event it throws", &scan)
            return nil
        }
        let read = readTriggers(event, id: id, allowed: ["signal"], into: &scan)
        guard read.ok, let trigger = read.triggers.first else {
            if read.ok {
                unsupported(element, id: id, location: location, detail: " without a signal event", into: &scan)
            }
            return nil
        }
        return ComplexBehavior(condition: condition, event: trigger)
    }

    /// What a service, send or business rule task of Camunda 7 (or Activiti, Flowable) or
    /// Camunda 8 (Zeebe) names as its implementation, which procrun cannot run: a Java class,
    /// delegate or expression, an external task topic, a DMN decision, a job type, or a connector.
    /// Nil when it names none.
    func foreignImplementation(_ element: XMLElement, task: String) -> String? {
        guard ["serviceTask", "sendTask", "businessRuleTask", "task"].contains(task) else { return nil }
        let dialects = [
            ("camunda", Namespaces.camunda), ("activiti", Namespaces.activiti), ("flowable", Namespaces.flowable),
        ]
        for (prefix, namespace) in dialects {
            for attribute in ["class", "delegateExpression", "expression", "decisionRef"] {
                if let value = element.attribute(attribute, namespace: namespace) {
                    return "\(prefix):\(attribute) '\(value)'"
                }
            }
        }
        if element.attribute("type", namespace: Namespaces.camunda) == "external" {
            return
                "camunda:type 'external' (topic '\(element.attribute("topic", namespace: Namespaces.camunda) ?? "")')"
        }
        for child in element.children where child.isBPMN("extensionElements") {
            for ext in child.children {
                if ext.namespace == Namespaces.zeebe && ext.localName == "taskDefinition" {
                    return "zeebe:taskDefinition type '\(ext.attribute("type") ?? "")'"
                }
                if ext.namespace == Namespaces.zeebe && ext.localName == "calledDecision" {
                    return "zeebe:calledDecision '\(ext.attribute("decisionId") ?? "")'"
                }
                if ext.namespace == Namespaces.camunda && ext.localName == "connector" {
                    let id = ext.children.first { $0.localName == "connectorId" }?.text.trimmingWhitespace() ?? ""
                    return "camunda:connector '\(id)'"
                }
            }
        }
        return nil
    }

    /// `<zeebe:calledElement processId="…"/>` of a call activity, if any.
    func zeebeCalledElement(_ element: XMLElement) -> String? {
        for child in element.children where child.isBPMN("extensionElements") {
            for ext in child.children where ext.namespace == Namespaces.zeebe && ext.localName == "calledElement" {
                return ext.attribute("processId")
            }
        }
        return nil
    }

    /// The integration node a task's extension elements make it, read by the reader that owns
    /// one of them (the library user's `LoadOptions.readers` first, then procrun's own), with
    /// the element read; nil when none does. Its `<procrun:onError>` is read here, the same for
    /// every type. Errors are reported; a node with errors is nil (the file is refused anyway).
    mutating func readIntegration(_ element: XMLElement) -> (IntegrationNode?, ExtensionElement)? {
        // The user's readers first: one of theirs may take an element procrun reads too.
        let readers = options.readers.reversed() + IntegrationReaders.builtIn
        func owners(_ namespace: String?, _ localName: String) -> [any IntegrationReader] {
            guard let namespace else { return [] }
            return readers.filter { $0.namespace == namespace && $0.localName == localName }
        }
        for child in element.children where child.isBPMN("extensionElements") {
            guard child.children.contains(where: { !owners($0.namespace, $0.localName).isEmpty }) else { continue }
            // Read once, in document order (locations are found moving forward through the file).
            let all = child.children.map { extensionElement($0) }
            var found: (node: IntegrationNode?, element: ExtensionElement)?
            for (index, read) in all.enumerated() {
                var main = read
                main.children.removeAll { $0.namespace == Namespaces.procrun && $0.localName == "onError" }
                let siblings = all.indices.filter { $0 != index }.map { all[$0] }
                for reader in owners(read.namespace, read.localName) {
                    var diagnostics = ReaderDiagnostics()
                    var node = reader.read(main, siblings: siblings, diagnostics: &diagnostics)
                    self.diagnostics += diagnostics.diagnostics
                    // Not this reader's after all (a Zeebe task type it does not run): the next one's.
                    if node == nil && !diagnostics.hasErrors { continue }
                    let readerFailed = diagnostics.hasErrors
                    diagnostics = ReaderDiagnostics()
                    let onErrors = read.children(Namespaces.procrun, "onError")
                    if onErrors.count > 1 {
                        diagnostics.error(
                            onErrors[1].location, "\(read.qualifiedName) has more than one procrun:onError")
                    }
                    if let onError = onErrors.first {
                        if node?.config is NotifyConfig {
                            diagnostics.error(
                                onError.location,
                                "procrun:notify takes no procrun:onError: a notification does not fail the process (the outbox retries its delivery)"
                            )
                        } else {
                            node?.onError = ReaderSupport.onError(onError, diagnostics: &diagnostics)
                        }
                    }
                    if let first = found {
                        diagnostics.error(
                            read.location,
                            "\(read.qualifiedName) is a second integration element of this task, which has \(first.element.qualifiedName) already; a task runs one"
                        )
                    }
                    self.diagnostics += diagnostics.diagnostics
                    let failed = readerFailed || diagnostics.hasErrors || node == nil
                    if found == nil { found = (failed ? nil : node, read) } else { found?.node = nil }
                    break
                }
            }
            return found.map { ($0.node, $0.element) }
        }
        return nil
    }

    /// An element of the tree as a reader sees it, with its descendants.
    mutating func extensionElement(_ element: XMLElement) -> ExtensionElement {
        let location = index.locate(element)
        let attributes = element.attributes.map {
            ExtensionElement.Attribute(namespace: $0.namespace, name: $0.name, value: $0.value)
        }
        return ExtensionElement(
            namespace: element.namespace, localName: element.localName, qualifiedName: element.qualifiedName,
            attributes: attributes, children: element.children.map { extensionElement($0) }, text: element.text,
            location: location)
    }

    /// Reads who performs a user task: Camunda 7 attributes, Zeebe's assignmentDefinition, or a
    /// BPMN humanPerformer / potentialOwner expression.
    func readAssignment(_ element: XMLElement, into node: inout FlowNode) {
        func list(_ text: String?) -> [String] {
            (text ?? "").split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
        }
        node.assignee = element.attribute("assignee", namespace: Namespaces.camunda)
        node.candidateUsers = list(element.attribute("candidateUsers", namespace: Namespaces.camunda))
        node.candidateGroups = list(element.attribute("candidateGroups", namespace: Namespaces.camunda))
        for child in element.children {
            if child.isBPMN("extensionElements") {
                for ext in child.children
                where ext.namespace == Namespaces.zeebe && ext.localName == "assignmentDefinition" {
                    node.assignee = node.assignee ?? ext.attribute("assignee")
                    node.candidateUsers += list(ext.attribute("candidateUsers"))
                    node.candidateGroups += list(ext.attribute("candidateGroups"))
                }
            } else if child.isBPMN("humanPerformer") || child.isBPMN("potentialOwner") {
                let text = child.text.trimmingWhitespace()
                if !text.isEmpty {
                    if child.isBPMN("humanPerformer") {
                        node.assignee = node.assignee ?? text
                    } else {
                        node.candidateUsers += list(text)
                    }
                }
            }
        }
    }

    mutating func readScript(_ element: XMLElement, into node: inout FlowNode, scan: inout ProcessScan) {
        guard let scriptElement = element.children.first(where: { $0.isBPMN("script") }) else { return }
        let scriptLocation = index.locate(scriptElement)
        node.scriptText = scriptElement.text
        node.scriptFormat = element.attribute("scriptFormat")
        if options.opaqueScripts { return }
        let format = element.attribute("scriptFormat")?.lowercased() ?? "feel"
        guard ["feel", "text/x-feel", "application/feel"].contains(format) else {
            warning(
                scriptLocation,
                "script of '\(node.id)' is in '\(format)', which procrun does not run; the task completes without running it (write FEEL assignments, 'name = expression' per line)"
            )
            return
        }
        do {
            node.script = try FEELScript(scriptElement.text)
        } catch {
            let message =
                error.isNestedTooDeeply
                ? ExpressionError.nestedTooDeeply(offset: nil).message
                : "cannot parse the script of '\(node.id)': \(error.message)"
            if scan.executable {
                self.error(scriptLocation, message)
            } else {
                warning(scriptLocation, message)
                scan.deferred.append(.error(at: scriptLocation, message))
            }
        }
    }

    mutating func scanLaneSet(_ laneSet: XMLElement, into scan: inout ProcessScan) {
        for lane in laneSet.children where lane.isBPMN("lane") {
            let location = index.locate(lane)
            register(id: lane.attribute("id"), location, element: "lane")
            let name = lane.attribute("name")
            scan.lanes.append(Lane(id: lane.attribute("id") ?? "", name: name, location: location))
            for child in lane.children {
                if child.isBPMN("flowNodeRef"), let name {
                    scan.laneOf[stripPrefix(child.text)] = name
                } else if child.isBPMN("childLaneSet") {
                    scanLaneSet(child, into: &scan)
                }
            }
        }
    }
}

extension String {
    /// "ScriptTask" → "scriptTask".
    var lowercasedFirst: String { prefix(1).lowercased() + dropFirst() }
}
