import BPMNLoader
import Engine
import Foundation
import ProcessModel
import Store
import Testing
import Values

func timerStartXML(_ timer: String) -> String {
    """
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
    <process id="Hourly" name="Сверка" isExecutable="true">
    <startEvent id="tick" name="Каждый час"><timerEventDefinition>\(timer)</timerEventDefinition></startEvent>
    <scriptTask id="count" scriptFormat="feel"><script>ran = true</script></scriptTask><endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="tick" targetRef="count"/><sequenceFlow id="f2" sourceRef="count" targetRef="e"/>
    </process></definitions>
    """
}

extension ProcessRuntime {
    @discardableResult
    func deploy(_ xml: String) throws -> StoredDefinition {
        let process = try #require(try definitions(xml).processes.first)
        return try deploy(file: "hourly.bpmn", xml: Array(xml.utf8), process: process)
    }
}

@Suite struct ScheduleTests {
    static let cycle = #"<timeCycle xsi:type="tFormalExpression">R3/PT1H</timeCycle>"#

    /// A deployed process's `R3/PT1H` timer start: an instance at each of its three firings, an
    /// hour apart from the deployment (two due at once are both fired), then nothing more.
    @Test(arguments: Adapter.allCases) func aCycleStartsAnInstanceAtEachFiring(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let clock = ManualScheduler()
                let deployedAt = clock.now
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: clock)
                runtime.recordsStarted = true
                try runtime.deploy(timerStartXML(ScheduleTests.cycle))
                #expect(try store.nextScheduleTime() == deployedAt.addingTimeInterval(3600))
                #expect(try await runtime.runDueSchedules() == 0)
                await clock.sleep(seconds: 3600)
                #expect(try await runtime.runDueSchedules() == 1)
                #expect(try store.nextScheduleTime() == deployedAt.addingTimeInterval(7200))
                await clock.sleep(seconds: 7200)
                #expect(try await runtime.runDueSchedules() == 2)
                #expect(try store.nextScheduleTime() == nil)
                #expect(runtime.started.count == 3)
                for id in runtime.started {
                    let instance = try runtime.stored(id)
                    #expect(instance.status == .completed && instance.context["ran"] == true)
                    #expect(instance.initiator == "timer")
                    #expect(try runtime.path(id) == ["tick", "count", "e"])
                }
            }
        }
        try await adapter.run(Scenario())
    }

    /// The same bytes deploy once and keep their schedule; a new version's timer replaces the
    /// old version's; a `timeDate` that has passed fires at once, once.
    @Test(arguments: Adapter.allCases) func aNewVersionReplacesTheSchedule(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let clock = ManualScheduler()
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: clock)
                runtime.recordsStarted = true
                let first = try runtime.deploy(timerStartXML(ScheduleTests.cycle))
                await clock.sleep(seconds: 600)
                #expect(try runtime.deploy(timerStartXML(ScheduleTests.cycle)).id == first.id)
                #expect(first.isNew)
                #expect(try store.nextScheduleTime() == clock.now.addingTimeInterval(3000))
                let past = #"<timeDate xsi:type="tFormalExpression">2020-01-01T00:00:00Z</timeDate>"#
                let second = try runtime.deploy(timerStartXML(past))
                #expect(second.version == 2)
                #expect(try store.nextScheduleTime() == Date(timeIntervalSince1970: 1_577_836_800))
                #expect(try await runtime.runDueSchedules() == 1)
                #expect(try await runtime.runDueSchedules() == 0)
                #expect(try store.nextScheduleTime() == nil)
                let instance = try runtime.stored(try #require(runtime.started.first))
                #expect(instance.status == .completed)
            }
        }
        try await adapter.run(Scenario())
    }

    /// Two workers on one SQLite store: a firing claimed by a worker that died is not fired by
    /// another until the claim expires; then each due firing starts one instance, and the dead
    /// worker's late move of the timer changes nothing.
    @Test func aTimerFiresOnceAcrossWorkers() async throws {
        let path = temporaryStore()
        let clock = ManualScheduler()
        let a = ProcessRuntime(store: try InstanceStore(path: path), performer: CountingPerformer(), scheduler: clock)
        let b = ProcessRuntime(store: try InstanceStore(path: path), performer: CountingPerformer(), scheduler: clock)
        try a.deploy(timerStartXML(ScheduleTests.cycle))
        await clock.sleep(seconds: 4 * 3600)
        let claimed = try #require(try a.store.claimSchedule(owner: "dead", now: clock.now, lease: 60))
        #expect(claimed.firing == 1)
        #expect(try await b.runDueSchedules() == 0)
        await clock.sleep(seconds: 61)
        #expect(try await b.runDueSchedules() == 3)
        #expect(try await a.runDueSchedules() == 0)
        let late = try a.store.write {
            try $0.advanceSchedule(
                definitionID: claimed.definitionID, node: claimed.node, owner: "dead", next: (2, clock.now))
        }
        #expect(!late)
        #expect(try a.store.countInstances(status: "completed") == 3)
        #expect(try a.store.scheduledStarts().isEmpty)
    }
}
