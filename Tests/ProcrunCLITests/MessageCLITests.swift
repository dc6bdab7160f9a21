import Foundation
import Testing
import Values

/// `procrun message`: messages from outside to stored instances, by correlation key, or
/// starting a deployed process.
@Suite(.serialized) struct MessageCLITests {
    static func file() throws -> String {
        try CLI.temporaryFile(
            "paid.bpmn",
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="D">
            <message id="M_paid" name="paid"><extensionElements><zeebe:subscription correlationKey="=orderId"/></extensionElements></message>
            <message id="M_refund" name="refund"/>
            <process id="Order" name="Заказ" isExecutable="true"><startEvent id="s"/>
            <intermediateCatchEvent id="wait_paid" name="Оплата"><messageEventDefinition messageRef="M_paid"/></intermediateCatchEvent>
            <endEvent id="e"/><sequenceFlow id="f1" sourceRef="s" targetRef="wait_paid"/><sequenceFlow id="f2" sourceRef="wait_paid" targetRef="e"/>
            </process>
            <process id="Refund" name="Возврат" isExecutable="true">
            <startEvent id="got"><messageEventDefinition messageRef="M_refund"/></startEvent>
            <scriptTask id="calc"><script>back = amount * 2</script></scriptTask><endEvent id="re"/>
            <sequenceFlow id="r1" sourceRef="got" targetRef="calc"/><sequenceFlow id="r2" sourceRef="calc" targetRef="re"/>
            </process>
            </definitions>
            """)
    }

    /// Two orders wait for `paid`; the message with a correlation key reaches the one whose
    /// `orderId` it names, with its variables; a key nobody has is refused (exit 2), nothing changes.
    @Test func aMessageReachesTheInstanceOfItsCorrelationKey() throws {
        let store = try temporaryStore()
        let file = try Self.file()
        var ids: [String] = []
        for order in ["A-1", "A-2"] {
            let started = try CLI.run([
                "start", file, "--process", "Order", "--context",
                try CLI.temporaryFile("c.json", #"{"orderId": "\#(order)"}"#), "--store", store, "--json",
            ])
            #expect(started.status == 4, "\(started.stderr)")
            ids.append(try #require(try JSONParser.parse(started.stdout).objectValue?["instance"]?.stringValue))
        }
        let sent = try CLI.run([
            "message", "paid", "--correlation-key", "A-2", "--set", "amount=150", "--store", store, "--json",
        ])
        #expect(sent.status == 0, "\(sent.stderr)")
        let report = try #require(try JSONParser.parse(sent.stdout).objectValue)
        #expect(report["instance"]?.stringValue == ids[1])
        #expect(report["status"] == "completed")
        #expect(report["context"]?.objectValue?["amount"] == 150)
        let first = try CLI.run(["show", ids[0], "--store", store, "--json"])
        #expect(try JSONParser.parse(first.stdout).objectValue?["status"] == "waiting")

        let nobody = try CLI.run(["message", "paid", "--correlation-key", "A-9", "--store", store])
        #expect(nobody.status == 2)
        #expect(
            nobody.stderr.contains(
                "no instance waits for message 'paid' with correlation key 'A-9' and no deployed process starts with it; nothing was changed"
            ), "\(nobody.stderr)")
        // Without a key, the one that has waited longest.
        let any = try CLI.run(["message", "paid", "--store", store])
        #expect(any.status == 0, "\(any.stderr)")
        #expect(any.stdout.hasPrefix("\(ids[0]) completed"))
    }

    /// A message nobody waits for starts the newest deployed process whose message start event
    /// names it; the loader warns that only `procrun message` starts that process.
    @Test func aMessageStartsADeployedProcess() throws {
        let store = try temporaryStore()
        let file = try Self.file()
        let validated = try CLI.run(["validate", file])
        #expect(validated.status == 0, "\(validated.stderr)")
        #expect(
            validated.stderr.contains(
                "warning: message start event 'got' of executable process 'Refund' has no operationRef, and nothing in this file sends its message 'refund': only `procrun message refund` sends it"
            ), "\(validated.stderr)")
        let deployed = try CLI.run(["deploy", file, "--store", store])
        #expect(deployed.status == 0, "\(deployed.stderr)")
        #expect(deployed.stdout == "Order v1 (\(file))\nRefund v1 (\(file))\n")
        #expect(
            try CLI.run(["deploy", file, "--store", store]).stdout == deployed.stdout, "the same bytes deploy once")
        let refund = try CLI.run(["message", "refund", "--set", "amount=21", "--store", store, "--json"])
        #expect(refund.status == 0, "\(refund.stderr)")
        let report = try #require(try JSONParser.parse(refund.stdout).objectValue)
        #expect(report["process"] == "Refund")
        #expect(report["context"]?.objectValue?["back"] == 42)
        #expect(report["path"]?.arrayValue?.first == "got")
    }

    /// A deployed process's timer start event: `worker --until-idle` starts the instance of a
    /// `timeDate` that has passed, once, and does not wait for a cycle's later firings.
    @Test func aWorkerStartsADeployedTimerStart() throws {
        let store = try temporaryStore()
        let file = try CLI.temporaryFile(
            "t.bpmn",
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D">
            <process id="Nightly" isExecutable="true">
            <startEvent id="at"><timerEventDefinition><timeDate xsi:type="tFormalExpression">2026-01-01T00:00:00Z</timeDate></timerEventDefinition></startEvent>
            <scriptTask id="mark"><script>done = true</script></scriptTask><endEvent id="e"/>
            <sequenceFlow id="f1" sourceRef="at" targetRef="mark"/><sequenceFlow id="f2" sourceRef="mark" targetRef="e"/></process>
            <process id="Hourly" isExecutable="true">
            <startEvent id="hourly"><timerEventDefinition><timeCycle xsi:type="tFormalExpression">R/PT1H</timeCycle></timerEventDefinition></startEvent>
            <endEvent id="he"/><sequenceFlow id="h1" sourceRef="hourly" targetRef="he"/></process>
            </definitions>
            """)
        #expect(try CLI.run(["deploy", file, "--store", store]).status == 0)
        for _ in 0..<2 {
            let worker = try CLI.run(["worker", "--until-idle", "--store", store])
            #expect(worker.status == 0, "\(worker.stderr)")
        }
        let listed = try CLI.run(["instances", "--store", store, "--json"])
        let instances = try JSONParser.parse(listed.stdout).arrayValue?.compactMap(\.objectValue) ?? []
        #expect(instances.count == 1, "\(listed.stdout)")
        #expect(instances.first?["status"] == "completed")
    }
}
