import BPMNLoader
import Foundation
import ProcessModel
import Testing
import Values

@Suite struct NamespaceAndEncodingTests {
    let body = """
        <startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="e"/><endEvent id="e" name="Конец"/>
        """

    @Test(arguments: ["bpmn", "semantic", "model", "bpmn2"])
    func anyPrefix(prefix: String) throws {
        let xml = """
            <\(prefix):definitions xmlns:\(prefix)="http://www.omg.org/spec/BPMN/20100524/MODEL"><\(prefix):process id="P" isExecutable="true">
            <\(prefix):startEvent id="s"/><\(prefix):sequenceFlow id="f" sourceRef="s" targetRef="e"/><\(prefix):endEvent id="e"/>
            </\(prefix):process></\(prefix):definitions>
            """
        let result = load(xml)
        #expect(result.diagnostics.isEmpty)
        #expect(result.process?.nodes.map(\.id) == ["s", "e"])
        #expect(result.process?.flows.map(\.id) == ["f"])
    }

    /// An end event after the start event `s`: BPMN requires one where a start event is used.
    let endAfterStart = "<endEvent id=\"e\"/><sequenceFlow id=\"f\" sourceRef=\"s\" targetRef=\"e\"/>"

    @Test func locallyDeclaredNamespacesAndUndeclaredDefault() throws {
        let xml = """
            <ns1:definitions xmlns:ns1="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns="urn:other">
            <ns5:process xmlns:ns5="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns="" id="P" isExecutable="true">
            <startEvent xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="s"/>
            <vendor:thing xmlns:vendor="urn:vendor" id="x"/>
            <ns1:endEvent id="e"/><ns1:sequenceFlow id="f" sourceRef="s" targetRef="e"/>
            </ns5:process></ns1:definitions>
            """
        let result = load(xml)
        #expect(!result.hasErrors)
        #expect(result.process?.nodes.map(\.id) == ["s", "e"])
    }

    @Test func diagramsAndForeignExtensionsAreSkipped() {
        let xml =
            document(
                """
                <extensionElements><foo:bar xmlns:foo="urn:foo"/></extensionElements>
                <startEvent id="s" camunda:asyncBefore="true"><extensionElements><camunda:x/></extensionElements></startEvent>
                <endEvent id="e"/><sequenceFlow id="f" sourceRef="s" targetRef="e"/>
                """) + "\n"
        let withDI = xml.replacingOccurrences(
            of: "</definitions>",
            with: """
                <bpmndi:BPMNDiagram xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" id="Di"><bpmndi:BPMNPlane id="Pl" bpmnElement="P"/></bpmndi:BPMNDiagram></definitions>
                """)
        let result = load(withDI)
        #expect(result.diagnostics.isEmpty)
        #expect(result.process?.nodes.count == 2)
    }

    @Test func honoursDeclaredEncodings() throws {
        let name = "Größe prüfen"
        for encoding in [String.Encoding.isoLatin1, .windowsCP1252] {
            let label = encoding == .isoLatin1 ? "ISO-8859-1" : "windows-1252"
            let xml = document("<startEvent id=\"s\" name=\"\(name) – €\"/>" + endAfterStart).replacingOccurrences(
                of: "UTF-8", with: label)
            let bytes = [UInt8](
                xml.replacingOccurrences(of: " – €", with: encoding == .isoLatin1 ? "" : " – €").data(using: encoding)!)
            let result = BPMNLoader.load(bytes: bytes, file: "latin.bpmn")
            #expect(!result.hasErrors, "\(result.lines)")
            let expected = encoding == .isoLatin1 ? name : name + " – €"
            #expect(result.process?.nodes.first?.name == expected)
        }
    }

    @Test func bomAndMissingDeclaration() {
        let bom: [UInt8] =
            [0xEF, 0xBB, 0xBF] + Array(document("<startEvent id=\"s\" name=\"Старт\"/>" + endAfterStart).utf8)
        let result = BPMNLoader.load(bytes: bom, file: "bom.bpmn")
        #expect(result.process?.nodes.first?.name == "Старт")
        let noDeclaration = document("<startEvent id=\"s\" name=\"Старт\"/>" + endAfterStart).split(separator: "\n")
            .dropFirst().joined(separator: "\n")
        #expect(load(noDeclaration).process?.nodes.first?.name == "Старт")
    }

