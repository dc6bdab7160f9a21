import Expressions
import ProcessModel
import Values

/// Reads `<procrun:webhook>` (namespace `urn:procrun:bpmn:1`). procrun owns this namespace, so
/// unknown attributes and elements in it are errors rather than silently ignored.
enum WebhookParser {
    static func parse(_ element: XMLElement, builder: inout ModelBuilder) -> WebhookConfig? {
        let location = builder.index.locate(element)
        var ok = true
        func fail(_ at: SourceLocation, _ message: String) {
            builder.error(at, message)
            ok = false
        }
        func checkAttributes(_ element: XMLElement, allowed: Set<String>, at location: SourceLocation) {
            for attribute in element.attributes where attribute.namespace == nil && !allowed.contains(attribute.name) {
                let known = allowed.sorted().joined(separator: ", ")
                fail(
                    location, "unknown attribute '\(attribute.name)' on procrun:\(element.localName) (known: \(known))")
            }
        }
        func template(_ text: String, _ what: String, at location: SourceLocation) -> Template? {
            do {
                return try Template(text)
            } catch {
                fail(location, "cannot parse the \(what) template '\(text)': \(error.message)")
                return nil
            }
        }

        checkAttributes(
            element, allowed: ["url", "method", "type", "timeout", "result", "maxResponseBytes"], at: location)
        var url: Template?
        if let text = element.attribute("url"), !text.trimmingWhitespace().isEmpty {
            url = template(text.trimmingWhitespace(), "url", at: location)
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
                builder.warning(
                    location, "procrun:webhook type '\(text)' is ignored for GET; parameters go into the query string")
            }
        }
        var timeout = 30.0
        if let text = element.attribute("timeout") {
            if let seconds = parseDuration(text), seconds > 0 {
                timeout = seconds
            } else {
                fail(location, "procrun:webhook timeout '\(text)' is not a positive number of seconds")
            }
        }
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
        var onError: WebhookConfig.OnError?
        for child in element.children {
            guard child.namespace == Namespaces.procrun else { continue }
            let childLocation = builder.index.locate(child)
            switch child.localName {
            case "param":
                checkAttributes(child, allowed: ["field", "name"], at: childLocation)
                guard let field = child.attribute("field")?.trimmingWhitespace(), !field.isEmpty else {
                    fail(childLocation, "procrun:param needs a field attribute (the process field to send)")
                    continue
                }
                let name = child.attribute("name")?.trimmingWhitespace()
                parameters.append(.init(field: field, name: (name?.isEmpty ?? true) ? field : name!))
            case "header":
                checkAttributes(child, allowed: ["name", "value"], at: childLocation)
                guard let name = child.attribute("name")?.trimmingWhitespace(), !name.isEmpty,
                    name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) })
                else {
                    fail(childLocation, "procrun:header needs a name attribute made of letters, digits and '-'")
                    continue
                }
                if let value = template(child.attribute("value") ?? "", "header '\(name)'", at: childLocation) {
                    headers.append(.init(name: name, value: value))
                }
            case "text":
                checkAttributes(child, allowed: [], at: childLocation)
                text = template(child.text, "text", at: childLocation)
                if type != .text {
                    fail(
                        childLocation,
                        "procrun:text is only used with type=\"text\" (this webhook sends \(method == .get ? "GET" : type.rawValue))"
                    )
                }
            case "onError":
                onError = parseOnError(child, at: childLocation, builder: &builder, ok: &ok)
            default:
                fail(
                    childLocation,
                    "unknown element 'procrun:\(child.localName)' in procrun:webhook (known: param, header, text, onError)"
                )
            }
        }
        if type == .text && method == .post && text == nil && ok {
            fail(location, "procrun:webhook type=\"text\" needs a procrun:text template")
        }
        guard ok, let url else { return nil }
        return WebhookConfig(
            url: url, method: method, type: type, timeout: timeout, parameters: parameters, headers: headers,
            text: text,
            onError: onError, resultVariable: result, maxResponseBytes: maxResponseBytes, location: location)
    }

    static func parseOnError(
        _ element: XMLElement, at location: SourceLocation, builder: inout ModelBuilder, ok: inout Bool
    ) -> WebhookConfig.OnError {
        for attribute in element.attributes
        where attribute.namespace == nil && !["retries", "delay", "interrupt"].contains(attribute.name) {
            builder.error(
                location, "unknown attribute '\(attribute.name)' on procrun:onError (known: delay, interrupt, retries)")
            ok = false
        }
        var retries = 0
        if let text = element.attribute("retries") {
            if let value = Int(text.trimmingWhitespace()), value >= 0, value <= 1000 {
                retries = value
            } else {
                builder.error(location, "procrun:onError retries '\(text)' is not a whole number from 0 to 1000")
                ok = false
            }
        }
        var delay = 0.0
        if let text = element.attribute("delay") {
            if let seconds = parseDuration(text) {
                delay = seconds
            } else {
                builder.error(
                    location,
                    "procrun:onError delay '\(text)' is not seconds (\"5\", \"0.5\") or an ISO-8601 duration (\"PT5S\")"
                )
                ok = false
            }
        }
        let interrupt = element.attribute("interrupt").map { $0.trimmingWhitespace() }.flatMap { $0.isEmpty ? nil : $0 }
        var recipients: [WebhookConfig.Recipient] = []
        var message: Template?
        for child in element.children where child.namespace == Namespaces.procrun {
            let childLocation = builder.index.locate(child)
            if child.localName == "message" {
                for attribute in child.attributes where attribute.namespace == nil {
                    builder.error(
                        childLocation,
                        "unknown attribute '\(attribute.name)' on procrun:message (it takes none: write the text inside)"
                    )
                    ok = false
                }
                if message != nil {
                    builder.error(childLocation, "procrun:onError has more than one procrun:message")
                    ok = false
                }
                let text = child.text
                if text.trimmingWhitespace().isEmpty {
                    builder.error(childLocation, "procrun:message is empty; write the notification text inside")
                    ok = false
                    continue
                }
                do {
                    message = try Template(text)
                } catch {
                    builder.error(childLocation, "cannot parse the procrun:message template: \(error.message)")
                    ok = false
                }
                continue
            }
            guard child.localName == "notify" else {
                builder.error(
                    childLocation,
                    "unknown element 'procrun:\(child.localName)' in procrun:onError (known: message, notify)")
                ok = false
                continue
            }
            var found: [WebhookConfig.Recipient] = []
            for attribute in child.attributes where attribute.namespace == nil {
                let value = attribute.value.trimmingWhitespace()
                switch attribute.name {
                case "currentUser":
                    if value == "true" {
                        found.append(.currentUser)
                    } else if value != "false" {
                        builder.error(childLocation, "procrun:notify currentUser is '\(value)'; write \"true\"")
                        ok = false
                    }
                case "user": found.append(.user(value))
                case "group": found.append(.group(value))
                case "orgUnit": found.append(.orgUnit(value))
                case "variable": found.append(.variable(value))
                default:
                    builder.error(
                        childLocation,
                        "unknown attribute '\(attribute.name)' on procrun:notify (known: currentUser, group, orgUnit, user, variable)"
                    )
                    ok = false
                }
            }
            if found.count != 1 {
                builder.error(
                    childLocation,
                    "procrun:notify names \(found.count) recipients; give exactly one of currentUser, user, group, orgUnit, variable"
                )
                ok = false
            }
            recipients += found
        }
        return WebhookConfig.OnError(
            retries: retries, delay: delay, interrupt: interrupt, notify: recipients, message: message,
            location: location)
    }
}
