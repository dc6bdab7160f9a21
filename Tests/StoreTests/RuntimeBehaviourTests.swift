import BPMNLoader
import Engine
import Foundation
import ProcessModel
import Store
import Testing
import Values

/// The adapters the runtime runs on. Every behaviour below runs on each of them, so a new
/// adapter (PostgreSQL) gets the suite by adding a case.
enum Adapter: String, CaseIterable, CustomTestStringConvertible {
    case memory, sqlite

    var testDescription: String { rawValue }

    /// Runs the scenario on a new, empty store of this adapter.
    func run(_ scenario: some RuntimeScenario) async throws {
        switch self {
        case .memory: try await scenario.run(on: MemoryStore())
        case .sqlite: try await scenario.run(on: try InstanceStore(path: temporaryStore()))
        }
    }
}

/// A behaviour of the runtime, written once for every adapter.
protocol RuntimeScenario {
    func run<S: RuntimeStore>(on store: S) async throws
}

/// Loads a file's processes for the scenarios.
func definitions(_ xml: String, file: String = "p.bpmn") throws -> Definitions {
    let result = BPMNLoader.load(bytes: Array(xml.utf8), file: file)
    return try #require(result.definitions, "\(result.errors)")
}

extension ProcessRuntime {
    /// Starts an instance of `process` of the file `xml` as `initiator` "x".
    func start(_ xml: String, process: String? = nil, context: JSONObject = [:], answers: JSONValue? = nil) throws
        -> String
    {
        let definitions = try definitions(xml)
        let process = try #require(process.map { definitions.process(id: $0) } ?? definitions.processes.first)
        return try start(
            file: "p.bpmn", xml: Array(xml.utf8), process: process, context: context, answers: answers, directory: nil,
            initiator: "x")
    }

    func stored(_ id: String) throws -> Instance {
        try #require(try store.instance(id)?.instance)
    }

    func openTaskIDs(_ id: String) throws -> [String] {
        try store.read { try $0.openTasks(instance: id) }.map(\.nodeID)
    }

    /// The node ids an instance passed through.
    func path(_ id: String) throws -> [String] {
        let instance = try stored(id)
        let process = try store.read { try $0.process(of: try #require(try $0.definitionID(ofInstance: id))) }
        return instance.path.map { process.nodes[$0].id }
    }
}

let twoTasksXML = """
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="P" name="Склад" isExecutable="true">
    <startEvent id="s"/><userTask id="pick" name="Собрать"/><userTask id="check" name="Проверить"/><endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="pick"/><sequenceFlow id="f2" sourceRef="pick" targetRef="check"/>
    <sequenceFlow id="f3" sourceRef="check" targetRef="e"/>
    </process></definitions>
    """

@Suite struct RuntimeBehaviourTests {
    /// Start → the instance waits at a user task → completing it opens the next → completing
    /// that ends the instance.
    @Test(arguments: Adapter.allCases) func tasksWaitAndCompleteInTurn(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
                let id = try runtime.start(twoTasksXML, context: ["n": 1])
                #expect(try runtime.stored(id).status == .waiting)
                #expect(try runtime.openTaskIDs(id) == ["pick"])
                let afterPick = try runtime.complete(
                    instance: id, task: "Собрать", by: "sidorov", variables: ["box": 3])
                #expect(afterPick.context["box"] == 3 && afterPick.context["n"] == 1)
                #expect(try runtime.openTaskIDs(id) == ["check"])
                let done = try runtime.complete(instance: id, task: "check", by: "ivanov", variables: [:])
                #expect(done.status == .completed)
                #expect(try runtime.openTaskIDs(id).isEmpty)
                #expect(try runtime.stored(id).status == .completed)
                #expect(try store.instance(id)?.version == 2)
            }
        }
        try await adapter.run(Scenario())
    }

