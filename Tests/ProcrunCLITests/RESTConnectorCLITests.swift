import Foundation
import Testing
import Values

/// Camunda 8's REST connector, as Camunda Modeler's template writes it, runs unchanged: its
/// request goes to a receiver on 127.0.0.1 and its result and error expressions apply.
@Suite(.serialized) struct RESTConnectorCLITests {
    static let file = CLI.packageRoot.appendingPathComponent(
        "Tests/ProcrunCLITests/Fixtures/camunda8/rest-connector.bpmn"
    )
    .path

    func context(_ inbox: Inbox) throws -> String {
        try CLI.temporaryFile("c.json", #"{"baseUrl": "\#(inbox.url)", "orderId": "A-17", "total": 1500}"#)
    }

    /// The first try gets a 503 and is retried after retryBackoff (the task definition allows
    /// two tries); the second sends the same request: bearer token from the secret, query
    /// parameters, headers and the JSON body of the FEEL inputs. The whole response goes to
    /// resultVariable, resultExpression's context into the variables.
    @Test func aRESTConnectorTaskRunsAsAWebhookJob() throws {
        let inbox = try Inbox(arguments: ["--fail-first", "1"])
        let result = try CLI.run(
            ["run", Self.file, "--context", try context(inbox), "--json"],
            environment: ["PROCRUN_SECRET_WAREHOUSE_TOKEN": "tok-123"])
        let received = inbox.stop()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("warning"), "\(result.stderr)")
        let report = try #require(try JSONParser.parse(result.stdout).objectValue)
        let id = try #require(report["instance"]?.stringValue)
        #expect(report["end"]?.objectValue?["id"] == "End_sent")
        let context = try #require(report["context"]?.objectValue)
        #expect(context["accepted"] == true)
        #expect(context["requestNumber"] == 2)
        #expect(context["warehouseReply"]?.objectValue?["status"] == 200)
        #expect(context["warehouseReply"]?.objectValue?["body"]?.objectValue?["ok"] == true)
        let jobs = report["jobs"]?.arrayValue?.compactMap(\.objectValue) ?? []
        #expect(jobs.map { $0["type"] } == ["webhook"])
        #expect(jobs.first?["tries"]?.arrayValue?.compactMap { $0.objectValue?["status"] } == [503, 200])
        #expect(report["webhooks"] == report["jobs"])

        let requests = received.components(separatedBy: "── request ").dropFirst()
        #expect(requests.count == 2)
        // Both tries sent the same request, the key included.
        let bodies = requests.map {
            $0.split(separator: "\n").dropFirst().prefix { !$0.hasPrefix("→") }.joined(separator: "\n")
        }
        #expect(bodies.count == 2 && bodies[0] == bodies[1])
        let request = try #require(requests.last)
        #expect(request.contains("POST /orders/A-17?source=procrun+test&page=1 HTTP/1.1"))
        #expect(request.contains("Authorization: Bearer tok-123"))
        #expect(request.contains("X-Order: A-17"))
        #expect(request.contains("Content-Type: application/json"))
        #expect(request.contains("Idempotency-Key: \(id)-Task_rest-1"))
        #expect(request.contains(#"{"orderId":"A-17","total":1500,"urgent":true}"#))
    }

    /// errorExpression: a 404 becomes the BPMN error `not-found`, caught by the boundary event,
    /// without retries.
    @Test func theErrorExpressionThrowsABPMNError() throws {
        let inbox = try Inbox(arguments: ["--fail-first", "5", "--status", "404"])
        let result = try CLI.run(
            ["run", Self.file, "--context", try context(inbox), "--json"],
            environment: ["PROCRUN_SECRET_WAREHOUSE_TOKEN": "tok-123"])
        let received = inbox.stop()
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONParser.parse(result.stdout).objectValue)
        #expect(report["end"]?.objectValue?["id"] == "End_missing")
        #expect(received.components(separatedBy: "── request ").count == 2)
        let tries = report["jobs"]?.arrayValue?.first?.objectValue?["tries"]?.arrayValue ?? []
        #expect(tries.first?.objectValue?["error"] == "no such order: A-17")
        #expect(report["jobs"]?.arrayValue?.first?.objectValue?["outcome"] == "caught")
    }

    /// A connector whose secret is not set fails before anything is sent, naming the variable.
    @Test func aMissingSecretFailsBeforeSending() throws {
        let inbox = try Inbox()
        let result = try CLI.run(["run", Self.file, "--context", try context(inbox)], environment: [:])
        let received = inbox.stop()
        #expect(result.status == 3, "\(result.stdout) \(result.stderr)")
        #expect(
            result.stdout.contains(
                "secret 'WAREHOUSE_TOKEN' is not set (environment variable PROCRUN_SECRET_WAREHOUSE_TOKEN)"))
        #expect(!received.contains("── request"))
    }
}
