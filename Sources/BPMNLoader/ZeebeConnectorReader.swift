import Expressions
import ProcessModel
import Values

/// Reads Camunda 8's REST outbound connector: `<zeebe:taskDefinition type="io.camunda:http-json:1"
/// retries="3"/>` with its `zeebe:ioMapping` inputs and `zeebe:taskHeaders` (`resultVariable`,
/// `resultExpression`, `errorExpression`, `retryBackoff`). A task definition of any other type
/// is not this reader's (the task is then reported as an implementation procrun cannot run).
public struct RESTConnectorReader: IntegrationReader {
    public static let taskType = "io.camunda:http-json:1"
    public var namespace: String { Namespaces.zeebe }
    public var localName: String { "taskDefinition" }

    public init() {}

    public func read(_ element: ExtensionElement, siblings: [ExtensionElement], diagnostics: inout ReaderDiagnostics)
        -> IntegrationNode?
    {
        guard element.attribute("type")?.trimmingWhitespace() == Self.taskType else { return nil }
        let before = diagnostics.diagnostics.count
        var inputs: [String: RESTConnectorConfig.Input] = [:]
        var headers: [String: (value: String, location: SourceLocation)] = [:]
        for sibling in siblings where sibling.namespace == Namespaces.zeebe {
            switch sibling.localName {
            case "ioMapping":
                for input in sibling.children(Namespaces.zeebe, "input") {
                    guard let target = input.attribute("target")?.trimmingWhitespace(), !target.isEmpty else {
                        continue
                    }
                    let source = input.attribute("source") ?? ""
                    if RESTConnectorConfig.ignoredInputs.contains(target) { continue }
                    guard RESTConnectorConfig.knownInputs.contains(target) else {
                        diagnostics.warning(
                            input.location,
                            "REST connector input '\(target)' is not supported by procrun and is ignored (supported: \(RESTConnectorConfig.knownInputs.sorted().joined(separator: ", ")))"
                        )
                        continue
                    }
                    if source.trimmingWhitespace().hasPrefix("=") {
                        do {
                            inputs[target] = .expression(try FEELExpression(source))
                        } catch {
                            diagnostics.error(
                                input.location,
                                "cannot parse the REST connector's \(target): \(error.message) in '\(source)'")
                        }
                    } else {
                        inputs[target] = .text(source)
                    }
                }
            case "taskHeaders":
                for header in sibling.children(Namespaces.zeebe, "header") {
                    guard let key = header.attribute("key") else { continue }
                    headers[key] = (header.attribute("value") ?? "", header.location)
                }
            default:
                continue
            }
        }
        if inputs["url"] == nil {
            diagnostics.error(element.location, "the REST connector has no url input (zeebe:input target=\"url\")")
        }
        if case .text(let type)? = inputs["authentication.type"],
            !RESTConnectorConfig.authenticationTypes.contains(type.trimmingWhitespace())
        {
            diagnostics.error(
                element.location,
                "the REST connector's authentication.type '\(type)' is not supported by procrun (supported: \(RESTConnectorConfig.authenticationTypes.sorted().joined(separator: ", ")))"
            )
        }
        func expression(_ key: String) -> FEELExpression? {
            guard let (value, location) = headers[key], !value.trimmingWhitespace().isEmpty else { return nil }
            do {
                return try FEELExpression(value)
            } catch {
                diagnostics.error(location, "cannot parse the REST connector's \(key): \(error.message) in '\(value)'")
                return nil
            }
        }
        let resultExpression = expression("resultExpression")
        let errorExpression = expression("errorExpression")
        let resultVariable = headers["resultVariable"]?.value.trimmingWhitespace()
        func seconds(_ key: String) -> Double {
            switch inputs[key] {
            case .text(let text)?: return Double(text.trimmingWhitespace()) ?? 20
            case .expression(let feel)?:
                if case .literal(.number(let n)) = feel.root, n > 0 { return n }
                return 20
            case nil: return 20
            }
        }
        var retries = 3
        if let text = element.attribute("retries") {
            if let value = Int(text.trimmingWhitespace()), value >= 1, value <= 1001 {
                retries = value
            } else {
                diagnostics.error(
                    element.location, "zeebe:taskDefinition retries '\(text)' is not a whole number from 1 to 1001")
            }
        }
        var delay = 0.0
        if let (text, location) = headers["retryBackoff"], !text.trimmingWhitespace().isEmpty {
            if let parsed = parseDuration(text) {
                delay = parsed
            } else {
                diagnostics.error(
                    location, "the REST connector's retryBackoff '\(text)' is not an ISO-8601 duration (PT10S)")
            }
        }
        guard !diagnostics.diagnostics[before...].contains(where: { $0.severity == .error }) else { return nil }
        let config = RESTConnectorConfig(
            inputs: inputs, resultVariable: (resultVariable?.isEmpty ?? true) ? nil : resultVariable,
            resultExpression: resultExpression, errorExpression: errorExpression,
            timeout: seconds("connectionTimeoutInSeconds") + seconds("readTimeoutInSeconds"), location: element.location
        )
        // Zeebe's retries count every try: 3 is the first and two more.
        let onError = OnErrorPolicy(
            retries: retries - 1, delay: delay, interrupt: nil, notify: [], location: element.location)
        return IntegrationNode(type: "webhook", config: config, onError: onError, location: element.location)
    }
}
