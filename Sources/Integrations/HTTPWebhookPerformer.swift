import Engine
import Foundation
import ProcessModel
import Values

/// Carries out webhook tries over HTTP: renders the request, sends it through the transport,
/// and tells the engine what happened.
public struct HTTPWebhookPerformer: WebhookPerformer {
    public var transport: CurlTransport
    public var userAgent: String
    public var timeZone: TimeZone
    public var environment: [String: String]
    public var clock: @Sendable () -> Date

    public init(
        transport: CurlTransport = .shared, userAgent: String, timeZone: TimeZone = .current,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.transport = transport
        self.userAgent = userAgent
        self.timeZone = timeZone
        self.environment = environment
        self.clock = clock
    }

    var renderEnvironment: RenderEnvironment {
        RenderEnvironment(now: clock(), timeZone: timeZone, environment: environment)
    }

    /// The snapshot of the execution's request, rendered from the context and clock now; its
    /// secrets stay references. Resolved once here too, so that a header that would carry a
    /// line break fails now rather than at the first try.
    public func prepare(_ call: WebhookCall) -> WebhookPreparation? {
        let environment = renderEnvironment
        do {
            let snapshot = try RequestBuilder.snapshot(
                call.webhook, context: call.context, idempotencyKey: call.idempotencyKey, userAgent: userAgent,
                environment: environment)
            _ = try RequestBuilder.resolve(snapshot, webhook: call.webhook, environment: environment)
            return .request(snapshot)
        } catch {
            return .failed(message: error.message)
        }
    }

    public func perform(_ call: WebhookCall) async -> WebhookOutcome {
        let request: WebhookRequest
        do {
            if let snapshot = call.request {
                // Secrets are read from the environment at send time.
                request = try RequestBuilder.resolve(snapshot, webhook: call.webhook, environment: renderEnvironment)
            } else {
                request = try RequestBuilder.build(
                    call.webhook, context: call.context, idempotencyKey: call.idempotencyKey, userAgent: userAgent,
                    environment: renderEnvironment)
            }
        } catch {
            return .failed(status: nil, message: error.message, retryable: false)
        }
        // Every message and result leaves here with the request's secrets hidden (in every form
        // procrun writes them): they go into the trace, the report, notifications and the store.
        do {
            let response = try await transport.send(request.http)
            if (200..<300).contains(response.status) {
                return .delivered(
                    status: response.status,
                    result: HTTPWebhookPerformer.result(of: response, redactor: request.redactor))
            }
            return .failed(
                status: response.status, message: "HTTP \(response.status) from \(request.displayURL)", retryable: true)
        } catch {
            if let status = error.status {
                return .failed(
                    status: status,
                    message: request.redact("HTTP \(status) from \(request.displayURL): \(error.message)"),
                    retryable: true)
            }
            return .failed(
                status: nil, message: request.redact("\(error.message) (\(request.displayURL))"), retryable: true)
        }
    }

    /// `{status, headers, body}`, the body parsed when it is JSON. A reply that echoes the
    /// request's secrets has them hidden, as does a credential header: the result goes into the
    /// context, which is stored and shown.
    public static func result(of response: HTTPResponse, redactor: Redactor = Redactor(secrets: [])) -> JSONValue {
        var headers = JSONObject()
        for header in response.headers {
            let name = header.name.lowercased()
            let credential = name == "authorization" || name == "proxy-authorization"
            headers[name] = .string(credential ? Redactor.mask : header.value)
        }
        var body: JSONValue = .string(String(decoding: response.body, as: UTF8.self))
        let contentType = headers["content-type"]?.stringValue?.lowercased() ?? ""
        if contentType.contains("json") || response.body.first == UInt8(ascii: "{")
            || response.body.first == UInt8(ascii: "[")
        {
            if let parsed = try? JSONParser.parse(response.body) { body = parsed }
        }
        if response.body.isEmpty { body = .null }
        return redactor.redact(["status": .number(Double(response.status)), "headers": .object(headers), "body": body])
    }
}
