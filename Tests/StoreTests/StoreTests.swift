import BPMNLoader
import Engine
import Foundation
import ProcessModel
import Store
import Testing
import Values

/// Counts webhook tries per idempotency key; answers from a script, then 200.
final class CountingPerformer: WebhookPerformer, @unchecked Sendable {
    private let lock = NSLock()
    private var failuresLeft: Int
    private(set) var calls: [(key: String, attempt: Int)] = []

    init(failFirst: Int = 0) { failuresLeft = failFirst }

    func perform(_ call: WebhookCall) async -> WebhookOutcome {
        lock.withLock {
            calls.append((call.idempotencyKey, call.attempt))
            if failuresLeft > 0 {
                failuresLeft -= 1
                return .failed(status: 503, message: "HTTP 503", retryable: true)
            }
            return .delivered(status: 200, result: .null)
        }
    }

    var count: Int { lock.withLock { calls.count } }
}

let xml = """
    <?xml version="1.0" encoding="UTF-8"?>
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:procrun="urn:procrun:bpmn:1">
    <process id="P" name="Склад" isExecutable="true">
    <startEvent id="s"/><userTask id="u" name="Собрать"/>
    <serviceTask id="w"><extensionElements><procrun:webhook url="http://127.0.0.1:9/x"><procrun:onError retries="2" delay="30"/></procrun:webhook></extensionElements></serviceTask>
    <endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="u"/><sequenceFlow id="f2" sourceRef="u" targetRef="w"/><sequenceFlow id="f3" sourceRef="w" targetRef="e"/>
    </process></definitions>
    """

func process() throws -> ProcessDefinition {
    try #require(BPMNLoader.load(bytes: Array(xml.utf8), file: "p.bpmn").definitions?.processes.first)
}

func temporaryStore() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("procrun-store-\(UUID().uuidString)/procrun.sqlite")
        .path
}

@Suite struct StoreTests {
    @Test func waitStatesRoundTripThroughTheStore() async throws {
        let path = temporaryStore()
        let clock = ManualScheduler()
        let id: String
        do {
            let runner = DurableRunner(
                store: try InstanceStore(path: path), performer: CountingPerformer(), scheduler: clock)
            id = try runner.start(
                file: "p.bpmn", xml: Array(xml.utf8), process: try process(),
                context: ["n": 1, "nested": ["a": [1, 2]]], answers: nil, directory: nil, initiator: "ivanov")
        }
        // A new connection, as after a restart: the user task waits in the store.
        let reopened = DurableRunner(
            store: try InstanceStore(path: path), performer: CountingPerformer(failFirst: 1), scheduler: clock)
        let waiting = try #require(try reopened.store.instance(id))
        #expect(waiting.instance.status == .waiting)
        #expect(waiting.instance.context["nested"] == ["a": [1, 2]])
        #expect(waiting.instance.context.keys.prefix(2) == ["n", "nested"])
        #expect(try reopened.store.openTasks().map(\.nodeID) == ["u"])

        let afterTask = try reopened.complete(instance: id, task: "Собрать", by: "sidorov", variables: ["box": 3])
        #expect(afterTask.currentUser == "sidorov")
        #expect(try reopened.store.openTasks().isEmpty)
        // The webhook try fails once: the retry waits as a stored job 30 s ahead.
        #expect(try await reopened.runDueJobs(instance: id) == 1)
        #expect(try reopened.store.instance(id)?.instance.status == .waiting)
        #expect(try reopened.store.nextJobTime() == clock.now.addingTimeInterval(30))

        // Another restart; the worker sleeps on the virtual clock until the retry is due.
        let performer = CountingPerformer()
        let worker = DurableRunner(store: try InstanceStore(path: path), performer: performer, scheduler: clock)
        try await worker.work(untilIdle: true)
        let done = try #require(try worker.store.instance(id)?.instance)
        #expect(done.status == .completed)
        #expect(done.path.count == 4)
        #expect(done.context["box"] == 3)
        #expect(performer.calls.map(\.attempt) == [2])
        #expect(performer.calls.map(\.key) == ["\(id)-w-1"])
        #expect(done.jobRuns.first?.tries.map(\.status) == [503, 200])
    }

    @Test func answeredTasksCompleteByThemselvesAndDefinitionsDeployByHash() throws {
        let path = temporaryStore()
        let runner = DurableRunner(
            store: try InstanceStore(path: path), performer: CountingPerformer(), scheduler: ManualScheduler())
        let first = try runner.store.deploy(file: "p.bpmn", xml: Array(xml.utf8), processID: "P", now: Date())
        let again = try runner.store.deploy(file: "other-name.bpmn", xml: Array(xml.utf8), processID: "P", now: Date())
        let changed = try runner.store.deploy(file: "p.bpmn", xml: Array((xml + " ").utf8), processID: "P", now: Date())
        #expect(first.id == again.id && first.version == 1)
        #expect(changed.version == 2)
    }

