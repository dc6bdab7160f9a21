import ProcessModel
import Values

/// BPMN rules about the file as a whole, checked on the XML tree after the model is built: root
/// elements, collaborations and message flows, choreographies, data and service interfaces.
/// None of them changes how a process runs; each broken one is an error naming the rule.
struct StaticRules {
    let index: LocationIndex
    var diagnostics: [Diagnostic] = []

    /// Root elements by id, and every element with an id (with the process it sits in).
    private var roots: [String: XMLElement] = [:]
    private var elements: [String: (element: XMLElement, process: String?)] = [:]
    private var stripPrefix: (String) -> String

    /// `LoadOptions.messagesFromOutside`.
    private let messagesFromOutside: Bool

    init(index: LocationIndex, stripPrefix: @escaping (String) -> String, messagesFromOutside: Bool = true) {
        self.index = index
        self.stripPrefix = stripPrefix
        self.messagesFromOutside = messagesFromOutside
    }

    /// What a message flow may connect (besides pools).
    static let interactionNodes: Set<String> = [
        "task", "userTask", "manualTask", "serviceTask", "sendTask", "receiveTask", "scriptTask", "businessRuleTask",
        "subProcess",
        "transaction", "adHocSubProcess", "callActivity", "startEvent", "endEvent", "intermediateThrowEvent",
        "intermediateCatchEvent",
        "boundaryEvent", "exclusiveGateway", "parallelGateway", "inclusiveGateway", "complexGateway",
        "eventBasedGateway",
    ]

    static let rootElements: Set<String> = [
        "import", "extension", "relationship", "documentation", "extensionElements", "category", "collaboration",
        "choreography",
        "correlationProperty", "dataStore", "endPoint", "error", "escalation", "globalBusinessRuleTask",
        "globalManualTask",
        "globalScriptTask", "globalTask", "globalUserTask", "globalConversation", "globalChoreographyTask", "interface",
        "itemDefinition", "message", "partnerEntity", "partnerRole", "process", "resource", "signal",
    ]

    /// Processes marked executable; a broken rule inside another process is a warning.
    private var executable: Set<String> = []

    mutating func error(_ element: XMLElement, _ message: String) {
        let location = index.locateOnLine(element)
        if let process = elements[element.attribute("id") ?? ""]?.process ?? currentProcess,
            !executable.contains(process)
        {
            diagnostics.append(.warning(at: location, message))
        } else {
            diagnostics.append(.error(at: location, message))
        }
    }

    /// The process the walk is in.
    private var currentProcess: String?

    func bpmnChildren(_ element: XMLElement, _ name: String) -> [XMLElement] {
        element.children.filter { $0.isBPMN(name) }
    }

    func ref(_ element: XMLElement, _ name: String) -> String? {
        (element.attribute(name) ?? element.children.first { $0.isBPMN(name) }?.text).map(stripPrefix).flatMap {
            $0.isEmpty ? nil : $0
        }
    }

    mutating func check(root: XMLElement, executable: Set<String>) {
        self.executable = executable
        for child in root.children where child.isInBPMN {
            if let id = child.attribute("id") { roots[id] = child }
        }
        func collect(_ element: XMLElement, process: String?) {
            for child in element.children where child.isInBPMN {
                let inProcess = child.localName == "process" ? child.attribute("id") : process
                if let id = child.attribute("id") { elements[id] = (child, inProcess) }
                collect(child, process: inProcess)
            }
        }
        collect(root, process: nil)
        for (_, entry) in elements where entry.element.isBPMN("messageFlow") {
            if let s = ref(entry.element, "sourceRef") { messageFlowEnds.insert(s) }
            if let t = ref(entry.element, "targetRef") { messageFlowEnds.insert(t) }
        }

        for attribute in ["expressionLanguage", "typeLanguage"] {
            if let uri = root.attribute(attribute), !isURI(uri) {
                error(root, "definitions has \(attribute)=\"\(uri)\"; BPMN requires a URI there")
            }
        }
        for child in root.children where child.isInBPMN && !child.localName.hasSuffix("EventDefinition") {
            if !StaticRules.rootElements.contains(child.localName) {
                error(
                    child,
                    "'\(child.localName)' cannot stand at the root of definitions; BPMN allows only root elements there (process, collaboration, message, signal, itemDefinition, …)"
                )
            }
        }
        walk(root, executable: executable)
        currentProcess = nil
        for collaboration in root.children where collaboration.isBPMN("collaboration") {
            checkCollaboration(collaboration)
        }
    }

