import Foundation
import Testing
import Values

/// The `conformance` executable on a small folder of betsy's layout, made here.
@Suite struct ConformanceHarnessTests {
    static var binary: URL { CLI.binary.deletingLastPathComponent().appendingPathComponent("conformance") }

    func write(_ path: URL, _ text: String) throws {
        try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: path, atomically: true, encoding: .utf8)
    }

    @Test func runsCasesAndInvalidModelsOfAnyFolder() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("betsy-\(UUID().uuidString)")
        try write(
            root.appendingPathComponent("cases/Choice/Choice.bpmn"),
            """
            <bpmn2:definitions xmlns:bpmn2="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
            <bpmn2:process id="Choice" isExecutable="true">
            <bpmn2:startEvent id="s"/><bpmn2:scriptTask id="log"><bpmn2:script>CREATE_LOG_FILE</bpmn2:script></bpmn2:scriptTask>
            <bpmn2:exclusiveGateway id="g"/>
            <bpmn2:scriptTask id="t1"><bpmn2:script>SCRIPT_task1</bpmn2:script></bpmn2:scriptTask>
            <bpmn2:scriptTask id="t2"><bpmn2:script>SCRIPT_task2</bpmn2:script></bpmn2:scriptTask>
            <bpmn2:endEvent id="e1"/><bpmn2:endEvent id="e2"/>
            <bpmn2:sequenceFlow id="f0" sourceRef="s" targetRef="log"/><bpmn2:sequenceFlow id="f1" sourceRef="log" targetRef="g"/>
            <bpmn2:sequenceFlow id="f2" sourceRef="g" targetRef="t1"><bpmn2:conditionExpression xsi:type="bpmn2:tFormalExpression">test.contains("a")</bpmn2:conditionExpression></bpmn2:sequenceFlow>
            <bpmn2:sequenceFlow id="f3" sourceRef="g" targetRef="t2"><bpmn2:conditionExpression xsi:type="bpmn2:tFormalExpression">!test.contains("a")</bpmn2:conditionExpression></bpmn2:sequenceFlow>
            <bpmn2:sequenceFlow id="f4" sourceRef="t1" targetRef="e1"/><bpmn2:sequenceFlow id="f5" sourceRef="t2" targetRef="e2"/>
            </bpmn2:process></bpmn2:definitions>
            """)
        try write(
            root.appendingPathComponent("cases/Choice/case.json"),
            """
            {"name": "Choice", "group": "gateways", "process_file": "Choice.bpmn", "process_id": "Choice", "inputs": [
              {"test_case_number": 1, "variables": {"test": "a", "integerVariable": 0, "testCaseNumber": 1}, "delay_ms": 0, "expected_trace": ["SCRIPT_task1"]},
              {"test_case_number": 2, "variables": {"test": "b", "integerVariable": 0, "testCaseNumber": 2}, "delay_ms": 0, "expected_trace": ["SCRIPT_task2"]},
              {"test_case_number": 3, "variables": {"test": "a", "integerVariable": 0, "testCaseNumber": 3}, "delay_ms": 0, "expected_trace": ["SCRIPT_task2"]}
            ]}
            """)
        // Two processes: the waiting ParallelProcess starts first and receives the message.
        try write(
            root.appendingPathComponent("cases/Relay/Relay.bpmn"),
            """
            <bpmn2:definitions xmlns:bpmn2="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn2:message id="M" name="go"/>
            <bpmn2:process id="Relay" isExecutable="true"><bpmn2:startEvent id="s"/>
            <bpmn2:intermediateThrowEvent id="send"><bpmn2:messageEventDefinition messageRef="M" operationRef="op"/></bpmn2:intermediateThrowEvent>
            <bpmn2:scriptTask id="t1"><bpmn2:script>SCRIPT_task1</bpmn2:script></bpmn2:scriptTask><bpmn2:endEvent id="e"/>
            <bpmn2:sequenceFlow id="f1" sourceRef="s" targetRef="send"/><bpmn2:sequenceFlow id="f2" sourceRef="send" targetRef="t1"/><bpmn2:sequenceFlow id="f3" sourceRef="t1" targetRef="e"/></bpmn2:process>
            <bpmn2:process id="ParallelProcess" isExecutable="true"><bpmn2:startEvent id="ps"/><bpmn2:receiveTask id="r" messageRef="M"/>
            <bpmn2:scriptTask id="m"><bpmn2:script>CREATE_MARKER_FILE</bpmn2:script></bpmn2:scriptTask><bpmn2:endEvent id="pe"/>
            <bpmn2:sequenceFlow id="p1" sourceRef="ps" targetRef="r"/><bpmn2:sequenceFlow id="p2" sourceRef="r" targetRef="m"/><bpmn2:sequenceFlow id="p3" sourceRef="m" targetRef="pe"/></bpmn2:process>
            </bpmn2:definitions>
            """)
        try write(
            root.appendingPathComponent("cases/Relay/case.json"),
            """
            {"name": "Relay", "group": "events", "process_file": "Relay.bpmn", "process_id": "Relay", "inputs": [
              {"test_case_number": 1, "variables": {"integerVariable": 0, "testCaseNumber": 1}, "start_parallel_process_first": true, "delay_ms": 0, "expected_trace": ["SCRIPT_task1", "MARKER_exists"]}
            ]}
            """)
        try write(
            root.appendingPathComponent("invalid/EXT002/dup.bpmn"),
            """
            <bpmn2:definitions xmlns:bpmn2="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn2:process id="P" isExecutable="true">
            <bpmn2:startEvent id="x"/><bpmn2:endEvent id="x"/></bpmn2:process></bpmn2:definitions>
            """)
        try write(
            root.appendingPathComponent("invalid/rules.json"), #"[{"file": "EXT002/dup.bpmn", "rule": "EXT002"}]"#)

        let process = Process()
        process.executableURL = Self.binary
        process.arguments = [root.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("PASS Choice #1 ") })
        #expect(lines.contains { $0.hasPrefix("PASS Choice #2 ") })
        // The third input expects the wrong trace on purpose: the harness must say FAIL.
        #expect(lines.contains { $0.hasPrefix("FAIL Choice #3 expected [\"SCRIPT_task2\"] actual [\"SCRIPT_task1\"]") })
        #expect(
            lines.contains { $0.hasPrefix("PASS invalid EXT002/dup.bpmn (EXT002)") && $0.contains("duplicate id 'x'") })
        #expect(lines.contains { $0.hasPrefix("PASS Relay #1 ") })
        #expect(lines.last == "4 passed, 1 failed")
    }
}