    @Test func twoWorkersNeverRunTheSameJobTwice() async throws {
        let path = temporaryStore()
        let clock = SystemScheduler()
        let setup = DurableRunner(
            store: try InstanceStore(path: path), performer: CountingPerformer(), scheduler: clock)
        var ids: [String] = []
        for _ in 0..<40 {
            let id = try setup.start(
                file: "p.bpmn", xml: Array(xml.utf8), process: try process(), context: [:],
                answers: ["u": ["by": "bot"]], directory: nil, initiator: "x")
            ids.append(id)
        }
        let performerA = CountingPerformer()
        let performerB = CountingPerformer()
        let workerA = DurableRunner(store: try InstanceStore(path: path), performer: performerA, scheduler: clock)
        let workerB = DurableRunner(store: try InstanceStore(path: path), performer: performerB, scheduler: clock)
        async let a: Void = workerA.work(untilIdle: true)
        async let b: Void = workerB.work(untilIdle: true)
        _ = try await (a, b)
        let keys = (performerA.calls + performerB.calls).map(\.key)
        #expect(keys.count == 40)
        #expect(Set(keys).count == 40)
        for id in ids { #expect(try setup.store.instance(id)?.instance.status == .completed) }
        #expect(try setup.store.nextJobTime() == nil)
    }

    @Test func aLockedJobWaitsForItsLeaseToExpire() throws {
        let path = temporaryStore()
        let clock = ManualScheduler()
        let runner = DurableRunner(
            store: try InstanceStore(path: path), performer: CountingPerformer(), scheduler: clock)
        let id = try runner.start(
            file: "p.bpmn", xml: Array(xml.utf8), process: try process(), context: [:], answers: ["u": ["by": "bot"]],
            directory: nil, initiator: "x")
        // The answered task completed in the step that opened it; the webhook try it leads to is
        // a job due now, made already held by the runner that made it, which runs it next.
        let held = try #require(try runner.store.ownJob(owner: runner.owner, now: clock.now))
        #expect(held.instanceID == id && held.kind == .integration)
        #expect(try runner.store.ownJob(owner: "A", now: clock.now) == nil)
        // Nobody else takes it until its lease (the try's timeout of 30 s, and 5 s) expires: the
        // runner may have died.
        #expect(try runner.store.claimJob(owner: "B", now: clock.now) == nil)
        #expect(try runner.store.claimJob(owner: "B", now: clock.now.addingTimeInterval(34)) == nil)
        let reclaimed = try #require(try runner.store.claimJob(owner: "B", now: clock.now.addingTimeInterval(36)))
        #expect(reclaimed.id == held.id)
    }

    @Test func incidentsCanBeRetriedSkippedAndCancelled() async throws {
        let path = temporaryStore()
        let clock = ManualScheduler()
        let noRetries = xml.replacingOccurrences(of: "<procrun:onError retries=\"2\" delay=\"30\"/>", with: "")
        let p = try #require(BPMNLoader.load(bytes: Array(noRetries.utf8), file: "p.bpmn").definitions?.processes.first)
        let failing = DurableRunner(
            store: try InstanceStore(path: path), performer: CountingPerformer(failFirst: 100), scheduler: clock)
        var ids: [String] = []
        for _ in 0..<3 {
            let id = try failing.start(
                file: "p.bpmn", xml: Array(noRetries.utf8), process: p, context: [:], answers: ["u": ["by": "bot"]],
                directory: nil, initiator: "x")
            try await failing.runDueJobs(instance: id)
            #expect(try failing.store.instance(id)?.instance.status == .incident)
            ids.append(id)
        }
        let healthy = DurableRunner(
            store: try InstanceStore(path: path), performer: CountingPerformer(), scheduler: clock)
        _ = try healthy.operate(.retryIncident, on: ids[0])
        try await healthy.runDueJobs(instance: ids[0])
        let retried = try #require(try healthy.store.instance(ids[0])?.instance)
        #expect(retried.status == .completed)
        #expect(retried.jobRuns.first?.tries.count == 2)
        #expect(Set(retried.jobRuns.map(\.idempotencyKey)).count == 1)

        let skipped = try healthy.operate(.skipIncident, on: ids[1])
        #expect(skipped.status == .completed)
        #expect(skipped.jobRuns.first?.tries.count == 1)

        let cancelled = try healthy.operate(.cancel, on: ids[2])
        #expect(cancelled.status == .terminated)
        #expect(cancelled.tokens.isEmpty)
        #expect(throws: StoreError.self) { try healthy.operate(.retryIncident, on: ids[2]) }
        #expect(throws: StoreError.self) { try healthy.operate(.cancel, on: ids[0]) }
        #expect(try healthy.store.instance(ids[0])?.instance.status == .completed)
    }
}

@Suite struct StoredTimerTests {
    @Test func timersAreStoredJobsThatAWorkerFires() async throws {
        let timerXML = """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><process id="T" isExecutable="true">
            <startEvent id="s"/><userTask id="u"/>
            <boundaryEvent id="late" attachedToRef="u"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">PT2H</timeDuration></timerEventDefinition></boundaryEvent>
            <endEvent id="done"/><endEvent id="escalated"/>
            <sequenceFlow id="f1" sourceRef="s" targetRef="u"/><sequenceFlow id="f2" sourceRef="u" targetRef="done"/><sequenceFlow id="f3" sourceRef="late" targetRef="escalated"/>
            </process></definitions>
            """
        let p = try #require(BPMNLoader.load(bytes: Array(timerXML.utf8), file: "t.bpmn").definitions?.processes.first)
        let path = temporaryStore()
        let clock = ManualScheduler()
        let runner = DurableRunner(
            store: try InstanceStore(path: path), performer: CountingPerformer(), scheduler: clock)
        let id = try runner.start(
            file: "t.bpmn", xml: Array(timerXML.utf8), process: p, context: [:], answers: nil, directory: nil,
            initiator: "x")
        #expect(try runner.store.nextJobTime() == clock.now.addingTimeInterval(7200))
        #expect(try runner.store.openTasks().count == 1)
        // A worker started later (after a restart) sleeps on the clock until the timer is due.
        let worker = DurableRunner(
            store: try InstanceStore(path: path), performer: CountingPerformer(), scheduler: clock)
        try await worker.work(untilIdle: true, poll: 86400)
        let instance = try #require(try worker.store.instance(id)?.instance)
        #expect(instance.status == .completed)
        #expect(instance.endNode.map { p.nodes[$0].id } == "escalated")
        #expect(try worker.store.openTasks().isEmpty)
        #expect(clock.sleeps == [7200])
    }
}

@Suite struct StoredPoolsTests {
    @Test func aMessageToAnotherPoolStartsAStoredInstanceOfItsProcess() async throws {
        let xml = """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><message id="M" name="order"/>
            <collaboration id="C"><participant id="Sales" processRef="SalesP"/><participant id="Stock" processRef="StockP"/>
            <messageFlow id="m1" sourceRef="send" targetRef="got"/></collaboration>
            <process id="SalesP" isExecutable="true"><startEvent id="s"/><sendTask id="send" messageRef="M"/><endEvent id="e"/>
            <sequenceFlow id="f1" sourceRef="s" targetRef="send"/><sequenceFlow id="f2" sourceRef="send" targetRef="e"/></process>
            <process id="StockP" isExecutable="true"><startEvent id="got"><messageEventDefinition messageRef="M"/></startEvent><userTask id="pick" name="Собрать"/><endEvent id="se"/>
            <sequenceFlow id="w1" sourceRef="got" targetRef="pick"/><sequenceFlow id="w2" sourceRef="pick" targetRef="se"/></process>
            </definitions>
            """
        let result = BPMNLoader.load(bytes: Array(xml.utf8), file: "pools.bpmn")
        let sales = try #require(result.definitions?.process(id: "SalesP"), "\(result.errors)")
        let store = try InstanceStore(path: temporaryStore())
        let runner = DurableRunner(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
        let id = try runner.start(
            file: "pools.bpmn", xml: Array(xml.utf8), process: sales, context: ["items": 3], answers: nil,
            directory: nil, initiator: "petrova")
        #expect(try store.instance(id)?.instance.status == .completed)
        // The warehouse instance exists, with the sales variables, and waits at its task.
        let tasks = try store.openTasks()
        #expect(tasks.map(\.nodeID) == ["pick"])
        let stock = try #require(try store.instance(tasks[0].instanceID))
        #expect(
            stock.instance.processID == "StockP" && stock.instance.context["items"] == 3
                && stock.instance.initiator == "petrova")
        let done = try runner.complete(instance: tasks[0].instanceID, task: "pick", by: "sidorov", variables: [:])
        #expect(done.status == .completed)
    }
}

extension StoredPoolsTests {
    @Test func messagesAndSignalsReachStoredInstancesThatWait() async throws {
        let xml = """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><message id="M" name="paid"/><signal id="S" name="closing"/>
            <collaboration id="C"><participant id="Bank" processRef="BankP"/><participant id="Shop" processRef="ShopP"/>
            <messageFlow id="m1" sourceRef="pay" targetRef="wait"/></collaboration>
            <process id="BankP" isExecutable="true"><startEvent id="s"/><sendTask id="pay" messageRef="M"/>
            <intermediateThrowEvent id="close"><signalEventDefinition signalRef="S"/></intermediateThrowEvent><endEvent id="e"/>
            <sequenceFlow id="f1" sourceRef="s" targetRef="pay"/><sequenceFlow id="f2" sourceRef="pay" targetRef="close"/><sequenceFlow id="f3" sourceRef="close" targetRef="e"/></process>
            <process id="ShopP" isExecutable="true"><startEvent id="ss"/><parallelGateway id="fork"/><receiveTask id="wait" messageRef="M"/>
            <intermediateCatchEvent id="closed"><signalEventDefinition signalRef="S"/></intermediateCatchEvent><parallelGateway id="join"/><endEvent id="se"/>
            <sequenceFlow id="w1" sourceRef="ss" targetRef="fork"/><sequenceFlow id="w2" sourceRef="fork" targetRef="wait"/><sequenceFlow id="w3" sourceRef="fork" targetRef="closed"/>
            <sequenceFlow id="w4" sourceRef="wait" targetRef="join"/><sequenceFlow id="w5" sourceRef="closed" targetRef="join"/><sequenceFlow id="w6" sourceRef="join" targetRef="se"/></process>
            </definitions>
            """
        let definitions = try #require(BPMNLoader.load(bytes: Array(xml.utf8), file: "shop.bpmn").definitions)
        let store = try InstanceStore(path: temporaryStore())
        let runner = DurableRunner(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
        let start = { (process: String, context: JSONObject) in
            try runner.start(
                file: "shop.bpmn", xml: Array(xml.utf8), process: definitions.process(id: process)!, context: context,
                answers: nil, directory: nil, initiator: "x")
        }
        // Two shops wait for the payment message and the closing signal.
        let first = try start("ShopP", ["shop": 1])
        let second = try start("ShopP", ["shop": 2])
        #expect(try store.instance(first)?.instance.status == .waiting)
        _ = try start("BankP", ["amount": 100])
        // The message went to one shop (the first to wait), the signal to both.
        let one = try #require(try store.instance(first)?.instance)
        let two = try #require(try store.instance(second)?.instance)
        #expect(one.status == .completed && one.context["amount"] == 100)
        #expect(two.status == .waiting && two.context["amount"] == nil)
        let shop = try #require(definitions.process(id: "ShopP"))
        #expect(two.path.map { shop.nodes[$0].id }.contains("closed"))
        #expect(!two.path.map { shop.nodes[$0].id }.contains("wait"))
    }

    /// A message goes to the waiting instance that was started first, whichever began to wait
    /// first: the rule `run` follows for the instances of one run.
    @Test func aMessageGoesToTheFirstStartedInstanceThatWaits() async throws {
        let xml = """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><message id="M" name="paid"/>
            <collaboration id="C"><participant id="Bank" processRef="BankP"/><participant id="Shop" processRef="ShopP"/>
            <messageFlow id="m1" sourceRef="pay" targetRef="wait"/></collaboration>
            <process id="BankP" isExecutable="true"><startEvent id="s"/><sendTask id="pay" messageRef="M"/><endEvent id="e"/>
            <sequenceFlow id="f1" sourceRef="s" targetRef="pay"/><sequenceFlow id="f2" sourceRef="pay" targetRef="e"/></process>
            <process id="ShopP" isExecutable="true"><startEvent id="ss"/><userTask id="open" name="Открыть кассу"/><receiveTask id="wait" messageRef="M"/><endEvent id="se"/>
            <sequenceFlow id="w1" sourceRef="ss" targetRef="open"/><sequenceFlow id="w2" sourceRef="open" targetRef="wait"/><sequenceFlow id="w3" sourceRef="wait" targetRef="se"/></process>
            </definitions>
            """
        let definitions = try #require(BPMNLoader.load(bytes: Array(xml.utf8), file: "shop.bpmn").definitions)
        let store = try InstanceStore(path: temporaryStore())
        let runner = DurableRunner(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
        let start = { (process: String, context: JSONObject) in
            try runner.start(
                file: "shop.bpmn", xml: Array(xml.utf8), process: definitions.process(id: process)!, context: context,
                answers: nil, directory: nil, initiator: "x")
        }
        let first = try start("ShopP", ["shop": 1])
        let second = try start("ShopP", ["shop": 2])
        // The second shop opens first, so it begins to wait for the payment before the first.
        _ = try runner.complete(instance: second, task: "open", by: "kassir", variables: [:])
        _ = try runner.complete(instance: first, task: "open", by: "kassir", variables: [:])
        _ = try start("BankP", ["amount": 100])
        let one = try #require(try store.instance(first)?.instance)
        let two = try #require(try store.instance(second)?.instance)
        #expect(one.status == .completed && one.context["amount"] == 100)
        #expect(two.status == .waiting && two.context["amount"] == nil)
    }
}