    /// Rules on single elements, anywhere in the file.
    mutating func walk(_ element: XMLElement, executable: Set<String>, process: String? = nil) {
        for child in element.children where child.isInBPMN {
            let process = child.localName == "process" ? child.attribute("id") : process
            currentProcess = process
            let name = child.localName
            // Attributes are looked up only where BPMN defines them: most elements have none.
            if child.node.pointee.properties != nil {
                if name == "documentation" || name == "textAnnotation", let format = child.attribute("textFormat"),
                    !isMimeType(format)
                {
                    error(child, "\(name) has textFormat=\"\(format)\"; BPMN requires a MIME type such as text/plain")
                }
                if let uri = child.attribute("language"), !isURI(uri) {
                    error(child, "\(name) has language=\"\(uri)\"; BPMN requires a URI there")
                }
            }
            if ["dataInput", "dataOutput", "dataObject"].contains(name), let itemRef = ref(child, "itemSubjectRef"),
                let item = roots[itemRef]
            {
                let collection = { (e: XMLElement) in e.attribute("isCollection")?.trimmingWhitespace() == "true" }
                if collection(child) != collection(item) {
                    error(
                        child,
                        "\(name) '\(child.attribute("id") ?? "?")' has isCollection=\"\(collection(child))\" but its item definition '\(itemRef)' has isCollection=\"\(collection(item))\"; BPMN requires them to agree"
                    )
                }
            }
            if let process, executable.contains(process),
                ["timeDuration", "timeDate", "timeCycle", "completionCondition"].contains(name)
                    || (name == "condition" && element.isBPMN("conditionalEventDefinition"))
            {
                if !isFormal(child) {
                    error(
                        child,
                        "\(name) of '\(owner(of: element))' is an informal expression (no xsi:type=\"tFormalExpression\"); BPMN requires formal expressions in executable processes"
                    )
                }
            }
            switch name {
            case "transformation", "from", "to", "formalExpression":
                if child.text.trimmingWhitespace().isEmpty && child.children.isEmpty {
                    error(
                        child,
                        "\(name) of '\(element.attribute("id") ?? element.localName)' is an empty expression; BPMN requires a formal expression to have a body"
                    )
                }
            case "choreography", "globalConversation":
                if !bpmnChildren(child, "choreographyRef").isEmpty {
                    error(
                        child,
                        "\(name) '\(child.attribute("id") ?? "?")' references a choreography; BPMN forbids a choreography or global conversation to reference one"
                    )
                }
            case "participantMultiplicity":
                let minimum = Int(child.attribute("minimum") ?? "0") ?? 0
                let maximum = Int(child.attribute("maximum") ?? "1") ?? 1
                if minimum < 0 || maximum < minimum || maximum < 1 {
                    error(
                        child,
                        "participant multiplicity of '\(element.attribute("id") ?? "?")' is \(minimum)…\(maximum); BPMN requires 0 ≤ minimum ≤ maximum and maximum ≥ 1"
                    )
                }
            case "performer", "humanPerformer", "potentialOwner", "resourceRole":
                checkResourceRole(child)
            case "ioSpecification":
                checkSets(child)
            case "serviceTask", "sendTask", "receiveTask":
                checkTaskInterface(child)
            case "startEvent", "endEvent", "intermediateThrowEvent", "intermediateCatchEvent", "boundaryEvent":
                checkEventData(child)
                if let process, executable.contains(process) { checkMessageRouting(child, process: process) }
                if name == "endEvent" || name == "intermediateThrowEvent" {
                    for definition in bpmnChildren(child, "escalationEventDefinition") {
                        let escalation = ref(definition, "escalationRef").flatMap { roots[$0] }
                        if escalation?.attribute("escalationCode")?.isEmpty != false {
                            error(
                                definition,
                                "escalation thrown by '\(child.attribute("id") ?? "?")' has no escalationCode\(escalation == nil ? " (no escalationRef)" : ""); BPMN requires one on end and intermediate throw events"
                            )
                        }
                    }
                }
            case "process", "globalTask", "globalScriptTask", "globalUserTask", "globalManualTask",
                "globalBusinessRuleTask":
                if !bpmnChildren(child, "supportedInterfaceRef").isEmpty && bpmnChildren(child, "ioBinding").isEmpty {
                    error(
                        child,
                        "\(name) '\(child.attribute("id") ?? "?")' supports an interface but has no ioBinding; BPMN requires at least one input/output binding for a callable element exposed as a service"
                    )
                }
            default:
                break
            }
            // Nothing below these is checked here.
            if !["extensionElements", "incoming", "outgoing", "flowNodeRef", "text", "script", "documentation"]
                .contains(name)
            {
                walk(child, executable: executable, process: process)
            }
        }
        currentProcess = process
    }

