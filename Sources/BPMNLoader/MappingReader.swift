import Expressions
import ProcessModel
import Values

/// The dialects' input and output mappings of an activity: Camunda 7's
/// `<camunda:inputOutput>` (`camunda:inputParameter` / `camunda:outputParameter`, text or
/// `${…}`) and Zeebe's `<zeebe:ioMapping>` (`zeebe:input` / `zeebe:output`, `source` text or
/// `=FEEL`, `target` a variable or a path).
extension ModelBuilder {
    /// `connector`: the task is a REST connector, whose `zeebe:input`s are its request, not variables.
    mutating func readMappings(_ element: XMLElement, connector: Bool) -> IOMappings {
        var mappings = IOMappings()
        for child in element.children where child.isBPMN("extensionElements") {
            for ext in child.children {
                if ext.namespace == Namespaces.camunda && ext.localName == "inputOutput" {
                    for parameter in ext.children where parameter.namespace == Namespaces.camunda {
                        let input = parameter.localName == "inputParameter"
                        guard input || parameter.localName == "outputParameter" else { continue }
                        guard let name = parameter.attribute("name")?.trimmingWhitespace(), !name.isEmpty else {
                            error(index.locateOnLine(parameter), "camunda:\(parameter.localName) needs a name")
                            continue
                        }
                        if let nested = parameter.children.first(where: { _ in true }) {
                            warning(
                                index.locateOnLine(parameter),
                                "camunda:\(parameter.localName) '\(name)' holds a camunda:\(nested.localName), which procrun does not read; the mapping is skipped"
                            )
                            continue
                        }
                        let text = parameter.text.trimmingWhitespace()
                        let source: VariableMapping.Source
                        if text.isEmpty {
                            source = .literal(nil)
                        } else if text.hasPrefix("${") || text.hasPrefix("#{") {
                            guard let parsed = mappingExpression(text, name: name, at: parameter) else { continue }
                            source = .expression(parsed)
                        } else {
                            source = .literal(text)
                        }
                        let mapping = VariableMapping(target: [name], source: source)
                        if input { mappings.inputs.append(mapping) } else { mappings.outputs.append(mapping) }
                    }
                } else if ext.namespace == Namespaces.zeebe && ext.localName == "ioMapping" {
                    for mapping in ext.children where mapping.namespace == Namespaces.zeebe {
                        let input = mapping.localName == "input"
                        guard input || mapping.localName == "output" else { continue }
                        if input && connector { continue }
                        let target = (mapping.attribute("target") ?? "").trimmingWhitespace()
                        let path = target.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                        guard !target.isEmpty, path.allSatisfy({ !$0.isEmpty }) else {
                            error(index.locateOnLine(mapping), "zeebe:\(mapping.localName) needs a target variable")
                            continue
                        }
                        let text = (mapping.attribute("source") ?? "").trimmingWhitespace()
                        let source: VariableMapping.Source
                        if text.hasPrefix("=") {
                            guard let parsed = mappingExpression(text, name: target, at: mapping) else { continue }
                            source = .expression(parsed)
                        } else {
                            source = .literal(text.isEmpty ? nil : text)
                        }
                        let read = VariableMapping(target: path, source: source)
                        if input { mappings.inputs.append(read) } else { mappings.outputs.append(read) }
                    }
                }
            }
        }
        return mappings
    }

    private mutating func mappingExpression(_ text: String, name: String, at element: XMLElement) -> FEELExpression? {
        do {
            return try FEELExpression(text)
        } catch {
            self.error(
                index.locateOnLine(element),
                parseFailure("the \(element.localName) mapping of '\(name)'", error, in: text))
            return nil
        }
    }
}
