import Expressions
import ProcessModel
import Values

/// Dialect readers: what Camunda 7 (and Activiti, Flowable), Camunda 8 (Zeebe) and procrun
/// write in `extensionElements` and dialect attributes, read on top of BPMN's own elements (as
/// SpiffWorkflow's Camunda parser overrides its BPMN parser). Mappings are in MappingReader.swift,
/// integration node readers in IntegrationReader.swift and the files it lists.
extension ModelBuilder {
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
                // Camunda 7's generated task form: the fields a tasklist asks for.
                for form in child.children where form.namespace == Namespaces.camunda && form.localName == "formData" {
                    for field in form.children
                    where field.namespace == Namespaces.camunda && field.localName == "formField" {
                        guard let id = field.attribute("id"), !id.isEmpty else { continue }
                        let choices = field.children.filter {
                            $0.namespace == Namespaces.camunda && $0.localName == "value"
                        }.compactMap { value in
                            value.attribute("id").map { (id: $0, name: value.attribute("name") ?? $0) }
                        }
                        node.formFields.append(
                            FormField(
                                id: id, label: field.attribute("label"), type: field.attribute("type") ?? "string",
                                defaultValue: field.attribute("defaultValue"), choices: choices))
                    }
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
}