    /// Whether an expression element is typed `tFormalExpression` (`xsi:type`, any prefix).
    func isFormal(_ element: XMLElement) -> Bool {
        guard let type = element.attribute("type", namespace: Namespaces.xsi) else { return false }
        return type == "tFormalExpression" || type.hasSuffix(":tFormalExpression")
    }

    /// The id of the element an expression belongs to, for messages.
    func owner(of element: XMLElement) -> String {
        element.attribute("id") ?? element.localName
    }

    /// An absolute or relative URI reference: no spaces or control characters, `%` followed by
    /// two hex digits, and only characters RFC 3986 allows.
    func isURI(_ text: String) -> Bool {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%")
        let chars = Array(text)
        guard !chars.isEmpty else { return false }
        for (i, c) in chars.enumerated() {
            guard allowed.contains(c) else { return false }
            if c == "%" {
                guard i + 2 < chars.count, chars[i + 1].isHexDigit, chars[i + 2].isHexDigit else { return false }
            }
        }
        return true
    }

    func isMimeType(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        let token = { (part: Substring) in
            !part.isEmpty && part.allSatisfy { $0.isLetter || $0.isNumber || "!#$&^_.+-".contains($0) }
        }
        return parts.count == 2 && token(parts[0]) && token(parts[1].split(separator: ";").first ?? "")
    }

    // MARK: Items

    /// The item an element carries: `itemSubjectRef` / `itemRef` / `structureRef`.
    func item(of element: XMLElement?) -> String? {
        guard let element else { return nil }
        switch element.localName {
        case "message": return ref(element, "itemRef")
        case "signal", "error", "escalation": return ref(element, "structureRef")
        default: return ref(element, "itemSubjectRef")
        }
    }

    /// Two item definitions are the same item: the same id, or the same structure.
    func sameItem(_ a: String?, _ b: String?) -> Bool {
        guard let a, let b else { return false }
        if a == b { return true }
        guard let structureA = roots[a].flatMap({ ref($0, "structureRef") }),
            let structureB = roots[b].flatMap({ ref($0, "structureRef") })
        else { return false }
        return structureA == structureB
    }

    // MARK: Service interfaces