    /// Claims and authorised completion (the server's): a claimed task is the claimer's, the
    /// check runs in the step's transaction, a refusal changes nothing, and who completed a
    /// task is kept as a participant of the instance.
    @Test(arguments: Adapter.allCases) func claimsAndAuthorisedCompletion(_ adapter: Adapter) async throws {
        struct Refused: Error {}
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
                let id = try runtime.start(twoTasksXML)
                let claimed = try runtime.claim(instance: id, task: "pick", for: "sidorov")
                #expect(claimed.assignee == "sidorov")
                #expect(try store.read { try $0.openTasks(instance: id) }.first?.assignee == "sidorov")
                #expect(throws: StoreError.self) { try runtime.claim(instance: id, task: "pick", for: "smirnova") }
                #expect(throws: Refused.self) {
                    try runtime.complete(instance: id, task: "pick", by: "smirnova", variables: ["box": 1]) { task in
                        if task.assignee != "smirnova" { throw Refused() }
                    }
                }
                #expect(try runtime.openTaskIDs(id) == ["pick"] && store.instance(id)?.version == 0)
                _ = try runtime.claim(instance: id, task: "pick", for: nil)
                #expect(try store.read { try $0.openTasks(instance: id) }.first?.assignee == nil)
                let after = try runtime.complete(instance: id, task: "pick", by: "smirnova", variables: [:]) { _ in }
                #expect(after.history.contains { $0.performer == "smirnova" })
                #expect(try runtime.openTaskIDs(id) == ["check"])
            }
        }
        try await adapter.run(Scenario())
    }

    /// Two completes of one task: one wins; the other is a conflict and changes nothing, whether
    /// it comes after the first or at the same moment (two runtimes on one store).
    @Test(arguments: Adapter.allCases) func twoCompletesOfOneTaskOneWins(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
                let id = try runtime.start(twoTasksXML)
                _ = try runtime.complete(instance: id, task: "pick", by: "a", variables: ["by": "a"])
                #expect {
                    try runtime.complete(instance: id, task: "pick", by: "b", variables: ["by": "b"])
                } throws: { error in
                    guard
                        case StoreError.taskAlreadyCompleted(task: "pick", instance: id, by: "a", at: _)? = error
                            as? StoreError
                    else { return false }
                    return true
                }
                #expect(try runtime.stored(id).context["by"] == "a")

                // At the same moment: each command on its own runtime.
                let racing = try runtime.start(twoTasksXML)
                let results = await withTaskGroup(of: Result<String, any Error>.self) { group in
                    for user in ["c", "d"] {
                        group.addTask {
                            let mine = ProcessRuntime(
                                store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
                            return Result {
                                try mine.complete(
                                    instance: racing, task: "pick", by: user, variables: ["by": .string(user)]
                                ).id
                            }
                        }
                    }
                    var all: [Result<String, any Error>] = []
                    for await result in group { all.append(result) }
                    return all
                }
                let failures = results.compactMap { result -> (any Error)? in
                    if case .failure(let error) = result { error } else { nil }
                }
                #expect(results.count == 2 && failures.count == 1)
                #expect(failures.allSatisfy { $0 is StoreError })
                #expect(try runtime.openTaskIDs(racing) == ["check"])
                #expect(try store.instance(racing)?.version == 1)
            }
        }
        try await adapter.run(Scenario())
    }

    /// The port's contract itself: a state saved at a version that is no longer the stored one
    /// is a conflict, and the failed transaction leaves nothing behind.
    @Test(arguments: Adapter.allCases) func aStaleVersionIsAConflict(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
                let id = try runtime.start(twoTasksXML)
                let read = try #require(try store.instance(id))
                let codec = try Engine(process: try store.read { try $0.process(of: read.definitionID) }).stateCodec
                try store.write {
                    try $0.update(read.instance, codec: codec, expectedVersion: read.version, now: Date())
                }
                #expect(throws: StoreError.instanceChangedMeanwhile(instance: id)) {
                    try store.write { transaction in
                        try transaction.insertTask(
                            OpenTask(instanceID: id, token: 99, nodeID: "ghost", name: nil, lane: nil, candidates: []),
                            now: Date())
                        try transaction.update(read.instance, codec: codec, expectedVersion: read.version, now: Date())
                    }
                }
                #expect(try store.instance(id)?.version == read.version + 1)
                #expect(try runtime.openTaskIDs(id) == ["pick"])
            }
        }
        try await adapter.run(Scenario())
    }

    /// A transaction that throws keeps none of its writes, whatever it touched: a definition it
    /// deployed, the instance it updated, the tasks, jobs, subscriptions and notifications it
    /// added or removed.
    @Test(arguments: Adapter.allCases) func aFailedTransactionLeavesNothingBehind(_ adapter: Adapter) async throws {
        struct Failed: Error {}
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
                let id = try runtime.start(twoTasksXML)
                let read = try #require(try store.instance(id))
                let process = try store.read { try $0.process(of: read.definitionID) }
                let codec = try Engine(process: process).stateCodec
                let changedXML = Array(twoTasksXML.replacingOccurrences(of: "Склад", with: "Склад 2").utf8)
                let now = Date()
                var changed = read.instance
                changed.context["touched"] = true
                #expect(throws: Failed.self) {
                    try store.write { db in
                        _ = try db.deploy(file: "p.bpmn", xml: changedXML, process: process, now: now)
                        try db.update(changed, codec: codec, expectedVersion: read.version, now: now)
                        #expect(try db.deleteTask(instance: id, token: 2, nodeID: "pick") || true)
                        try db.insertTask(
                            OpenTask(instanceID: id, token: 7, nodeID: "check", name: nil, lane: nil, candidates: []),
                            now: now)
                        try db.insertJob(NewJob(instanceID: id, token: 7, kind: .timer, dueAt: now), now: now)
                        try db.subscribe(id, to: [.message("paid")])
                        try db.insertNotification(
                            OutgoingNotification(
                                key: "k", process: "P", instance: id, node: "pick", user: "u", name: nil, email: nil,
                                message: "m", subject: "s",
                                text: "t", createdAt: now), now: now)
                        throw Failed()
                    }
                }
                let after = try #require(try store.instance(id))
                #expect(after.version == read.version)
                #expect(after.instance.context["touched"] == nil)
                #expect(try runtime.openTaskIDs(id) == ["pick"])
                #expect(try store.nextJobTime(instance: id, excluding: []) == nil)
                #expect(try store.read { try $0.subscribers(kind: "message", name: "paid", except: "") }.isEmpty)
                #expect(try store.storedNotifications(user: nil, instance: id).isEmpty)
                // The deploy was undone too: the same bytes deploy as version 2 now, and again as
                // the same definition.
                let second = try store.write {
                    try $0.deploy(file: "p.bpmn", xml: changedXML, process: process, now: now)
                }
                #expect(second.version == 2)
                #expect(
                    try store.write { try $0.deploy(file: "q.bpmn", xml: changedXML, process: process, now: now) }.id
                        == second.id)
                #expect(
                    try store.write {
                        try $0.deploy(file: "p.bpmn", xml: Array(twoTasksXML.utf8), process: process, now: now)
                    }.id == read.definitionID)
            }
        }
        try await adapter.run(Scenario())
    }

    /// A webhook that fails is retried after its delay on the virtual clock, with the same key,
    /// and then succeeds.
    @Test(arguments: Adapter.allCases) func aFailedWebhookIsRetriedAfterItsDelay(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let clock = ManualScheduler()
                let performer = CountingPerformer(failFirst: 1)
                let runtime = ProcessRuntime(store: store, performer: performer, scheduler: clock)
                let id = try runtime.start(xml)
                _ = try runtime.complete(instance: id, task: "u", by: "sidorov", variables: [:])
                #expect(try await runtime.runDueJobs(instance: id) == 1)
                #expect(try runtime.stored(id).status == .waiting)
                #expect(try store.nextJobTime(instance: id, excluding: []) == clock.now.addingTimeInterval(30))
                try await runtime.drain(instance: id)
                let done = try runtime.stored(id)
                #expect(done.status == .completed)
                #expect(clock.sleeps == [30])
                #expect(performer.calls.map(\.attempt) == [1, 2])
                #expect(Set(performer.calls.map(\.key)).count == 1)
                #expect(try store.nextJobTime(instance: id, excluding: []) == nil)
            }
        }
        try await adapter.run(Scenario())
    }

    /// A webhook that fails with no retries left stops the instance in an incident, which an
    /// operator retries, skips or cancels.
    @Test(arguments: Adapter.allCases) func incidentsAreRetriedSkippedAndCancelled(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let clock = ManualScheduler()
                let noRetries = xml.replacingOccurrences(of: "<procrun:onError retries=\"2\" delay=\"30\"/>", with: "")
                let failing = ProcessRuntime(
                    store: store, performer: CountingPerformer(failFirst: 100), scheduler: clock)
                var ids: [String] = []
                for _ in 0..<3 {
                    let id = try failing.start(noRetries, answers: ["u": ["by": "bot"]])
                    try await failing.runDueJobs(instance: id)
                    #expect(try failing.stored(id).status == .incident)
                    ids.append(id)
                }
                let healthy = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: clock)
                _ = try healthy.operate(.retryIncident, on: ids[0])
                try await healthy.runDueJobs(instance: ids[0])
                let retried = try healthy.stored(ids[0])
                #expect(retried.status == .completed)
                #expect(retried.jobRuns.first?.tries.count == 2)
                #expect(Set(retried.jobRuns.map(\.idempotencyKey)).count == 1)

                let skipped = try healthy.operate(.skipIncident, on: ids[1])
                #expect(skipped.status == .completed)
                #expect(skipped.jobRuns.first?.tries.count == 1)

                let cancelled = try healthy.operate(.cancel, on: ids[2])
                #expect(cancelled.status == .terminated && cancelled.tokens.isEmpty)
                #expect(try store.nextJobTime(instance: ids[2], excluding: []) == nil)
                #expect(throws: StoreError.notInIncident(instance: ids[2], status: .terminated)) {
                    try healthy.operate(.retryIncident, on: ids[2])
                }
                #expect(throws: StoreError.instanceEnded(instance: ids[0], status: "completed")) {
                    try healthy.operate(.cancel, on: ids[0])
                }
            }
        }
        try await adapter.run(Scenario())
    }

    /// A timer is a job: the worker loop sleeps on the manual clock until it falls due, and its
    /// boundary event closes the task it interrupts.
    @Test(arguments: Adapter.allCases) func timersFireThroughTheJobLoop(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let timerXML = """
                    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><process id="T" isExecutable="true">
                    <startEvent id="s"/><userTask id="u"/>
                    <boundaryEvent id="late" attachedToRef="u"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">PT2H</timeDuration></timerEventDefinition></boundaryEvent>
                    <endEvent id="done"/><endEvent id="escalated"/>
                    <sequenceFlow id="f1" sourceRef="s" targetRef="u"/><sequenceFlow id="f2" sourceRef="u" targetRef="done"/><sequenceFlow id="f3" sourceRef="late" targetRef="escalated"/>
                    </process></definitions>
                    """
                let clock = ManualScheduler()
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: clock)
                let id = try runtime.start(timerXML)
                #expect(try store.nextJobTime(instance: nil, excluding: []) == clock.now.addingTimeInterval(7200))
                #expect(try runtime.openTaskIDs(id) == ["u"])
                // Nothing is due yet.
                #expect(try await runtime.runDueJobs() == 0)
                try await runtime.work(untilIdle: true, poll: 86400)
                #expect(try runtime.stored(id).status == .completed)
                #expect(try runtime.path(id).last == "escalated")
                #expect(try runtime.openTaskIDs(id).isEmpty)
                #expect(clock.sleeps == [7200])
            }
        }
        try await adapter.run(Scenario())
    }

    /// A message goes to the waiting instance started first (not the first to begin waiting);
    /// a signal reaches every instance that waits for it.
    @Test(arguments: Adapter.allCases) func aMessageGoesToTheFirstStartedAndASignalToAll(_ adapter: Adapter)
        async throws
    {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let xml = """
                    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><message id="M" name="paid"/><signal id="S" name="closing"/>
                    <collaboration id="C"><participant id="Bank" processRef="BankP"/><participant id="Shop" processRef="ShopP"/>
                    <messageFlow id="m1" sourceRef="pay" targetRef="wait"/></collaboration>
                    <process id="BankP" isExecutable="true"><startEvent id="s"/><sendTask id="pay" messageRef="M"/>
                    <intermediateThrowEvent id="close"><signalEventDefinition signalRef="S"/></intermediateThrowEvent><endEvent id="e"/>
                    <sequenceFlow id="f1" sourceRef="s" targetRef="pay"/><sequenceFlow id="f2" sourceRef="pay" targetRef="close"/><sequenceFlow id="f3" sourceRef="close" targetRef="e"/></process>
                    <process id="ShopP" isExecutable="true"><startEvent id="ss"/><userTask id="open" name="Открыть кассу"/><parallelGateway id="fork"/>
                    <receiveTask id="wait" messageRef="M"/><intermediateCatchEvent id="closed"><signalEventDefinition signalRef="S"/></intermediateCatchEvent>
                    <parallelGateway id="join"/><endEvent id="se"/>
                    <sequenceFlow id="w0" sourceRef="ss" targetRef="open"/><sequenceFlow id="w1" sourceRef="open" targetRef="fork"/>
                    <sequenceFlow id="w2" sourceRef="fork" targetRef="wait"/><sequenceFlow id="w3" sourceRef="fork" targetRef="closed"/>
                    <sequenceFlow id="w4" sourceRef="wait" targetRef="join"/><sequenceFlow id="w5" sourceRef="closed" targetRef="join"/><sequenceFlow id="w6" sourceRef="join" targetRef="se"/></process>
                    </definitions>
                    """
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
                let first = try runtime.start(xml, process: "ShopP", context: ["shop": 1])
                let second = try runtime.start(xml, process: "ShopP", context: ["shop": 2])
                // The second shop opens first, so it begins to wait before the first.
                _ = try runtime.complete(instance: second, task: "open", by: "kassir", variables: [:])
                _ = try runtime.complete(instance: first, task: "open", by: "kassir", variables: [:])
                let bank = try runtime.start(xml, process: "BankP", context: ["amount": 100])
                #expect(try runtime.stored(bank).status == .completed)
                let one = try runtime.stored(first)
                let two = try runtime.stored(second)
                #expect(one.status == .completed && one.context["amount"] == 100)
                #expect(two.status == .waiting && two.context["amount"] == nil)
                #expect(try runtime.path(first).contains("closed") && runtime.path(first).contains("wait"))
                #expect(try runtime.path(second).contains("closed") && !runtime.path(second).contains("wait"))
                // The second still waits for a payment; the signal is not waited for any more.
                #expect(try store.read { try $0.subscribers(kind: "message", name: "paid", except: "") } == [second])
                #expect(try store.read { try $0.subscribers(kind: "signal", name: "closing", except: "") }.isEmpty)
            }
        }
        try await adapter.run(Scenario())
    }

    /// A message to another pool's process starts an instance of it, with the sender's variables.
    @Test(arguments: Adapter.allCases) func aMessageStartsAnInstanceOfAnotherPool(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let xml = """
                    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><message id="M" name="order"/><message id="N" name="more"/>
                    <collaboration id="C"><participant id="Sales" processRef="SalesP"/><participant id="Stock" processRef="StockP"/>
                    <messageFlow id="m1" sourceRef="send" targetRef="got"/></collaboration>
                    <process id="SalesP" isExecutable="true"><startEvent id="s"/><sendTask id="send" messageRef="M"/><endEvent id="e"/>
                    <sequenceFlow id="f1" sourceRef="s" targetRef="send"/><sequenceFlow id="f2" sourceRef="send" targetRef="e"/></process>
                    <process id="StockP" isExecutable="true"><startEvent id="got"><messageEventDefinition messageRef="M"/></startEvent>
                    <receiveTask id="more" messageRef="N"/><endEvent id="se"/>
                    <sequenceFlow id="w1" sourceRef="got" targetRef="more"/><sequenceFlow id="w2" sourceRef="more" targetRef="se"/></process>
                    </definitions>
                    """
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
                let id = try runtime.start(xml, process: "SalesP", context: ["items": 3])
                #expect(try runtime.stored(id).status == .completed)
                // The warehouse instance exists, with the sales variables, and waits for its next message.
                let waiting = try store.read { try $0.subscribers(kind: "message", name: "more", except: "") }
                #expect(waiting.count == 1)
                let stock = try runtime.stored(try #require(waiting.first))
                #expect(stock.processID == "StockP" && stock.context["items"] == 3 && stock.initiator == "x")
                #expect(stock.status == .waiting)
            }
        }
        try await adapter.run(Scenario())
    }

    /// A cancelled instance's jobs go with it: the webhook try it waited for never runs. `cancel
    /// --force` ends an instance without reading its state; an ended one cannot be ended again.
    @Test(arguments: Adapter.allCases) func cancellingDropsTheInstancesJobs(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let clock = ManualScheduler()
                let performer = CountingPerformer(failFirst: 1)
                let runtime = ProcessRuntime(store: store, performer: performer, scheduler: clock)
                let id = try runtime.start(xml, answers: ["u": ["by": "bot"]])
                // The task was answered in the step that opened it; the first try fails: a retry
                // waits 30 s ahead.
                #expect(try await runtime.runDueJobs(instance: id) == 1)
                #expect(try store.nextJobTime(instance: id, excluding: []) == clock.now.addingTimeInterval(30))
                let cancelled = try runtime.operate(.cancel, on: id)
                #expect(cancelled.status == .terminated)
                #expect(try store.nextJobTime(instance: id, excluding: []) == nil)
                try await runtime.work(untilIdle: true)
                #expect(performer.count == 1 && clock.sleeps.isEmpty)

                let forced = try runtime.start(twoTasksXML)
                try runtime.forceTerminate(forced)
                #expect(try runtime.openTaskIDs(forced).isEmpty)
                #expect(throws: StoreError.instanceEnded(instance: forced, status: "terminated")) {
                    try runtime.forceTerminate(forced)
                }
                #expect(throws: StoreError.noSuchInstance(id: "nobody", store: store.path)) {
                    try runtime.forceTerminate("nobody")
                }
                #expect(throws: StoreError.noSuchInstance(id: "nobody", store: store.path)) {
                    try runtime.complete(instance: "nobody", task: "pick", by: "x", variables: [:])
                }
            }
        }
        try await adapter.run(Scenario())
    }

    /// A task the instance's answers (or `run`'s simulated people) answer completes in the step
    /// that opens it: no job is left to claim, and a cycle through it stops at the step budget
    /// as a cycle that never waits does.
    @Test(arguments: Adapter.allCases) func answeredTasksCompleteInTheStepThatOpensThem(_ adapter: Adapter) async throws
    {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
                let id = try runtime.start(
                    twoTasksXML,
                    answers: ["pick": ["by": "bot", "variables": ["picked": true]], "check": ["by": "boss"]])
                let instance = try runtime.stored(id)
                #expect(instance.status == .completed && instance.context["picked"] == true)
                #expect(instance.history.compactMap(\.performer) == ["bot", "boss"])
                #expect(try store.nextJobTime(instance: id, excluding: []) == nil)
                #expect(try runtime.openTaskIDs(id).isEmpty)

                // Only the first task answered: the second opens for a person.
                let half = try runtime.start(twoTasksXML, answers: ["pick": ["by": "bot"]])
                #expect(try runtime.openTaskIDs(half) == ["check"])
                #expect(try store.nextJobTime(instance: half, excluding: []) == nil)

                let cycle = try runtime.start(
                    answeredCycleXML, context: ["done": false], answers: ["again": ["by": "bot"]])
                let stopped = try runtime.stored(cycle)
                #expect(stopped.status == .incident && stopped.incident?.isStepBudget == true)
            }
        }
        try await adapter.run(Scenario())
    }

    /// Past a step that asks for a webhook try, answers wait for their jobs: the try's request
    /// is fixed by the state that step left, before any answer changed it.
    @Test(arguments: Adapter.allCases) func aRequestIsFixedBeforeTheAnswersOfItsStep(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let performer = ContextSnapshotPerformer()
                let runtime = ProcessRuntime(store: store, performer: performer, scheduler: ManualScheduler())
                let id = try runtime.start(
                    answerBesideWebhookXML, context: ["x": "before"],
                    answers: ["u": ["by": "bot", "variables": ["x": "after"]]])
                try await runtime.drain(instance: id)
                let instance = try runtime.stored(id)
                #expect(instance.status == .completed && instance.context["x"] == "after")
                #expect(performer.sent == ["before"])
            }
        }
        try await adapter.run(Scenario())
    }

    /// Only the instance a command or job steps answers at once: one that a message reaches
    /// inside that transaction gets answer jobs, so a conversation through answered tasks is a
    /// chain of short transactions, not one that deepens with every message until deliveries stop.
    @Test(arguments: Adapter.allCases) func aConversationThroughAnsweredTasksRunsToItsEnd(_ adapter: Adapter)
        async throws
    {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
                let xml = pingPongXML(rounds: 6)
                let asker = try #require(try definitions(xml).process(id: "Asker"))
                let id = try runtime.start(
                    file: "p.bpmn", xml: Array(xml.utf8), process: asker, context: [:], answers: nil, directory: nil,
                    initiator: "x",
                    simulatePeople: true)
                try await runtime.work(untilIdle: true)
                // The asker ends after the replier's last pong, which the replier sends last.
                #expect(try runtime.stored(id).status == .completed)
                #expect(try runtime.path(id).filter { $0.hasPrefix("ask") }.count == 6)
            }
        }
        try await adapter.run(Scenario())
    }

    /// Answers at once never overtake a job of the instance that is due already: here the webhook
    /// try the start step asked for runs before the second answered task, which ends the instance.
    @Test(arguments: Adapter.allCases) func anAnswerAtOnceWaitsBehindADueJob(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let performer = CountingPerformer()
                let runtime = ProcessRuntime(store: store, performer: performer, scheduler: ManualScheduler())
                let id = try runtime.start(webhookBesideTwoTasksXML, answers: ["a": ["by": "bot"], "c": ["by": "bot"]])
                try await runtime.drain(instance: id)
                #expect(performer.count == 1)
                #expect(try runtime.stored(id).status == .completed)
            }
        }
        try await adapter.run(Scenario())
    }

    /// Each answer goes on with the budget the event that opened its task left: two answered
    /// branches of one split each have what the split's event left, not one budget shared.
    @Test(arguments: Adapter.allCases) func siblingAnswersDoNotShareOneBudget(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
                runtime.maxSteps = 40
                let id = try runtime.start(
                    twoCountingBranchesXML, context: ["a": 0, "b": 0],
                    answers: ["ta": ["by": "bot"], "tb": ["by": "bot"]])
                let instance = try runtime.stored(id)
                #expect(instance.status == .completed, "\(String(describing: instance.incident))")
                #expect(instance.context["a"] == 10 && instance.context["b"] == 10)
            }
        }
        try await adapter.run(Scenario())
    }

    /// Notifications are written to the outbox in the step that notifies, pending, one per
    /// person with a stable key; a worker with a channel delivers them.
    @Test(arguments: Adapter.allCases) func notificationsGoToTheOutbox(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let clock = ManualScheduler()
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(failFirst: 1), scheduler: clock)
                let id = try runtime.start(notifyingXML)
                try await runtime.drain(instance: id)
                #expect(try runtime.stored(id).status == .completed)
                let pending = try store.storedNotifications(user: nil, instance: id)
                #expect(pending.map(\.outgoing.user) == ["ivanov", "petrov"])
                #expect(pending.map(\.status) == [.pending, .pending])
                #expect(pending.map(\.outgoing.key) == ["\(id)-notify-1", "\(id)-notify-2"])
                #expect(
                    pending.allSatisfy {
                        $0.outgoing.text.hasPrefix("Процесс «Склад», экземпляр \(id): вебхук «w» не выполнен")
                    })
                #expect(try runtime.stored(id).notifications.map(\.user) == ["ivanov", "petrov"])

                let channel = ScriptedChannel(failures: ["petrov": 1], clock: clock)
                runtime.channels = [channel]
                try await runtime.work(untilIdle: true)
                let delivered = try store.storedNotifications(user: nil, instance: id)
                #expect(delivered.map(\.status) == [.delivered, .delivered])
                #expect(delivered.map(\.attempts) == [1, 2])
                #expect(channel.tries.map(\.user) == ["ivanov", "petrov", "petrov"])
                #expect(try store.storedNotifications(user: "petrov", instance: nil).count == 1)
            }
        }
        try await adapter.run(Scenario())
    }
}