    @Test func qualifiedReferencesInTheTargetNamespaceResolve() {
        let xml = """
            <bpmn2:definitions xmlns:bpmn2="http://www.omg.org/spec/BPMN/20100524/MODEL" targetNamespace="http://www.omg.org/spec/BPMN/20100524/MODEL">
            <bpmn2:process id="P" isExecutable="true"><bpmn2:startEvent id="s"/><bpmn2:sequenceFlow id="f" sourceRef="bpmn2:s" targetRef="bpmn2:e"/><bpmn2:endEvent id="e"/></bpmn2:process>
            </bpmn2:definitions>
            """
        let result = load(xml)
        #expect(result.diagnostics.isEmpty)
        #expect(result.process?.flows.first.map { ($0.source, $0.target) } ?? (0, 0) == (0, 1))
    }
}

@Suite struct ElementTests {
    @Test func readsEveryRunnableElement() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="D">
            <error id="Err" name="Отказ" errorCode="E42"/>
            <collaboration id="C"><participant id="Pa" name="Пул" processRef="P"/><participant id="Other" name="Внешний"/></collaboration>
            <process id="P" name="Процесс" isExecutable="false">
            <laneSet id="LS"><lane id="L1" name="Отдел продаж"><flowNodeRef>u</flowNodeRef><childLaneSet id="LS2"><lane id="L2" name="Склад"><flowNodeRef>z</flowNodeRef></lane></childLaneSet></lane></laneSet>
            <startEvent id="s"/>
            <task id="t"/><userTask id="u" camunda:assignee="ivanov" camunda:candidateGroups="a, b"/>
            <userTask id="z"><extensionElements><zeebe:assignmentDefinition assignee="petrov" candidateUsers="x,y"/></extensionElements></userTask>
            <manualTask id="m"/><serviceTask id="sv"/><sendTask id="sd"/><receiveTask id="r"/><businessRuleTask id="br"/>
            <scriptTask id="sc" scriptFormat="feel"><script>x = 1</script></scriptTask>
            <exclusiveGateway id="xg" default="f2"/><parallelGateway id="pg"/><inclusiveGateway id="ig"/>
            <subProcess id="sub"><startEvent id="s2"/><endEvent id="e2"><errorEventDefinition errorRef="Err"/></endEvent></subProcess>
            <boundaryEvent id="b" attachedToRef="sub" cancelActivity="true"><errorEventDefinition errorRef="Err"/></boundaryEvent>
            <boundaryEvent id="b2" attachedToRef="sub"><errorEventDefinition/></boundaryEvent>
            <intermediateThrowEvent id="it"/>
            <endEvent id="e"/><endEvent id="et"><terminateEventDefinition/></endEvent>
            <sequenceFlow id="f1" sourceRef="s" targetRef="xg"/>
            <sequenceFlow id="f2" sourceRef="xg" targetRef="t"/>
            <sequenceFlow id="f3" name="Да" sourceRef="xg" targetRef="u"><conditionExpression>${amount > 1}</conditionExpression></sequenceFlow>
            <sequenceFlow id="f4" sourceRef="b" targetRef="e"/>
            <sequenceFlow id="f5" sourceRef="b2" targetRef="et"/>
            <sequenceFlow id="f6" sourceRef="pg" targetRef="ig"/>
            <sequenceFlow id="f7" sourceRef="ig" targetRef="pg"/>
            </process>
            </definitions>
            """
        // Not executable: the unconnected example nodes are warnings, not errors.
        let result = load(xml)
        #expect(!result.hasErrors, "\(result.lines)")
        let process = try #require(result.process)
        #expect(process.displayName == "Процесс")
        #expect(process.participantName == "Пул")
        func node(_ id: String) -> FlowNode { process.nodes[process.nodeIndex(id: id)!] }
        #expect(node("t").kind == .task(.task))
        #expect(node("u").kind == .task(.userTask))
        #expect(node("u").assignee == "ivanov")
        #expect(node("u").candidateGroups == ["a", "b"])
        #expect(node("u").lane == "Отдел продаж")
        #expect(node("z").lane == "Склад")
        #expect(node("z").assignee == "petrov")
        #expect(node("z").candidateUsers == ["x", "y"])
        #expect(node("m").kind == .task(.manualTask))
        #expect(node("sv").kind == .task(.serviceTask))
        #expect(node("sd").kind == .task(.sendTask))
        #expect(node("r").kind == .task(.receiveTask))
        #expect(node("br").kind == .task(.businessRuleTask))
        #expect(node("sc").script?.assignments.first?.variable == "x")
        #expect(node("xg").kind == .exclusiveGateway)
        #expect(node("xg").defaultFlow == process.flows.firstIndex { $0.id == "f2" })
        #expect(node("pg").kind == .parallelGateway)
        #expect(node("ig").kind == .inclusiveGateway)
        #expect(node("sub").kind == .subProcess(.embedded))
        #expect(node("s2").scope == process.nodeIndex(id: "sub"))
        #expect(node("e2").kind == .endEvent(.error(code: "E42")))
        #expect(
            node("b").kind
                == .boundary(
                    attachedTo: process.nodeIndex(id: "sub")!, triggers: [.error(code: "E42")], cancelActivity: true))
        #expect(
            node("b2").kind
                == .boundary(
                    attachedTo: process.nodeIndex(id: "sub")!, triggers: [.error(code: nil)], cancelActivity: true))
        #expect(node("sub").boundaryEvents.count == 2)
        #expect(node("et").kind == .endEvent(.terminate))
        #expect(node("it").kind == .intermediateEvent)
        #expect(process.flows[2].condition?.source == "${amount > 1}")
        #expect(process.flows[2].name == "Да")
    }

    @Test func webhookExtension() throws {
        let xml = document(
            """
            <startEvent id="s"/>
            <serviceTask id="w" name="Вебхук">
              <extensionElements>
                <procrun:webhook url="{$base}/api/{$id}" method="post" type="form" timeout="PT15S" result="reply">
                  <procrun:param field="serialNumber" name="serial_number"/>
                  <procrun:param field="customer.name"/>
                  <procrun:header name="Authorization" value="Bearer {$secrets.TOKEN}"/>
                  <procrun:onError retries="3" delay="0.5" interrupt="Завершить">
                    <procrun:notify currentUser="true"/><procrun:notify user="petrov"/><procrun:notify group="Склад"/>
                    <procrun:notify orgUnit="Отдел продаж"/><procrun:notify variable="manager"/>
                    <procrun:message>Заказ {$id}: {$error} ({DateTime("DD.MM.YYYY")})</procrun:message>
                  </procrun:onError>
                </procrun:webhook>
              </extensionElements>
            </serviceTask>
            <endEvent id="ok"/><endEvent id="bad"/>
            <sequenceFlow id="f0" sourceRef="s" targetRef="w"/>
            <sequenceFlow id="f1" sourceRef="w" targetRef="ok"/>
            <sequenceFlow id="f2" name="Завершить" sourceRef="w" targetRef="bad"/>
            """)
        let result = load(xml)
        #expect(result.diagnostics.isEmpty, "\(result.lines)")
        let webhook = try #require(result.process?.nodes[1].webhook)
        let onError = result.process?.nodes[1].integration?.onError
        #expect(result.process?.nodes[1].integration?.type == "webhook")
        #expect(webhook.url.source == "{$base}/api/{$id}")
        #expect(webhook.method == .post)
        #expect(webhook.type == .form)
        #expect(webhook.timeout == 15)
        #expect(webhook.resultVariable == "reply")
        #expect(
            webhook.parameters == [
                .init(field: "serialNumber", name: "serial_number"),
                .init(field: "customer.name", name: "customer.name"),
            ])
        #expect(webhook.headers.map(\.name) == ["Authorization"])
        #expect(onError?.retries == 3)
        #expect(onError?.delay == 0.5)
        #expect(onError?.interrupt == "Завершить")
        #expect(
            onError?.notify == [
                .currentUser, .user("petrov"), .group("Склад"), .orgUnit("Отдел продаж"), .variable("manager"),
            ])
        #expect(onError?.message?.source == #"Заказ {$id}: {$error} ({DateTime("DD.MM.YYYY")})"#)
        #expect(webhook.location.line == 7)
    }
}
