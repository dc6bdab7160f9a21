import Expressions
import Foundation
import ProcessModel
import Values

/// One notification on its way to one person: what every channel sends (the `--notify-url`
/// JSON, an e-mail). Fixed when the step that notifies commits, so every try sends the same.
public struct OutgoingNotification: Sendable, Equatable {
    /// Stable across tries: the `Idempotency-Key` of the POST and the left part of the e-mail's `Message-ID`.
    public var key: String
    public var process: String
    public var instance: String
    /// The node's id.
    public var node: String
    public var user: String
    public var name: String?
    public var email: String?
    /// The engine's summary, as the instance keeps it (English).
    public var message: String
    /// The text for this person: the process's `procrun:message` template, else the default of their language.
    public var subject: String
    public var text: String
    public var createdAt: Date

    public init(
        key: String, process: String, instance: String, node: String, user: String, name: String?, email: String?,
        message: String,
        subject: String, text: String, createdAt: Date
    ) {
        self.key = key
        self.process = process
        self.instance = instance
        self.node = node
        self.user = user
        self.name = name
        self.email = email
        self.message = message
        self.subject = subject
        self.text = text
        self.createdAt = createdAt
    }
}

/// What a channel made of one try.
public enum ChannelOutcome: Sendable, Equatable {
    case sent
    /// Worth another try (refused, timed out, a 5xx or 4xx reply).
    case failed(String)
    /// Another try cannot help (the person has no e-mail address).
    case undeliverable(String)
}

/// A way to reach people: `--notify-url` (HTTP POST) or `--smtp-url` (e-mail).
public protocol NotificationChannel: Sendable {
    /// "url" or "email": what `procrun notifications` shows.
    var name: String { get }
    /// Seconds a try may take at most: a worker that dies mid-try frees the notification after
    /// the sum of its channels' timeouts and a margin.
    var timeout: Double { get }
    func send(_ notification: OutgoingNotification) async -> ChannelOutcome
}

/// The text a person is notified with when an integration node fails for good, or by a notify node.
public enum NotificationText {
    public enum Language: String, Sendable {
        case ru, en

        /// "ru", "ru_RU", "ru-RU", "en", "en_US", … (case does not matter); nil for any other.
        public init?(locale: String) {
            let code = locale.lowercased().prefix { $0.isLetter }
            guard let language = Language(rawValue: String(code)) else { return nil }
            self = language
        }
    }

    /// The facts a template may read besides the context.
    public struct Facts: Sendable {
        public var process: String
        public var instance: String
        /// The node's name (its id when unnamed).
        public var node: String
        public var error: String
        public var attempts: Int
        public var user: String
        public var name: String

        public init(
            process: String, instance: String, node: String, error: String, attempts: Int, user: String, name: String
        ) {
            self.process = process
            self.instance = instance
            self.node = node
            self.error = error
            self.attempts = attempts
            self.user = user
            self.name = name
        }

        var variables: JSONObject {
            [
                "process": .string(process), "instance": .string(instance), "node": .string(node),
                "error": .string(error),
                "attempts": .number(Double(attempts)), "user": .string(user), "name": .string(name),
            ]
        }
    }

    /// Russian unless the person's locale says English.
    public static func language(of user: Directory.User?) -> Language {
        user?.locale.flatMap(Language.init(locale:)) ?? .ru
    }

    public static func subject(_ facts: Facts, language: Language) -> String {
        switch language {
        case .ru: "Ошибка в процессе «\(facts.process)»: «\(facts.node)»"
        case .en: "Process «\(facts.process)» failed at '\(facts.node)'"
        }
    }

