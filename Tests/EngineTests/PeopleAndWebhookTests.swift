import Engine
import Testing
import Values

let directory: Directory = {
    let json: JSONValue = [
        "users": [
            ["id": "ivanov", "name": "Иван"], ["id": "petrova", "name": "Мария"], ["id": "sidorov", "name": "Сергей"],
            ["id": "kozlov", "name": "Пётр"],
        ],
        "groups": ["Бухгалтерия": ["petrova", "kozlov"], "Склад": ["sidorov"]],
        "orgUnits": [
            [
                "name": "Компания", "members": ["kozlov"],
                "children": [["name": "Склад", "members": ["sidorov"]], ["name": "Продажи", "members": ["ivanov"]]],
            ]
        ],
    ]
    return try! Directory(json: json, file: "org.json")
}()

@Suite struct SimulatedPeopleTests {
    let body = """
        <startEvent id="s"/>
        <userTask id="answered" name="Принять заказ"/>
        <userTask id="assigned" camunda:assignee="petrova"/>
        <userTask id="lane_task"/>
        <userTask id="group_task"/>
        <manualTask id="nobody"/>
        <endEvent id="e"/>
        """

    @Test func performerComesFromAnswersAssigneeLaneAndInitiator() async throws {
        let e = try engine(
            body
                + flows(
                    "s->answered", "answered->assigned", "assigned->lane_task", "lane_task->group_task",
                    "group_task->nobody", "nobody->e"))
        let answers = try Answers(
            json: ["Принять заказ": ["by": "kozlov", "variables": ["accepted": true]]], file: "a.json")
        let instance = await run(e, answers: answers, directory: directory, initiator: "boss")
        #expect(instance.status == .completed)
        let performers = instance.history.filter { $0.event == .left && $0.performer != nil }.map {
            "\(e.process.nodes[$0.node].id)=\($0.performer!)"
        }
        // Lane «Склад» resolves through the org unit, lane «Бухгалтерия» through the group.
        #expect(
            performers == [
                "answered=kozlov", "assigned=petrova", "lane_task=sidorov", "group_task=petrova", "nobody=boss",
            ])
        #expect(instance.context["accepted"] == true)
        #expect(instance.currentUser == "boss")
    }

    @Test func answersByTaskIDAndBadAnswerFiles() throws {
        let answers = try Answers(json: ["answered": ["by": "x"]], file: "a.json")
        let e = try engine(
            body
                + flows(
                    "s->answered", "answered->assigned", "assigned->lane_task", "lane_task->group_task",
                    "group_task->nobody", "nobody->e"))
        #expect(answers.answer(for: e.process.nodes[1])?.by == "x")
        #expect(throws: Diagnostic.self) { try Answers(json: ["t": ["who": "x"]], file: "a.json") }
        #expect(throws: Diagnostic.self) { try Answers(json: ["t": ["by": 1]], file: "a.json") }
        #expect(throws: Diagnostic.self) { try Directory(json: ["users": [["name": "no id"]]], file: "o.json") }
        #expect(throws: Diagnostic.self) { try Directory(json: ["teams": []], file: "o.json") }
    }

    @Test func orgUnitIncludesSubUnits() {
        #expect(directory.orgUnit("Компания") == ["kozlov", "sidorov", "ivanov"])
        #expect(directory.orgUnit("Нет такого") == nil)
    }
}

@Suite struct WebhookDecisionTests {
    func webhookProcess(
        onError: String, extra: String = "",
        outgoing: String =
            "<sequenceFlow id=\"ok\" name=\"Передано\" sourceRef=\"w\" targetRef=\"done\"/><sequenceFlow id=\"stop\" name=\"Завершить\" sourceRef=\"w\" targetRef=\"stopped\"/>"
    ) throws -> Engine {
        try engine(
            """
            <startEvent id="s"/><userTask id="approve"/>
            <serviceTask id="w" name="Склад"><extensionElements><procrun:webhook url="http://127.0.0.1:9/x" result="reply">\(onError)</procrun:webhook></extensionElements></serviceTask>
            <endEvent id="done"/>\(outgoing.contains("stopped") ? "<endEvent id=\"stopped\"/>" : "")\(extra.contains("handled") ? "<endEvent id=\"handled\"/>" : "")
            \(extra)
            <sequenceFlow id="f1" sourceRef="s" targetRef="approve"/><sequenceFlow id="f2" sourceRef="approve" targetRef="w"/>
            \(outgoing)
            """)
    }

