import BPMNLoader
import Engine
import Foundation
import Testing
import Values

/// Input and output mappings of the dialects, applied as an activity is entered and completes.
@Suite struct MappingTests {
    static let zeebe = """
        <?xml version="1.0" encoding="UTF-8"?>
        <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="D">
        <process id="Z" isExecutable="true"><startEvent id="s"/>
        <userTask id="check" name="Проверить"><extensionElements><zeebe:ioMapping>
          <zeebe:input source="=price * qty" target="subtotal"/>
          <zeebe:input source="RUB" target="currency"/>
          <zeebe:input source="=if subtotal &gt; 100 then &quot;big&quot; else &quot;small&quot;" target="size"/>
          <zeebe:output source="=subtotal + delivery" target="order.total"/>
          <zeebe:output source="={by: checkedBy}" target="order.check"/>
        </zeebe:ioMapping></extensionElements></userTask>
        <endEvent id="e"/><sequenceFlow id="f1" sourceRef="s" targetRef="check"/><sequenceFlow id="f2" sourceRef="check" targetRef="e"/>
        </process></definitions>
        """

    /// Zeebe: inputs in order when the task is entered (a later one reads an earlier one), text
    /// without `=` as a string; outputs when it completes, after the person's variables, into
    /// paths of objects.
    @Test func zeebeMappingsApplyOnEnteringAndLeaving() async throws {
        let e = try engines(Self.zeebe)["Z"]!
        let answers = try Answers(
            json: ["check": ["variables": ["delivery": 50, "checkedBy": "petrov"]]], file: "a.json")
        let instance = await run(e, context: ["price": 30, "qty": 4, "order": ["id": "A-1"]], answers: answers)
        #expect(instance.status == .completed)
        #expect(instance.context["subtotal"] == 120)
        #expect(instance.context["currency"] == "RUB")
        #expect(instance.context["size"] == "big")
        #expect(instance.context["order"] == ["id": "A-1", "total": 170, "check": ["by": "petrov"]])
    }

    /// Camunda 7: `${…}` is evaluated, other text is a string, an empty parameter is null; a
    /// mapping that cannot be evaluated stops the instance in an incident that names it.
    @Test func camundaMappingsAndTheirFailures() async throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D">
            <process id="C" isExecutable="true"><startEvent id="s"/>
            <task id="prepare"><extensionElements><camunda:inputOutput>
              <camunda:inputParameter name="greeting">${"Здравствуйте, " + name}</camunda:inputParameter>
              <camunda:inputParameter name="channel">email</camunda:inputParameter>
              <camunda:inputParameter name="nothing"></camunda:inputParameter>
              <camunda:outputParameter name="result">${missing + 1}</camunda:outputParameter>
            </camunda:inputOutput></extensionElements></task>
            <endEvent id="e"/><sequenceFlow id="f1" sourceRef="s" targetRef="prepare"/><sequenceFlow id="f2" sourceRef="prepare" targetRef="e"/>
            </process></definitions>
            """
        let e = try engines(xml)["C"]!
        let instance = await run(e, context: ["name": "Анна"])
        #expect(instance.context["greeting"] == "Здравствуйте, Анна")
        #expect(instance.context["channel"] == "email")
        #expect(instance.context["nothing"] == .null)
        #expect(instance.status == .incident)
        #expect(
            instance.incident?.message
                == "cannot evaluate the output mapping of 'result' on 'prepare': unknown variable 'missing' in '${missing + 1}'"
        )
    }

    /// A mapping that does not parse is a located load error; a nested list or map is skipped
    /// with a warning.
    @Test func badMappingsAreReported() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="D">
            <process id="C" isExecutable="true"><startEvent id="s"/>
            <task id="a"><extensionElements><zeebe:ioMapping><zeebe:input source="=1 +" target="x"/></zeebe:ioMapping></extensionElements></task>
            <task id="b"><extensionElements><camunda:inputOutput><camunda:inputParameter name="l"><camunda:list/></camunda:inputParameter></camunda:inputOutput></extensionElements></task>
            <endEvent id="e"/><sequenceFlow id="f1" sourceRef="s" targetRef="a"/><sequenceFlow id="f2" sourceRef="a" targetRef="b"/><sequenceFlow id="f3" sourceRef="b" targetRef="e"/>
            </process></definitions>
            """
        let result = BPMNLoader.load(bytes: Array(xml.utf8), file: "m.bpmn")
        #expect(
            result.diagnostics.map(\.description) == [
                "m.bpmn:4:50: error: cannot parse the input mapping of 'x': expression ends too early in '=1 +'",
                "m.bpmn:5:54: warning: camunda:inputParameter 'l' holds a camunda:list, which procrun does not read; the mapping is skipped",
            ])
    }

    /// An output that fails after the node did its work: `retry` applies the outputs again and
    /// `skip` leaves without them; the node's work (here a script that counts) is not done again.
    /// A multi-instance activity applies its outputs once per instance, not again for the whole.
    @Test func aFailedOutputIsRetriedOrSkippedWithoutRedoingTheNode() async throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="D">
            <process id="Z" isExecutable="true"><startEvent id="s"/>
            <scriptTask id="count" scriptFormat="feel"><extensionElements><zeebe:ioMapping>
              <zeebe:output source="=limit" target="copy"/></zeebe:ioMapping></extensionElements>
              <script>count = count + 1</script></scriptTask>
            <task id="each"><extensionElements><zeebe:ioMapping><zeebe:output source="=n + 1" target="n"/></zeebe:ioMapping></extensionElements>
              <multiInstanceLoopCharacteristics isSequential="true"><loopCardinality>3</loopCardinality></multiInstanceLoopCharacteristics></task>
            <endEvent id="e"/><sequenceFlow id="f1" sourceRef="s" targetRef="count"/><sequenceFlow id="f2" sourceRef="count" targetRef="each"/>
            <sequenceFlow id="f3" sourceRef="each" targetRef="e"/>
            </process></definitions>
            """
        let e = try engines(xml)["Z"]!
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var (instance, _) = e.start(id: "i-1", context: ["count": 0, "n": 0], initiator: "u", now: now)
        #expect(instance.status == .incident)
        #expect(instance.incident?.atOutputs == true)
        _ = e.handle(.retryIncident, in: &instance, now: now)
        #expect(instance.status == .incident)
        #expect(instance.context["count"] == 1)
        _ = e.handle(.skipIncident, in: &instance, now: now)
        #expect(instance.status == .completed)
        #expect(instance.context["count"] == 1)
        #expect(instance.context["copy"] == nil)
        #expect(instance.context["n"] == 3)
    }
}
