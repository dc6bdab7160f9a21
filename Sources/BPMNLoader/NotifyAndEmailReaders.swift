import Expressions
import ProcessModel
import Values

/// Reads `<procrun:notify>` as a node of its own (ELMA365's notification block):
///
///     <procrun:notify subject="Заказ {$orderId}">
///       <procrun:recipient group="Склад"/>
///       <procrun:message>Заказ {$orderId} собран</procrun:message>
///     </procrun:notify>
public struct NotifyReader: IntegrationReader {
    public var namespace: String { Namespaces.procrun }
    public var localName: String { "notify" }

    public init() {}

    public func read(_ element: ExtensionElement, siblings: [ExtensionElement], diagnostics: inout ReaderDiagnostics)
        -> IntegrationNode?
    {
        let before = diagnostics.diagnostics.count
        ReaderSupport.checkAttributes(element, allowed: ["subject"], diagnostics: &diagnostics)
        let subject = element.attribute("subject").flatMap {
            ReaderSupport.template($0, "subject", at: element.location, diagnostics: &diagnostics)
        }
        var recipients: [Recipient] = []
        var message: Template?
        for child in element.children where child.namespace == Namespaces.procrun {
            switch child.localName {
            case "recipient":
                if let recipient = ReaderSupport.recipient(child, diagnostics: &diagnostics) {
                    recipients.append(recipient)
                }
            case "message":
                ReaderSupport.checkAttributes(child, allowed: [], diagnostics: &diagnostics)
                if message != nil {
                    diagnostics.error(child.location, "procrun:notify has more than one procrun:message")
                }
                message = ReaderSupport.template(child.text, "message", at: child.location, diagnostics: &diagnostics)
            default:
                diagnostics.error(
                    child.location,
                    "unknown element 'procrun:\(child.localName)' in procrun:notify (known: recipient, message)")
            }
        }
        if recipients.isEmpty {
            diagnostics.error(element.location, "procrun:notify needs at least one procrun:recipient")
        }
        if message == nil, !diagnostics.diagnostics[before...].contains(where: { $0.severity == .error }) {
            diagnostics.error(element.location, "procrun:notify needs a procrun:message with the text")
        }
        guard let message, !diagnostics.diagnostics[before...].contains(where: { $0.severity == .error }) else {
            return nil
        }
        return IntegrationNode(
            type: "notify", config: NotifyConfig(recipients: recipients, message: message, subject: subject),
            onError: nil, location: element.location)
    }
}

/// Reads `<procrun:email>`: jobs of type `email`, sent through the SMTP server procrun is given.
///
///     <procrun:email subject="Заказ {$orderId}" to="{$customer.email}" cc="sales@example.com">
///       <procrun:recipient group="Склад"/>
///       <procrun:text>Заказ {$orderId} готов к отгрузке.</procrun:text>
///       <procrun:html><![CDATA[<p>Заказ <b>{$orderId}</b></p>]]></procrun:html>
///       <procrun:onError retries="3" delay="PT1M"/>
///     </procrun:email>
public struct EmailReader: IntegrationReader {
    public var namespace: String { Namespaces.procrun }
    public var localName: String { "email" }

    public init() {}

    public func read(_ element: ExtensionElement, siblings: [ExtensionElement], diagnostics: inout ReaderDiagnostics)
        -> IntegrationNode?
    {
        let before = diagnostics.diagnostics.count
        let location = element.location
        ReaderSupport.checkAttributes(element, allowed: ["subject", "to", "cc", "timeout"], diagnostics: &diagnostics)
        func template(_ name: String) -> Template? {
            guard let text = element.attribute(name), !text.trimmingWhitespace().isEmpty else { return nil }
            return ReaderSupport.template(text, name, at: location, diagnostics: &diagnostics)
        }
        let subject = template("subject")
        if element.attribute("subject")?.trimmingWhitespace().isEmpty ?? true {
            diagnostics.error(location, "procrun:email needs a subject attribute")
        }
        let to = template("to")
        let cc = template("cc")
        let timeout = ReaderSupport.timeout(element, default: 30, diagnostics: &diagnostics)
        var recipients: [Recipient] = []
        var text: Template?
        var html: Template?
        for child in element.children where child.namespace == Namespaces.procrun {
            switch child.localName {
            case "recipient":
                if let recipient = ReaderSupport.recipient(child, diagnostics: &diagnostics) {
                    recipients.append(recipient)
                }
            case "text", "html":
                ReaderSupport.checkAttributes(child, allowed: [], diagnostics: &diagnostics)
                if (child.localName == "text" ? text : html) != nil {
                    diagnostics.error(child.location, "procrun:email has more than one procrun:\(child.localName)")
                }
                let body = ReaderSupport.template(
                    child.text, child.localName, at: child.location, diagnostics: &diagnostics)
                if child.localName == "text" { text = body } else { html = body }
            default:
                diagnostics.error(
                    child.location,
                    "unknown element 'procrun:\(child.localName)' in procrun:email (known: recipient, text, html, onError)"
                )
            }
        }
        // What an e-mail sends is stored with its job: secret values must not get there.
        for (name, template) in [("subject", subject), ("to", to), ("cc", cc), ("text", text), ("html", html)] {
            if let secret = template?.variables.first(where: { $0.first == "secrets" }) {
                diagnostics.error(
                    location,
                    "procrun:email \(name) reads {$\(secret.joined(separator: "."))}; an e-mail cannot carry secrets (its text is stored with its job)"
                )
            }
        }
        if to == nil && recipients.isEmpty {
            diagnostics.error(
                location, "procrun:email has nobody to send to: give a to attribute or a procrun:recipient")
        }
        if text == nil && html == nil {
            diagnostics.error(location, "procrun:email needs a body: a procrun:text (and, optionally, a procrun:html)")
        }
        guard let subject, !diagnostics.diagnostics[before...].contains(where: { $0.severity == .error }) else {
            return nil
        }
        let config = EmailConfig(
            to: to, cc: cc, recipients: recipients, subject: subject, text: text, html: html, timeout: timeout)
        return IntegrationNode(type: "email", config: config, onError: nil, location: location)
    }
}
