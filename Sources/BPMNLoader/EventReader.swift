import Expressions
import ProcessModel
import Values

/// Events: their triggers (message, signal, timer, error, escalation, compensation, conditional,
/// link) and timers.
extension ModelBuilder {
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
}
