import Foundation
import Testing
import Values

/// `procrun inbox` started as a user would, on a free port.
final class Inbox: @unchecked Sendable {
    let process = Process()
    let output = Pipe()
    let port: Int

    var url: String { "http://127.0.0.1:\(port)" }

    init(arguments: [String] = []) throws {
        process.executableURL = CLI.binary
        process.arguments = ["inbox", "--port", "0"] + arguments
        process.standardOutput = output
        try process.run()
        var line: [UInt8] = []
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte.first == UInt8(ascii: "\n") { break }
            line.append(contentsOf: byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: #"127\.0\.0\.1:\d+"#, options: .regularExpression),
            let port = Int(text[range].split(separator: ":")[1])
        else { throw CocoaError(.fileReadCorruptFile) }
        self.port = port
    }

    /// A test that fails before `stop` leaves no inbox running (it would hold the test's output open).
    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// Stops the inbox and returns everything it printed after the banner.
    func stop() -> String {
        process.terminate()
        process.waitUntilExit()
        return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }
}

@Suite(.serialized) struct WebhookCLITests {
    @Test func orderFlowDeliversToTheInbox() throws {
        let inbox = try Inbox()
        let context = try CLI.temporaryFile(
            "order.json",
            try String(
                contentsOfFile: CLI.packageRoot.appendingPathComponent("Samples/order.json").path, encoding: .utf8
            )
            .replacingOccurrences(of: "http://127.0.0.1:8089", with: inbox.url))
        let result = try CLI.run([
            "Processes/order.bpmn", "--context", context, "--answers", "Samples/answers.json", "--directory",
            "Samples/org.json", "--json", "--timezone", "Europe/Moscow",
        ])
        let printed = inbox.stop()
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONParser.parse(result.stdout).objectValue)
        #expect(report["end"]?.objectValue?["id"] == "End_done")
        let webhook = try #require(report["webhooks"]?.arrayValue?.first?.objectValue)
        #expect(webhook["outcome"] == "delivered")
        #expect(webhook["tries"]?.arrayValue?.first?.objectValue?["status"] == 200)
        #expect(report["context"]?.objectValue?["warehouseReply"]?.objectValue?["body"] == ["ok": true, "request": 1])
        #expect(printed.contains("POST /api/create-order/ HTTP/1.1"))
        #expect(printed.contains("Idempotency-Key: \(report["instance"]!.stringValue!)-Task_webhook-1"))
        #expect(printed.contains("User-Agent: procrun/"))
        #expect(printed.contains(#""order_number":"ЗК-2026-00417","customer":"ООО «Северный ветер»""#))
        #expect(printed.contains(#""invoice":"СЧ-2026-1182""#))
        #expect(printed.contains("→ 200 OK"))
    }

