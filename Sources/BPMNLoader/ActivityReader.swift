import Expressions
import ProcessModel
import Values

/// Activities: loops, multi-instance characteristics and scripts.
extension ModelBuilder {
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
}
