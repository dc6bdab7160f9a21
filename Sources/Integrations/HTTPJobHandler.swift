import Engine
import Expressions
import Foundation
import ProcessModel
import Values

/// The `webhook` job type over HTTP: procrun's Webhook block (`procrun:webhook`, through
/// `HTTPWebhookPerformer`) and Camunda 8's REST connector (`RESTConnectorConfig`). Both fix
/// their request when the node is entered, and every try sends it as it is.
public struct HTTPJobHandler: JobHandler {
    public var performer: HTTPWebhookPerformer
    public var type: String { "webhook" }

    public init(_ performer: HTTPWebhookPerformer) { self.performer = performer }

    public func prepare(_ call: JobCall) -> [UInt8]? {
        guard let connector = call.integration.config as? RESTConnectorConfig else {
            return WebhookJobHandler(performer).prepare(call)
        }
        let preparation: WebhookPreparation
        do {
            let snapshot = try RESTConnectorRequest.snapshot(
                connector, context: call.context, idempotencyKey: call.idempotencyKey, userAgent: performer.userAgent)
            // Resolved once now too, so that a secret that is not set fails before the first try.
            _ = try RequestBuilder.resolve(
                snapshot, timeout: connector.timeout, maxResponseBytes: connector.maxResponseBytes,
                environment: performer.renderEnvironment)
            preparation = .request(snapshot)
        } catch {
            preparation = .failed(message: error.message)
        }
        return preparation.encoded
    }

    public func perform(_ call: JobCall) async -> JobOutcome {
        guard let connector = call.integration.config as? RESTConnectorConfig else {
            return await WebhookJobHandler(performer).perform(call)
        }
        let snapshot: WebhookRequestSnapshot
        switch (call.prepared ?? prepare(call)).flatMap(WebhookPreparation.init(encoded:)) {
        case .request(let made)?: snapshot = made
        case .failed(let message)?: return .failed(status: nil, message: message, retryable: false)
        case nil:
            return .failed(
                status: nil,
                message: "the stored request of this try cannot be read (damaged, or written by a newer procrun)",
                retryable: false)
        }
        let request: WebhookRequest
        do {
            request = try RequestBuilder.resolve(
                snapshot, timeout: connector.timeout, maxResponseBytes: connector.maxResponseBytes,
                environment: performer.renderEnvironment)
        } catch {
            return .failed(status: nil, message: error.message, retryable: false)
        }
        let reply: Result<HTTPResponse, TransportError>
        do {
            reply = .success(try await performer.transport.send(request.http))
        } catch {
            reply = .failure(error)
        }
        return Self.outcome(of: reply, connector: connector, request: request, context: call.context)
    }

