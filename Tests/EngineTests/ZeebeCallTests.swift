import BPMNLoader
import Engine
import Foundation
import Testing
import Values

@Suite struct ZeebeCallTests {
    static func file(processID: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="D">
        <process id="Main" isExecutable="true"><startEvent id="s"/>
        <callActivity id="invoice"><extensionElements><zeebe:calledElement processId="\(processID)" propagateAllChildVariables="true"/></extensionElements></callActivity>
        <endEvent id="e"/><sequenceFlow id="f1" sourceRef="s" targetRef="invoice"/><sequenceFlow id="f2" sourceRef="invoice" targetRef="e"/></process>
        <process id="Billing" isExecutable="true"><startEvent id="bs"/><scriptTask id="bill"><script>total = price * 2</script></scriptTask><endEvent id="be"/>
        <sequenceFlow id="b1" sourceRef="bs" targetRef="bill"/><sequenceFlow id="b2" sourceRef="bill" targetRef="be"/></process>
        </definitions>
        """
    }

    /// Camunda 8's `<zeebe:calledElement processId>` names the process a call activity runs, as
    /// `calledElement` does (also written as the FEEL string literal `="Billing"`); a process chosen
    /// by another expression is refused clearly, not as "no calledElement".
    @Test func aZeebeCalledElementRunsTheCalledProcess() async throws {
        for processID in ["Billing", "=&quot;Billing&quot;"] {
            let e = try engines(Self.file(processID: processID))
            let instance = await run(e["Main"]!, context: ["price": 21])
            #expect(instance.status == .completed, "\(processID)")
            #expect(instance.context["total"] == 42)
            #expect(instance.pathIDs(e["Main"]!).contains("invoice/bill"))
        }
        let chosen = BPMNLoader.load(bytes: Array(Self.file(processID: "=billingProcess").utf8), file: "t.bpmn")
        #expect(
            chosen.errors.map(\.description) == [
                "t.bpmn:4:1: error: call activity 'invoice' chooses the process it calls by the expression '=billingProcess' (zeebe:calledElement); procrun calls a process named by its id"
            ])
    }
}
