import Foundation
import Testing
import Values

/// A procrun process left running in the background, to be killed.
func spawn(_ arguments: [String]) throws -> Process {
    let process = Process()
    process.executableURL = CLI.binary
    process.arguments = arguments
    process.currentDirectoryURL = CLI.packageRoot
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}

func webhookBPMN(retries: Int, delay: Double, timeout: Double = 10) throws -> String {
    try CLI.temporaryFile(
        "w.bpmn",
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1">
        <process id="P" isExecutable="true">
        <startEvent id="s"/><userTask id="u" name="Выставить счёт"/>
        <serviceTask id="w"><extensionElements><procrun:webhook url="{$url}/orders" timeout="\(timeout)">
          <procrun:param field="order"/><procrun:onError retries="\(retries)" delay="\(delay)"/>
        </procrun:webhook></extensionElements></serviceTask>
        <endEvent id="e"/>
        <sequenceFlow id="f1" sourceRef="s" targetRef="u"/><sequenceFlow id="f2" sourceRef="u" targetRef="w"/><sequenceFlow id="f3" sourceRef="w" targetRef="e"/>
        </process></definitions>
        """)
}

@Suite(.serialized) struct StoreCLITests {
    @Test func startCompleteAndShowThroughTheStore() throws {
        let store = FileManager.default.temporaryDirectory.appendingPathComponent(
            "procrun-\(UUID().uuidString)/s.sqlite"
        ).path
        let inbox = try Inbox()
        let bpmn = try webhookBPMN(retries: 0, delay: 0)
        let context = try CLI.temporaryFile("c.json", #"{"url": "\#(inbox.url)", "order": "A-1"}"#)
        let started = try CLI.run(["start", bpmn, "--context", context, "--store", store, "--json"])
        #expect(started.status == 4, "\(started.stderr)")
        let report = try #require(try JSONParser.parse(started.stdout).objectValue)
        let id = try #require(report["instance"]?.stringValue)
        #expect(report["openTasks"]?.arrayValue?.first?.objectValue?["task"] == "u")

        // PROCRUN_STORE chooses the store when --store is not given.
        let tasks = try CLI.run(["tasks"], environment: ["PROCRUN_STORE": store])
        #expect(tasks.stdout.contains(id) && tasks.stdout.contains("Выставить счёт"))
        let waiting = try CLI.run(["instances", "--status", "waiting", "--store", store])
        #expect(waiting.stdout.hasPrefix(id))

        let unknown = try CLI.run(["complete", id, "nope", "--by", "x", "--store", store])
        #expect(unknown.status == 2)
        #expect(unknown.stderr == "procrun: error: no open task 'nope' in instance '\(id)'\n")

        let variables = try CLI.temporaryFile("v.json", #"{"paid": true, "count": 1}"#)
        let completed = try CLI.run([
            "complete", id, "Выставить счёт", "--by", "petrova", "--variables", variables, "--set", "invoice=\"СЧ-9\"",
            "--set", "count=2",
            "--store", store, "--json",
        ])
        #expect(completed.status == 0, "\(completed.stderr)")
        let done = try #require(try JSONParser.parse(completed.stdout).objectValue)
        #expect(done["status"] == "completed")
        #expect(done["context"]?.objectValue?["invoice"] == "СЧ-9")
        #expect(done["context"]?.objectValue?["count"] == 2)
        #expect(done["context"]?.objectValue?["paid"] == true)
        let shown = try CLI.run(["show", id, "--store", store])
        #expect(shown.stdout.contains("completed"))
        #expect(shown.stdout.contains("by petrova"))
        _ = inbox.stop()
    }

    @Test func killDuringARetryDelayLosesNothing() throws {
        let store = FileManager.default.temporaryDirectory.appendingPathComponent(
            "procrun-\(UUID().uuidString)/s.sqlite"
        ).path
        let inbox = try Inbox(arguments: ["--fail-first", "2"])
        let bpmn = try webhookBPMN(retries: 3, delay: 1.5)
        let context = try CLI.temporaryFile("c.json", #"{"url": "\#(inbox.url)", "order": "A-2"}"#)
        let answers = try CLI.temporaryFile("a.json", #"{"u": {"by": "petrova"}}"#)
        let started = try CLI.run([
            "start", bpmn, "--context", context, "--answers", answers, "--store", store, "--json",
        ])
        // The first try failed; the retry waits as a stored job.
        #expect(started.status == 4, "\(started.stderr)")
        let id = try #require(try JSONParser.parse(started.stdout).objectValue?["instance"]?.stringValue)

        let worker = try spawn(["worker", "--store", store])
        Thread.sleep(forTimeInterval: 0.5)  // inside the 1.5 s retry delay
        kill(worker.processIdentifier, SIGKILL)
        worker.waitUntilExit()

        let resumed = try CLI.run(["worker", "--until-idle", "--store", store])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let shown = try CLI.run(["show", id, "--store", store, "--json"])
        let report = try #require(try JSONParser.parse(shown.stdout).objectValue)
        #expect(report["status"] == "completed")
        #expect(report["path"] == ["s", "u", "w", "e"])
        let tries = report["webhooks"]?.arrayValue?.first?.objectValue?["tries"]?.arrayValue ?? []
        #expect(tries.map { $0.objectValue?["status"] } == [503, 503, 200])
        let printed = inbox.stop()
        #expect(printed.components(separatedBy: "Idempotency-Key: \(id)-w-1").count == 4)
        #expect(printed.components(separatedBy: "── request").count == 4)
    }

    @Test func killDuringAStepRunsItAgainWithTheSameKey() throws {
        let store = FileManager.default.temporaryDirectory.appendingPathComponent(
            "procrun-\(UUID().uuidString)/s.sqlite"
        ).path
        let inbox = try Inbox(arguments: ["--delay", "2"])
        let bpmn = try webhookBPMN(retries: 0, delay: 0, timeout: 3)
        let context = try CLI.temporaryFile("c.json", #"{"url": "\#(inbox.url)", "order": "A-3"}"#)
        let started = try CLI.run(["start", bpmn, "--context", context, "--store", store, "--json"])
        let id = try #require(try JSONParser.parse(started.stdout).objectValue?["instance"]?.stringValue)
        // Completing the task commits the step and queues the webhook job; the worker takes it.
        let completing = try spawn(["complete", id, "u", "--by", "petrova", "--store", store])
        Thread.sleep(forTimeInterval: 0.8)  // the request is in flight: the receiver answers after 2 s
        kill(completing.processIdentifier, SIGKILL)
        completing.waitUntilExit()

        let mid = try CLI.run(["show", id, "--store", store, "--json"])
        let midReport = try #require(try JSONParser.parse(mid.stdout).objectValue)
        #expect(midReport["path"] == ["s", "u"])
        #expect(midReport["webhooks"]?.arrayValue?.first?.objectValue?["tries"] == [])

        // The dead process's lock expires 3 + 5 s after it claimed the job.
        let resumed = try CLI.run(["worker", "--until-idle", "--store", store])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let final = try #require(
            try JSONParser.parse(try CLI.run(["show", id, "--store", store, "--json"]).stdout).objectValue)
        #expect(final["status"] == "completed")
        #expect(final["path"] == ["s", "u", "w", "e"])
        let printed = inbox.stop()
        // At least once: the interrupted try is repeated with the same key.
        #expect(printed.components(separatedBy: "Idempotency-Key: \(id)-w-1").count == 3)
    }

    @Test func twoWorkerProcessesNeverRunAJobTwice() throws {
        let store = FileManager.default.temporaryDirectory.appendingPathComponent(
            "procrun-\(UUID().uuidString)/s.sqlite"
        ).path
        let count = 12
        // Each instance's first try fails during `start`, leaving a stored retry for the workers.
        let inbox = try Inbox(arguments: ["--fail-first", String(count), "--delay", "0.05"])
        let bpmn = try webhookBPMN(retries: 1, delay: 0.5)
        let answers = try CLI.temporaryFile("a.json", #"{"u": {"by": "petrova"}}"#)
        var ids: [String] = []
        for i in 0..<count {
            let context = try CLI.temporaryFile("c.json", #"{"url": "\#(inbox.url)", "order": "N-\#(i)"}"#)
            let started = try CLI.run([
                "start", bpmn, "--context", context, "--answers", answers, "--store", store, "--json",
            ])
            #expect(started.status == 4, "\(started.stderr)")
            ids.append(try #require(try JSONParser.parse(started.stdout).objectValue?["instance"]?.stringValue))
        }
        let first = try spawn(["worker", "--until-idle", "--store", store])
        let second = try spawn(["worker", "--until-idle", "--store", store])
        first.waitUntilExit()
        second.waitUntilExit()
        #expect(first.terminationStatus == 0 && second.terminationStatus == 0)
        let printed = inbox.stop()
        #expect(printed.components(separatedBy: "── request").count - 1 == 2 * count)
        for id in ids {
            // One failed try in `start`, exactly one more by one of the workers.
            #expect(printed.components(separatedBy: "Idempotency-Key: \(id)-w-1").count - 1 == 2)
            let shown = try CLI.run(["show", id, "--store", store, "--json"])
            #expect(try JSONParser.parse(shown.stdout).objectValue?["status"] == "completed")
        }
    }

    @Test func runKeepsNothingUnlessToldWhereToStore() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "procrun-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let root = CLI.packageRoot.path
        let context = try CLI.temporaryFile(
            "c.json",
            #"{"inStock": true, "warehouseUrl": "http://127.0.0.1:1", "orderNumber": "A", "customer": {"name": "B"}, "items": [], "total": 1}"#
        )
        let plain = try CLI.run(
            ["\(root)/Processes/order.bpmn", "--context", context, "--answers", "\(root)/Samples/answers.json"],
            in: directory)
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)

        let stored = try CLI.run(
            [
                "\(root)/Processes/order.bpmn", "--context", context, "--answers", "\(root)/Samples/answers.json",
                "--store", "s.sqlite", "--json",
            ], in: directory)
        #expect(stored.status == 0, "\(stored.stderr)")
        let report = try #require(try JSONParser.parse(stored.stdout).objectValue)
        #expect(report["end"]?.objectValue?["id"] == "End_manual")
        let id = try #require(report["instance"]?.stringValue)
        let shown = try CLI.run(["show", id, "--store", "s.sqlite", "--json"], in: directory)
        #expect(try JSONParser.parse(shown.stdout).objectValue?["path"] == report["path"])
    }
}
