import Expressions
import ProcessModel
import Values

/// The flow elements of a process or sub-process: one reader per element family, chosen by the
/// element's name.
extension ModelBuilder {
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
}