    mutating func checkTaskInterface(_ task: XMLElement) {
        let id = task.attribute("id") ?? "?"
        let io = bpmnChildren(task, "ioSpecification").first
        let inputs = io.map { bpmnChildren($0, "dataInput") } ?? []
        let outputs = io.map { bpmnChildren($0, "dataOutput") } ?? []
        let inputSets = io.map { bpmnChildren($0, "inputSet").count } ?? 0
        let outputSets = io.map { bpmnChildren($0, "outputSet").count } ?? 0
        switch task.localName {
        case "serviceTask":
            guard let operationRef = ref(task, "operationRef") else { return }
            guard let operation = elements[operationRef]?.element, operation.isBPMN("operation") else {
                return error(
                    task,
                    "service task '\(id)' has operationRef '\(operationRef)', which is not an operation of an interface in this file"
                )
            }
            if inputSets != 1 {
                return error(
                    task,
                    "service task '\(id)' references operation '\(operationRef)' and has \(inputSets) input sets; BPMN requires exactly one inputSet in its ioSpecification"
                )
            }
            if let message = ref(operation, "inMessageRef").flatMap({ roots[$0] }), let input = inputs.first,
                !sameItem(item(of: input), item(of: message))
            {
                error(
                    input,
                    "data input '\(input.attribute("id") ?? "?")' of service task '\(id)' has item '\(item(of: input) ?? "none")', but operation '\(operationRef)' takes message '\(message.attribute("id") ?? "?")' of item '\(item(of: message) ?? "none")'; BPMN requires them to be equal"
                )
            }
            if let message = ref(operation, "outMessageRef").flatMap({ roots[$0] }), let output = outputs.first,
                !sameItem(item(of: output), item(of: message))
            {
                error(
                    output,
                    "data output '\(output.attribute("id") ?? "?")' of service task '\(id)' has item '\(item(of: output) ?? "none")', but operation '\(operationRef)' returns message '\(message.attribute("id") ?? "?")' of item '\(item(of: message) ?? "none")'; BPMN requires them to be equal"
                )
            }
        case "sendTask", "receiveTask":
            guard let messageRef = ref(task, "messageRef") else { return }
            let send = task.localName == "sendTask"
            let what = send ? "send task" : "receive task"
            guard let message = roots[messageRef], message.isBPMN("message") else {
                return error(
                    task, "\(what) '\(id)' has messageRef '\(messageRef)', which is not a message of this file")
            }
            if (send ? inputSets : outputSets) > 1 {
                return error(
                    task,
                    "\(what) '\(id)' references message '\(messageRef)' and has \(send ? inputSets : outputSets) \(send ? "input" : "output") sets; BPMN allows at most one"
                )
            }
            if (send ? inputs : outputs).count > 1 {
                return error(
                    task,
                    "\(what) '\(id)' references message '\(messageRef)' and has \((send ? inputs : outputs).count) data \(send ? "inputs" : "outputs"); BPMN allows at most one, the message"
                )
            }
            if let operationRef = ref(task, "operationRef"),
                !(elements[operationRef]?.element.isBPMN("operation") ?? false)
            {
                return error(
                    task,
                    "\(what) '\(id)' has operationRef '\(operationRef)', which is not an operation of an interface in this file"
                )
            }
            if let data = (send ? inputs : outputs).first, !sameItem(item(of: data), item(of: message)) {
                error(
                    data,
                    "\(send ? "data input" : "data output") '\(data.attribute("id") ?? "?")' of \(what) '\(id)' has item '\(item(of: data) ?? "none")', but message '\(messageRef)' carries item '\(item(of: message) ?? "none")'; BPMN requires the message's item"
                )
            }
        default:
            break
        }
    }

    /// The i-th event definition of an event and its i-th data input (throw) or output (catch)
    /// carry the same item.
    mutating func checkEventData(_ event: XMLElement) {
        let throwing = event.localName == "endEvent" || event.localName == "intermediateThrowEvent"
        let data = bpmnChildren(event, throwing ? "dataInput" : "dataOutput")
        guard !data.isEmpty else { return }
        let definitions = event.children.filter { $0.isInBPMN && $0.localName.hasSuffix("EventDefinition") }
        for (definition, datum) in zip(definitions, data) {
            let target: XMLElement?
            switch definition.localName {
            case "messageEventDefinition": target = ref(definition, "messageRef").flatMap { roots[$0] }
            case "signalEventDefinition": target = ref(definition, "signalRef").flatMap { roots[$0] }
            case "errorEventDefinition": target = ref(definition, "errorRef").flatMap { roots[$0] }
            case "escalationEventDefinition": target = ref(definition, "escalationRef").flatMap { roots[$0] }
            default: target = nil
            }
            guard let target, let expected = item(of: target) else { continue }
            if !sameItem(item(of: datum), expected) {
                error(
                    datum,
                    "\(datum.localName) '\(datum.attribute("id") ?? "?")' of '\(event.attribute("id") ?? "?")' has item '\(item(of: datum) ?? "none")', but its \(definition.localName) carries item '\(expected)'; BPMN requires each event definition's item to match its data"
                )
            }
        }
    }