    /// The default text of a language. `type`: the failed node's job type.
    public static func defaultText(_ facts: Facts, language: Language, type: String = "webhook") -> String {
        switch language {
        case .ru:
            let n = facts.attempts
            let word = n % 10 == 1 && n % 100 != 11 ? "попытки" : "попыток"
            let what =
                switch type {
                case "webhook": "вебхук «\(facts.node)» не выполнен"
                case "email": "письмо «\(facts.node)» не отправлено"
                default: "шаг «\(facts.node)» (\(type)) не выполнен"
                }
            return "Процесс «\(facts.process)», экземпляр \(facts.instance): \(what) после \(n) \(word): \(facts.error)"
        case .en:
            return
                "Process «\(facts.process)», instance \(facts.instance): \(type) '\(facts.node)' failed after \(facts.attempts) "
                + "\(facts.attempts == 1 ? "try" : "tries"): \(facts.error)"
        }
    }

    /// The subject of a notify node's message without a subject template.
    public static func messageSubject(_ facts: Facts, language: Language) -> String {
        switch language {
        case .ru: "Процесс «\(facts.process)»: «\(facts.node)»"
        case .en: "Process «\(facts.process)»: '\(facts.node)'"
        }
    }

    /// Renders a `procrun:message` template: `{$error}`, `{$node}`, `{$process}`, `{$instance}`,
    /// `{$attempts}`, `{$user}`, `{$name}`, else the context's variables; a variable that is not
    /// set renders as nothing (a notification is never held back by its text).
    public static func render(
        _ template: Template, facts: Facts, context: JSONObject, language: Language, now: Date, timeZone: TimeZone
    ) -> String {
        let variables = facts.variables
        func lookup(_ path: [String]) -> JSONValue? {
            if path.count == 1, let value = variables[path[0]] { return value }
            return JSONValue.object(context).value(atPath: path.map { Substring($0) })
        }
        var output = ""
        for segment in template.segments {
            switch segment {
            case .text(let text):
                output += text
            case .variable(let path):
                output += lookup(path).map(scalarText) ?? ""
            case .dateTime(let format, let variable, let localeName):
                var date = now
                if let variable {
                    guard case .string(let text)? = lookup(variable), let parsed = Timestamp.parse(text) else {
                        continue
                    }
                    date = parsed
                }
                let fallback: DateFormat.Locale = language == .ru ? .ruRU : .enUS
                let locale = localeName.flatMap(DateFormat.Locale.init(identifier:)) ?? fallback
                output += DateFormat.format(date, format, locale: locale, timeZone: timeZone)
            }
        }
        return output
    }

    static func scalarText(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .number(let number): JSONWriter.number(number)
        case .bool(let flag): flag ? "true" : "false"
        case .null: ""
        default: JSONWriter.string(value)
        }
    }

    /// The notification one person gets: their language's subject, the process's template or
    /// the default text. `context`: the variables the text reads (default: the instance's).
    public static func compose(
        key: String, process: ProcessDefinition, node: FlowNode, instance: Instance, context: JSONObject? = nil,
        user: String, directory: Directory, message: String,
        error: String, attempts: Int, now: Date, timeZone: TimeZone
    ) -> OutgoingNotification {
        let person = directory.user(user)
        let language = language(of: person)
        let facts = Facts(
            process: process.displayName, instance: instance.id, node: node.name ?? node.id, error: error,
            attempts: attempts, user: user,
            name: person?.name ?? user)
        let render = { (template: Template) in
            Self.render(
                template, facts: facts, context: context ?? instance.context, language: language, now: now,
                timeZone: timeZone)
        }
        var subject = subject(facts, language: language)
        let text: String
        if let notify = node.integration?.config as? NotifyConfig {
            text = render(notify.message)
            subject = notify.subject.map(render) ?? messageSubject(facts, language: language)
        } else {
            text =
                node.integration?.onError?.message.map(render)
                ?? defaultText(facts, language: language, type: node.integration?.type ?? "webhook")
        }
        return OutgoingNotification(
            key: key, process: process.displayName, instance: instance.id, node: node.id, user: user,
            name: person?.name, email: person?.email,
            message: message, subject: subject, text: text, createdAt: now)
    }
}