    /// What a REST connector's try came to, from the reply (or the transport's error): its
    /// `errorExpression`, `resultVariable` and `resultExpression` applied as Camunda's connector
    /// applies them (also to a test's mocked reply).
    public static func outcome(
        of reply: Result<HTTPResponse, TransportError>, connector: RESTConnectorConfig, request: WebhookRequest,
        context: JSONObject
    ) -> JobOutcome {
        var response: JSONValue = .null
        var failure: (status: Int?, message: String)?
        switch reply {
        case .success(let reply):
            response = HTTPWebhookPerformer.result(of: reply, redactor: request.redactor)
            if !(200..<300).contains(reply.status) {
                failure = (reply.status, "HTTP \(reply.status) from \(request.displayURL)")
            }
        case .failure(let error):
            failure = (
                error.status,
                request.redact(
                    error.status.map { "HTTP \($0) from \(request.displayURL): \(error.message)" }
                        ?? "\(error.message) (\(request.displayURL))")
            )
        }
        var scope = context
        scope["response"] = failure == nil ? response : .null
        // As Camunda's connectors: `error.code` the status as text, the reply in
        // `error.variables.response` (and, shorter, `error.response`).
        scope["error"] =
            failure.map { failure -> JSONValue in
                [
                    "code": failure.status.map { .string(String($0)) } ?? "connection",
                    "message": .string(failure.message), "response": response,
                    "variables": ["response": response],
                ]
            } ?? .null
        if let errorExpression = connector.errorExpression {
            do {
                let value = try errorExpression.evaluateNullForMissing(in: scope)
                if case .object(let error) = value, let kind = error["errorType"]?.stringValue {
                    let message = error["message"]?.stringValue ?? ""
                    if kind == "bpmnError", let code = error["code"]?.stringValue {
                        return .bpmnError(status: failure?.status, code: code, message: message)
                    }
                    return .failed(status: failure?.status, message: message, retryable: true)
                }
            } catch {
                return .failed(
                    status: failure?.status, message: "errorExpression failed: \(error.message)", retryable: false)
            }
        }
        if let failure {
            return .failed(status: failure.status, message: failure.message, retryable: true)
        }
        var variables = JSONObject()
        if let name = connector.resultVariable { variables[name] = response }
        if let resultExpression = connector.resultExpression {
            do {
                guard case .object(let computed) = try resultExpression.evaluateNullForMissing(in: scope) else {
                    return .failed(
                        status: statusOf(response),
                        message: "resultExpression did not give a context ({name: value})", retryable: false)
                }
                variables.merge(computed)
            } catch {
                return .failed(
                    status: statusOf(response),
                    message: "resultExpression failed: \(error.message)", retryable: false)
            }
        }
        let status = statusOf(response)
        return .succeeded(status: status, summary: "HTTP \(status ?? 0), delivered", variables: variables)
    }
}

/// The `status` of a `{status, headers, body}` response.
func statusOf(_ response: JSONValue) -> Int? {
    guard case .number(let status)? = response.objectValue?["status"] else { return nil }
    return Int(status)
}

/// Builds the request of a REST connector task from its inputs.
enum RESTConnectorRequest {
    /// Camunda replaces `{{secrets.NAME}}` in an input's text before it evaluates the input; so
    /// does procrun, but with a marker that names the secret (its value is read at send time),
    /// made of a random part no variable can hold: a variable whose value reads
    /// `{{secrets.NAME}}` stays that text and reveals nothing.
    struct SecretMarker {
        let nonce = UUID().uuidString

        /// The text with each `{{secrets.NAME}}` as a marker.
        func mark(_ text: String) -> String {
            var output = ""
            var rest = Substring(text)
            while let open = rest.range(of: "{{secrets."), let close = rest[open.upperBound...].range(of: "}}") {
                let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                    break
                }
                output += rest[..<open.lowerBound] + "\u{E000}\(nonce):\(name)\u{E001}"
                rest = rest[close.upperBound...]
            }
            return output + rest
        }