    @Test func failureBranchRetriesNotifiesAndFinishesByЗавершить() throws {
        let failing = try Inbox(arguments: ["--fail-first", "100", "--status", "502"])
        let notifications = try Inbox()
        let bpmn = try CLI.temporaryFile(
            "fail.bpmn",
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1">
            <process id="P" name="Отгрузка" isExecutable="true">
            <startEvent id="s"/><userTask id="u" name="Выставить счёт"/>
            <serviceTask id="w" name="В учётную систему"><extensionElements>
              <procrun:webhook url="{$url}/orders?key={$secrets.KEY}">
                <procrun:header name="Authorization" value="Bearer {$secrets.KEY}"/>
                <procrun:onError retries="2" delay="0.2" interrupt="Завершить">
                  <procrun:notify currentUser="true"/><procrun:notify group="Склад"/><procrun:notify variable="manager"/>
                </procrun:onError>
              </procrun:webhook></extensionElements></serviceTask>
            <endEvent id="ok" name="Передано"/><endEvent id="stop" name="Завершено вручную"/>
            <sequenceFlow id="f1" sourceRef="s" targetRef="u"/><sequenceFlow id="f2" sourceRef="u" targetRef="w"/>
            <sequenceFlow id="f3" sourceRef="w" targetRef="ok"/><sequenceFlow id="f4" name="Завершить" sourceRef="w" targetRef="stop"/>
            </process></definitions>
            """)
        let context = try CLI.temporaryFile("ctx.json", #"{"url": "\#(failing.url)", "manager": "kozlov"}"#)
        let json = try CLI.run(
            [
                bpmn, "--context", context, "--answers", "Samples/answers.json", "--directory", "Samples/org.json",
                "--json", "--notify-url", notifications.url + "/notify",
            ],
            environment: ["PROCRUN_SECRET_KEY": "topsecret42"])
        let trace = try CLI.run(
            [bpmn, "--context", context, "--answers", "Samples/answers.json", "--directory", "Samples/org.json"],
            environment: ["PROCRUN_SECRET_KEY": "topsecret42"])
        let received = failing.stop()
        let notified = notifications.stop()

        #expect(json.status == 0, "\(json.stderr)")
        let report = try #require(try JSONParser.parse(json.stdout).objectValue)
        #expect(report["end"] == ["id": "stop", "name": "Завершено вручную"])
        let webhook = try #require(report["webhooks"]?.arrayValue?.first?.objectValue)
        #expect(webhook["outcome"] == "interrupted")
        #expect(webhook["tries"]?.arrayValue?.map { $0.objectValue?["status"] } == [502, 502, 502])
        let users = report["notifications"]?.arrayValue?.compactMap { $0.objectValue?["user"]?.stringValue }
        #expect(users == ["petrova", "sidorov", "smirnova", "kozlov"])
        // Secrets and query strings never show.
        #expect(!json.stdout.contains("topsecret42") && !json.stdout.contains("key="))
        #expect(!trace.stdout.contains("topsecret42"))
        #expect(received.components(separatedBy: "Authorization: Bearer topsecret42").count == 7)
        // Notifications were POSTed as JSON, one per user.
        #expect(notified.components(separatedBy: "POST /notify HTTP/1.1").count == 5)
        #expect(notified.contains(#""user":"petrova","name":"Мария Петрова","email":"petrova@example.ru""#))
        #expect(notified.contains("failed after 3 tries: HTTP 502"))
        // The trace shows tries, notifications and the transition taken.
        #expect(trace.status == 0)
        #expect(trace.stdout.contains("try 1 of 3 failed: HTTP 502"))
        #expect(trace.stdout.contains("✉ notified kozlov"))
        #expect(trace.stdout.contains("→ «Завершить»"))
    }

    @Test func incidentWhenNothingHandlesTheFailure() throws {
        let bpmn = try CLI.temporaryFile(
            "inc.bpmn",
            """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1">
            <process id="P" isExecutable="true"><startEvent id="s"/>
            <serviceTask id="w"><extensionElements><procrun:webhook url="http://127.0.0.1:1/x"/></extensionElements></serviceTask>
            <sequenceFlow id="f1" sourceRef="s" targetRef="w"/><endEvent id="e"/><sequenceFlow id="f2" sourceRef="w" targetRef="e"/></process></definitions>
            """)
        let result = try CLI.run([bpmn, "--json"])
        #expect(result.status == 3)
        let report = try #require(try JSONParser.parse(result.stdout).objectValue)
        #expect(report["incident"]?.objectValue?["node"] == "w")
    }

    @Test func aBadMaxResponseBytesIsRefusedWhereItIsWritten() throws {
        let bpmn = try CLI.temporaryFile(
            "cap.bpmn",
            """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1">
            <process id="P" isExecutable="true"><startEvent id="s"/>
            <serviceTask id="w"><extensionElements>
              <procrun:webhook url="http://127.0.0.1:1/x" maxResponseBytes="10 parsecs"/>
            </extensionElements></serviceTask>
            <sequenceFlow id="f1" sourceRef="s" targetRef="w"/><endEvent id="e"/><sequenceFlow id="f2" sourceRef="w" targetRef="e"/></process></definitions>
            """)
        for arguments in [["validate", bpmn], [bpmn]] {
            let result = try CLI.run(arguments)
            #expect(result.status == 2)
            #expect(
                result.stderr.contains(
                    "\(bpmn):4:3: error: procrun:webhook maxResponseBytes '10 parsecs' is not a size from 1 byte to 1GB (a number of bytes, or with a unit: 512KB, 10MB)"
                ),
                "\(result.stderr)")
        }
        let fine = try CLI.run([
            "validate",
            try CLI.temporaryFile(
                "ok.bpmn",
                try String(contentsOfFile: bpmn, encoding: .utf8)
                    .replacingOccurrences(of: "10 parsecs", with: "512KB")),
        ])
        #expect(fine.status == 0, "\(fine.stderr)")
    }

    @Test func badTimeZoneIsInvalidInput() throws {
        let result = try CLI.run(["Processes/order.bpmn", "--timezone", "Mars/Olympus"])
        #expect(result.status == 2)
        #expect(
            result.stderr
                == "procrun: error: unknown time zone 'Mars/Olympus' (use an IANA name such as Europe/Moscow)\n")
    }
}