/// An answered task in a loop that never ends (`done` stays false): without a person to wait
/// for, the cycle runs until the step budget stops it.
let answeredCycleXML = """
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="Cycle" isExecutable="true">
    <startEvent id="s"/><exclusiveGateway id="g" default="f2"/><userTask id="again"/><endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="g"/><sequenceFlow id="f2" sourceRef="g" targetRef="again"/>
    <sequenceFlow id="f3" sourceRef="again" targetRef="g"/>
    <sequenceFlow id="f4" sourceRef="g" targetRef="e"><conditionExpression>done = true</conditionExpression></sequenceFlow>
    </process></definitions>
    """

/// A parallel split into an answered task that sets `x` and a webhook that sends `x`.
let answerBesideWebhookXML = """
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1">
    <process id="Beside" isExecutable="true">
    <startEvent id="s"/><parallelGateway id="split"/><userTask id="u"/>
    <serviceTask id="w"><extensionElements><procrun:webhook url="http://127.0.0.1:9/x"/></extensionElements></serviceTask>
    <parallelGateway id="join"/><endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="split"/><sequenceFlow id="f2" sourceRef="split" targetRef="u"/>
    <sequenceFlow id="f3" sourceRef="split" targetRef="w"/><sequenceFlow id="f4" sourceRef="u" targetRef="join"/>
    <sequenceFlow id="f5" sourceRef="w" targetRef="join"/><sequenceFlow id="f6" sourceRef="join" targetRef="e"/>
    </process></definitions>
    """

