import Foundation
import Testing
import Values

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// `procrun test`: the contract of the test file, instruction by instruction, and its output.
@Suite(.serialized) struct ProcessTestCLITests {
    static let order = CLI.packageRoot.appendingPathComponent("Processes/order.bpmn").path
    static let directory = CLI.packageRoot.appendingPathComponent("Samples/org.json").path
    static let variant = CLI.packageRoot.appendingPathComponent("Processes/order-boundary.bpmn").path

    /// A test file of one case for the order process.
    func orderTest(_ instructions: String, name: String = "case") throws -> String {
        try CLI.temporaryFile(
            "order.test.json",
            """
            {"process": "\(Self.order)", "directory": "\(Self.directory)",
             "testCases": [{"name": "\(name)", "instructions": [\(instructions)]}]}
            """)
    }

    static let create = """
        {"type": "CREATE_PROCESS_INSTANCE", "initiator": "ivanov", "variables": {"orderNumber": "A-1", "customer": {"name": "К"}, "items": [], "total": 5, "manager": "kozlov", "warehouseUrl": "http://w.example"}}
        """
    static let toWebhook = """
        {"type": "COMPLETE_USER_TASK", "elementId": "Task_accept", "by": "ivanov", "variables": {"inStock": true}},
        {"type": "COMPLETE_USER_TASK", "elementId": "Task_assemble", "by": "sidorov"},
        {"type": "COMPLETE_USER_TASK", "elementId": "Task_invoice", "by": "petrova", "variables": {"invoiceNumber": "S-1"}}
        """