    let failure = WebhookOutcome.failed(status: 503, message: "HTTP 503", retryable: true)

    @Test func successTakesTheSuccessPathAndStoresTheResult() async throws {
        let e = try webhookProcess(onError: "<procrun:onError retries=\"2\" delay=\"5\" interrupt=\"Завершить\"/>")
        let performer = ScriptedPerformer([failure, .delivered(status: 201, result: ["status": 201])])
        let scheduler = ManualScheduler()
        let instance = await run(e, performer: performer, scheduler: scheduler)
        #expect(instance.pathIDs(e) == ["s", "approve", "w", "done"])
        #expect(instance.context["reply"] == ["status": 201])
        #expect(performer.calls.map(\.attempt) == [1, 2])
        #expect(Set(performer.calls.map(\.idempotencyKey)) == ["i-1-w-1"])
        #expect(scheduler.sleeps == [5])
        #expect(instance.jobRuns.first?.outcome == .delivered)
        #expect(instance.jobRuns.first?.tries.map(\.status) == [503, 201])
    }

    @Test func retriesThenInterruptsAndNotifiesEachUserOnce() async throws {
        let e = try webhookProcess(
            onError: """
                <procrun:onError retries="3" delay="PT2S" interrupt="Завершить">
                  <procrun:notify currentUser="true"/><procrun:notify user="ivanov"/><procrun:notify group="Бухгалтерия"/>
                  <procrun:notify orgUnit="Склад"/><procrun:notify variable="watchers"/>
                </procrun:onError>
                """)
        let performer = ScriptedPerformer([failure, failure, failure, failure])
        let scheduler = ManualScheduler()
        let answers = try Answers(json: ["approve": ["by": "petrova"]], file: "a.json")
        let instance = await run(
            e, context: ["watchers": ["kozlov", "extern"]], answers: answers, directory: directory,
            performer: performer, scheduler: scheduler)
        #expect(instance.status == .completed)
        #expect(instance.pathIDs(e) == ["s", "approve", "w", "stopped"])
        #expect(performer.calls.count == 4)
        #expect(scheduler.sleeps == [2, 2, 2])
        #expect(instance.jobRuns.first?.outcome == .interrupted)
        #expect(instance.notifications.map(\.user) == ["petrova", "ivanov", "kozlov", "sidorov", "extern"])
        #expect(
            instance.notifications.allSatisfy {
                $0.node == "w" && $0.message.contains("failed after 4 tries: HTTP 503") && $0.message.contains("i-1")
            })
    }

    @Test func withoutOnErrorThereIsOneTryAndAnIncident() async throws {
        let e = try webhookProcess(
            onError: "", outgoing: "<sequenceFlow id=\"ok\" sourceRef=\"w\" targetRef=\"done\"/>")
        let performer = ScriptedPerformer([failure])
        let instance = await run(e, performer: performer)
        #expect(performer.calls.count == 1)
        #expect(instance.status == .incident)
        #expect(instance.incident == Incident(node: "w", message: "webhook 'Склад' failed after 1 try: HTTP 503"))
        #expect(instance.tokens.count == 1)
    }

    @Test func errorBoundaryEventCatchesTheFailure() async throws {
        let e = try webhookProcess(
            onError: "<procrun:onError retries=\"1\"/>",
            extra:
                "<boundaryEvent id=\"b\" attachedToRef=\"w\"><errorEventDefinition/></boundaryEvent><sequenceFlow id=\"fb\" sourceRef=\"b\" targetRef=\"handled\"/>",
            outgoing: "<sequenceFlow id=\"ok\" sourceRef=\"w\" targetRef=\"done\"/>")
        let performer = ScriptedPerformer([failure, failure])
        let instance = await run(e, performer: performer)
        #expect(instance.pathIDs(e) == ["s", "approve", "b", "handled"])
        #expect(instance.jobRuns.first?.outcome == .caught)
    }

    @Test func nonRetryableFailureIsNotRetried() async throws {
        let e = try webhookProcess(onError: "<procrun:onError retries=\"5\" delay=\"1\" interrupt=\"Завершить\"/>")
        let performer = ScriptedPerformer([.failed(status: nil, message: "variable 'x' is not set", retryable: false)])
        let scheduler = ManualScheduler()
        let instance = await run(e, performer: performer, scheduler: scheduler)
        #expect(performer.calls.count == 1)
        #expect(scheduler.sleeps.isEmpty)
        #expect(instance.pathIDs(e).last == "stopped")
    }
}
