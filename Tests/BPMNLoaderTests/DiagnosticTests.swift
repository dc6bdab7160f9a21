import BPMNLoader
import Foundation
import ProcessModel
import Testing
import Values

@Suite struct DiagnosticTests {
    let startEnd = "<startEvent id=\"s\"/><endEvent id=\"e\"/><sequenceFlow id=\"f\" sourceRef=\"s\" targetRef=\"e\"/>"

    @Test func unsupportedElementIsAnErrorInExecutableProcesses() {
        let result = load(document("<choreographyTask id=\"Gateway_1\"/>\n" + startEnd))
        #expect(result.lines == ["t.bpmn:4:1: error: unsupported element 'choreographyTask' (id Gateway_1)"])
        #expect(result.definitions == nil)
    }

    @Test func unsupportedElementIsAWarningElsewhereAndRunRefusesIt() throws {
        let result = load(document("<choreographyTask id=\"Gateway_1\"/>\n" + startEnd, executable: false))
        #expect(
            result.lines == [
                "t.bpmn:4:1: warning: unsupported element 'choreographyTask' (id Gateway_1) in a process that is not executable"
            ])
        let process = try #require(result.process)
        #expect(
            process.deferredErrors.map(\.description) == [
                "t.bpmn:4:1: error: unsupported element 'choreographyTask' (id Gateway_1)"
            ])
    }

    @Test(arguments: [
        (
            "<task id=\"t\"><multiInstanceLoopCharacteristics/></task>",
            "t.bpmn:4:14: error: unsupported element 'multiInstanceLoopCharacteristics' without a loopCardinality (id t)"
        ),
        (
            "<startEvent id=\"m\"><timerEventDefinition/></startEvent>",
            "t.bpmn:4:1: error: timer of 'm' has no value; procrun reads an ISO-8601 timeDuration (PT10S), timeDate (2026-12-01T10:00:00Z) or timeCycle (R3/PT10S)"
        ),
        (
            "<callActivity id=\"c\"/>",
            "t.bpmn:4:1: error: call activity 'c' has no calledElement; BPMN requires the process or global task it calls"
        ),
        (
            "<callActivity id=\"c\" calledElement=\"Nowhere\"/>",
            "t.bpmn:4:1: error: call activity 'c' calls 'Nowhere', which is neither a process nor a global task of this file"
        ),
        (
            "<subProcess id=\"es\" triggeredByEvent=\"true\"/>",
            "t.bpmn:4:1: error: event subProcess 'es' has 0 start events; an event sub-process has exactly one, with an event definition"
        ),
        (
            "<intermediateCatchEvent id=\"ic\"/>",
            "t.bpmn:4:1: error: intermediate catch event 'ic' has no event definition; BPMN requires one (message, signal, timer, conditional or link)"
        ),
        (
            "<endEvent id=\"x\"><timerEventDefinition/></endEvent>",
            "t.bpmn:4:18: error: endEvent 'x' has a timer event definition; BPMN allows cancel, compensate, error, escalation, message, signal, terminate on this endEvent"
        ),
    ])
    func unsupportedOrBrokenShapes(body: String, line: String) {
        // The finding names the element and the rule (an orphan node may add a second finding).
        #expect(load(document(body + "\n" + startEnd)).errors.map(\.description).contains(line))
    }

    @Test func duplicateIDs() {
        let result = load(document("<task id=\"s\"/>\n" + startEnd))
        #expect(
            result.errors.first?.description
                == "t.bpmn:5:1: error: duplicate id 's' on 'startEvent'; it is already used at line 4, column 1")
    }

    @Test func danglingSequenceFlowReferences() {
        let result = load(
            document(
                """
                <startEvent id="s"/><endEvent id="e"/>
                <sequenceFlow id="f1" sourceRef="s" targetRef="nowhere"/>
                <sequenceFlow id="f2" sourceRef="ghost" targetRef="e"/>
                <sequenceFlow id="f3" sourceRef="s"/>
                """))
        #expect(
            result.errors.map(\.description) == [
                "t.bpmn:5:1: error: sequence flow 'f1' has targetRef 'nowhere', which is not a flow node of process 'P'",
                "t.bpmn:6:1: error: sequence flow 'f2' has sourceRef 'ghost', which is not a flow node of process 'P'",
                "t.bpmn:7:1: error: sequence flow 'f3' needs both sourceRef and targetRef",
                "t.bpmn:4:21: error: endEvent 'e' has no incoming sequence flow, but its process starts at a start event, so it could never run",
            ])
    }

    @Test func missingStartEvent() {
        let result = load(document("<task id=\"t\"/>"))
        #expect(
            result.errors.map(\.description) == [
                "t.bpmn:3:1: error: process 'P' has no start event; BPMN needs a start event to start an instance"
            ])
    }

    @Test func gatewaysNeedTheirFlows() {
        let result = load(
            document(
                """
                <startEvent id="s"/><exclusiveGateway id="g"/><parallelGateway id="p"/><endEvent id="e"/>
                <sequenceFlow id="f" sourceRef="s" targetRef="g"/><sequenceFlow id="f2" sourceRef="p" targetRef="e"/>
                """))
        #expect(
            result.errors.map(\.description) == [
                "t.bpmn:4:21: error: exclusiveGateway 'g' has no outgoing sequence flow; a gateway needs at least one",
                "t.bpmn:4:47: error: parallelGateway 'p' has no incoming sequence flow; a gateway needs at least one",
                "t.bpmn:4:47: error: parallelGateway 'p' has no incoming sequence flow, but its process starts at a start event, so it could never run",
            ])
    }

    @Test func defaultFlowMustLeaveItsGateway() {
        let result = load(
            document(
                """
                <startEvent id="s"/><exclusiveGateway id="g" default="f0"/><endEvent id="e"/>
                <sequenceFlow id="f0" sourceRef="s" targetRef="g"/>
                <sequenceFlow id="f1" sourceRef="g" targetRef="e"/>
                <exclusiveGateway id="h" default="missing"/>
                <sequenceFlow id="f2" sourceRef="e" targetRef="h"/>
                """))
        #expect(
            result.errors.map(\.description).contains(
                "t.bpmn:4:21: error: default flow 'f0' of 'g' does not leave it (it leaves 's'); a default flow must be one of the element's outgoing flows"
            ))
        #expect(
            result.errors.map(\.description).contains(
                "t.bpmn:7:1: error: 'exclusiveGateway' 'h' names default flow 'missing', which does not exist"))
    }

    @Test func webhookInterruptTransitionMustExist() {
        let result = load(
            document(
                """
                <startEvent id="s"/><endEvent id="e"/>
                <serviceTask id="w"><extensionElements><procrun:webhook url="http://x">
                <procrun:onError retries="1" interrupt="Завершить"/></procrun:webhook></extensionElements></serviceTask>
                <sequenceFlow id="f0" sourceRef="s" targetRef="w"/>
                <sequenceFlow id="f1" name="Дальше" sourceRef="w" targetRef="e"/>
                """))
        #expect(
            result.errors.map(\.description) == [
                "t.bpmn:6:1: error: webhook 'w' interrupts by transition 'Завершить', but no outgoing sequence flow of 'w' has that name or id (outgoing: 'Дальше')"
            ])
    }

    @Test(arguments: [
        ("<procrun:webhook/>", "procrun:webhook needs a url attribute"),
        ("<procrun:webhook url=\"x\" method=\"PUT\"/>", "method 'PUT' is not GET or POST"),
        ("<procrun:webhook url=\"x\" type=\"xml\"/>", "type 'xml' is not json, form or text"),
        ("<procrun:webhook url=\"x\" timeout=\"-1\"/>", "timeout '-1' is not a positive number of seconds"),
        ("<procrun:webhook url=\"x\" colour=\"red\"/>", "unknown attribute 'colour' on procrun:webhook"),
        ("<procrun:webhook url=\"x\"><procrun:param/></procrun:webhook>", "procrun:param needs a field attribute"),
        (
            "<procrun:webhook url=\"x\"><procrun:body/></procrun:webhook>",
            "unknown element 'procrun:body' in procrun:webhook"
        ),
        (
            "<procrun:webhook url=\"x\"><procrun:text>a</procrun:text></procrun:webhook>",
            "procrun:text is only used with type=\"text\""
        ),
        ("<procrun:webhook url=\"x\" type=\"text\"/>", "type=\"text\" needs a procrun:text template"),
        ("<procrun:webhook url=\"{$a b}\"/>", "cannot parse the url template"),
        (
            "<procrun:webhook url=\"x\"><procrun:onError retries=\"many\"/></procrun:webhook>",
            "retries 'many' is not a whole number"
        ),
        (
            "<procrun:webhook url=\"x\"><procrun:onError delay=\"soon\"/></procrun:webhook>",
            "delay 'soon' is not seconds"
        ),
        (
            "<procrun:webhook url=\"x\"><procrun:onError><procrun:notify/></procrun:onError></procrun:webhook>",
            "procrun:notify names 0 recipients"
        ),
        (
            "<procrun:webhook url=\"x\"><procrun:onError><procrun:notify user=\"a\" group=\"b\"/></procrun:onError></procrun:webhook>",
            "procrun:notify names 2 recipients"
        ),
        (
            "<procrun:webhook url=\"x\"><procrun:onError><procrun:message lang=\"ru\">a</procrun:message></procrun:onError></procrun:webhook>",
            "unknown attribute 'lang' on procrun:message"
        ),
        (
            "<procrun:webhook url=\"x\"><procrun:onError><procrun:message>Ошибка {$a b}</procrun:message></procrun:onError></procrun:webhook>",
            "cannot parse the procrun:message template: invalid variable name 'a b'"
        ),
        (
            "<procrun:webhook url=\"x\"><procrun:onError><procrun:message>{DateTime(\"YYYY\", \"fr_FR\")}</procrun:message></procrun:onError></procrun:webhook>",
            "cannot parse the procrun:message template: unknown locale 'fr_FR'"
        ),
        (
            "<procrun:webhook url=\"x\"><procrun:onError><procrun:message> </procrun:message></procrun:onError></procrun:webhook>",
            "procrun:message is empty"
        ),
        (
            "<procrun:webhook url=\"x\"><procrun:onError><procrun:message>a</procrun:message><procrun:message>b</procrun:message></procrun:onError></procrun:webhook>",
            "procrun:onError has more than one procrun:message"
        ),
        (
            "<procrun:webhook url=\"x\"><procrun:onError><procrun:mail/></procrun:onError></procrun:webhook>",
            "unknown element 'procrun:mail' in procrun:onError (known: message, notify)"
        ),
    ])
    func webhookAttributeErrors(webhook: String, message: String) {
        let xml = document(
            """
            <startEvent id="s"/><endEvent id="e"/>
            <serviceTask id="w"><extensionElements>\(webhook)</extensionElements></serviceTask>
            <sequenceFlow id="f0" sourceRef="s" targetRef="w"/><sequenceFlow id="f1" sourceRef="w" targetRef="e"/>
            """)
        let errors = load(xml).errors.map(\.description)
        #expect(errors.count == 1 && errors[0].hasPrefix("t.bpmn:5:") && errors[0].contains(message), "\(errors)")
    }

    @Test(arguments: [
        (
            #"<startEvent id="s"/><exclusiveGateway id="g" gatewayDirection="Converging"/><endEvent id="a"/><endEvent id="b"/>"#,
            ["s->g", "g->a", "g->b"],
            "converging exclusiveGateway 'g' has 2 outgoing flows; a converging gateway has at most one"
        ),
        (
            #"<startEvent id="s"/><parallelGateway id="g" gatewayDirection="Mixed"/><endEvent id="a"/><endEvent id="b"/>"#,
            ["s->g", "g->a", "g->b"],
            "mixed parallelGateway 'g' has 1 incoming and 2 outgoing flows; a mixed gateway needs more than one of each"
        ),
        (
            #"<startEvent id="s"/><task id="t"><incoming>other</incoming></task><endEvent id="e"/>"#,
            ["s->t", "t->e"],
            "task 't' lists incoming flows [\"other\"] but the flows that target it are [\"f1\"] (not listed: f1) (no such flow into it: other); BPMN requires them to agree"
        ),
        (
            #"<startEvent id="s"/><task id="t" completionQuantity="0"/><endEvent id="e"/>"#,
            ["s->t", "t->e"], "task 't' has completionQuantity=\"0\"; BPMN requires a whole number of at least 1"
        ),
        (
            #"<startEvent id="s"/><task id="t"/><endEvent id="e"/>"#,
            ["s->t", "t->e: x = 1"],
            "task 't' has a single outgoing flow 'f2' and it is conditional; BPMN requires an activity's conditional flows to come with others"
        ),
        (
            #"<startEvent id="s"/><endEvent id="e"/><task id="lost"/>"#,
            ["s->e"],
            "task 'lost' has no incoming sequence flow, but its process starts at a start event, so it could never run"
        ),
    ])
    func bpmnStructureRules(nodes: String, flows: [String], message: String) {
        let errors = load(document(nodes + "\n" + flowElements(flows))).errors.map(\.message)
        #expect(errors == [message])
    }

    /// Sequence flows written "a->b" or "a->b: condition", with ids f1, f2, …
    func flowElements(_ flows: [String], conditionAttributes: String = "") -> String {
        flows.enumerated().map { i, spec in
            let parts = spec.split(separator: ":", maxSplits: 1)
            let ends = parts[0].split(separator: "-").map {
                $0.trimmingCharacters(in: CharacterSet(charactersIn: "> "))
            }
            let condition =
                parts.count > 1 ? "<conditionExpression\(conditionAttributes)>\(parts[1])</conditionExpression>" : ""
            return
                "<sequenceFlow id=\"f\(i + 1)\" sourceRef=\"\(ends[0])\" targetRef=\"\(ends[1])\">\(condition)</sequenceFlow>"
        }.joined()
    }

    @Test(arguments: [
        (
            #"<startEvent id="s"/><task id="t"/>"#, ["s->t"],
            "the process has a start event but no end event; BPMN requires an end event where a start event is used"
        ),
        (
            #"<startEvent id="s"/><exclusiveGateway id="g"/><endEvent id="e"/>"#, ["s->g", "g->e"],
            "exclusiveGateway 'g' has one incoming and one outgoing flow; BPMN requires a gateway to split or join (more than one of either)"
        ),
        (
            #"<startEvent id="s"/><intermediateCatchEvent id="w"><timerEventDefinition><timeDuration>PT1M</timeDuration></timerEventDefinition></intermediateCatchEvent><endEvent id="e"/>"#,
            ["s->w", "w->e"],
            "timeDuration of 'timerEventDefinition' is an informal expression (no xsi:type=\"tFormalExpression\"); BPMN requires formal expressions in executable processes"
        ),
        (
            #"<startEvent id="s"/><intermediateThrowEvent id="go"><linkEventDefinition name="A"/></intermediateThrowEvent><intermediateCatchEvent id="c"><linkEventDefinition name="A"/></intermediateCatchEvent><endEvent id="e"/>"#,
            ["s->go", "go->e", "c->e"],
            "link throw intermediateThrowEvent(link) 'go' has outgoing sequence flows; BPMN continues a link at its catch event, so the throw event has none"
        ),
        (
            #"<startEvent id="s"/><adHocSubProcess id="a"/><endEvent id="e"/>"#, ["s->a", "a->e"],
            "ad-hoc sub-process 'a' contains no activity; BPMN requires at least one"
        ),
        (
            #"<startEvent id="s"/><task id="t"><ioSpecification><dataInput id="d" itemSubjectRef="Items"/></ioSpecification></task><endEvent id="e"/>"#,
            ["s->t", "t->e"],
            "dataInput 'd' has isCollection=\"false\" but its item definition 'Items' has isCollection=\"true\"; BPMN requires them to agree"
        ),
        (
            #"<startEvent id="s"/><endEvent id="e"/>"#, ["s->e: x > 1"],
            "conditionExpression has language=\"bad uri%\"; BPMN requires a URI there"
        ),
        (
            #"<startEvent id="s"/><userTask id="u"><performer id="p"><resourceRef>R</resourceRef><resourceAssignmentExpression><formalExpression>x</formalExpression></resourceAssignmentExpression></performer></userTask><endEvent id="e"/>"#,
            ["s->u", "u->e"],
            "performer 'p' has both a resourceRef and a resourceAssignmentExpression; BPMN allows one or the other"
        ),
        (
            #"<startEvent id="s"/><receiveTask id="r" messageRef="Items"><ioSpecification><dataOutput id="o1"/><dataOutput id="o2"/><outputSet/></ioSpecification></receiveTask><endEvent id="e"/>"#,
            ["s->r", "r->e"], "receive task 'r' has messageRef 'Items', which is not a message of this file"
        ),
        (
            #"<startEvent id="s"/><task id="t"><ioSpecification><dataInput id="d"/><inputSet id="in"><dataInputRefs>d</dataInputRefs><outputSetRefs>out</outputSetRefs></inputSet><outputSet id="out"/></ioSpecification></task><endEvent id="e"/>"#,
            ["s->t", "t->e"],
            "input set 'in' refers to output set 'out', which does not refer back to it; BPMN requires input and output sets to reference each other"
        ),
    ])
    func strictBPMNRules(nodes: String, flows: [String], message: String) {
        let flowXML = flowElements(flows, conditionAttributes: " language=\"bad uri%\"")
        let xml = document(nodes + "\n" + flowXML).replacingOccurrences(
            of: "<process", with: "<itemDefinition id=\"Items\" isCollection=\"true\"/><process")
        let errors = load(xml).errors.map(\.message)
        #expect(errors.contains { $0.hasPrefix(message) }, "\(errors)")
    }

    @Test func messageFlowsConnectDifferentPoolsAtPoolsActivitiesOrEvents() {
        let xml = """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><message id="M"/>
            <collaboration id="C"><participant id="A" processRef="PA"/><participant id="B" processRef="PB"/>
            <messageFlow id="same" sourceRef="t" targetRef="A"/><messageFlow id="fromStart" sourceRef="s" targetRef="B"/>
            <messageFlow id="toGroup" sourceRef="t" targetRef="g"/></collaboration>
            <process id="PA" isExecutable="true"><startEvent id="s"/><task id="t"/><endEvent id="e"/><group id="g"/>
            <sequenceFlow id="f1" sourceRef="s" targetRef="t"/><sequenceFlow id="f2" sourceRef="t" targetRef="e"/></process>
            <process id="PB" isExecutable="true"><startEvent id="s2"/><endEvent id="e2"/><sequenceFlow id="f3" sourceRef="s2" targetRef="e2"/></process>
            </definitions>
            """
        let errors = load(xml).errors.map(\.message)
        #expect(
            errors.contains(
                "message flow 'same' connects 't' and 'A' in the same pool 'A'; BPMN requires a message flow to connect different pools"
            ))
        #expect(
            errors.contains(
                "message flow 'fromStart' starts at startEvent 's'; BPMN forbids a startEvent as the source of a message flow"
            ))
        #expect(
            errors.contains(
                "message flow 'toGroup' ends at group 'g'; BPMN connects message flows to pools, activities and events only"
            ))
    }

    @Test func emptyConditionIsRefused() {
        let xml = document(
            #"<startEvent id="s"/><endEvent id="e"/><sequenceFlow id="f" sourceRef="s" targetRef="e"><conditionExpression>  </conditionExpression></sequenceFlow>"#
        )
        #expect(
            load(xml).errors.map(\.message) == [
                "sequence flow 'f' has an empty conditionExpression; a formal expression needs a body"
            ])
    }

    @Test func webhookOnAUserTaskIsRefused() {
        let xml = document(
            """
            <startEvent id="s"/><userTask id="u"><extensionElements><procrun:webhook url="x"/></extensionElements></userTask>
            <sequenceFlow id="f0" sourceRef="s" targetRef="u"/><endEvent id="e"/><sequenceFlow id="f1" sourceRef="u" targetRef="e"/>
            """)
        #expect(
            load(xml).errors.map(\.description) == [
                "t.bpmn:4:57: error: procrun:webhook on userTask 'u'; an integration node is a serviceTask, sendTask or task"
            ])
    }

    @Test func unparsableConditionNamesTheFlow() {
        let xml = document(
            """
            <startEvent id="s"/><endEvent id="e"/>
            <sequenceFlow id="f" sourceRef="s" targetRef="e"><conditionExpression>amount ==</conditionExpression></sequenceFlow>
            """)
        #expect(
            load(xml).errors.map(\.description) == [
                "t.bpmn:5:50: error: cannot parse the condition of sequence flow 'f': '==' is not FEEL; write '=' (or use the ${…} form) in 'amount =='"
            ])
    }

    @Test func malformedXMLGivesOneLocatedError() {
        let result = load(
            "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\">\n  <process id=\"P\">\n</definitions>")
        #expect(result.errors.count == 1)
        let line = result.errors[0].description
        #expect(line.hasPrefix("t.bpmn:3:") && line.contains("error: malformed XML: "), "\(line)")
        #expect(load("").errors.map(\.description) == ["t.bpmn:1:1: error: malformed XML: the file is empty"])
    }

    @Test func nonBPMNRoot() {
        #expect(
            load("<html><body/></html>").errors.map(\.description) == [
                "t.bpmn:1:1: error: root element is 'html' without a namespace; expected BPMN 'definitions' in namespace 'http://www.omg.org/spec/BPMN/20100524/MODEL'"
            ])
    }

    @Test func missingFile() {
        #expect(
            BPMNLoader.load(path: "/nonexistent/x.bpmn").errors.map(\.description) == [
                "procrun: error: /nonexistent/x.bpmn: no such file"
            ])
    }
}

