import Foundation
import Testing
import Values

/// A secret that needs encoding in a URL: `/`, space and a non-ASCII letter.
private let secret = "tok/en Ж-77"
private let secretInURL = "tok%2Fen%20%D0%96-77"

/// A parallel gateway: one branch has the webhook, which fails its first try and retries after
/// `delay` seconds; the other branch changes `stage` — the variable the webhook's URL, a header
/// and its body use — between the two tries (`change`: the elements doing it, ending in a node
/// `change`). A `DateTime()` header with seconds would differ between tries built 1.5 s apart.
private func parallelBPMN(delay: Double, change: String) -> String {
    """
    <?xml version="1.0" encoding="UTF-8"?>
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:procrun="urn:procrun:bpmn:1">
    <process id="P" name="Снимок запроса" isExecutable="true">
    <startEvent id="s"/><parallelGateway id="fork"/>
    <serviceTask id="w" name="Отправить заказ"><extensionElements>
      <procrun:webhook url="{$url}/orders/{$stage}?key={$secrets.TOKEN}" method="POST" type="json">
        <procrun:param field="order"/><procrun:param field="stage"/>
        <procrun:header name="X-Stage" value="{$stage}"/>
        <procrun:header name="X-Sent" value="{DateTime(&quot;YYYY-MM-DD hh:mm:ss&quot;)}"/>
        <procrun:header name="Authorization" value="Bearer {$secrets.TOKEN}"/>
        <procrun:onError retries="1" delay="\(delay)"/>
      </procrun:webhook></extensionElements></serviceTask>
    \(change)
    <parallelGateway id="join"/><endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="fork"/><sequenceFlow id="f2" sourceRef="fork" targetRef="w"/>
    <sequenceFlow id="f3" sourceRef="w" targetRef="join"/><sequenceFlow id="f4" sourceRef="change" targetRef="join"/>
    <sequenceFlow id="f5" sourceRef="join" targetRef="e"/>
    </process></definitions>
    """
}

/// The requests `procrun inbox` printed, each without its number and the answer it got: the
/// request line, the headers as they arrived, and the body.
private func requests(_ printed: String) -> [String] {
    printed.components(separatedBy: "── request ").dropFirst().map { block in
        block.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().filter { !$0.hasPrefix("→ ") }
            .joined(separator: "\n")
    }
}

/// Issue 11: the request of one webhook execution is built once, when the node is entered, and
/// every retry sends the same bytes under the same Idempotency-Key, whatever the context holds by
/// then; secrets are read from the environment at send time and never stored.
@Suite(.serialized) struct SnapshotCLITests {
    /// `procrun run`: a timer (0.3 s) shorter than the retry delay (1.5 s), then a script task,
    /// change the variable between the tries.
    @Test func aRetryInMemorySendsTheBytesOfTheFirstTry() throws {
        let inbox = try Inbox(arguments: ["--fail-first", "1", "--status", "503"])
        let bpmn = try CLI.temporaryFile(
            "snapshot.bpmn",
            parallelBPMN(
                delay: 1.5,
                change: """
                    <intermediateCatchEvent id="wait"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">PT0.3S</timeDuration></timerEventDefinition></intermediateCatchEvent>
                    <scriptTask id="change"><script>stage = "изменён"</script></scriptTask>
                    <sequenceFlow id="c1" sourceRef="fork" targetRef="wait"/><sequenceFlow id="c2" sourceRef="wait" targetRef="change"/>
                    """))
        let context = try CLI.temporaryFile("c.json", #"{"url": "\#(inbox.url)", "order": "A-7", "stage": "новый"}"#)
        let result = try CLI.run([bpmn, "--context", context, "--json"], environment: ["PROCRUN_SECRET_TOKEN": secret])
        let printed = inbox.stop()

        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let report = try #require(try JSONParser.parse(result.stdout).objectValue)
        #expect(report["context"]?.objectValue?["stage"] == "изменён")
        let webhook = try #require(report["webhooks"]?.arrayValue?.first?.objectValue)
        #expect(webhook["tries"]?.arrayValue?.map { $0.objectValue?["status"] } == [503, 200])
        let id = try #require(report["instance"]?.stringValue)

        let sent = requests(printed)
        try #require(sent.count == 2, "\(printed)")
        #expect(sent[0] == sent[1], "try 1:\n\(sent[0])\ntry 2:\n\(sent[1])")
        #expect(
            sent[1].hasPrefix("POST /orders/%D0%BD%D0%BE%D0%B2%D1%8B%D0%B9?key=\(secretInURL) HTTP/1.1\n"), "\(sent[1])"
        )
        #expect(sent[1].contains("\nIdempotency-Key: \(id)-w-1\n"))
        #expect(sent[1].contains("\nX-Stage: новый\n"))
        #expect(sent[1].contains("\nX-Sent: "))
        #expect(sent[1].contains("\nAuthorization: Bearer \(secret)\n"))
        #expect(sent[1].hasSuffix("\n\n" + #"{"order":"A-7","stage":"новый"}"# + "\n\n"), "\(sent[1])")
        #expect(!result.stdout.contains(secret))
    }