        /// Text with its markers as secret pieces (`json`: inside a JSON string, escaped as JSON).
        func pieces(_ text: String, percentEncoded: Bool = false, json: Bool = false) -> [WebhookRequestSnapshot.Piece]
        {
            var pieces: [WebhookRequestSnapshot.Piece] = []
            var rest = Substring(text)
            let opening = "\u{E000}\(nonce):"
            func literal(_ text: Substring) {
                guard !text.isEmpty else { return }
                pieces.append(.text(percentEncoded ? RequestBuilder.formEncode(String(text)) : String(text)))
            }
            while let open = rest.range(of: opening), let close = rest[open.upperBound...].range(of: "\u{E001}") {
                literal(rest[..<open.lowerBound])
                let name = String(rest[open.upperBound..<close.lowerBound])
                pieces.append(json ? .jsonSecret(name: name) : .secret(name: name, percentEncoded: percentEncoded))
                rest = rest[close.upperBound...]
            }
            literal(rest)
            if pieces.isEmpty { pieces.append(.text("")) }
            return pieces
        }
    }

    static func snapshot(
        _ connector: RESTConnectorConfig, context: JSONObject, idempotencyKey: String, userAgent: String
    ) throws(RenderError) -> WebhookRequestSnapshot {
        let marker = SecretMarker()
        func secrets(_ text: String, percentEncoded: Bool = false) -> [WebhookRequestSnapshot.Piece] {
            marker.pieces(text, percentEncoded: percentEncoded)
        }
        func value(_ target: String) throws(RenderError) -> JSONValue? {
            switch connector.inputs[target] {
            case nil: return nil
            case .text(let text)?: return .string(marker.mark(text))
            case .expression(let feel)?:
                do {
                    let marked = marker.mark(feel.source)
                    return try (marked == feel.source ? feel : FEELExpression(marked)).evaluate(in: context)
                } catch {
                    throw RenderError(message: "the REST connector's \(target): \(error.message)")
                }
            }
        }
        func text(_ target: String) throws(RenderError) -> String? {
            guard let found = try value(target) else { return nil }
            if case .null = found { return nil }
            return RequestBuilder.scalarText(found)
        }
        func pairs(_ target: String) throws(RenderError) -> [(String, String)] {
            switch try value(target) {
            case nil, .null?: return []
            case .object(let object)?: return object.map { ($0.key, RequestBuilder.scalarText($0.value)) }
            case let other?:
                throw RenderError(
                    message: "the REST connector's \(target) is \(other.typeName), not a context {name: value}")
            }
        }
        guard let url = try text("url"), !url.isEmpty else {
            throw RenderError(message: "the REST connector's url is empty")
        }
        let method = (try text("method") ?? "GET").uppercased()
        guard ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(method) else {
            throw RenderError(message: "the REST connector's method '\(method)' is not GET, POST, PUT, PATCH or DELETE")
        }
        var query = try pairs("queryParameters")
        var headers: [WebhookRequestSnapshot.Header] = []
        switch try text("authentication.type") ?? "noAuth" {
        case "bearer":
            headers.append(
                .init(
                    name: "Authorization", value: [.text("Bearer ")] + secrets(try text("authentication.token") ?? "")))
        case "basic":
            headers.append(
                .init(
                    name: "Authorization",
                    value: [
                        .text("Basic "),
                        .basic(
                            user: secrets(try text("authentication.username") ?? ""),
                            password: secrets(try text("authentication.password") ?? "")),
                    ]))
        case "apiKey":
            let name = try text("authentication.name") ?? ""
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) })
            else {
                throw RenderError(
                    message: "the REST connector's authentication.name '\(name)' is not letters, digits and '-'")
            }
            let key = try text("authentication.value") ?? ""
            if (try text("authentication.apiKeyLocation"))?.lowercased() == "query" {
                query.append((name, key))
            } else {
                headers.append(.init(name: name, value: secrets(key)))
            }
        case "noAuth":
            break
        case let other:
            throw RenderError(message: "the REST connector's authentication.type '\(other)' is not supported")
        }
        var urlPieces = secrets(url)
        if !query.isEmpty {
            let separator = url.contains("?") ? "&" : "?"
            var rest: [WebhookRequestSnapshot.Piece] = [.text(separator)]
            for (index, (name, value)) in query.enumerated() {
                rest.append(.text((index > 0 ? "&" : "") + RequestBuilder.formEncode(name) + "="))
                rest += secrets(value, percentEncoded: true)
            }
            urlPieces += rest
        }
        var body: [WebhookRequestSnapshot.Piece]?
        var contentType: String?
        if method != "GET", let value = try value("body"), value != .null {
            if case .string(let text) = value {
                body = secrets(text)
                contentType = "text/plain; charset=utf-8"
            } else {
                body = marker.pieces(JSONWriter.string(value), json: true)
                contentType = "application/json"
            }
        }
        for (name, value) in try pairs("headers") {
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) })
            else {
                throw RenderError(message: "the REST connector's header name '\(name)' is not letters, digits and '-'")
            }
            if name.lowercased() == "content-type" { contentType = nil }
            headers.append(.init(name: name, value: secrets(value)))
        }
        if let contentType { headers.append(.init(name: "Content-Type", value: [.text(contentType)])) }
        headers.append(.init(name: "Idempotency-Key", value: [.text(idempotencyKey)]))
        headers.append(.init(name: "User-Agent", value: [.text(userAgent)]))
        return WebhookRequestSnapshot(method: method, url: urlPieces, headers: headers, body: body)
    }

}