    /// An ioSpecification's sets reference its own data, and input and output sets that name
    /// each other do so both ways.
    mutating func checkSets(_ io: XMLElement) {
        let inputSets = bpmnChildren(io, "inputSet")
        let outputSets = bpmnChildren(io, "outputSet")
        let inputs = Set(bpmnChildren(io, "dataInput").compactMap { $0.attribute("id") })
        let outputs = Set(bpmnChildren(io, "dataOutput").compactMap { $0.attribute("id") })
        checkSets(
            inputSets, own: "input", data: inputs,
            dataRefs: ["dataInputRefs", "optionalInputRefs", "whileExecutingInputRefs"], others: outputSets)
        checkSets(
            outputSets, own: "output", data: outputs,
            dataRefs: ["dataOutputRefs", "optionalOutputRefs", "whileExecutingOutputRefs"], others: inputSets)
    }

    /// One direction of `checkSets`: `own` sets ("input" or "output") against the `others`.
    private mutating func checkSets(
        _ sets: [XMLElement], own: String, data: Set<String>, dataRefs: [String], others: [XMLElement]
    ) {
        let other = own == "input" ? "output" : "input"
        func refs(_ set: XMLElement, _ name: String) -> [String] {
            bpmnChildren(set, name).map { stripPrefix($0.text) }
        }
        for set in sets {
            let id = set.attribute("id") ?? "?"
            for ref in dataRefs.flatMap({ refs(set, $0) }) where !data.contains(ref) {
                error(set, "\(own) set '\(id)' refers to '\(ref)', which is not a data \(own) of its ioSpecification")
            }
            for ref in refs(set, "\(other)SetRefs") {
                guard let target = others.first(where: { $0.attribute("id") == ref }) else {
                    error(
                        set, "\(own) set '\(id)' refers to \(other) set '\(ref)', which is not in its ioSpecification")
                    continue
                }
                if !refs(target, "\(own)SetRefs").contains(id) {
                    error(
                        set,
                        "\(own) set '\(id)' refers to \(other) set '\(ref)', which does not refer back to it; BPMN requires input and output sets to reference each other"
                    )
                }
            }
        }
    }

    // MARK: Resources

    mutating func checkResourceRole(_ role: XMLElement) {
        if ref(role, "resourceRef") != nil && !bpmnChildren(role, "resourceAssignmentExpression").isEmpty {
            error(
                role,
                "\(role.localName) '\(role.attribute("id") ?? "?")' has both a resourceRef and a resourceAssignmentExpression; BPMN allows one or the other"
            )
        }
        let bindings = bpmnChildren(role, "resourceParameterBinding")
        guard !bindings.isEmpty else { return }
        guard let resourceRef = ref(role, "resourceRef"), let resource = roots[resourceRef], resource.isBPMN("resource")
        else {
            return error(
                role,
                "\(role.localName) '\(role.attribute("id") ?? "?")' binds resource parameters but references no resource; BPMN requires the resourceRef whose parameters it binds"
            )
        }
        let parameters = Set(bpmnChildren(resource, "resourceParameter").compactMap { $0.attribute("id") })
        for binding in bindings where !(ref(binding, "parameterRef").map(parameters.contains) ?? false) {
            error(
                binding,
                "resource parameter binding '\(binding.attribute("id") ?? "?")' binds '\(ref(binding, "parameterRef") ?? "nothing")', which is not a parameter of resource '\(resourceRef)'"
            )
        }
    }

    // MARK: Messages

    /// The ids message flows start or end at.
    private var messageFlowEnds: Set<String> = []