    /// `start` + `worker`: a user task completed through the CLI changes the variable between
    /// the tries, and the worker is killed (-9) while the retry waits; the restarted worker sends
    /// the stored request, with the secret read from its environment, while no store file ever
    /// holds the secret.
    @Test func aRetryOfAStoredJobSendsTheBytesOfTheFirstTryAcrossAWorkerKill() throws {
        let store = try temporaryStore()
        let storeDirectory = URL(fileURLWithPath: store).deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: storeDirectory) }
        let inbox = try Inbox(arguments: ["--fail-first", "1", "--status", "503"])
        let bpmn = try CLI.temporaryFile(
            "snapshot-store.bpmn",
            parallelBPMN(
                delay: 3,
                change: """
                    <userTask id="change" name="Изменить заказ"/><sequenceFlow id="c1" sourceRef="fork" targetRef="change"/>
                    """))
        let context = try CLI.temporaryFile("c.json", #"{"url": "\#(inbox.url)", "order": "A-8", "stage": "новый"}"#)
        let environment = ["PROCRUN_SECRET_TOKEN": secret]
        let started = try CLI.run(
            ["start", bpmn, "--context", context, "--store", store, "--json"], environment: environment)
        // The first try failed; its retry waits as a stored job carrying the request.
        #expect(started.status == 4, "\(started.stderr)")
        let id = try #require(try JSONParser.parse(started.stdout).objectValue?["instance"]?.stringValue)
        #expect(try query(store, "SELECT group_concat(kind || ':' || (request IS NOT NULL)) FROM job") == "retry:1")

        let completed = try CLI.run(
            ["complete", id, "change", "--by", "petrova", "--set", #"stage="изменён""#, "--store", store],
            environment: environment)
        #expect(completed.status == 4, "\(completed.stderr)")
        let worker = try spawn(["worker", "--store", store])
        Thread.sleep(forTimeInterval: 0.5)  // inside the 3 s retry delay
        kill(worker.processIdentifier, SIGKILL)
        worker.waitUntilExit()
        let resumed = try CLI.run(["worker", "--until-idle", "--store", store], environment: environment)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let printed = inbox.stop()

        let report = try #require(
            try JSONParser.parse(try CLI.run(["show", id, "--store", store, "--json"]).stdout).objectValue)
        #expect(report["status"] == "completed")
        #expect(report["context"]?.objectValue?["stage"] == "изменён")
        #expect(
            report["webhooks"]?.arrayValue?.first?.objectValue?["tries"]?.arrayValue?.map { $0.objectValue?["status"] }
                == [503, 200])
        let sent = requests(printed)
        try #require(sent.count == 2, "\(printed)")
        #expect(sent[0] == sent[1], "try 1:\n\(sent[0])\ntry 2:\n\(sent[1])")
        #expect(sent[1].contains("\nIdempotency-Key: \(id)-w-1\n"))
        #expect(sent[1].contains("\nX-Stage: новый\n"))
        #expect(sent[1].contains("?key=\(secretInURL) HTTP/1.1\n"))
        #expect(sent[1].contains("\nAuthorization: Bearer \(secret)\n"))
        #expect(sent[1].hasSuffix("\n\n" + #"{"order":"A-8","stage":"новый"}"# + "\n\n"), "\(sent[1])")
        // No store file holds the secret, in any form the request carried it.
        for file in try FileManager.default.contentsOfDirectory(atPath: storeDirectory.path) {
            let bytes = try Data(contentsOf: storeDirectory.appendingPathComponent(file))
            for form in [secret, secretInURL, "tok/en", "tok%2Fen"] {
                #expect(bytes.range(of: Data(form.utf8)) == nil, "\(file) holds \(form)")
            }
        }
    }

    /// `start` is killed (-9) while the first try is in flight; the variable changes; a worker
    /// takes the job over once its lock expires and sends the request built when the node was
    /// entered, not one built from the context of then.
    @Test func aWorkerTakingOverAJobOfADeadProcessSendsItsStoredRequest() throws {
        let store = try temporaryStore()
        defer { try? FileManager.default.removeItem(at: URL(fileURLWithPath: store).deletingLastPathComponent()) }
        let inbox = try Inbox(arguments: ["--delay", "2"])
        let bpmn = try CLI.temporaryFile(
            "snapshot-takeover.bpmn",
            parallelBPMN(
                delay: 1,
                change: """
                    <userTask id="change" name="Изменить заказ"/><sequenceFlow id="c1" sourceRef="fork" targetRef="change"/>
                    """
            ).replacingOccurrences(of: #"type="json">"#, with: #"type="json" timeout="3">"#))
        let context = try CLI.temporaryFile("c.json", #"{"url": "\#(inbox.url)", "order": "A-10", "stage": "новый"}"#)
        let environment = ["PROCRUN_SECRET_TOKEN": secret]
        let starting = Process()
        starting.executableURL = CLI.binary
        starting.arguments = ["start", bpmn, "--context", context, "--store", store]
        starting.currentDirectoryURL = CLI.packageRoot
        starting.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        starting.standardOutput = FileHandle.nullDevice
        starting.standardError = FileHandle.nullDevice
        try starting.run()
        Thread.sleep(forTimeInterval: 0.8)  // the first try is in flight: the receiver answers after 2 s
        kill(starting.processIdentifier, SIGKILL)
        starting.waitUntilExit()

        let id = try query(store, "SELECT id FROM instance")
        #expect(try query(store, "SELECT group_concat(kind || ':' || (request IS NOT NULL)) FROM job") == "job:1")
        let completed = try CLI.run(
            ["complete", id, "change", "--by", "petrova", "--set", #"stage="изменён""#, "--store", store],
            environment: environment)
        #expect(completed.status == 4, "\(completed.stderr)")
        // The dead process's lock expires 3 + 5 s after it made the job.
        let resumed = try CLI.run(["worker", "--until-idle", "--store", store], environment: environment)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let printed = inbox.stop()

        let report = try #require(
            try JSONParser.parse(try CLI.run(["show", id, "--store", store, "--json"]).stdout).objectValue)
        #expect(report["status"] == "completed")
        #expect(report["context"]?.objectValue?["stage"] == "изменён")
        let sent = requests(printed)
        try #require(sent.count == 2, "\(printed)")
        #expect(sent[0] == sent[1], "try 1:\n\(sent[0])\ntry 2:\n\(sent[1])")
        #expect(sent[1].contains("\nIdempotency-Key: \(id)-w-1\n"))
        #expect(sent[1].contains("\nX-Stage: новый\n"))
        #expect(sent[1].contains("\nAuthorization: Bearer \(secret)\n"))
    }

    /// A job stored by an older procrun carries no request: its try builds the request when it
    /// runs, from the context of then.
    @Test func aStoredJobWithoutARequestBuildsItWhenItRuns() throws {
        let store = try temporaryStore()
        defer { try? FileManager.default.removeItem(at: URL(fileURLWithPath: store).deletingLastPathComponent()) }
        let inbox = try Inbox(arguments: ["--fail-first", "1", "--status", "503"])
        let bpmn = try CLI.temporaryFile(
            "snapshot-old.bpmn",
            parallelBPMN(
                delay: 1,
                change: """
                    <userTask id="change" name="Изменить заказ"/><sequenceFlow id="c1" sourceRef="fork" targetRef="change"/>
                    """))
        let context = try CLI.temporaryFile("c.json", #"{"url": "\#(inbox.url)", "order": "A-9", "stage": "новый"}"#)
        let environment = ["PROCRUN_SECRET_TOKEN": secret]
        let started = try CLI.run(
            ["start", bpmn, "--context", context, "--store", store, "--json"], environment: environment)
        #expect(started.status == 4, "\(started.stderr)")
        let id = try #require(try JSONParser.parse(started.stdout).objectValue?["instance"]?.stringValue)
        try sqlite(store, "UPDATE job SET request = NULL")
        let completed = try CLI.run(
            ["complete", id, "change", "--by", "petrova", "--set", #"stage="изменён""#, "--store", store],
            environment: environment)
        #expect(completed.status == 4, "\(completed.stderr)")
        let resumed = try CLI.run(["worker", "--until-idle", "--store", store], environment: environment)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let sent = requests(inbox.stop())
        try #require(sent.count == 2)
        #expect(sent[0].contains("\nX-Stage: новый\n"))
        #expect(sent[1].contains("\nX-Stage: изменён\n"))
        #expect(sent[1].contains("\nIdempotency-Key: \(id)-w-1\n"))
        #expect(sent[1].hasSuffix("\n\n" + #"{"order":"A-9","stage":"изменён"}"# + "\n\n"), "\(sent[1])")
    }
}
