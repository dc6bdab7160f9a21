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

    mutating func register(id: String?, _ location: SourceLocation, element: String) {
        guard let id else { return }
        if let first = seenIDs[id] {
            error(location, "duplicate id '\(id)' on '\(element)'; it is already used at line \(first.line), column \(first.column)")
        } else {
            seenIDs[id] = location
        }
    }

    mutating func build(root: XMLElement) -> Definitions? {
        let rootLocation = index.locate(root)
        guard root.isBPMN("definitions") else {
            let ns = root.namespace.map { " in namespace '\($0)'" } ?? " without a namespace"
            error(rootLocation, "root element is '\(root.qualifiedName)'\(ns); expected BPMN 'definitions' in namespace '\(Namespaces.bpmn)'")
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
        for child in children where child.namespace == Namespaces.bpmn && child.localName.hasSuffix("EventDefinition") {
            if let id = child.attribute("id") { rootEventDefinitions[id] = child }
        }
        for child in children where child.isBPMN("error") {
            if let id = child.attribute("id") {
                errorCodes[id] = child.attribute("errorCode") ?? child.attribute("name") ?? id
            }
        }

        var processes: [ProcessDefinition] = []
        var participants: [Participant] = []
        for child in children {
            guard child.namespace == Namespaces.bpmn else { continue }
            switch child.localName {
            case "process":
                if let process = buildProcess(child) { processes.append(process) }
            case "collaboration":
                let location = index.locate(child)
                register(id: child.attribute("id"), location, element: "collaboration")
                for element in child.children where element.namespace == Namespaces.bpmn {
                    let elementLocation = index.locate(element)
                    if element.localName == "participant" {
                        register(id: element.attribute("id"), elementLocation, element: "participant")
                        participants.append(
                            Participant(
                                id: element.attribute("id") ?? "", name: element.attribute("name"),
                                processRef: element.attribute("processRef").map(stripPrefix)))
                    }
                }
            case "error":
                register(id: child.attribute("id"), index.locate(child), element: "error")
            default:
                continue
            }
        }
        for participant in participants {
            guard let ref = participant.processRef else { continue }
            if let i = processes.firstIndex(where: { $0.id == ref }) {
                processes[i].participantName = participant.name
            }
        }
        return Definitions(
            id: root.attribute("id"), name: root.attribute("name"), file: file, processes: processes, participants: participants)
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
        var attachments: [(node: Int, ref: String, code: String?)] = []
        var laneOf: [String: String] = [:]
        var lanes: [Lane] = []
        var deferred: [Diagnostic] = []
        var executable = true
        /// `incoming` / `outgoing` references a node declares, when it declares any.
        var declaredIncoming: [Int: [String]] = [:]
        var declaredOutgoing: [Int: [String]] = [:]
        var gatewayDirection: [Int: String] = [:]
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
                error(pending.location, "sequence flow '\(pending.id)' has sourceRef '\(sourceRef)', which is not a flow node of process '\(id)'")
                continue
            }
            guard let target = resolve(targetRef) else {
                error(pending.location, "sequence flow '\(pending.id)' has targetRef '\(targetRef)', which is not a flow node of process '\(id)'")
                continue
            }
            if nodes[source].scope != pending.scope || nodes[target].scope != pending.scope {
                error(pending.location, "sequence flow '\(pending.id)' crosses a sub-process boundary ('\(sourceRef)' → '\(targetRef)'); BPMN keeps sequence flows inside one sub-process")
                continue
            }
            var condition: FEELExpression?
            if let raw = pending.condition {
                do {
                    condition = try FEELExpression(raw.text, bare: options.bareConditions)
                } catch {
                    let language = raw.language.map { " (language '\($0)')" } ?? ""
                    problem(&self, raw.location, "cannot parse the condition of sequence flow '\(pending.id)'\(language): \(error.message) in '\(raw.text.trimmingWhitespace())'")
                }
            }
            let flowIndex = flows.count
            flows.append(SequenceFlow(id: pending.id, name: pending.name, source: source, target: target, condition: condition, location: pending.location))
            nodes[source].outgoing.append(flowIndex)
            nodes[target].incoming.append(flowIndex)
        }

        for (nodeIdx, ref) in scan.defaultRefs {
            let node = nodes[nodeIdx]
            guard let flowIdx = flows.firstIndex(where: { $0.id == ref || $0.id == stripPrefix(ref) }) else {
                error(node.location, "'\(node.kind.elementName)' '\(node.id)' names default flow '\(ref)', which does not exist")
                continue
            }
            if flows[flowIdx].source != nodeIdx {
                error(node.location, "default flow '\(ref)' of '\(node.id)' does not leave it (it leaves '\(nodes[flows[flowIdx].source].id)'); a default flow must be one of the element's outgoing flows")
                continue
            }
            if flows[flowIdx].condition != nil {
                warning(flows[flowIdx].location, "default flow '\(ref)' has a condition; BPMN ignores it on a default flow")
            }
            nodes[nodeIdx].defaultFlow = flowIdx
        }

        for (boundary, ref, code) in scan.attachments {
            guard let host = resolve(ref) else {
                error(nodes[boundary].location, "boundary event '\(nodes[boundary].id)' is attached to '\(ref)', which is not a flow node of process '\(id)'")
                continue
            }
            guard nodes[host].kind.isActivity else {
                error(nodes[boundary].location, "boundary event '\(nodes[boundary].id)' is attached to '\(nodes[host].id)', a \(nodes[host].kind.elementName); boundary events attach to activities")
                continue
            }
            switch nodes[boundary].kind {
            case .errorBoundary:
                nodes[boundary].kind = .errorBoundary(attachedTo: host, errorCode: code)
            case .timerBoundary(_, let timer, let cancel):
                nodes[boundary].kind = .timerBoundary(attachedTo: host, timer: timer, cancelActivity: cancel)
            default:
                break
            }
            nodes[host].boundaryEvents.append(boundary)
        }

        for i in nodes.indices {
            if let lane = scan.laneOf[nodes[i].id] { nodes[i].lane = lane }
        }

        validate(nodes: nodes, flows: flows, processID: id, problem: { builder, location, message in problem(&builder, location, message) })
        validateDeclarations(nodes: nodes, flows: flows, scan: scan, problem: { builder, location, message in problem(&builder, location, message) })

        if !nodes.isEmpty && !nodes.contains(where: { $0.scope == nil && $0.kind == .startEvent }) {
            problem(&self, location, "process '\(id)' has no start event; BPMN needs a none start event to start an instance")
        }

        return ProcessDefinition(
            id: id, name: element.attribute("name"), isExecutable: scan.executable, location: location, nodes: nodes,
            flows: flows, lanes: scan.lanes, participantName: nil, deferredErrors: deferred)
    }

    /// Structural rules every node must meet.
    mutating func validate(
        nodes: [FlowNode], flows: [SequenceFlow], processID: String,
        problem: (inout ModelBuilder, SourceLocation, String) -> Void
    ) {
        for (i, node) in nodes.enumerated() {
            let what = "\(node.kind.elementName) '\(node.id)'"
            switch node.kind {
            case .startEvent:
                if !node.incoming.isEmpty { problem(&self, node.location, "\(what) has incoming sequence flows; a start event cannot have any") }
            case .endEvent:
                if !node.outgoing.isEmpty { problem(&self, node.location, "\(what) has outgoing sequence flows; an end event cannot have any") }
            case .exclusiveGateway, .parallelGateway, .inclusiveGateway, .complexGateway:
                if node.incoming.isEmpty { problem(&self, node.location, "\(what) has no incoming sequence flow; a gateway needs at least one") }
                if node.outgoing.isEmpty { problem(&self, node.location, "\(what) has no outgoing sequence flow; a gateway needs at least one") }
                if node.kind == .parallelGateway {
                    for f in node.outgoing where flows[f].condition != nil {
                        warning(flows[f].location, "sequence flow '\(flows[f].id)' leaves parallel gateway '\(node.id)' with a condition; a parallel gateway ignores conditions")
                    }
                } else if node.outgoing.count > 1 {
                    for f in node.outgoing where flows[f].condition == nil && node.defaultFlow != f {
                        warning(flows[f].location, "sequence flow '\(flows[f].id)' leaves \(what) without a condition or being the default; it is always taken")
                    }
                }
            case .errorBoundary, .timerBoundary:
                if !node.incoming.isEmpty { problem(&self, node.location, "\(what) has incoming sequence flows; a boundary event cannot have any") }
                if node.outgoing.isEmpty { problem(&self, node.location, "\(what) has no outgoing sequence flow; the caught error would go nowhere") }
            case .subProcess:
                if !nodes.contains(where: { $0.scope == i && $0.kind == .startEvent }) {
                    problem(&self, node.location, "\(what) has no start event; an embedded sub-process needs a none start event")
                }
            default:
                break
            }
            if let webhook = node.webhook, let interrupt = webhook.onError?.interrupt {
                if WebhookConfig.interruptFlow(named: interrupt, among: node.outgoing, flows: flows) == nil {
                    let names = node.outgoing.map { "'\(flows[$0].displayName)'" }.joined(separator: ", ")
                    error(
                        webhook.onError?.location ?? webhook.location,
                        "webhook '\(node.id)' interrupts by transition '\(interrupt)', but no outgoing sequence flow of '\(node.id)' has that name or id (outgoing: \(names.isEmpty ? "none" : names))")
                }
            }
        }
    }

    /// Rules about what nodes declare: their incoming/outgoing references, gateway directions,
    /// lone conditional flows, and nodes a started process could never reach.
    mutating func validateDeclarations(
        nodes: [FlowNode], flows: [SequenceFlow], scan: ProcessScan, problem: (inout ModelBuilder, SourceLocation, String) -> Void
    ) {
        for (i, node) in nodes.enumerated() {
            let what = "\(node.kind.elementName) '\(node.id)'"
            let incomingIDs = Set(node.incoming.map { flows[$0].id })
            let outgoingIDs = Set(node.outgoing.map { flows[$0].id })
            if let declared = scan.declaredIncoming[i], Set(declared) != incomingIDs {
                let missing = incomingIDs.subtracting(declared).sorted()
                let extra = Set(declared).subtracting(incomingIDs).sorted()
                problem(&self, node.location, "\(what) lists incoming flows \(declared) but the flows that target it are \(incomingIDs.sorted())\(missing.isEmpty ? "" : " (not listed: \(missing.joined(separator: ", ")))")\(extra.isEmpty ? "" : " (no such flow into it: \(extra.joined(separator: ", ")))"); BPMN requires them to agree")
            }
            if let declared = scan.declaredOutgoing[i], Set(declared) != outgoingIDs {
                problem(&self, node.location, "\(what) lists outgoing flows \(declared) but the flows that leave it are \(outgoingIDs.sorted()); BPMN requires them to agree")
            }
            switch scan.gatewayDirection[i] {
            case "Converging" where node.outgoing.count > 1:
                problem(&self, node.location, "converging \(what) has \(node.outgoing.count) outgoing flows; a converging gateway has at most one")
            case "Diverging" where node.incoming.count > 1:
                problem(&self, node.location, "diverging \(what) has \(node.incoming.count) incoming flows; a diverging gateway has at most one")
            case "Mixed" where node.incoming.count < 2 || node.outgoing.count < 2:
                problem(&self, node.location, "mixed \(what) has \(node.incoming.count) incoming and \(node.outgoing.count) outgoing flows; a mixed gateway needs more than one of each")
            default:
                break
            }
            if node.kind.isActivity, node.outgoing.count == 1, flows[node.outgoing[0]].condition != nil {
                problem(&self, node.location, "\(what) has a single outgoing flow '\(flows[node.outgoing[0]].id)' and it is conditional; BPMN requires an activity's conditional flows to come with others")
            }
            // With a start event, a node without incoming flow could never run.
            let needsIncoming: Bool
            switch node.kind {
            case .startEvent, .errorBoundary, .timerBoundary: needsIncoming = false
            case .unsupported: needsIncoming = false  // already reported as unsupported
            default: needsIncoming = true
            }
            if needsIncoming, node.incoming.isEmpty, nodes.contains(where: { $0.scope == node.scope && $0.kind == .startEvent }) {
                problem(&self, node.location, "\(what) has no incoming sequence flow, but its \(node.scope == nil ? "process" : "sub-process") starts at a start event, so it could never run")
            }
        }
    }

    // MARK: - Flow elements

    static let ignoredElements: Set<String> = [
        "documentation", "extensionElements", "textAnnotation", "association", "group", "dataObject",
        "dataObjectReference", "dataStoreReference", "property", "ioSpecification", "dataInputAssociation",
        "dataOutputAssociation", "auditing", "monitoring", "incoming", "outgoing", "categoryValue",
        "resourceRole", "performer", "humanPerformer", "potentialOwner", "rendering", "dataInput", "dataOutput",
        "inputSet", "outputSet",
    ]

    mutating func unsupported(_ element: XMLElement, id: String?, location: SourceLocation, detail: String = "", into scan: inout ProcessScan) {
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

    /// Event definitions inside an event element, other than those `allowed`.
    mutating func checkEventDefinitions(
        _ element: XMLElement, id: String?, allowed: Set<String>, into scan: inout ProcessScan
    ) -> [XMLElement] {
        var found: [XMLElement] = []
        for child in element.children where child.namespace == Namespaces.bpmn {
            if child.localName.hasSuffix("EventDefinition") || child.localName == "eventDefinitionRef" {
                let location = index.locate(child)
                // A reference to an event definition declared at the root of the file.
                if child.localName == "eventDefinitionRef" {
                    let ref = stripPrefix(child.text)
                    if let definition = rootEventDefinitions[ref], allowed.contains(definition.localName) {
                        found.append(definition)
                    } else {
                        let what = rootEventDefinitions[ref].map { "'\($0.localName)' '\(ref)'" } ?? "'\(ref)', which is not an event definition of this file"
                        unsupported(child, id: id, location: location, detail: " to \(what) in \(element.localName)", into: &scan)
                    }
                } else if allowed.contains(child.localName) {
                    found.append(child)
                } else {
                    unsupported(child, id: id, location: location, detail: " in \(element.localName)", into: &scan)
                }
            }
        }
        return found
    }

    mutating func scanFlowElements(_ container: XMLElement, scope: Int?, into scan: inout ProcessScan) {
        for element in container.children {
            guard element.namespace == Namespaces.bpmn else { continue }
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
                    structural(location, "\(name) '\(nodeID)' has \(attribute)=\"\(text)\"; BPMN requires a whole number of at least 1", &scan)
                }
            }
            defer {
                if scan.nodes.count > countBefore, scan.nodes[countBefore].id == nodeID {
                    let declaredIn = element.children.filter { $0.isBPMN("incoming") }.map { stripPrefix($0.text) }
                    let declaredOut = element.children.filter { $0.isBPMN("outgoing") }.map { stripPrefix($0.text) }
                    if !declaredIn.isEmpty { scan.declaredIncoming[countBefore] = declaredIn }
                    if !declaredOut.isEmpty { scan.declaredOutgoing[countBefore] = declaredOut }
                    if let direction = element.attribute("gatewayDirection") { scan.gatewayDirection[countBefore] = direction }
                }
            }
            func node(_ kind: NodeKind) -> FlowNode {
                FlowNode(id: nodeID, name: label, kind: kind, location: location, scope: scope)
            }

            switch name {
            case "sequenceFlow":
                var pending = PendingFlow(
                    id: nodeID, name: label, sourceRef: element.attribute("sourceRef"), targetRef: element.attribute("targetRef"),
                    scope: scope, location: location)
                for child in element.children where child.isBPMN("conditionExpression") {
                    let conditionLocation = index.locate(child)
                    let text = child.text
                    if !text.trimmingWhitespace().isEmpty {
                        pending.condition = (text, conditionLocation, child.attribute("language"))
                    } else {
                        structural(conditionLocation, "sequence flow '\(nodeID)' has an empty conditionExpression; a formal expression needs a body", &scan)
                    }
                }
                scan.flows.append(pending)

            case "startEvent":
                _ = checkEventDefinitions(element, id: id, allowed: [], into: &scan)
                _ = addNode(node(.startEvent), into: &scan)

            case "endEvent":
                let definitions = checkEventDefinitions(element, id: id, allowed: ["terminateEventDefinition", "errorEventDefinition"], into: &scan)
                var kind = EndEventKind.none
                if let definition = definitions.first {
                    if definition.localName == "terminateEventDefinition" {
                        kind = .terminate
                    } else {
                        kind = .error(code: errorCode(definition.attribute("errorRef")))
                    }
                }
                _ = addNode(node(.endEvent(kind)), into: &scan)

            case "intermediateThrowEvent":
                let definitions = element.children.filter { $0.namespace == Namespaces.bpmn && $0.localName.hasSuffix("EventDefinition") }
                if definitions.isEmpty {
                    _ = addNode(node(.intermediateEvent), into: &scan)
                } else {
                    unsupported(element, id: id, location: location, detail: " with \(definitions[0].localName)", into: &scan)
                    _ = addNode(node(.unsupported(element: name)), into: &scan)
                }

            case "task", "userTask", "manualTask", "serviceTask", "sendTask", "receiveTask", "scriptTask", "businessRuleTask":
                var taskNode = node(.task(TaskKind(rawValue: name)!))
                taskNode.startQuantity = max(1, Int(element.attribute("startQuantity")?.trimmingWhitespace() ?? "") ?? 1)
                taskNode.completionQuantity = max(1, Int(element.attribute("completionQuantity")?.trimmingWhitespace() ?? "") ?? 1)
                readAssignment(element, into: &taskNode)
                // Children are located in document order: extensionElements, then loop
                // characteristics, then the script.
                if let webhookElement = procrunWebhookElement(element) {
                    if ["serviceTask", "sendTask", "task"].contains(name) {
                        taskNode.webhook = WebhookParser.parse(webhookElement, builder: &self)
                    } else {
                        error(index.locate(webhookElement), "procrun:webhook on \(name) '\(nodeID)'; the webhook belongs on a serviceTask, sendTask or task")
                    }
                }
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
                        structural(activationLocation, "cannot parse the activationCondition of '\(nodeID)': \(error.message) in '\(activation.text.trimmingWhitespace())'", &scan)
                    }
                }
                let index = addNode(gateway, into: &scan)
                if let ref = element.attribute("default") {
                    if kind == .parallelGateway {
                        error(location, "parallel gateway '\(nodeID)' has a default flow; only exclusive and inclusive gateways have one")
                    } else {
                        scan.defaultRefs.append((index, ref))
                    }
                }

            case "subProcess":
                if element.attribute("triggeredByEvent") == "true" {
                    unsupported(element, id: id, location: location, detail: " (event sub-process)", into: &scan)
                    _ = addNode(node(.unsupported(element: "event subProcess")), into: &scan)
                    continue
                }
                var subProcess = node(.subProcess)
                (subProcess.loop, subProcess.multiInstance) = checkLoop(element, id: nodeID, into: &scan)
                let index = addNode(subProcess, into: &scan)
                if let ref = element.attribute("default") { scan.defaultRefs.append((index, ref)) }
                scanFlowElements(element, scope: index, into: &scan)

            case "intermediateCatchEvent":
                let definitions = checkEventDefinitions(element, id: id, allowed: ["timerEventDefinition"], into: &scan)
                if let definition = definitions.first, let timer = readTimer(definition, nodeID: nodeID, scan: &scan) {
                    _ = addNode(node(.timerCatch(timer)), into: &scan)
                } else {
                    if definitions.isEmpty && !element.children.contains(where: { $0.namespace == Namespaces.bpmn && $0.localName.hasSuffix("EventDefinition") }) {
                        unsupported(element, id: id, location: location, detail: " without an event definition", into: &scan)
                    }
                    _ = addNode(node(.unsupported(element: name)), into: &scan)
                }

            case "boundaryEvent":
                let definitions = checkEventDefinitions(element, id: id, allowed: ["errorEventDefinition", "timerEventDefinition"], into: &scan)
                guard let attachedTo = element.attribute("attachedToRef") else {
                    error(location, "boundary event '\(nodeID)' has no attachedToRef")
                    continue
                }
                if let definition = definitions.first, definition.localName == "timerEventDefinition" {
                    guard let timer = readTimer(definition, nodeID: nodeID, scan: &scan) else {
                        _ = addNode(node(.unsupported(element: name)), into: &scan)
                        continue
                    }
                    let cancel = element.attribute("cancelActivity")?.trimmingWhitespace() != "false"
                    let index = addNode(node(.timerBoundary(attachedTo: -1, timer: timer, cancelActivity: cancel)), into: &scan)
                    scan.attachments.append((index, attachedTo, nil))
                } else if let definition = definitions.first {
                    let index = addNode(node(.errorBoundary(attachedTo: -1, errorCode: nil)), into: &scan)
                    scan.attachments.append((index, attachedTo, errorCode(definition.attribute("errorRef"))))
                } else if !element.children.contains(where: {
                    $0.namespace == Namespaces.bpmn && ($0.localName.hasSuffix("EventDefinition") || $0.localName == "eventDefinitionRef")
                }) {
                    unsupported(element, id: id, location: location, detail: " without an event definition", into: &scan)
                    _ = addNode(node(.unsupported(element: name)), into: &scan)
                } else {
                    _ = addNode(node(.unsupported(element: name)), into: &scan)
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
        for child in definition.children where child.namespace == Namespaces.bpmn {
            let childLocation = index.locate(child)
            if texts.isEmpty { location = childLocation }
            texts[child.localName] = child.text
        }
        if let timer = TimerDefinition(duration: texts["timeDuration"], date: texts["timeDate"], cycle: texts["timeCycle"]) {
            return timer
        }
        let given = texts.map { "\($0.key) '\($0.value.trimmingWhitespace())'" }.sorted().joined(separator: ", ")
        let message = "timer of '\(nodeID)' has \(given.isEmpty ? "no value" : given); procrun reads an ISO-8601 timeDuration (PT10S), timeDate (2026-12-01T10:00:00Z) or timeCycle (R3/PT10S)"
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
    mutating func checkLoop(_ element: XMLElement, id: String, into scan: inout ProcessScan) -> (StandardLoop?, MultiInstance?) {
        var loop: StandardLoop?
        var multi: MultiInstance?
        for child in element.children
        where child.namespace == Namespaces.bpmn && child.localName.hasSuffix("LoopCharacteristics") {
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
                    structural(location, "loop of '\(id)' has loopMaximum=\"\(text)\"; BPMN requires a whole number that is not negative", &scan)
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
                        structural(conditionLocation, "cannot parse the loop condition of '\(id)': \(error.message) in '\(text.trimmingWhitespace())'", &scan)
                    }
                }
            }
            loop = StandardLoop(condition: condition, testBefore: child.attribute("testBefore")?.trimmingWhitespace() == "true", maximum: maximum)
        }
        return (loop, multi)
    }

    /// A multi-instance activity procrun can run has a `loopCardinality` (collections and
    /// behaviour events are not run yet).
    mutating func readMultiInstance(_ element: XMLElement, id: String, location: SourceLocation, scan: inout ProcessScan) -> MultiInstance? {
        var cardinality: FEELExpression?
        var completion: FEELExpression?
        var ok = true
        for child in element.children where child.namespace == Namespaces.bpmn {
            let childLocation = index.locate(child)
            let text = child.text.trimmingWhitespace()
            switch child.localName {
            case "loopCardinality", "completionCondition":
                guard !text.isEmpty else { continue }
                do {
                    let expression = try FEELExpression(text, bare: options.bareConditions)
                    if child.localName == "loopCardinality" {
                        if case .number(let n)? = try? expression.evaluate(in: JSONObject()), n < 0 || n != n.rounded() {
                            structural(childLocation, "multi-instance '\(id)' has loopCardinality \(text); BPMN requires a whole number that is not negative", &scan)
                            ok = false
                        }
                        cardinality = expression
                    } else {
                        completion = expression
                    }
                } catch {
                    structural(childLocation, "cannot parse the \(child.localName) of '\(id)': \(error.message) in '\(text)'", &scan)
                    ok = false
                }
            case "complexBehaviorDefinition", "loopDataInputRef", "inputDataItem", "loopDataOutputRef", "outputDataItem":
                unsupported(child, id: id, location: childLocation, detail: " in multiInstanceLoopCharacteristics", into: &scan)
                ok = false
            default:
                break
            }
        }
        if let behavior = element.attribute("behavior"), behavior != "All", element.attribute("noneBehaviorEventRef") != nil || element.attribute("oneBehaviorEventRef") != nil {
            unsupported(element, id: id, location: location, detail: " with behavior \(behavior) events", into: &scan)
            ok = false
        }
        guard ok else { return nil }
        guard let cardinality else {
            unsupported(element, id: id, location: location, detail: " without a loopCardinality", into: &scan)
            return nil
        }
        return MultiInstance(cardinality: cardinality, sequential: element.attribute("isSequential")?.trimmingWhitespace() == "true", completionCondition: completion)
    }

    func procrunWebhookElement(_ element: XMLElement) -> XMLElement? {
        for child in element.children where child.isBPMN("extensionElements") {
            for ext in child.children where ext.namespace == Namespaces.procrun && ext.localName == "webhook" {
                return ext
            }
        }
        return nil
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
                for ext in child.children where ext.namespace == Namespaces.zeebe && ext.localName == "assignmentDefinition" {
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
            warning(scriptLocation, "script of '\(node.id)' is in '\(format)', which procrun does not run; the task completes without running it (write FEEL assignments, 'name = expression' per line)")
            return
        }
        do {
            node.script = try FEELScript(scriptElement.text)
        } catch {
            if scan.executable {
                self.error(scriptLocation, "cannot parse the script of '\(node.id)': \(error.message)")
            } else {
                warning(scriptLocation, "cannot parse the script of '\(node.id)': \(error.message)")
                scan.deferred.append(.error(at: scriptLocation, "cannot parse the script of '\(node.id)': \(error.message)"))
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
