import Expressions
import ProcessModel
import Values

/// An element of a task's `extensionElements`, read out of the XML tree: what an integration
/// reader sees.
public struct ExtensionElement: Sendable {
    public struct Attribute: Sendable {
        public var namespace: String?
        public var name: String
        public var value: String
    }

    public var namespace: String?
    /// The name without its prefix: `webhook` for `<procrun:webhook>`.
    public var localName: String
    /// As written: `procrun:webhook`.
    public var qualifiedName: String
    public var attributes: [Attribute]
    public var children: [ExtensionElement]
    /// The concatenated text inside (text and CDATA, of every descendant).
    public var text: String
    public var location: SourceLocation

    /// An attribute in no namespace.
    public func attribute(_ name: String) -> String? {
        attributes.first { $0.namespace == nil && $0.name == name }?.value
    }

    /// The children of one namespace and name.
    public func children(_ namespace: String, _ localName: String) -> [ExtensionElement] {
        children.filter { $0.namespace == namespace && $0.localName == localName }
    }
}

/// Where a reader reports what is wrong with what it reads: as everywhere, an error refuses the
/// file (`FILE:LINE:COL: error: …`), a warning does not.
public struct ReaderDiagnostics: Sendable {
    public private(set) var diagnostics: [Diagnostic] = []

    public init() {}

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    public mutating func error(_ location: SourceLocation, _ message: String) {
        diagnostics.append(.error(at: location, message))
    }

    public mutating func warning(_ location: SourceLocation, _ message: String) {
        diagnostics.append(.warning(at: location, message))
    }
}

/// Reads one integration node type from a task's `extensionElements`: the element it owns
/// (`namespace`, `localName`) becomes an `IntegrationNode` whose jobs go to the `JobHandler`
/// registered for its type. procrun's readers are `IntegrationReaders.builtIn`; a library user
/// adds one of their own with `LoadOptions.readers`.
public protocol IntegrationReader: Sendable {
    /// The element that makes a task a node of this reader's: `urn:procrun:bpmn:1` and `webhook`.
    var namespace: String { get }
    var localName: String { get }
    /// Reads the node. `siblings`: the task's other extension elements (Zeebe's connectors
    /// keep their inputs there). nil: this element is not this reader's after all (a
    /// `zeebe:taskDefinition` of a type it does not run), or it has errors, reported in
    /// `diagnostics`.
    func read(_ element: ExtensionElement, siblings: [ExtensionElement], diagnostics: inout ReaderDiagnostics)
        -> IntegrationNode?
}

/// procrun's own readers.
public enum IntegrationReaders {
    public static let builtIn: [any IntegrationReader] = [
        WebhookReader(), EmailReader(), NotifyReader(), RESTConnectorReader(),
    ]
}

/// What procrun's own readers share: `<procrun:onError>`, recipients, templates, attribute checks.
public enum ReaderSupport {
    public static let procrunNamespace = Namespaces.procrun

    /// Reports every attribute in no namespace that is not in `allowed`; true when there was none.
    @discardableResult
    public static func checkAttributes(
        _ element: ExtensionElement, allowed: Set<String>, diagnostics: inout ReaderDiagnostics
    ) -> Bool {
        var ok = true
        for attribute in element.attributes where attribute.namespace == nil && !allowed.contains(attribute.name) {
            let known = allowed.isEmpty ? "it takes none" : "known: \(allowed.sorted().joined(separator: ", "))"
            diagnostics.error(
                element.location, "unknown attribute '\(attribute.name)' on \(element.qualifiedName) (\(known))")
            ok = false
        }
        return ok
    }

    /// A template, or an error naming `what`.
    public static func template(
        _ text: String, _ what: String, at location: SourceLocation, diagnostics: inout ReaderDiagnostics
    ) -> Template? {
        do {
            return try Template(text)
        } catch {
            diagnostics.error(location, "cannot parse the \(what) template '\(text)': \(error.message)")
            return nil
        }
    }

