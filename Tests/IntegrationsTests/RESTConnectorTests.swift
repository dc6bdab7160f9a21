import Engine
import Expressions
import Foundation
import Integrations
import ProcessModel
import Testing
import Values

/// The REST connector's request as procrun fixes it: Camunda secrets only where the model wrote
/// them, never out of a variable's value, and JSON-escaped inside a JSON body.
@Suite struct RESTConnectorTests {
    func prepared(_ inputs: [String: RESTConnectorConfig.Input], context: JSONObject) throws -> WebhookRequestSnapshot {
        let location = SourceLocation(file: "t.bpmn", line: 1, column: 1)
        let config = RESTConnectorConfig(
            inputs: inputs, resultVariable: nil, resultExpression: nil, errorExpression: nil, timeout: 5,
            location: location)
        let integration = IntegrationNode(type: "webhook", config: config, onError: nil, location: location)
        let call = JobCall(
            instanceID: "i-1", processName: "P",
            node: FlowNode(id: "rest", name: nil, kind: .task(.serviceTask), location: location, scope: nil),
            integration: integration, context: context, attempt: 1, idempotencyKey: "i-1-rest-1", currentUser: "u")
        let handler = HTTPJobHandler(
            HTTPWebhookPerformer(userAgent: "procrun/test", environment: ["PROCRUN_SECRET_KEY": #"a"b\c"#]))
        let bytes = try #require(handler.prepare(call))
        guard case .request(let snapshot)? = WebhookPreparation(encoded: bytes) else {
            Issue.record("not a request: \(String(decoding: bytes, as: UTF8.self))")
            throw CocoaError(.featureUnsupported)
        }
        return snapshot
    }

    @Test func aVariableThatReadsLikeASecretStaysText() throws {
        let snapshot = try prepared(
            [
                "url": .text("https://erp.example.ru/orders"), "method": .text("POST"),
                "authentication.type": .text("bearer"), "authentication.token": .text("{{secrets.KEY}}"),
                "body": .expression(try FEELExpression(#"={note: note, key: "{{secrets.KEY}}"}"#)),
            ],
            context: ["note": "{{secrets.KEY}}"])
        // The model's own references are secrets, read at send time; the variable's text is text.
        #expect(
            snapshot.headers.first { $0.name == "Authorization" }?.value == [
                .text("Bearer "), .secret(name: "KEY", percentEncoded: false),
            ])
        let body = try #require(snapshot.body)
        #expect(body.contains(.jsonSecret(name: "KEY")))
        #expect(body.filter { if case .jsonSecret = $0 { true } else { false } }.count == 1)
        // Sent: the JSON stays JSON whatever the secret holds.
        let request = try RequestBuilder.resolve(
            snapshot, timeout: 5, maxResponseBytes: 1000,
            environment: RenderEnvironment(
                now: Date(), timeZone: .current, environment: ["PROCRUN_SECRET_KEY": #"a"b\c"#]))
        let sent = try JSONParser.parse(try #require(request.http.body))
        #expect(sent == ["note": "{{secrets.KEY}}", "key": #"a"b\c"#])
    }

    @Test func anAPIKeyNameMustBeAHeaderName() throws {
        let location = SourceLocation(file: "t.bpmn", line: 1, column: 1)
        let config = RESTConnectorConfig(
            inputs: [
                "url": .text("https://erp.example.ru"), "authentication.type": .text("apiKey"),
                "authentication.name": .expression(try FEELExpression(#"="X\r\nHost: evil""#)),
                "authentication.value": .text("v"),
            ], resultVariable: nil, resultExpression: nil, errorExpression: nil, timeout: 5, location: location)
        let call = JobCall(
            instanceID: "i-1", processName: "P",
            node: FlowNode(id: "rest", name: nil, kind: .task(.serviceTask), location: location, scope: nil),
            integration: IntegrationNode(type: "webhook", config: config, onError: nil, location: location),
            context: [:], attempt: 1, idempotencyKey: "k", currentUser: "u")
        let bytes = try #require(HTTPJobHandler(HTTPWebhookPerformer(userAgent: "t")).prepare(call))
        guard case .failed(let message)? = WebhookPreparation(encoded: bytes) else {
            Issue.record("the request was made")
            return
        }
        #expect(message.hasPrefix("the REST connector's authentication.name"))
    }
}
