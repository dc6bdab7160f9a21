import Expressions
import ProcessModel
import Values

/// Reads `<procrun:webhook>` (namespace `urn:procrun:bpmn:1`), ELMA365's Webhook block: jobs of
/// type `webhook`. procrun owns this namespace, so unknown attributes and elements in it are
/// errors rather than silently ignored.
public struct WebhookReader: IntegrationReader {
    public var namespace: String { Namespaces.procrun }
    public var localName: String { "webhook" }

    public init() {}

    public func read(_ element: ExtensionElement, siblings: [ExtensionElement], diagnostics: inout ReaderDiagnostics)
        -> IntegrationNode?
    {
        let location = element.location
        let before = diagnostics.diagnostics.count
        func fail(_ at: SourceLocation, _ message: String) { diagnostics.error(at, message) }
        ReaderSupport.checkAttributes(
            element, allowed: ["url", "method", "type", "timeout", "result", "maxResponseBytes"],
            diagnostics: &diagnostics)
        var url: Template?
        if let text = element.attribute("url"), !text.trimmingWhitespace().isEmpty {
            url = ReaderSupport.template(text.trimmingWhitespace(), "url", at: location, diagnostics: &diagnostics)
        } else {
            fail(location, "procrun:webhook needs a url attribute")
        }
        var method = WebhookConfig.Method.post
        if let text = element.attribute("method") {
            if let parsed = WebhookConfig.Method(rawValue: text.uppercased()) {
                method = parsed
            } else {
                fail(location, "procrun:webhook method '\(text)' is not GET or POST")
            }
        }
        var type = WebhookConfig.BodyType.json
        if let text = element.attribute("type") {
            if let parsed = WebhookConfig.BodyType(rawValue: text.lowercased()) {
                type = parsed
            } else {
                fail(location, "procrun:webhook type '\(text)' is not json, form or text")
            }
            if method == .get {
                diagnostics.warning(
                    location, "procrun:webhook type '\(text)' is ignored for GET; parameters go into the query string")
            }
        }
        let timeout = ReaderSupport.timeout(element, default: 30, diagnostics: &diagnostics)
        var maxResponseBytes = WebhookConfig.defaultMaxResponseBytes
        if let text = element.attribute("maxResponseBytes") {
            if let bytes = WebhookConfig.parseByteCount(text) {
                maxResponseBytes = bytes
            } else {
                fail(
                    location,
                    "procrun:webhook maxResponseBytes '\(text)' is not a size from 1 byte to 1GB (a number of bytes, or with a unit: 512KB, 10MB)"
                )
            }
        }
        let result = element.attribute("result")?.trimmingWhitespace()
        if let result, result.isEmpty || !result.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
            fail(location, "procrun:webhook result '\(result)' is not a variable name")
        }

        var parameters: [WebhookConfig.Parameter] = []
        var headers: [WebhookConfig.Header] = []
        var text: Template?
        for child in element.children {
            guard child.namespace == Namespaces.procrun else { continue }
            let childLocation = child.location
            switch child.localName {
            case "param":
                ReaderSupport.checkAttributes(child, allowed: ["field", "name"], diagnostics: &diagnostics)
                guard let field = child.attribute("field")?.trimmingWhitespace(), !field.isEmpty else {
                    fail(childLocation, "procrun:param needs a field attribute (the process field to send)")
                    continue
                }
                let name = child.attribute("name")?.trimmingWhitespace()
                parameters.append(.init(field: field, name: (name?.isEmpty ?? true) ? field : name!))
            case "header":
                ReaderSupport.checkAttributes(child, allowed: ["name", "value"], diagnostics: &diagnostics)
                guard let name = child.attribute("name")?.trimmingWhitespace(), !name.isEmpty,
                    name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) })
                else {
                    fail(childLocation, "procrun:header needs a name attribute made of letters, digits and '-'")
                    continue
                }
                if let value = ReaderSupport.template(
                    child.attribute("value") ?? "", "header '\(name)'", at: childLocation, diagnostics: &diagnostics)
                {
                    headers.append(.init(name: name, value: value))
                }
            case "text":
                ReaderSupport.checkAttributes(child, allowed: [], diagnostics: &diagnostics)
                text = ReaderSupport.template(child.text, "text", at: childLocation, diagnostics: &diagnostics)
                if type != .text {
                    fail(
                        childLocation,
                        "procrun:text is only used with type=\"text\" (this webhook sends \(method == .get ? "GET" : type.rawValue))"
                    )
                }
            default:
                fail(
                    childLocation,
                    "unknown element 'procrun:\(child.localName)' in procrun:webhook (known: param, header, text, onError)"
                )
            }
        }
        let ok = !diagnostics.diagnostics[before...].contains { $0.severity == .error }
        if type == .text && method == .post && text == nil && ok {
            fail(location, "procrun:webhook type=\"text\" needs a procrun:text template")
            return nil
        }
        guard ok, let url else { return nil }
        let config = WebhookConfig(
            url: url, method: method, type: type, timeout: timeout, parameters: parameters, headers: headers,
            text: text, resultVariable: result, maxResponseBytes: maxResponseBytes, location: location)
        return IntegrationNode(type: "webhook", config: config, onError: nil, location: location)
    }
}