    /// The one recipient of a `<procrun:notify>` or `<procrun:recipient>`: `currentUser="true"`,
    /// `user`, `group`, `orgUnit` or `variable`.
    public static func recipient(_ element: ExtensionElement, diagnostics: inout ReaderDiagnostics) -> Recipient? {
        var found: [Recipient] = []
        var ok = true
        for attribute in element.attributes where attribute.namespace == nil {
            let value = attribute.value.trimmingWhitespace()
            switch attribute.name {
            case "currentUser":
                if value == "true" {
                    found.append(.currentUser)
                } else if value != "false" {
                    diagnostics.error(
                        element.location, "\(element.qualifiedName) currentUser is '\(value)'; write \"true\"")
                    ok = false
                }
            case "user": found.append(.user(value))
            case "group": found.append(.group(value))
            case "orgUnit": found.append(.orgUnit(value))
            case "variable": found.append(.variable(value))
            default:
                diagnostics.error(
                    element.location,
                    "unknown attribute '\(attribute.name)' on \(element.qualifiedName) (known: currentUser, group, orgUnit, user, variable)"
                )
                ok = false
            }
        }
        if found.count != 1 {
            diagnostics.error(
                element.location,
                "\(element.qualifiedName) names \(found.count) recipients; give exactly one of currentUser, user, group, orgUnit, variable"
            )
            return nil
        }
        return ok ? found[0] : nil
    }

    /// `<procrun:onError retries="3" delay="PT10S" backoff="2" maxDelay="PT5M" interrupt="Завершить">`
    /// with `<procrun:notify …/>` recipients and an optional `<procrun:message>`.
    public static func onError(_ element: ExtensionElement, diagnostics: inout ReaderDiagnostics) -> OnErrorPolicy? {
        let location = element.location
        let errorsBefore = diagnostics.diagnostics.count
        checkAttributes(
            element, allowed: ["retries", "delay", "backoff", "maxDelay", "interrupt"], diagnostics: &diagnostics)
        var retries = 0
        if let text = element.attribute("retries") {
            if let value = Int(text.trimmingWhitespace()), value >= 0, value <= 1000 {
                retries = value
            } else {
                diagnostics.error(location, "procrun:onError retries '\(text)' is not a whole number from 0 to 1000")
            }
        }
        func seconds(_ name: String) -> Double? {
            guard let text = element.attribute(name) else { return nil }
            if let seconds = parseDuration(text), seconds >= 0 { return seconds }
            diagnostics.error(
                location,
                "procrun:onError \(name) '\(text)' is not seconds (\"5\", \"0.5\") or an ISO-8601 duration (\"PT5S\")")
            return nil
        }
        let delay = seconds("delay") ?? 0
        let maxDelay = seconds("maxDelay")
        var backoff = 1.0
        if let text = element.attribute("backoff") {
            if let value = Double(text.trimmingWhitespace()), value >= 1, value <= 100 {
                backoff = value
            } else {
                diagnostics.error(location, "procrun:onError backoff '\(text)' is not a factor from 1 to 100")
            }
        }
        let interrupt = element.attribute("interrupt").map { $0.trimmingWhitespace() }.flatMap { $0.isEmpty ? nil : $0 }
        var recipients: [Recipient] = []
        var message: Template?
        for child in element.children where child.namespace == Namespaces.procrun {
            switch child.localName {
            case "message":
                checkAttributes(child, allowed: [], diagnostics: &diagnostics)
                if message != nil {
                    diagnostics.error(child.location, "procrun:onError has more than one procrun:message")
                }
                if child.text.trimmingWhitespace().isEmpty {
                    diagnostics.error(child.location, "procrun:message is empty; write the notification text inside")
                    continue
                }
                do {
                    message = try Template(child.text)
                } catch {
                    diagnostics.error(child.location, "cannot parse the procrun:message template: \(error.message)")
                }
            case "notify":
                if let recipient = recipient(child, diagnostics: &diagnostics) { recipients.append(recipient) }
            default:
                diagnostics.error(
                    child.location,
                    "unknown element 'procrun:\(child.localName)' in procrun:onError (known: message, notify)")
            }
        }
        guard !diagnostics.diagnostics[errorsBefore...].contains(where: { $0.severity == .error }) else { return nil }
        return OnErrorPolicy(
            retries: retries, delay: delay, backoff: backoff, maxDelay: maxDelay, interrupt: interrupt,
            notify: recipients, message: message, location: location)
    }

    /// A positive number of seconds or ISO-8601 duration, or an error.
    public static func timeout(
        _ element: ExtensionElement, default value: Double, diagnostics: inout ReaderDiagnostics
    ) -> Double {
        guard let text = element.attribute("timeout") else { return value }
        if let seconds = parseDuration(text), seconds > 0 { return seconds }
        diagnostics.error(
            element.location, "\(element.qualifiedName) timeout '\(text)' is not a positive number of seconds")
        return value
    }
}
