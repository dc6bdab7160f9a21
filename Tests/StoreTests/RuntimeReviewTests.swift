import BPMNLoader
import Engine
import Foundation
import ProcessModel
import Store
import Testing
import Values

// Defects a review of the runtime found, each run on both adapters.

private let processA = """
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="A" isExecutable="true">
    <startEvent id="s"/><userTask id="ua"/><endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="ua"/><sequenceFlow id="f2" sourceRef="ua" targetRef="e"/>
    </process></definitions>
    """
private let processB = """
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="B" isExecutable="true">
    <startEvent id="s"/><userTask id="ub1"/><userTask id="ub2"/><endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="ub1"/><sequenceFlow id="f2" sourceRef="ub1" targetRef="ub2"/><sequenceFlow id="f3" sourceRef="ub2" targetRef="e"/>
    </process></definitions>
    """
/// start → throw «one» → catch «two» → user task → end.
private let asker = """
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><signal id="S1" name="one"/><signal id="S2" name="two"/>
    <process id="Asker" isExecutable="true">
    <startEvent id="s"/>
    <intermediateThrowEvent id="t1"><signalEventDefinition signalRef="S1"/></intermediateThrowEvent>
    <intermediateCatchEvent id="c2"><signalEventDefinition signalRef="S2"/></intermediateCatchEvent>
    <userTask id="after"/><endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="t1"/><sequenceFlow id="f2" sourceRef="t1" targetRef="c2"/>
    <sequenceFlow id="f3" sourceRef="c2" targetRef="after"/><sequenceFlow id="f4" sourceRef="after" targetRef="e"/>
    </process></definitions>
    """
/// start → catch «one» → throw «two» → end.
private let answerer = """
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><signal id="S1" name="one"/><signal id="S2" name="two"/>
    <process id="Answerer" isExecutable="true">
    <startEvent id="s"/>
    <intermediateCatchEvent id="c1"><signalEventDefinition signalRef="S1"/></intermediateCatchEvent>
    <intermediateThrowEvent id="t2"><signalEventDefinition signalRef="S2"/></intermediateThrowEvent>
    <endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="c1"/><sequenceFlow id="f2" sourceRef="c1" targetRef="t2"/><sequenceFlow id="f3" sourceRef="t2" targetRef="e"/>
    </process></definitions>
    """
private let twoWebhooks = """
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1"><process id="PH" isExecutable="true">
    <startEvent id="s"/><parallelGateway id="fork"/>
    <serviceTask id="w1"><extensionElements><procrun:webhook url="http://127.0.0.1:9/a" timeout="30"/></extensionElements></serviceTask>
    <serviceTask id="w2"><extensionElements><procrun:webhook url="http://127.0.0.1:9/b" timeout="30"/></extensionElements></serviceTask>
    <parallelGateway id="join"/><endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="fork"/><sequenceFlow id="f2" sourceRef="fork" targetRef="w1"/><sequenceFlow id="f3" sourceRef="fork" targetRef="w2"/>
    <sequenceFlow id="f4" sourceRef="w1" targetRef="join"/><sequenceFlow id="f5" sourceRef="w2" targetRef="join"/><sequenceFlow id="f6" sourceRef="join" targetRef="e"/>
    </process></definitions>
    """

/// Each try takes its whole 30 s timeout of virtual time; meanwhile another worker tries to claim a job.
private final class SlowPerformer<S: RuntimeStore>: WebhookPerformer, @unchecked Sendable {
    let clock: ManualScheduler
    let store: S
    let lock = NSLock()
    var taken: [String] = []
    init(clock: ManualScheduler, store: S) {
        self.clock = clock
        self.store = store
    }
    func perform(_ call: WebhookCall) async -> WebhookOutcome {
        await clock.sleep(seconds: 30)
        if let job = try? store.claimJob(owner: "another-worker", now: clock.now, instance: nil, excluding: []) {
            lock.withLock { taken.append("job \(job.id) (\(job.kind)) while \(call.node.id) was tried") }
        }
        return .delivered(status: 200, result: .null)
    }
}

@Suite struct RuntimeReviewTests {
    /// A signal answered at once by a signal back: the task the answer opens for the sender is
    /// kept, and `complete` finds it.
    @Test(arguments: Adapter.allCases) func anAnswerInTheSameTransactionKeepsTheSendersTask(_ adapter: Adapter)
        async throws
    {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
                let second = try runtime.start(answerer)
                let first = try runtime.start(asker)
                #expect(try runtime.stored(second).status == .completed)
                #expect(try runtime.openTaskIDs(first) == ["after"])
                let done = try runtime.complete(instance: first, task: "after", by: "ivanov", variables: [:])
                #expect(done.status == .completed)
            }
        }
        try await adapter.run(Scenario())
    }

    /// A start whose transaction fails leaves nothing in the runner's or the store's caches:
    /// the next definition, which may get the same id, runs its own process.
    @Test(arguments: Adapter.allCases) func aFailedStartLeavesNoProcessBehind(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
                #expect(throws: (any Error).self) { try runtime.start(processA, answers: .string("not an object")) }
                let id = try runtime.start(processB)
                let stored = try #require(try store.instance(id))
                let definition = try #require(try store.read { try $0.definition(id: stored.definitionID) })
                #expect(definition.processID == "B")
                #expect(stored.instance.processID == "B")
                #expect(try runtime.openTaskIDs(id) == ["ub1"])
            }
        }
        try await adapter.run(Scenario())
    }

    /// Two webhook jobs made by one step run one after the other; the second's lock is renewed
    /// before its try, so no other worker can take it while it is tried.
    @Test(arguments: Adapter.allCases) func aQueuedJobIsNotTakenWhileItRuns(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let clock = ManualScheduler()
                let performer = SlowPerformer(clock: clock, store: store)
                let runtime = ProcessRuntime(store: store, performer: performer, scheduler: clock)
                let id = try runtime.start(twoWebhooks)
                try await runtime.runDueJobs(instance: id)
                #expect(performer.taken.isEmpty, "\(performer.taken)")
                #expect(try runtime.stored(id).status == .completed)
            }
        }
        try await adapter.run(Scenario())
    }

    /// The job of an instance a message started is not held by the command that sent the
    /// message (which runs only its own instance's jobs): a worker takes it at once.
    @Test(arguments: Adapter.allCases) func aPartnersJobIsFreeForAnyWorker(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let clock = ManualScheduler()
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: clock)
                _ = try runtime.start(messageToPartner, process: "Sales")
                let job = try #require(
                    try store.claimJob(owner: "a-worker", now: clock.now, instance: nil, excluding: []))
                #expect(job.kind == .integration)
            }
        }
        try await adapter.run(Scenario())
    }
}

private let messageToPartner = """
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1"><message id="M" name="order"/>
    <collaboration id="C"><participant id="P1" processRef="Sales"/><participant id="P2" processRef="Stock"/>
    <messageFlow id="m1" sourceRef="send" targetRef="got"/></collaboration>
    <process id="Sales" isExecutable="true"><startEvent id="s"/><sendTask id="send" messageRef="M"/><endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="send"/><sequenceFlow id="f2" sourceRef="send" targetRef="e"/></process>
    <process id="Stock" isExecutable="true"><startEvent id="got"><messageEventDefinition messageRef="M"/></startEvent>
    <serviceTask id="w"><extensionElements><procrun:webhook url="http://127.0.0.1:9/a"/></extensionElements></serviceTask><endEvent id="se"/>
    <sequenceFlow id="g1" sourceRef="got" targetRef="w"/><sequenceFlow id="g2" sourceRef="w" targetRef="se"/></process>
    </definitions>
    """