    /// The shipped sample: every case passes, 100% of the flows are covered, JUnit is XML.
    @Test func theSampleTestsPassWithFullCoverage() throws {
        let junit = FileManager.default.temporaryDirectory.appendingPathComponent("procrun-junit-\(UUID()).xml").path
        let result = try CLI.run(["test", "Processes", "--coverage", "--coverage-min", "100", "--junit", junit])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.filter { $0.hasPrefix("PASS ") }.count == 7)
        #expect(lines.contains("PASS happy path: delivered to the warehouse system (Processes/order.test.json)"))
        #expect(lines.contains("7 passed, 0 failed"))
        #expect(lines.contains("coverage order: flow nodes 10/10 (100%), sequence flows 10/10 (100%)"))
        // The error boundary variant (its own file, named by the cases) is covered on its own.
        #expect(lines.contains("coverage order_boundary: flow nodes 12/12 (100%), sequence flows 11/11 (100%)"))
        let xml = try Data(contentsOf: URL(fileURLWithPath: junit))
        let parser = XMLParser(data: xml)
        #expect(parser.parse(), "JUnit XML parses")
        let text = String(decoding: xml, as: UTF8.self)
        #expect(text.contains(#"<testsuite name="Processes/order.test.json" tests="7" failures="0""#))
        #expect(text.components(separatedBy: "<testcase ").count == 8)
        // --filter and --json.
        let one = try CLI.run(["test", "Processes/order.test.json", "--filter", "out of stock", "--json"])
        #expect(one.status == 0, "\(one.stderr)")
        let cases = try JSONParser.parse(one.stdout).arrayValue ?? []
        #expect(cases.count == 1 && cases.first?.objectValue?["passed"] == true)
    }

    /// A failing assertion: FAIL, the instruction, expected against actual, the path so far;
    /// exit 1; the JUnit file has the failure.
    @Test func aFailingAssertionSaysWhatAndWhere() throws {
        let file = try orderTest(
            """
            \(Self.create),
            {"type": "COMPLETE_USER_TASK", "elementId": "Task_accept", "by": "ivanov", "variables": {"inStock": true}},
            {"type": "ASSERT_PROCESS_INSTANCE", "state": "COMPLETED"}
            """, name: "stops too early")
        let junit = FileManager.default.temporaryDirectory.appendingPathComponent("procrun-junit-\(UUID()).xml").path
        let result = try CLI.run(["test", file, "--junit", junit])
        #expect(result.status == 1)
        #expect(
            result.stdout
                == """
                FAIL stops too early (\(file))
                  instruction 3 ASSERT_PROCESS_INSTANCE: expected state COMPLETED, actual ACTIVE (waiting at 'Task_assemble')
                  path so far: Start_order → Task_accept → Gateway_in_stock → Gateway_merge
                0 passed, 1 failed

                """)
        let text = try String(contentsOfFile: junit, encoding: .utf8)
        #expect(XMLParser(data: Data(text.utf8)).parse())
        #expect(text.contains(#"<failure message="instruction 3 ASSERT_PROCESS_INSTANCE: expected state COMPLETED"#))
    }

    /// Each assertion's failure message, and the actions' own refusals.
    @Test(arguments: [
        (
            #"{"type": "ASSERT_ELEMENT_INSTANCES", "elementIds": ["Task_procure"], "state": "COMPLETED"}"#,
            "expected 'Task_procure' COMPLETED, actual NOT_ACTIVATED"
        ),
        (
            #"{"type": "ASSERT_ELEMENT_INSTANCES", "elementIds": ["Task_invoice", "Task_accept"], "inOrder": true}"#,
            "expected in order 'Task_invoice', 'Task_accept', actual order 'Task_accept', 'Task_invoice'"
        ),
        (
            #"{"type": "ASSERT_ELEMENT_INSTANCES", "elementNames": ["Принять заказ"], "times": 2}"#,
            "expected 'Task_accept' completed 2 times, actual 1"
        ),
        (#"{"type": "ASSERT_VARIABLES", "variables": {"inStock": false}}"#, "expected 'inStock' = false, actual true"),
        (
            #"{"type": "ASSERT_VARIABLES", "variables": {"invoiceNumber": null}}"#,
            "expected 'invoiceNumber' not set, actual \"S-1\""
        ),
        (
            #"{"type": "ASSERT_NOTIFICATIONS", "users": ["ivanov"]}"#,
            #"expected notifications to ["ivanov"], actual []"#
        ),
        (
            #"{"type": "ASSERT_JOB_REQUESTS", "elementId": "Task_webhook", "count": 2}"#,
            "expected 2 requests of 'Task_webhook', actual 1"
        ),
        (
            #"{"type": "ASSERT_JOB_REQUESTS", "elementId": "Task_webhook", "body": {"order_number": "B-2"}}"#,
            #"expected a body containing {"order_number":"B-2"}"#
        ),
        (#"{"type": "ASSERT_INCIDENT"}"#, "expected an incident, actual state completed"),
        (#"{"type": "ASSERT_USER_TASK", "elementId": "Task_accept"}"#, "task 'Task_accept' is not waiting"),
        (
            #"{"type": "COMPLETE_USER_TASK", "elementId": "Task_accept", "by": "ivanov"}"#,
            "task 'Task_accept' is not waiting (open tasks: none)"
        ),
    ])
    func eachAssertionFailsWithExpectedAndActual(_ instruction: String, _ message: String) throws {
        let file = try orderTest(
            """
            {"type": "MOCK_WEBHOOK", "elementId": "Task_webhook", "responses": [{"status": 200}]},
            \(Self.create), \(Self.toWebhook), \(instruction)
            """)
        let result = try CLI.run(["test", file])
        #expect(result.status == 1, "\(result.stdout)")
        #expect(result.stdout.contains("  instruction 6 "), "\(result.stdout)")
        #expect(result.stdout.contains(message), "\(result.stdout)")
    }

    /// A case may name its own BPMN file and process, CREATE_PROCESS_INSTANCE a process of the
    /// file by `processId` (elements are then those of that process); ASSERT_USER_TASK checks
    /// who may perform a task, as the directory resolves its lane.
    @Test func casesChooseTheirProcess() throws {
        let model = try CLI.temporaryFile(
            "two.bpmn",
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" targetNamespace="t">
              <process id="first" isExecutable="true">
                <startEvent id="s1"/><sequenceFlow id="f1" sourceRef="s1" targetRef="a"/>
                <userTask id="a"/><sequenceFlow id="f2" sourceRef="a" targetRef="e1"/><endEvent id="e1"/>
              </process>
              <process id="second" isExecutable="true">
                <startEvent id="s2"/><sequenceFlow id="g1" sourceRef="s2" targetRef="b"/>
                <userTask id="b" name="Второй шаг"/><sequenceFlow id="g2" sourceRef="b" targetRef="e2"/><endEvent id="e2"/>
              </process>
            </definitions>
            """)
        let file = try CLI.temporaryFile(
            "two.test.json",
            """
            {"process": "\(model)",
             "testCases": [
               {"name": "the second process", "instructions": [
                 {"type": "CREATE_PROCESS_INSTANCE", "processId": "second"},
                 {"type": "ASSERT_USER_TASK", "elementName": "Второй шаг", "candidates": []},
                 {"type": "COMPLETE_USER_TASK", "elementId": "b"},
                 {"type": "ASSERT_PROCESS_INSTANCE", "state": "COMPLETED", "endElementId": "e2"}]},
               {"name": "the variant's manual delivery", "process": "\(Self.variant)", "instructions": [
                 {"type": "MOCK_WEBHOOK", "elementId": "Task_webhook", "responses": [{"status": 500}]},
                 {"type": "CREATE_PROCESS_INSTANCE", "initiator": "ivanov", "variables": {"warehouseUrl": "http://w.example"}},
                 {"type": "ASSERT_USER_TASK", "elementId": "Task_accept", "candidates": ["ivanov", "kozlov"]},
                 {"type": "COMPLETE_USER_TASK", "elementId": "Task_accept", "by": "ivanov", "variables": {"inStock": true}},
                 {"type": "COMPLETE_USER_TASK", "elementId": "Task_assemble", "by": "sidorov"},
                 {"type": "COMPLETE_USER_TASK", "elementId": "Task_invoice", "by": "petrova"},
                 {"type": "ASSERT_USER_TASK", "elementId": "Task_manual", "candidates": ["sidorov"]}]}]}
            """)
        let result = try CLI.run(["test", file, "--coverage"])
        #expect(result.status == 1, "\(result.stdout) \(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("PASS the second process (\(file))"), "\(result.stdout)")
        #expect(lines.contains("FAIL the variant's manual delivery (\(file))"), "\(result.stdout)")
        // Without a directory nobody is resolved from the lanes: the first assertion fails.
        #expect(
            result.stdout.contains(
                #"instruction 3 ASSERT_USER_TASK: expected candidates ["ivanov", "kozlov"], actual []"#),
            "\(result.stdout)")
        #expect(lines.contains("coverage second: flow nodes 3/3 (100%), sequence flows 2/2 (100%)"))
        #expect(!result.stdout.contains("coverage first:"), "the file's first process never ran")
        #expect(result.stdout.contains("coverage order_boundary: flow nodes 2/12"), "\(result.stdout)")
        // With the directory, the lane's org unit is who may accept; the manual delivery is
        // accounting's, not the warehouse's.
        let withDirectory = try String(contentsOfFile: file, encoding: .utf8).replacingOccurrences(
            of: #"{"process": ""#, with: #"{"directory": "\#(Self.directory)", "process": ""#)
        try withDirectory.write(toFile: file, atomically: true, encoding: .utf8)
        let second = try CLI.run(["test", file])
        #expect(
            second.stdout.contains(
                #"instruction 7 ASSERT_USER_TASK: expected candidates ["sidorov"], actual ["petrova"]"#),
            "\(second.stdout)")
    }

    /// A webhook without a mock fails the test naming the node; a person who is not a candidate
    /// may not complete the task.
    @Test func unmockedNodesAndWrongPerformersFail() throws {
        let unmocked = try CLI.run(["test", try orderTest("\(Self.create), \(Self.toWebhook)")])
        #expect(unmocked.status == 1)
        #expect(
            unmocked.stdout.contains(
                "'Task_webhook' is an integration node this test does not mock: add a MOCK_WEBHOOK or MOCK_JOB for it"),
            "\(unmocked.stdout)")
        let wrong = try CLI.run([
            "test",
            try orderTest(
                #"\#(Self.create), {"type": "COMPLETE_USER_TASK", "elementId": "Task_accept", "by": "sidorov"}"#),
        ])
        #expect(wrong.status == 1)
        #expect(wrong.stdout.contains("sidorov may not perform task 'Task_accept' (candidates: ivanov, kozlov)"))
    }

    /// Timers move only with INCREASE_TIME; messages, signals and mocked tasks of other engines.
    @Test func timeMessagesSignalsAndMockedTasks() throws {
        let bpmn = try CLI.temporaryFile(
            "events.bpmn",
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D">
            <message id="M" name="paid"/><signal id="S" name="stop"/><error id="E" errorCode="rejected"/>
            <process id="P" isExecutable="true"><startEvent id="s"/>
            <userTask id="review"/>
            <boundaryEvent id="late" attachedToRef="review"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">PT1H</timeDuration></timerEventDefinition></boundaryEvent>
            <serviceTask id="bill" camunda:class="com.acme.Bill"/>
            <boundaryEvent id="rejected" attachedToRef="bill"><errorEventDefinition errorRef="E"/></boundaryEvent>
            <intermediateCatchEvent id="wait_paid"><messageEventDefinition messageRef="M"/></intermediateCatchEvent>
            <intermediateCatchEvent id="wait_stop"><signalEventDefinition signalRef="S"/></intermediateCatchEvent>
            <endEvent id="done"/><endEvent id="timed_out"/><endEvent id="no_bill"/>
            <sequenceFlow id="f1" sourceRef="s" targetRef="review"/><sequenceFlow id="f2" sourceRef="review" targetRef="bill"/>
            <sequenceFlow id="f3" sourceRef="bill" targetRef="wait_paid"/><sequenceFlow id="f4" sourceRef="wait_paid" targetRef="wait_stop"/>
            <sequenceFlow id="f5" sourceRef="wait_stop" targetRef="done"/><sequenceFlow id="f6" sourceRef="late" targetRef="timed_out"/>
            <sequenceFlow id="f7" sourceRef="rejected" targetRef="no_bill"/>
            </process></definitions>
            """)
        let file = try CLI.temporaryFile(
            "events.test.json",
            """
            {"process": "\(bpmn)", "testCases": [
              {"name": "a timer moves only with INCREASE_TIME", "instructions": [
                {"type": "CREATE_PROCESS_INSTANCE"},
                {"type": "INCREASE_TIME", "duration": "PT59M"},
                {"type": "ASSERT_ELEMENT_INSTANCES", "elementIds": ["review"], "state": "ACTIVE"},
                {"type": "INCREASE_TIME", "duration": "PT1M"},
                {"type": "ASSERT_PROCESS_INSTANCE", "state": "COMPLETED", "endElementId": "timed_out"}]},
              {"name": "a mocked task, a message and a signal", "instructions": [
                {"type": "MOCK_TASK", "elementId": "bill", "variables": {"billed": 42}},
                {"type": "CREATE_PROCESS_INSTANCE", "variables": {"order": "A-1"}},
                {"type": "COMPLETE_USER_TASK", "elementId": "review"},
                {"type": "ASSERT_VARIABLES", "variables": {"billed": 42}},
                {"type": "ASSERT_ELEMENT_INSTANCES", "elementIds": ["wait_paid"], "state": "ACTIVE"},
                {"type": "PUBLISH_MESSAGE", "name": "paid", "variables": {"amount": 7}},
                {"type": "BROADCAST_SIGNAL", "name": "stop"},
                {"type": "ASSERT_PROCESS_INSTANCE", "state": "COMPLETED", "endElementId": "done"},
                {"type": "ASSERT_VARIABLES", "variables": {"amount": 7, "order": "A-1"}}]},
              {"name": "a mocked task throws a BPMN error", "instructions": [
                {"type": "MOCK_TASK", "elementId": "bill", "error": "rejected"},
                {"type": "CREATE_PROCESS_INSTANCE"},
                {"type": "COMPLETE_USER_TASK", "elementId": "review"},
                {"type": "ASSERT_PROCESS_INSTANCE", "state": "COMPLETED", "endElementId": "no_bill"}]}
            ]}
            """)
        let result = try CLI.run(["test", file])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.hasSuffix("3 passed, 0 failed\n"), "\(result.stdout)")
    }

    /// Camunda Process Test's JSON spellings: selectors, `IS_` states, job types, `signalName`.
    @Test func camundaProcessTestSpellingsAreAccepted() throws {
        let bpmn = try CLI.temporaryFile(
            "zeebe.bpmn",
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="D">
            <signal id="S" name="go"/>
            <process id="Pay" isExecutable="true"><startEvent id="s"/>
            <userTask id="approve"/>
            <serviceTask id="charge"><extensionElements><zeebe:taskDefinition type="payment"/></extensionElements></serviceTask>
            <intermediateCatchEvent id="wait"><signalEventDefinition signalRef="S"/></intermediateCatchEvent><endEvent id="e"/>
            <sequenceFlow id="f1" sourceRef="s" targetRef="approve"/><sequenceFlow id="f2" sourceRef="approve" targetRef="charge"/>
            <sequenceFlow id="f3" sourceRef="charge" targetRef="wait"/><sequenceFlow id="f4" sourceRef="wait" targetRef="e"/>
            </process></definitions>
            """)
        let file = try CLI.temporaryFile(
            "cpt.test.json",
            """
            {"$schema": "https://camunda.com/json-schema/cpt-test-cases/8.9/schema.json", "process": "\(bpmn)",
             "testCases": [{"name": "cpt", "instructions": [
               {"type": "MOCK_JOB_WORKER_COMPLETE_JOB", "jobType": "payment", "variables": {"paid": true}},
               {"type": "CREATE_PROCESS_INSTANCE", "processDefinitionSelector": {"processDefinitionId": "Pay"}},
               {"type": "COMPLETE_USER_TASK", "userTaskSelector": {"elementId": "approve"}},
               {"type": "ASSERT_ELEMENT_INSTANCE", "elementSelector": {"elementId": "wait"}, "state": "IS_ACTIVE"},
               {"type": "BROADCAST_SIGNAL", "signalName": "go"},
               {"type": "ASSERT_ELEMENT_INSTANCES", "elementSelectors": [{"elementId": "approve"}, {"elementId": "charge"}], "state": "IS_COMPLETED"},
               {"type": "ASSERT_PROCESS_INSTANCE", "state": "IS_COMPLETED"},
               {"type": "ASSERT_VARIABLES", "variables": {"paid": true}}]}]}
            """)
        let result = try CLI.run(["test", file])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
    }

    /// Mocks answer the REST connector through its own result and error expressions and the
    /// e-mail node with the letter it would send; a task procrun cannot run needs a MOCK_TASK;
    /// a process that loops without time passing is stopped, and the case fails saying so.
    @Test func connectorsEmailsForeignTasksAndEndlessLoops() throws {
        let rest = CLI.packageRoot.appendingPathComponent("Tests/ProcrunCLITests/Fixtures/camunda8/rest-connector.bpmn")
            .path
        let mail = try emailBPMN()
        let loop = try CLI.temporaryFile(
            "loop.bpmn",
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D">
            <process id="L" isExecutable="true"><startEvent id="s"/>
            <serviceTask id="poll"><extensionElements><procrun:webhook url="http://status.example/ready"/></extensionElements></serviceTask>
            <exclusiveGateway id="again" default="f3"/><serviceTask id="java" camunda:class="com.acme.Bill"/><endEvent id="e"/>
            <sequenceFlow id="f1" sourceRef="s" targetRef="poll"/><sequenceFlow id="f2" sourceRef="poll" targetRef="again"/>
            <sequenceFlow id="f3" sourceRef="again" targetRef="poll"/>
            <sequenceFlow id="f4" sourceRef="again" targetRef="java"><conditionExpression>= done = true</conditionExpression></sequenceFlow>
            <sequenceFlow id="f5" sourceRef="java" targetRef="e"/>
            </process></definitions>
            """)
        let file = try CLI.temporaryFile(
            "mixed.test.json",
            """
            {"process": "\(rest)", "testCases": [
              {"name": "404 becomes not-found", "instructions": [
                {"type": "MOCK_WEBHOOK", "elementId": "Task_rest", "responses": [{"status": 404}]},
                {"type": "CREATE_PROCESS_INSTANCE", "variables": {"baseUrl": "http://w.example", "orderId": "A-1", "total": 1}},
                {"type": "ASSERT_PROCESS_INSTANCE", "state": "COMPLETED", "endElementId": "End_missing"}]},
              {"name": "the reply's expressions", "instructions": [
                {"type": "MOCK_WEBHOOK", "elementId": "Task_rest", "responses": [{"status": 200, "body": {"ok": true, "request": 9}}]},
                {"type": "CREATE_PROCESS_INSTANCE", "variables": {"baseUrl": "http://w.example", "orderId": "A-1", "total": 1}},
                {"type": "ASSERT_VARIABLES", "variables": {"accepted": true, "requestNumber": 9}},
                {"type": "ASSERT_JOB_REQUESTS", "elementId": "Task_rest", "headers": {"Authorization": "***"}}]}
            ]}
            """)
        let connector = try CLI.run(["test", file], environment: ["PROCRUN_SECRET_WAREHOUSE_TOKEN": "tok-1"])
        #expect(connector.status == 0, "\(connector.stdout) \(connector.stderr)")

        let letters = try CLI.temporaryFile(
            "mail.test.json",
            """
            {"process": "\(mail)", "directory": "\(try mailDirectory())", "testCases": [{"name": "the letter", "instructions": [
              {"type": "MOCK_JOB", "elementId": "Task_mail"},
              {"type": "CREATE_PROCESS_INSTANCE", "variables": {"orderId": "З-1", "customer": {"name": "Анна", "email": "anna@example.com"}}},
              {"type": "ASSERT_JOB_REQUESTS", "elementId": "Task_mail", "count": 1, "body": {"subject": "Заказ З-1 готов", "to": ["anna@example.com", "sidorov@example.ru"]}},
              {"type": "ASSERT_PROCESS_INSTANCE", "state": "COMPLETED"}]}]}
            """)
        let mailed = try CLI.run(["test", letters])
        #expect(mailed.status == 0, "\(mailed.stdout) \(mailed.stderr)")

        let loops = try CLI.temporaryFile(
            "loop.test.json",
            """
            {"process": "\(loop)", "testCases": [
              {"name": "polls for ever", "instructions": [
                {"type": "MOCK_WEBHOOK", "elementId": "poll"}, {"type": "CREATE_PROCESS_INSTANCE", "variables": {"done": false}}]},
              {"name": "a foreign task without a mock", "instructions": [
                {"type": "MOCK_WEBHOOK", "elementId": "poll"}, {"type": "CREATE_PROCESS_INSTANCE", "variables": {"done": true}}]}
            ]}
            """)
        let stopped = try CLI.run(["test", loops])
        #expect(stopped.status == 1)
        #expect(stopped.stdout.contains("the process loops without time passing"), "\(stopped.stdout)")
        #expect(
            stopped.stdout.contains("'java' is an integration node this test does not mock"), "\(stopped.stdout)")
    }

    /// Where `text` first stands in a file: `FILE:LINE:COL` (columns in characters).
    func location(of text: String, in file: String) throws -> String {
        let content = try String(contentsOfFile: file, encoding: .utf8)
        let lines = content.components(separatedBy: "\n")
        for (number, line) in lines.enumerated() {
            if let range = line.range(of: text) {
                return "\(file):\(number + 1):\(line.distance(from: line.startIndex, to: range.lowerBound) + 1)"
            }
        }
        return "\(file): '\(text)' not found"
    }

    /// An invalid test file is refused before anything runs: FILE:LINE:COL of the value at
    /// fault, and exit 2.
    @Test func anInvalidTestFileIsRefused() throws {
        let unknown = try orderTest(#"{"type": "CLICK_BUTTON"}"#)
        let result = try CLI.run(["test", unknown])
        #expect(result.status == 2)
        #expect(
            result.stderr.contains(
                "\(try location(of: "\"CLICK_BUTTON\"", in: unknown)): error: testCases[0] «case», instruction 1: unknown type 'CLICK_BUTTON'"
            ), "\(result.stderr)")
        let element = try orderTest(
            #"{"type": "MOCK_WEBHOOK", "elementId": "Task_webhook"}, {"type": "COMPLETE_USER_TASK", "elementId": "Task_nope"}"#
        )
        let refused = try CLI.run(["test", element])
        #expect(refused.status == 2)
        #expect(
            refused.stderr.contains(
                "\(try location(of: "\"Task_nope\"", in: element)): error: testCases[0] «case», instruction 2 (COMPLETE_USER_TASK): elementId 'Task_nope' is not an element of process 'order'"
            ), "\(refused.stderr)")
        let missing = try CLI.run(["test", "/nonexistent/x.test.json"])
        #expect(missing.status == 2)
        for (instruction, message) in [
            (#"{"type": "INCREASE_TIME", "duration": "soon"}"#, "duration must be an ISO-8601 duration"),
            (
                #"{"type": "MOCK_WEBHOOK", "elementId": "Task_webhook", "responses": [{"status": "503"}]}"#,
                #"status "503" is not an HTTP status"#
            ),
            (#"{"type": "ASSERT_PROCESS_INSTANCE", "state": "DONE"}"#, "state 'DONE' is not ACTIVE, COMPLETED"),
        ] {
            let file = try orderTest(instruction)
            let result = try CLI.run(["test", file])
            #expect(result.status == 2, "\(instruction)")
            #expect(result.stderr.contains(message), "\(result.stderr)")
            // The location is that of the field at fault.
            let value = ["\"soon\"", "\"503\"", "\"DONE\""].first { instruction.contains($0) }!
            #expect(result.stderr.hasPrefix("\(try location(of: value, in: file)): error: "), "\(result.stderr)")
        }
        // A case's process that is not in its file, at the case's processId.
        let otherProcess = try CLI.temporaryFile(
            "variant.test.json",
            """
            {"process": "\(Self.order)",
             "testCases": [{"name": "v", "process": "\(Self.variant)",
               "processId": "order", "instructions": []}]}
            """)
        let wrongProcess = try CLI.run(["test", otherProcess])
        #expect(wrongProcess.status == 2)
        #expect(
            wrongProcess.stderr.contains(
                "\(otherProcess):3:17: error: \"processId\": 'order' is not a process of '\(Self.variant)' (its processes: order_boundary)"
            ), "\(wrongProcess.stderr)")
        let none = try CLI.run(["test", "Processes", "--filter", "no such case"])
        #expect(none.status == 2)
    }
}