/// Fixes each try's request when its node is entered, as the HTTP performer does: the request
/// is the text of `x` at that moment; records what each try sends.
final class ContextSnapshotPerformer: WebhookPerformer, @unchecked Sendable {
    private let lock = NSLock()
    private var sentTexts: [String] = []
    var sent: [String] { lock.withLock { sentTexts } }

    func prepare(_ call: WebhookCall) -> WebhookPreparation? {
        guard case .string(let x)? = call.context["x"] else { return .failed(message: "x is not set") }
        return .request(
            WebhookRequestSnapshot(method: "POST", url: [.text("http://127.0.0.1:9/x")], headers: [], body: [.text(x)]))
    }

    func perform(_ call: WebhookCall) async -> WebhookOutcome {
        guard case .text(let x)? = call.request?.body?.first else {
            return .failed(status: nil, message: "no snapshot", retryable: false)
        }
        lock.withLock { sentTexts.append(x) }
        return .delivered(status: 200, result: .null)
    }
}

/// Two pools that talk: the asker asks (an answered task) and sends `ping`, the replier answers
/// (an answered task) and sends `pong`, `rounds` times.
func pingPongXML(rounds: Int) -> String {
    func chain(_ prefix: String, first: String, send: String, receive: String) -> (nodes: String, flows: String) {
        var nodes = ""
        var flows = ""
        var previous = first
        for round in 1...rounds {
            let task = "\(prefix)\(round)"
            let sendID = "send_\(prefix)\(round)"
            nodes +=
                "<userTask id=\"\(task)\"/><intermediateThrowEvent id=\"\(sendID)\"><messageEventDefinition messageRef=\"\(send)\"/></intermediateThrowEvent>"
            flows += "<sequenceFlow id=\"to_\(task)\" sourceRef=\"\(previous)\" targetRef=\"\(task)\"/>"
            flows += "<sequenceFlow id=\"to_\(sendID)\" sourceRef=\"\(task)\" targetRef=\"\(sendID)\"/>"
            previous = sendID
            if prefix == "ask" || round < rounds {
                let receiveID = "receive_\(prefix)\(round)"
                nodes +=
                    "<intermediateCatchEvent id=\"\(receiveID)\"><messageEventDefinition messageRef=\"\(receive)\"/></intermediateCatchEvent>"
                flows += "<sequenceFlow id=\"to_\(receiveID)\" sourceRef=\"\(previous)\" targetRef=\"\(receiveID)\"/>"
                previous = receiveID
            }
        }
        nodes += "<endEvent id=\"end_\(prefix)\"/>"
        flows += "<sequenceFlow id=\"to_end_\(prefix)\" sourceRef=\"\(previous)\" targetRef=\"end_\(prefix)\"/>"
        return (nodes, flows)
    }
    let asker = chain("ask", first: "start_ask", send: "ping", receive: "pong")
    let replier = chain("reply", first: "start_reply", send: "pong", receive: "ping")
    return """
        <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><message id="ping" name="ping"/><message id="pong" name="pong"/>
        <process id="Asker" isExecutable="true"><startEvent id="start_ask"/>\(asker.nodes)\(asker.flows)</process>
        <process id="Replier" isExecutable="true"><startEvent id="start_reply"><messageEventDefinition messageRef="ping"/></startEvent>\(replier.nodes)\(replier.flows)</process>
        </definitions>
        """
}

