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
    static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    public static func percentEncode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    /// application/x-www-form-urlencoded: unreserved characters as they are, spaces as '+'.
    public static func formEncode(_ text: String) -> String {
        percentEncode(text).replacingOccurrences(of: "%20", with: "+")
    }

    /// Builds the request: the snapshot, resolved at once. A failure's message has the secrets
    /// read so far hidden (a date variable that is not a date quotes its value, which may be a secret).
    public static func build(
        _ webhook: WebhookConfig, context: JSONObject, idempotencyKey: String, userAgent: String,
        environment: RenderEnvironment
    ) throws(RenderError) -> WebhookRequest {
        let snapshot = try snapshot(
            webhook, context: context, idempotencyKey: idempotencyKey, userAgent: userAgent, environment: environment)
        return try resolve(snapshot, webhook: webhook, environment: environment)
    }

    /// The request of one webhook execution, built once when the node is entered: context
    /// variables and `DateTime()` values rendered, `{$secrets.NAME}` kept as references (checked
    /// to be set). A failure (a variable that is not set) has the secrets read so far hidden.
    public static func snapshot(
        _ webhook: WebhookConfig, context: JSONObject, idempotencyKey: String, userAgent: String,
        environment: RenderEnvironment
    ) throws(RenderError) -> WebhookRequestSnapshot {
        var secrets: [String] = []
        do {
            return try snapshot(
                webhook, context: context, idempotencyKey: idempotencyKey, userAgent: userAgent,
                environment: environment, secrets: &secrets)
        } catch {
            throw RenderError(message: Redactor(secrets: secrets).redact(error.message))
        }
    }

    static func snapshot(
        _ webhook: WebhookConfig, context: JSONObject, idempotencyKey: String, userAgent: String,
        environment: RenderEnvironment,
        secrets: inout [String]
    ) throws(RenderError) -> WebhookRequestSnapshot {
        var url = try pieces(webhook.url, context: context, environment: environment, secrets: &secrets, inURL: true)
        var headers: [WebhookRequestSnapshot.Header] = []
        var body: [WebhookRequestSnapshot.Piece]?

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
                let query = parameters.map { "\(formEncode($0.0))=\(formEncode(scalarText($0.1)))" }.joined(
                    separator: "&")
                let rendered = try text(url, environment: environment, secrets: &secrets)
                url.append(.text((rendered.contains("?") ? "&" : "?") + query))
            }
        case (.post, .json):
            headers.append(.init(name: "Content-Type", value: [.text("application/json")]))
            body = [.text(JSONWriter.string(.object(JSONObject(parameters))))]
        case (.post, .form):
            headers.append(.init(name: "Content-Type", value: [.text("application/x-www-form-urlencoded")]))
            body = [
                .text(parameters.map { "\(formEncode($0.0))=\(formEncode(scalarText($0.1)))" }.joined(separator: "&"))
            ]
        case (.post, .text):
            headers.append(.init(name: "Content-Type", value: [.text("text/plain; charset=utf-8")]))
            body =
                try webhook.text.map { (template) throws(RenderError) in
                    try pieces(template, context: context, environment: environment, secrets: &secrets, inURL: false)
                } ?? []
        }
        headers.append(.init(name: "Idempotency-Key", value: [.text(idempotencyKey)]))
        headers.append(.init(name: "User-Agent", value: [.text(userAgent)]))
        for header in webhook.headers {
            let value = try pieces(
                header.value, context: context, environment: environment, secrets: &secrets, inURL: false)
            headers.removeAll { $0.name.lowercased() == header.name.lowercased() }
            headers.append(.init(name: header.name, value: value))
        }
        return WebhookRequestSnapshot(method: webhook.method.rawValue, url: url, headers: headers, body: body)
    }

    /// The request a try sends: the snapshot with its secrets read from the environment. The
    /// same snapshot and environment give the same bytes. Fails when a secret is no longer set,
    /// or a header or the URL would carry a line break or a NUL.
    public static func resolve(
        _ snapshot: WebhookRequestSnapshot, webhook: WebhookConfig, environment: RenderEnvironment
    ) throws(RenderError) -> WebhookRequest {
        try resolve(
            snapshot, timeout: webhook.timeout, maxResponseBytes: webhook.maxResponseBytes, environment: environment)
    }

    /// `resolve` for a request whose try takes at most `timeout` seconds and accepts a reply of
    /// at most `maxResponseBytes`.
    public static func resolve(
        _ snapshot: WebhookRequestSnapshot, timeout: Double, maxResponseBytes: Int, environment: RenderEnvironment
    ) throws(RenderError) -> WebhookRequest {
        var secrets: [String] = []
        do {
            return try resolve(
                snapshot, timeout: timeout, maxResponseBytes: maxResponseBytes, environment: environment,
                secrets: &secrets)
        } catch {
            throw RenderError(message: Redactor(secrets: secrets).redact(error.message))
        }
    }

    static func resolve(
        _ snapshot: WebhookRequestSnapshot, timeout: Double, maxResponseBytes: Int, environment: RenderEnvironment,
        secrets: inout [String]
    ) throws(RenderError) -> WebhookRequest {
        let url = try text(snapshot.url, environment: environment, secrets: &secrets)
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(snapshot.headers.count)
        for header in snapshot.headers {
            // A header name is a token: no separators, spaces or control characters.
            guard !header.name.isEmpty,
                header.name.unicodeScalars.allSatisfy({
                    $0.value > 32 && $0.value < 127 && !"()<>@,;:\\\"/[]?={}".unicodeScalars.contains($0)
                })
            else {
                throw RenderError(message: "header name '\(header.name)' is not a valid header name")
            }
            let value = try text(header.value, environment: environment, secrets: &secrets)
            if value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) {
                throw RenderError(message: "header '\(header.name)' would contain a line break")
            }
            // libcurl takes headers as C strings: a NUL would silently cut the header there.
            if value.unicodeScalars.contains("\0") {
                throw RenderError(message: "header '\(header.name)' would contain a NUL character")
            }
            headers.append((header.name, value))
        }
        let body = try snapshot.body.map { (pieces) throws(RenderError) in
            Array(try text(pieces, environment: environment, secrets: &secrets).utf8)
        }
        // Substituted values are percent-encoded, but a base URL variable is not; libcurl takes
        // the URL as a C string, where a NUL would silently cut it.
        if url.unicodeScalars.contains("\0") {
            throw RenderError(message: "the url would contain a NUL character")
        }
        let http = HTTPRequest(
            method: snapshot.method, url: url, headers: headers, body: body, timeout: timeout,
            maxResponseBytes: maxResponseBytes)
        return WebhookRequest(http: http, secrets: secrets)
    }

    /// Pieces joined, secrets read from the environment.
    static func text(
        _ pieces: [WebhookRequestSnapshot.Piece], environment: RenderEnvironment, secrets: inout [String]
    ) throws(RenderError) -> String {
        if pieces.count == 1, case .text(let text) = pieces[0] { return text }
        var output = ""
        for piece in pieces {
            switch piece {
            case .text(let text):
                output += text
            case .secret(let name, let percentEncoded):
                let secret = try self.secret(name, environment: environment, secrets: &secrets)
                output += percentEncoded ? percentEncode(secret) : secret
            case .secretDate(let name, let format, let locale, let percentEncoded):
                let secret = try self.secret(name, environment: environment, secrets: &secrets)
                let text = try date(
                    .string(secret), variable: ["secrets", name], format: format, locale: locale,
                    environment: environment)
                output += percentEncoded ? percentEncode(text) : text
            case .jsonSecret(let name):
                let secret = try self.secret(name, environment: environment, secrets: &secrets)
                output += String(JSONWriter.string(.string(secret)).dropFirst().dropLast())
            case .basic(let user, let password):
                let credentials =
                    try text(user, environment: environment, secrets: &secrets) + ":"
                    + text(password, environment: environment, secrets: &secrets)
                output += Data(credentials.utf8).base64EncodedString()
            }
        }
        return output
    }

    static func secret(_ name: String, environment: RenderEnvironment, secrets: inout [String]) throws(RenderError)
        -> String
    {
        let variable = RenderEnvironment.secretVariable(name)
        guard let secret = environment.environment[variable] else {
            throw RenderError(message: "secret '\(name)' is not set (environment variable \(variable))")
        }
        secrets.append(secret)
        return secret
    }

    /// A `DateTime()` value read from a variable.
    static func date(
        _ value: JSONValue, variable: [String], format: String, locale localeName: String?,
        environment: RenderEnvironment
    ) throws(RenderError) -> String {
        guard case .string(let text) = value, let parsed = Timestamp.parse(text) else {
            throw RenderError(
                message: "variable '\(variable.joined(separator: "."))' is not a date (\(JSONWriter.string(value)))")
        }
        let locale = localeName.flatMap(DateFormat.Locale.init(identifier:)) ?? .enUS
        return DateFormat.format(parsed, format, locale: locale, timeZone: environment.timeZone)
    }

    /// A template as snapshot pieces: context variables and dates rendered, secrets kept as
    /// references (read now, so that one that is not set fails here).
    static func pieces(
        _ template: Template, context: JSONObject, environment: RenderEnvironment, secrets: inout [String], inURL: Bool
    ) throws(RenderError) -> [WebhookRequestSnapshot.Piece] {
        var pieces: [WebhookRequestSnapshot.Piece] = []
        var output = ""
        for (index, segment) in template.segments.enumerated() {
            switch segment {
            case .variable(let path) where isSecret(path):
                _ = try secret(path[1], environment: environment, secrets: &secrets)
                if !output.isEmpty {
                    pieces.append(.text(output))
                    output = ""
                }
                pieces.append(.secret(name: path[1], percentEncoded: inURL && index > 0))
            case .dateTime(let format, let path?, let locale) where isSecret(path):
                let value = try secret(path[1], environment: environment, secrets: &secrets)
                _ = try date(.string(value), variable: path, format: format, locale: locale, environment: environment)
                if !output.isEmpty {
                    pieces.append(.text(output))
                    output = ""
                }
                pieces.append(.secretDate(name: path[1], format: format, locale: locale, percentEncoded: inURL))
            default:
                output += try render(
                    segment, index: index, context: context, environment: environment, secrets: &secrets, inURL: inURL)
            }
        }
        if !output.isEmpty || pieces.isEmpty { pieces.append(.text(output)) }
        return pieces
    }

    static func isSecret(_ path: [String]) -> Bool { path.count == 2 && path[0] == "secrets" }

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
            output += try render(
                segment, index: index, context: context, environment: environment, secrets: &secrets, inURL: inURL)
        }
        return output
    }

    /// One segment of a template, the `index`th.
    static func render(
        _ segment: Template.Segment, index: Int, context: JSONObject, environment: RenderEnvironment,
        secrets: inout [String], inURL: Bool
    ) throws(RenderError) -> String {
        switch segment {
        case .text(let text):
            return text
        case .variable(let path):
            let value = try lookup(path, context: context, environment: environment, secrets: &secrets)
            let text = scalarText(value)
            return inURL && index > 0 ? percentEncode(text) : text
        case .dateTime(let format, let variable, let localeName):
            let text: String
            if let variable {
                let value = try lookup(variable, context: context, environment: environment, secrets: &secrets)
                text = try date(value, variable: variable, format: format, locale: localeName, environment: environment)
            } else {
                let locale = localeName.flatMap(DateFormat.Locale.init(identifier:)) ?? .enUS
                text = DateFormat.format(environment.now, format, locale: locale, timeZone: environment.timeZone)
            }
            return inURL ? percentEncode(text) : text
        }
    }

    static func lookup(_ path: [String], context: JSONObject, environment: RenderEnvironment, secrets: inout [String])
        throws(RenderError) -> JSONValue
    {
        if isSecret(path) {
            return .string(try secret(path[1], environment: environment, secrets: &secrets))
        }
        guard let value = JSONValue.object(context).value(atPath: path.map { Substring($0) }) else {
            throw RenderError(message: "variable '\(path.joined(separator: "."))' is not set")
        }
        return value
    }
}