@Suite struct HostileXMLTests {
    @Test func externalEntityIsRefusedWithoutReadingTheFile() throws {
        let secret = FileManager.default.temporaryDirectory.appendingPathComponent(
            "procrun-secret-\(UUID().uuidString).txt")
        try "TOP-SECRET-CONTENT".write(to: secret, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: secret) }
        let xml = """
            <?xml version="1.0"?>
            <!DOCTYPE d [<!ENTITY xxe SYSTEM "file://\(secret.path)">]>
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="P" isExecutable="true"><startEvent id="s" name="&xxe;"/></process></definitions>
            """
        let result = load(xml, file: "xxe.bpmn")
        #expect(result.definitions == nil)
        #expect(result.errors.count == 1)
        #expect(result.errors[0].description.hasPrefix("xxe.bpmn:2:"))
        #expect(result.errors[0].message.contains("DOCTYPE declarations are not allowed"))
        #expect(!result.lines.joined().contains("TOP-SECRET"))
    }

    @Test func entityBombFailsFast() {
        var entities = "<!ENTITY a0 \"lollollollollollollollollollol\">\n"
        for level in 1...12 {
            entities += "<!ENTITY a\(level) \"" + String(repeating: "&a\(level - 1);", count: 10) + "\">\n"
        }
        let xml = """
            <?xml version="1.0"?>
            <!DOCTYPE bomb [
            \(entities)]>
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="P"><startEvent id="s" name="&a12;"/></process></definitions>
            """
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            let result = load(xml, file: "bomb.bpmn")
            #expect(result.definitions == nil)
            #expect(result.errors.first?.message.contains("DOCTYPE declarations are not allowed") == true)
        }
        // Not a speed assertion: an expanded bomb would take minutes and gigabytes, not seconds.
        #expect(elapsed < .seconds(10))
    }

    @Test func externalDTDIsNotFetched() {
        let xml = """
            <?xml version="1.0"?>
            <!DOCTYPE definitions SYSTEM "http://127.0.0.1:9/never.dtd">
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"/>
            """
        #expect(load(xml).errors.first?.message.contains("DOCTYPE declarations are not allowed") == true)
    }
}

@Suite struct CorpusTests {
    @Test func everyMIWGFileLoadsWithoutCrashing() throws {
        let root = miwgFolder
        let files = FileManager.default.enumerator(atPath: root.path)!.compactMap { $0 as? String }.filter {
            $0.hasSuffix(".bpmn")
        }.sorted()
        #expect(files.count >= 50)
        var valid = 0
        for file in files {
            let result = BPMNLoader.load(path: root.appendingPathComponent(file).path)
            // Every finding is one located line.
            for diagnostic in result.diagnostics {
                #expect(diagnostic.location != nil, "\(file): \(diagnostic)")
                #expect(!diagnostic.description.contains("\n"))
            }
            if file.hasPrefix("malformed/") {
                #expect(result.hasErrors && result.errors[0].message.hasPrefix("malformed XML"), "\(file)")
            } else if !result.hasErrors {
                valid += 1
                #expect(result.definitions?.processes.isEmpty == false, "\(file)")
            }
        }
        // Most interchange models are valid; the executable ones use features procrun refuses clearly.
        #expect(valid >= 35)
    }
}
