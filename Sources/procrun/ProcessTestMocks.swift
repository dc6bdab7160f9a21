import Engine
import Foundation
import Integrations
import ProcessModel
import Values

/// What a test case's mocks answer and what reached them: by element id, the responses of
/// `MOCK_WEBHOOK` / `MOCK_JOB` / `MOCK_TASK`, and every request the mocked nodes made.
final class MockBook: @unchecked Sendable {
    struct Request {
        var method: String
        var url: String
        var headers: [(name: String, value: String)]
        var body: [UInt8]?
    }

    private let lock = NSLock()
    private var responses: [String: [JSONObject]] = [:]
    private var used: [String: Int] = [:]
    private var requests: [String: [Request]] = [:]
    private var unmocked: [String] = []

    func mock(_ element: String, responses list: [JSONObject]) {
        lock.withLock {
            responses[element] = list
            used[element] = 0
        }
    }

    /// The next response for the element (the last one repeats); nil when it is not mocked.
    func next(_ element: String) -> JSONObject? {
        lock.withLock {
            guard let list = responses[element], !list.isEmpty else {
                unmocked.append(element)
                return nil
            }
            let index = min(used[element, default: 0], list.count - 1)
            used[element, default: 0] += 1
            return list[index]
        }
    }

    func record(_ element: String, _ request: Request) {
        lock.withLock { requests[element, default: []].append(request) }
    }

    func requests(of element: String) -> [Request] { lock.withLock { requests[element] ?? [] } }
    var unmockedNodes: [String] { lock.withLock { unmocked } }
}

/// A test's stand-in for a job type's handler: the request is built from the node's real
/// configuration (webhooks and REST connectors byte for byte, as procrun would send it) and
/// recorded, and the mock's response decides the outcome. Nothing leaves the machine.
struct MockJobHandler: JobHandler {
    let type: String
    let book: MockBook
    /// Builds webhook and connector requests as the real handler does.
    let http: HTTPJobHandler
    let environment: RenderEnvironment

    func prepare(_ call: JobCall) -> [UInt8]? {
        switch type {
        case "webhook": http.prepare(call)
        // The letter as the real handler fixes it (a variable that is not set fails it alike).
        case "email": SMTPEmailHandler(url: nil, from: "procrun@localhost").prepare(call)
        default: nil
        }
    }

    func perform(_ call: JobCall) async -> JobOutcome {
        var url = ""
        var request: WebhookRequest?
        if type == "webhook", let bytes = call.prepared {
            switch WebhookPreparation(encoded: bytes) {
            case .request(let snapshot)?:
                let timeout = call.integration.config.timeout
                if let resolved = try? RequestBuilder.resolve(
                    snapshot, timeout: timeout, maxResponseBytes: 1 << 20, environment: environment)
                {
                    request = resolved
                    url = resolved.displayURL
                    // Recorded with the secrets hidden: a failed assertion prints what it saw.
                    book.record(
                        call.node.id,
                        .init(
                            method: resolved.http.method, url: resolved.redact(resolved.http.url),
                            headers: resolved.http.headers.map { ($0.name, resolved.redact($0.value)) },
                            body: resolved.http.body.map {
                                Array(resolved.redact(String(decoding: $0, as: UTF8.self)).utf8)
                            }))
                }
            case .failed(let message)?:
                return .failed(status: nil, message: message, retryable: false)
            case nil:
                break
            }
        } else if type == "email", let bytes = call.prepared {
            guard case .object(let letter)? = try? JSONParser.parse(bytes) else {
                return .failed(status: nil, message: "the e-mail of this try cannot be read", retryable: false)
            }
            if case .string(let message)? = letter["failed"] {
                return .failed(status: nil, message: message, retryable: false)
            }
            let to = letter["to"]?.arrayValue?.compactMap(\.stringValue) ?? []
            url = "mailto:" + to.joined(separator: ",")
            book.record(call.node.id, .init(method: "SMTP", url: url, headers: [], body: bytes))
        } else {
            book.record(call.node.id, .init(method: "", url: "", headers: [], body: nil))
        }
        guard let response = book.next(call.node.id) else {
            return .failed(
                status: nil,
                message: "'\(call.node.id)' is a \(type) node that this test does not mock (MOCK_WEBHOOK or MOCK_JOB)",
                retryable: false)
        }
        if case .string(let error)? = response["error"] {
            if type == "task" {
                return .bpmnError(status: nil, code: error, message: "thrown by the test's MOCK_TASK")
            }
            if let connector = call.integration.config as? RESTConnectorConfig, let request {
                return HTTPJobHandler.outcome(
                    of: .failure(TransportError(message: error)), connector: connector, request: request,
                    context: call.context)
            }
            return .failed(
                status: nil, message: "\(error) (\(url.isEmpty ? call.node.id : url)), by the test's mock",
                retryable: true)
        }
        var status = 200
        if case .number(let number)? = response["status"], number >= 100, number < 600 { status = Int(number) }
        var headers: [(name: String, value: String)] = []
        if case .object(let given)? = response["headers"] {
            for (name, value) in given { headers.append((name, RequestText.scalar(value))) }
        }
        let body: [UInt8]
        switch response["body"] {
        case nil, .null?: body = []
        case .string(let text)?: body = Array(text.utf8)
        case let other?:
            body = Array(JSONWriter.string(other).utf8)
            if !headers.contains(where: { $0.name.lowercased() == "content-type" }) {
                headers.append(("Content-Type", "application/json"))
            }
        }
        let reply = HTTPResponse(status: status, headers: headers, body: body)
        if let connector = call.integration.config as? RESTConnectorConfig, let request {
            return HTTPJobHandler.outcome(
                of: .success(reply), connector: connector, request: request, context: call.context)
        }
        guard (200..<300).contains(status) else {
            return .failed(
                status: status, message: "HTTP \(status) from \(url.isEmpty ? call.node.id : url)", retryable: true)
        }
        var variables = JSONObject()
        if case .object(let set)? = response["variables"] { variables = set }
        if let webhook = call.integration.config as? WebhookConfig, let name = webhook.resultVariable {
            variables[name] = HTTPWebhookPerformer.result(of: reply)
        }
        return .succeeded(
            status: type == "webhook" ? status : nil,
            summary: type == "webhook" ? "HTTP \(status), delivered (mocked)" : "done (mocked)", variables: variables)
    }
}

/// A service task whose implementation procrun cannot run, completed by a `MOCK_TASK`.
struct MockTaskConfig: IntegrationConfig {
    var timeout: Double { 0 }
}

enum RequestText {
    static func scalar(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .number(let n): JSONWriter.number(n)
        case .bool(let b): b ? "true" : "false"
        case .null: ""
        default: JSONWriter.string(value)
        }
    }
}
