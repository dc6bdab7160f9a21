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
    public let http: HTTPRequest
    /// Secret values used in the request: shown as `***` everywhere.
    public let secrets: [String]
    /// Hides the secrets, in every form procrun writes them, and the values of the
    /// `Authorization` and `Proxy-Authorization` headers (whole, and the credentials after the scheme).
    public let redactor: Redactor

    public init(http: HTTPRequest, secrets: [String]) {
        self.http = http
        self.secrets = secrets
        redactor = Redactor(secrets: secrets + WebhookRequest.credentials(in: http.headers))
    }

    /// The values of credential headers, whole and without their scheme (`Bearer …`, `Basic …`).
    static func credentials(in headers: [(name: String, value: String)]) -> [String] {
        var values: [String] = []
        for header in headers where ["authorization", "proxy-authorization"].contains(header.name.lowercased()) {
            let value = header.value.trimmingCharacters(in: .whitespaces)
            values.append(value)
            if let space = value.firstIndex(of: " ") {
                values.append(String(value[value.index(after: space)...]).trimmingCharacters(in: .whitespaces))
            }
        }
        return values
    }

    /// Replaces every secret value in `text`, in any form procrun writes it, with `***`.
    public func redact(_ text: String) -> String { redactor.redact(text) }

    /// The URL as messages show it: secrets hidden (first, so that a secret holding a `?` is not
    /// cut in two), query string dropped.
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

    /// Builds the request. A failure's message has the secrets read so far hidden (a date
    /// variable that is not a date quotes its value, which may be a secret).
    public static func build(
        _ webhook: WebhookConfig, context: JSONObject, idempotencyKey: String, userAgent: String, environment: RenderEnvironment
    ) throws(RenderError) -> WebhookRequest {
        var secrets: [String] = []
        do {
            return try build(webhook, context: context, idempotencyKey: idempotencyKey, userAgent: userAgent, environment: environment, secrets: &secrets)
        } catch {
            throw RenderError(message: Redactor(secrets: secrets).redact(error.message))
        }
    }

    static func build(
        _ webhook: WebhookConfig, context: JSONObject, idempotencyKey: String, userAgent: String, environment: RenderEnvironment,
        secrets: inout [String]
    ) throws(RenderError) -> WebhookRequest {
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
            // libcurl takes headers as C strings: a NUL would silently cut the header there.
            if value.unicodeScalars.contains("\0") {
                throw RenderError(message: "header '\(header.name)' would contain a NUL character")
            }
            headers.removeAll { $0.name.lowercased() == header.name.lowercased() }
            headers.append((header.name, value))
        }
        // Substituted values are percent-encoded, but a base URL variable is not; libcurl takes
        // the URL as a C string, where a NUL would silently cut it.
        if fullURL.unicodeScalars.contains("\0") {
            throw RenderError(message: "the url would contain a NUL character")
        }
        let http = HTTPRequest(
            method: webhook.method.rawValue, url: fullURL, headers: headers, body: body, timeout: webhook.timeout,
            maxResponseBytes: webhook.maxResponseBytes)
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
