import Expressions
import Foundation
import ProcessModel
import Values

/// A rendering failure: a template variable that is not set, a date that is not a date. It
/// fails the try before anything is sent, and retrying cannot help.
public struct RenderError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Everything a webhook template may read besides the context.
public struct RenderEnvironment: Sendable {
    public var now: Date
    public var timeZone: TimeZone
    /// Environment variables; `{$secrets.NAME}` reads `PROCRUN_SECRET_NAME`.
    public var environment: [String: String]

    public init(now: Date, timeZone: TimeZone, environment: [String: String]) {
        self.now = now
        self.timeZone = timeZone
        self.environment = environment
    }

    public static func secretVariable(_ name: String) -> String { "PROCRUN_SECRET_" + name }
}

/// The request a webhook try sends, with what must be hidden when it is shown.
public struct WebhookRequest: Sendable {
    public var http: HTTPRequest
    /// Secret values used in the request: shown as `***` everywhere.
    public var secrets: [String]

    /// Replaces every secret value in `text` with `***`.
    public func redact(_ text: String) -> String { WebhookRequest.redact(text, secrets: secrets) }

    static func redact(_ text: String, secrets: [String]) -> String {
        var result = text
        for secret in secrets where !secret.isEmpty { result = result.replacingOccurrences(of: secret, with: "***") }
        return result
    }

    /// The URL as messages show it: secrets hidden, query string dropped.
    public var displayURL: String {
        let url = redact(http.url)
        return url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
    }
}

/// Builds webhook requests from the node's configuration and the instance context (pure).
public enum RequestBuilder {
    /// Characters left as they are in a substituted URL value (RFC 3986 unreserved).
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    public static func percentEncode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    /// application/x-www-form-urlencoded: unreserved characters as they are, spaces as '+'.
    public static func formEncode(_ text: String) -> String {
        percentEncode(text).replacingOccurrences(of: "%20", with: "+")
    }

    public static func build(
        _ webhook: WebhookConfig, context: JSONObject, idempotencyKey: String, userAgent: String, environment: RenderEnvironment
    ) throws(RenderError) -> WebhookRequest {
        var secrets: [String] = []
        let url = try render(webhook.url, context: context, environment: environment, secrets: &secrets, inURL: true)
        var headers: [(name: String, value: String)] = []
        var body: [UInt8]?
        var fullURL = url

        let parameters = try webhook.parameters.map { (parameter) throws(RenderError) -> (String, JSONValue) in
            let path = parameter.field.split(separator: ".")
            guard let value = JSONValue.object(context).value(atPath: path) else {
                throw RenderError(message: "variable '\(parameter.field)' is not set")
            }
            return (parameter.name, value)
        }

        switch (webhook.method, webhook.type) {
        case (.get, _):
            if !parameters.isEmpty {
                let query = parameters.map { "\(formEncode($0.0))=\(formEncode(scalarText($0.1)))" }.joined(separator: "&")
                fullURL += (url.contains("?") ? "&" : "?") + query
            }
        case (.post, .json):
            headers.append(("Content-Type", "application/json"))
            body = Array(JSONWriter.string(.object(JSONObject(parameters))).utf8)
        case (.post, .form):
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
            body = Array(parameters.map { "\(formEncode($0.0))=\(formEncode(scalarText($0.1)))" }.joined(separator: "&").utf8)
        case (.post, .text):
            headers.append(("Content-Type", "text/plain; charset=utf-8"))
            let text = try webhook.text.map { (template) throws(RenderError) in
                try render(template, context: context, environment: environment, secrets: &secrets, inURL: false)
            }
            body = Array((text ?? "").utf8)
        }
        headers.append(("Idempotency-Key", idempotencyKey))
        headers.append(("User-Agent", userAgent))
        for header in webhook.headers {
            let value = try render(header.value, context: context, environment: environment, secrets: &secrets, inURL: false)
            if value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) {
                throw RenderError(message: "header '\(header.name)' would contain a line break")
            }
            headers.removeAll { $0.name.lowercased() == header.name.lowercased() }
            headers.append((header.name, value))
        }
        let http = HTTPRequest(
            method: webhook.method.rawValue, url: fullURL, headers: headers, body: body, timeout: webhook.timeout)
        return WebhookRequest(http: http, secrets: secrets)
    }

    /// A value as request text: strings as they are, numbers without a needless fraction,
    /// objects and lists as JSON, null as empty.
    static func scalarText(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): s
        case .number(let n): JSONWriter.number(n)
        case .bool(let b): b ? "true" : "false"
        case .null: ""
        case .array, .object: JSONWriter.string(value)
        }
    }

    /// Renders a template. In a URL, substituted values are percent-encoded so that they cannot
    /// change its structure, except a variable at the very start, which is the base URL.
    public static func render(
        _ template: Template, context: JSONObject, environment: RenderEnvironment, secrets: inout [String], inURL: Bool
    ) throws(RenderError) -> String {
        var output = ""
        for (index, segment) in template.segments.enumerated() {
            switch segment {
            case .text(let text):
                output += text
            case .variable(let path):
                let value = try lookup(path, context: context, environment: environment, secrets: &secrets)
                let text = scalarText(value)
                output += inURL && index > 0 ? percentEncode(text) : text
            case .dateTime(let format, let variable, let localeName):
                var date = environment.now
                if let variable {
                    let value = try lookup(variable, context: context, environment: environment, secrets: &secrets)
                    guard case .string(let text) = value, let parsed = Timestamp.parse(text) else {
                        throw RenderError(message: "variable '\(variable.joined(separator: "."))' is not a date (\(JSONWriter.string(value)))")
                    }
                    date = parsed
                }
                let locale = localeName.flatMap(DateFormat.Locale.init(identifier:)) ?? .enUS
                let text = DateFormat.format(date, format, locale: locale, timeZone: environment.timeZone)
                output += inURL ? percentEncode(text) : text
            }
        }
        return output
    }

    static func lookup(_ path: [String], context: JSONObject, environment: RenderEnvironment, secrets: inout [String]) throws(RenderError) -> JSONValue {
        if path.count == 2 && path[0] == "secrets" {
            let name = RenderEnvironment.secretVariable(path[1])
            guard let secret = environment.environment[name] else {
                throw RenderError(message: "secret '\(path[1])' is not set (environment variable \(name))")
            }
            secrets.append(secret)
            return .string(secret)
        }
        guard let value = JSONValue.object(context).value(atPath: path.map { Substring($0) }) else {
            throw RenderError(message: "variable '\(path.joined(separator: "."))' is not set")
        }
        return value
    }
}