/// A split into a webhook and two answered tasks in a row, the second ending the instance.
let webhookBesideTwoTasksXML = """
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1">
    <process id="Beside2" isExecutable="true">
    <startEvent id="s"/><parallelGateway id="split"/><userTask id="a"/><userTask id="c"/>
    <serviceTask id="w"><extensionElements><procrun:webhook url="http://127.0.0.1:9/x"/></extensionElements></serviceTask>
    <endEvent id="stop"><terminateEventDefinition/></endEvent><endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="split"/><sequenceFlow id="f2" sourceRef="split" targetRef="a"/>
    <sequenceFlow id="f3" sourceRef="a" targetRef="c"/><sequenceFlow id="f4" sourceRef="c" targetRef="stop"/>
    <sequenceFlow id="f5" sourceRef="split" targetRef="w"/><sequenceFlow id="f6" sourceRef="w" targetRef="e"/>
    </process></definitions>
    """

/// A split into two answered tasks, each followed by a loop that counts its variable to 10.
let twoCountingBranchesXML = """
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="Count" isExecutable="true">
    <startEvent id="s"/><parallelGateway id="split"/><parallelGateway id="join"/><endEvent id="e"/>
    <userTask id="ta"/><exclusiveGateway id="ga" default="da"/><scriptTask id="ia"><script>a = a + 1</script></scriptTask>
    <userTask id="tb"/><exclusiveGateway id="gb" default="db"/><scriptTask id="ib"><script>b = b + 1</script></scriptTask>
    <sequenceFlow id="f1" sourceRef="s" targetRef="split"/>
    <sequenceFlow id="f2" sourceRef="split" targetRef="ta"/><sequenceFlow id="f3" sourceRef="ta" targetRef="ga"/>
    <sequenceFlow id="la" sourceRef="ga" targetRef="ia"><conditionExpression>a &lt; 10</conditionExpression></sequenceFlow>
    <sequenceFlow id="ra" sourceRef="ia" targetRef="ga"/><sequenceFlow id="da" sourceRef="ga" targetRef="join"/>
    <sequenceFlow id="f4" sourceRef="split" targetRef="tb"/><sequenceFlow id="f5" sourceRef="tb" targetRef="gb"/>
    <sequenceFlow id="lb" sourceRef="gb" targetRef="ib"><conditionExpression>b &lt; 10</conditionExpression></sequenceFlow>
    <sequenceFlow id="rb" sourceRef="ib" targetRef="gb"/><sequenceFlow id="db" sourceRef="gb" targetRef="join"/>
    <sequenceFlow id="f6" sourceRef="join" targetRef="e"/>
    </process></definitions>
    """
