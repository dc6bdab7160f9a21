import BPMNLoader
import Engine
import Foundation
import ProcessModel
import Store
import Testing
import Values

/// `procrun run` on the runtime: what it needs of every adapter (`run` in memory, `run --store`
/// on SQLite).
@Suite struct RuntimeRunTests {
    static let guardedXML = """
        <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:procrun="urn:procrun:bpmn:1">
        <process id="P" name="Склад" isExecutable="true">
        <startEvent id="s"/><userTask id="u" name="Собрать"/>
        <boundaryEvent id="day" attachedToRef="u"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">PT24H</timeDuration></timerEventDefinition></boundaryEvent>
        <serviceTask id="w"><extensionElements><procrun:webhook url="http://127.0.0.1:9/x"><procrun:onError retries="2" delay="3600"/></procrun:webhook></extensionElements></serviceTask>
        <boundaryEvent id="tenMinutes" attachedToRef="w"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">PT10M</timeDuration></timerEventDefinition></boundaryEvent>
        <endEvent id="e"/><endEvent id="late"/><endEvent id="slow"/>
        <sequenceFlow id="f1" sourceRef="s" targetRef="u"/><sequenceFlow id="f2" sourceRef="u" targetRef="w"/><sequenceFlow id="f3" sourceRef="w" targetRef="e"/>
        <sequenceFlow id="f4" sourceRef="day" targetRef="late"/><sequenceFlow id="f5" sourceRef="tenMinutes" targetRef="slow"/>
        </process></definitions>
        """

    /// A boundary timer of a task completed at once, and a retry whose webhook a boundary timer
    /// interrupted, leave no job: nothing waits a day, or an hour, for a job with nothing to do.
    @Test(arguments: Adapter.allCases) func cancelledTimersAndInterruptedTriesLeaveNoJob(_ adapter: Adapter)
        async throws
    {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let clock = ManualScheduler()
                let performer = CountingPerformer(failFirst: 5)
                let runtime = ProcessRuntime(store: store, performer: performer, scheduler: clock)
                let id = try runtime.start(RuntimeRunTests.guardedXML)
                // Waiting at the task: its boundary timer is the one job.
                #expect(try store.nextJobTime(instance: id, excluding: []) == clock.now.addingTimeInterval(86_400))
                _ = try runtime.complete(instance: id, task: "u", by: "ivanov", variables: [:])
                // The day's timer went with the task; the webhook's try is due now (held by this
                // runtime for a lease).
                #expect(
                    try #require(try store.nextJobTime(instance: id, excluding: [])) < clock.now.addingTimeInterval(60))
                try await runtime.drain(instance: id)
                // The first try failed, the retry waited for an hour, the ten minutes came first
                // and took the retry with them.
                #expect(performer.count == 1)
                #expect(clock.sleeps == [600])
                #expect(try runtime.path(id).last == "slow")
                #expect(try store.nextJobTime(instance: nil, excluding: []) == nil)
            }
        }
        try await adapter.run(Scenario())
    }

    static func orderXML(stockAsksAPerson: Bool) -> String {
        """
        <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><message id="M_Order" name="order"/><message id="M_Ready" name="ready"/>
        <process id="SalesP" name="Продажи" isExecutable="true"><startEvent id="s"/>
        <intermediateThrowEvent id="send"><messageEventDefinition messageRef="M_Order"/></intermediateThrowEvent>
        <eventBasedGateway id="wait"/>
        <intermediateCatchEvent id="ready"><messageEventDefinition messageRef="M_Ready"/></intermediateCatchEvent>
        <intermediateCatchEvent id="deadline"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">P1D</timeDuration></timerEventDefinition></intermediateCatchEvent>
        <endEvent id="shipped"/><endEvent id="late"/>
        <sequenceFlow id="a1" sourceRef="s" targetRef="send"/><sequenceFlow id="a2" sourceRef="send" targetRef="wait"/>
        <sequenceFlow id="a3" sourceRef="wait" targetRef="ready"/><sequenceFlow id="a4" sourceRef="wait" targetRef="deadline"/>
        <sequenceFlow id="a5" sourceRef="ready" targetRef="shipped"/><sequenceFlow id="a6" sourceRef="deadline" targetRef="late"/></process>
        <process id="StockP" name="Склад" isExecutable="true"><startEvent id="got"><messageEventDefinition messageRef="M_Order"/></startEvent>
        \(stockAsksAPerson ? "<userTask id=\"assemble\" name=\"Собрать\"/>" : "<task id=\"assemble\"/>")
        <intermediateThrowEvent id="confirm"><messageEventDefinition messageRef="M_Ready"/></intermediateThrowEvent><endEvent id="se"/>
        <sequenceFlow id="b1" sourceRef="got" targetRef="assemble"/><sequenceFlow id="b2" sourceRef="assemble" targetRef="confirm"/>
        <sequenceFlow id="b3" sourceRef="confirm" targetRef="se"/></process>
        </definitions>
        """
    }

    /// `run`: the order's message starts the warehouse's process, whose answer comes back at once
    /// (in the sender's transaction) or after a simulated person completed its task (a later
    /// job of the other instance, which `run --store` runs too). Either way the answer wins over
    /// the day's deadline, and that timer's job is gone: nothing waits a day.
    @Test(arguments: Adapter.allCases, [false, true]) func aRunRunsTheInstancesItsMessagesStart(
        _ adapter: Adapter, stockAsksAPerson: Bool
    ) async throws {
        struct Scenario: RuntimeScenario {
            var stockAsksAPerson: Bool
            func run<S: RuntimeStore>(on store: S) async throws {
                let clock = ManualScheduler()
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: clock)
                runtime.recordsStarted = true
                let xml = RuntimeRunTests.orderXML(stockAsksAPerson: stockAsksAPerson)
                let sales = try #require(try definitions(xml).process(id: "SalesP"))
                let id = try runtime.start(
                    file: "p.bpmn", xml: Array(xml.utf8), process: sales, context: ["items": 3], answers: nil,
                    directory: nil, initiator: "petrova",
                    simulatePeople: true)
                try await runtime.drainStarted()
                #expect(runtime.started.count == 2 && runtime.started.first == id)
                #expect(try runtime.path(id).last == "shipped")
                let stock = try runtime.stored(runtime.started[1])
                #expect(stock.processID == "StockP" && stock.status == .completed)
                #expect(clock.sleeps.isEmpty)
                #expect(try store.nextJobTime(instance: nil, excluding: []) == nil)
            }
        }
        try await adapter.run(Scenario(stockAsksAPerson: stockAsksAPerson))
    }
}