    /// In an executable process a message event needs an operationRef, unless procrun can route
    /// its message inside the file: a message flow touches it, or another process throws (or
    /// catches) the same message. A catching message event without either is a warning (unless
    /// `messagesFromOutside` is off): `procrun message` sends its message from outside.
    mutating func checkMessageRouting(_ event: XMLElement, process: String) {
        guard let definition = event.children.first(where: { $0.isBPMN("messageEventDefinition") }) else { return }
        if ref(definition, "operationRef") != nil { return }
        let id = event.attribute("id") ?? "?"
        if messageFlowEnds.contains(id) { return }
        let throwing = event.localName == "endEvent" || event.localName == "intermediateThrowEvent"
        if let message = ref(definition, "messageRef") {
            for (_, entry) in elements where entry.process != nil && entry.process != process {
                let other = entry.element
                let otherMessage: String?
                let otherThrows: Bool
                switch other.localName {
                case "sendTask", "receiveTask":
                    otherMessage = ref(other, "messageRef")
                    otherThrows = other.localName == "sendTask"
                case "startEvent", "endEvent", "intermediateThrowEvent", "intermediateCatchEvent", "boundaryEvent":
                    otherMessage = other.children.first { $0.isBPMN("messageEventDefinition") }.flatMap {
                        ref($0, "messageRef")
                    }
                    otherThrows = other.localName == "endEvent" || other.localName == "intermediateThrowEvent"
                default:
                    continue
                }
                if otherMessage == message && otherThrows != throwing { return }
            }
        }
        if !throwing && messagesFromOutside {
            let name = ref(definition, "messageRef").flatMap { roots[$0]?.attribute("name") ?? $0 } ?? "?"
            let what = event.localName == "startEvent" ? "message start event" : "message event"
            diagnostics.append(
                .warning(
                    at: index.locateOnLine(definition),
                    "\(what) '\(id)' of executable process '\(process)' has no operationRef, and nothing in this file sends its message '\(name)': only `procrun message \(name)` sends it"
                ))
            return
        }
        error(
            definition,
            "message event '\(id)' in executable process '\(process)' has no operationRef, and no message flow or other process of this file \(throwing ? "receives" : "sends") its message; BPMN requires an operationRef for message events of executable processes"
        )
    }

    /// Message flows connect two different pools, from a node that can send to one that can receive.
    mutating func checkCollaboration(_ collaboration: XMLElement) {
        var poolOfProcess: [String: String] = [:]
        var pools: Set<String> = []
        for participant in bpmnChildren(collaboration, "participant") {
            guard let id = participant.attribute("id") else { continue }
            pools.insert(id)
            if let process = ref(participant, "processRef") { poolOfProcess[process] = id }
        }
        if let choreography = bpmnChildren(collaboration, "choreographyRef").first.map({ stripPrefix($0.text) }),
            let target = roots[choreography]
        {
            let closed = { (e: XMLElement) in e.attribute("isClosed")?.trimmingWhitespace() == "true" }
            if closed(collaboration) != closed(target) {
                error(
                    collaboration,
                    "collaboration '\(collaboration.attribute("id") ?? "?")' references choreography '\(choreography)' with a different isClosed; BPMN requires them to be equal"
                )
            }
        }
        for flow in bpmnChildren(collaboration, "messageFlow") {
            let id = flow.attribute("id") ?? "?"
            guard let source = ref(flow, "sourceRef"), let target = ref(flow, "targetRef") else {
                error(flow, "message flow '\(id)' needs both sourceRef and targetRef")
                continue
            }
            // A node's pool: the participant of its process, else the process itself.
            func pool(_ ref: String) -> String? {
                if pools.contains(ref) { return ref }
                return elements[ref]?.process.map { poolOfProcess[$0] ?? $0 }
            }
            guard let sourcePool = pool(source), let targetPool = pool(target) else {
                error(
                    flow,
                    "message flow '\(id)' connects '\(source)' and '\(target)'; each end must be a pool or a node in a pool's process"
                )
                continue
            }
            if sourcePool == targetPool {
                error(
                    flow,
                    "message flow '\(id)' connects '\(source)' and '\(target)' in the same pool '\(sourcePool)'; BPMN requires a message flow to connect different pools"
                )
            }
            for (end, ref) in [("starts", source), ("ends", target)] {
                guard let node = elements[ref]?.element, !pools.contains(ref) else { continue }
                if !StaticRules.interactionNodes.contains(node.localName) {
                    error(
                        flow,
                        "message flow '\(id)' \(end) at \(node.localName) '\(ref)'; BPMN connects message flows to pools, activities and events only"
                    )
                }
            }
            if let node = elements[source]?.element,
                ["startEvent", "intermediateCatchEvent", "boundaryEvent"].contains(node.localName)
                    || node.localName.hasSuffix("Gateway")
            {
                error(
                    flow,
                    "message flow '\(id)' starts at \(node.localName) '\(source)'; BPMN forbids a \(node.localName) as the source of a message flow"
                )
            }
            if let node = elements[target]?.element,
                ["endEvent", "intermediateThrowEvent"].contains(node.localName) || node.localName.hasSuffix("Gateway")
            {
                error(
                    flow,
                    "message flow '\(id)' ends at \(node.localName) '\(target)'; BPMN forbids a \(node.localName) as the target of a message flow"
                )
            }
        }
    }
}
