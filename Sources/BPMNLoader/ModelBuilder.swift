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
    var seenIDs: [String: SourceLocation] = [:]
    /// errorRef id → error code.
    var errorCodes: [String: String] = [:]
    /// escalationRef id → escalation code; signalRef / messageRef id → name.
    var escalationCodes: [String: String] = [:]
    var signalNames: [String: String] = [:]
    var messageNames: [String: String] = [:]
    /// By message name: Zeebe's subscription correlation key.
    var correlationKeys: [String: FEELExpression] = [:]
    /// Global tasks (`globalScriptTask`, …) a call activity may call, by id.
    var globalTasks: [String: XMLElement] = [:]
    /// Event definitions declared at the root of the file, by id (for `eventDefinitionRef`).
    var rootEventDefinitions: [String: XMLElement] = [:]
    var targetNamespacePrefixes: Set<String> = []

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

    /// The loader's one policy for a broken BPMN rule: an error in an executable process; in
    /// another, a warning, and an error kept in `deferred` for when the process is run (`run`
    /// refuses it then). Every rule of a process reports through here.
    mutating func brokenRule(
        _ location: SourceLocation, _ message: String, executable: Bool, deferred: inout [Diagnostic]
    ) {
        if executable {
            error(location, message)
        } else {
            warning(location, message)
            deferred.append(.error(at: location, message))
        }
    }

    /// A broken BPMN rule found while the elements are read (see `brokenRule`).
    mutating func structural(_ location: SourceLocation, _ message: String, _ scan: inout ProcessScan) {
        brokenRule(location, message, executable: scan.executable, deferred: &scan.deferred)
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
        let executable = scan.executable
        func problem(_ builder: inout ModelBuilder, _ location: SourceLocation, _ message: String) {
            builder.brokenRule(location, message, executable: executable, deferred: &deferred)
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

}

extension String {
    /// "ScriptTask" → "scriptTask".
    var lowercasedFirst: String { prefix(1).lowercased() + dropFirst() }
}
