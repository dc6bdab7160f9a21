import BPMNLoader
import Engine
import Foundation
import ProcessModel
import Testing
import Values

@Suite struct TimerTests {
    @Test func intermediateTimerWaitsOnTheClock() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><intermediateCatchEvent id="wait"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">PT10M</timeDuration></timerEventDefinition></intermediateCatchEvent><endEvent id="e"/>
            \(flows("s->wait", "wait->e"))
            """)
        let scheduler = ManualScheduler()
        let instance = await run(e, scheduler: scheduler)
        #expect(instance.status == .completed)
        #expect(instance.pathIDs(e) == ["s", "wait", "e"])
        #expect(scheduler.sleeps == [600])
        #expect(instance.timers.isEmpty)
    }

    let subProcessWithLongWait = """
        <subProcess id="sub"><startEvent id="s2"/><intermediateCatchEvent id="long"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent><endEvent id="e2"/>
        <sequenceFlow id="i1" sourceRef="s2" targetRef="long"/><sequenceFlow id="i2" sourceRef="long" targetRef="e2"/></subProcess>
        """

    @Test func interruptingBoundaryTimerCancelsTheActivity() async throws {
        let e = try engine(
            """
            <startEvent id="s"/>\(subProcessWithLongWait)
            <boundaryEvent id="late" attachedToRef="sub"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">PT10M</timeDuration></timerEventDefinition></boundaryEvent>
            <endEvent id="done"/><task id="escalate"/><endEvent id="escalated"/>
            \(flows("s->sub", "sub->done", "late->escalate", "escalate->escalated"))
            """)
        let scheduler = ManualScheduler()
        let instance = await run(e, scheduler: scheduler)
        #expect(instance.pathIDs(e) == ["s", "s2", "late", "escalate", "escalated"])
        #expect(scheduler.sleeps == [600])
        #expect(instance.tokens.isEmpty && instance.timers.isEmpty && instance.scopes.isEmpty)
    }

    @Test func nonInterruptingCycleFiresRepeatedlyWhileTheActivityRuns() async throws {
        let e = try engine(
            """
            <startEvent id="s"/>\(subProcessWithLongWait)
            <boundaryEvent id="remind" attachedToRef="sub" cancelActivity="false"><timerEventDefinition><timeCycle xsi:type="tFormalExpression">R3/PT10M</timeCycle></timerEventDefinition></boundaryEvent>
            <endEvent id="done"/><task id="reminder"/><endEvent id="reminded"/>
            \(flows("s->sub", "sub->done", "remind->reminder", "reminder->reminded"))
            """)
        let scheduler = ManualScheduler()
        let instance = await run(e, scheduler: scheduler)
        #expect(instance.status == .completed)
        #expect(instance.pathIDs(e).filter { $0 == "reminder" }.count == 3)
        #expect(instance.pathIDs(e).suffix(4) == ["long", "e2", "sub", "done"])
        #expect(scheduler.sleeps == [600, 600, 600, 1800])
    }

    @Test func boundaryTimerOfAFinishedActivityNeverFires() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><userTask id="u"/>
            <boundaryEvent id="late" attachedToRef="u"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">P1D</timeDuration></timerEventDefinition></boundaryEvent>
            <endEvent id="done"/><endEvent id="escalated"/>
            \(flows("s->u", "u->done", "late->escalated"))
            """)
        let scheduler = ManualScheduler()
        let instance = await run(e, scheduler: scheduler)
        #expect(instance.pathIDs(e) == ["s", "u", "done"])
        #expect(scheduler.sleeps.isEmpty)
    }

    @Test func dateInThePastFiresAtOnce() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><intermediateCatchEvent id="at"><timerEventDefinition><timeDate xsi:type="tFormalExpression">2020-01-01T00:00:00Z</timeDate></timerEventDefinition></intermediateCatchEvent><endEvent id="e"/>
            \(flows("s->at", "at->e"))
            """)
        let scheduler = ManualScheduler()
        #expect(await run(e, scheduler: scheduler).pathIDs(e) == ["s", "at", "e"])
        #expect(scheduler.sleeps.isEmpty)
    }

    @Test func timerDefinitions() {
        #expect(TimerDefinition(duration: "PT30S", date: nil, cycle: nil)?.kind == .duration(30))
        #expect(
            TimerDefinition(duration: nil, date: nil, cycle: "R/PT1H")?.kind == .cycle(repetitions: nil, interval: 3600)
        )
        #expect(TimerDefinition(duration: nil, date: nil, cycle: "R0/PT1H") == nil)
        #expect(TimerDefinition(duration: nil, date: "tomorrow", cycle: nil) == nil)
        let cycle = TimerDefinition(duration: nil, date: nil, cycle: "R2/PT5S")!
        let start = Date(timeIntervalSince1970: 0)
        #expect(cycle.due(firing: 2, startedAt: start) == Date(timeIntervalSince1970: 10))
        #expect(cycle.due(firing: 3, startedAt: start) == nil)
    }

    @Test func unreadableTimerIsADiagnostic() throws {
        let xml = """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><process id="P" isExecutable="true"><startEvent id="s"/>
            <intermediateCatchEvent id="t"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">${later}</timeDuration></timerEventDefinition></intermediateCatchEvent>
            <endEvent id="e"/><sequenceFlow id="f" sourceRef="s" targetRef="t"/><sequenceFlow id="f2" sourceRef="t" targetRef="e"/></process></definitions>
            """
        let errors = BPMNLoader.load(bytes: Array(xml.utf8), file: "t.bpmn").errors.map(\.description)
        #expect(
            errors == [
                "t.bpmn:2:54: error: timer of 't' has timeDuration '${later}'; procrun reads an ISO-8601 timeDuration (PT10S), timeDate (2026-12-01T10:00:00Z) or timeCycle (R3/PT10S)"
            ])
    }
}

@Suite struct LoopTests {
    func loopProcess(_ loop: String, on element: String = "scriptTask") throws -> Engine {
        try engine(
            """
            <startEvent id="s"/><\(element) id="body">\(loop)<script>count = count + 1</script></\(element)><endEvent id="e"/>
            \(flows("s->body", "body->e"))
            """)
    }

    @Test(arguments: [
        (
            "<standardLoopCharacteristics><loopCondition>count &lt; 3</loopCondition></standardLoopCharacteristics>", 0,
            3
        ),
        (
            "<standardLoopCharacteristics><loopCondition>count &lt; 3</loopCondition></standardLoopCharacteristics>", 5,
            6
        ),
        (
            "<standardLoopCharacteristics testBefore=\"true\"><loopCondition>count &lt; 3</loopCondition></standardLoopCharacteristics>",
            5, 5
        ),
        (
            "<standardLoopCharacteristics loopMaximum=\"2\"><loopCondition>true</loopCondition></standardLoopCharacteristics>",
            0, 2
        ),
    ])
    func standardLoopRunsWhileItsConditionHolds(loop: String, start: Int, end: Int) async throws {
        let e = try loopProcess(loop)
        let instance = await run(e, context: ["count": .number(Double(start))])
        #expect(instance.status == .completed)
        #expect(instance.context["count"] == .number(Double(end)))
        #expect(instance.pathIDs(e).filter { $0 == "body" }.count == max(1, end - start))
    }

    @Test func loopingSubProcessReentersItsFlow() async throws {
        let e = try engine(
            """
            <startEvent id="s"/>
            <subProcess id="sub"><standardLoopCharacteristics><loopCondition>${n &lt; 2}</loopCondition></standardLoopCharacteristics>
              <startEvent id="s2"/><scriptTask id="inc"><script>n = n + 1</script></scriptTask><endEvent id="e2"/>
              <sequenceFlow id="i1" sourceRef="s2" targetRef="inc"/><sequenceFlow id="i2" sourceRef="inc" targetRef="e2"/></subProcess>
            <endEvent id="e"/>
            \(flows("s->sub", "sub->e"))
            """)
        let instance = await run(e, context: ["n": 0])
        #expect(instance.context["n"] == 2)
        #expect(instance.pathIDs(e).filter { $0 == "inc" }.count == 2)
        #expect(instance.status == .completed)
    }

    @Test func negativeLoopMaximumIsRefused() {
        let xml = """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><process id="P" isExecutable="true"><startEvent id="s"/>
            <task id="t"><standardLoopCharacteristics loopMaximum="-1"/></task><sequenceFlow id="f" sourceRef="s" targetRef="t"/>
            <endEvent id="e"/><sequenceFlow id="f2" sourceRef="t" targetRef="e"/></process></definitions>
            """
        #expect(
            BPMNLoader.load(bytes: Array(xml.utf8), file: "l.bpmn").errors.map(\.message) == [
                "loop of 't' has loopMaximum=\"-1\"; BPMN requires a whole number that is not negative"
            ])
    }
}

@Suite struct MultiInstanceTests {
    @Test(arguments: [true, false])
    func runsTheActivityCardinalityTimes(sequential: Bool) async throws {
        let e = try engine(
            """
            <startEvent id="s"/><scriptTask id="mi"><multiInstanceLoopCharacteristics isSequential="\(sequential)"><loopCardinality>n + 1</loopCardinality></multiInstanceLoopCharacteristics><script>count = count + 1</script></scriptTask>
            <task id="after"/><endEvent id="e"/>
            \(flows("s->mi", "mi->after", "after->e"))
            """)
        let instance = await run(e, context: ["n": 2, "count": 0])
        #expect(instance.status == .completed)
        #expect(instance.context["count"] == 3)
        #expect(instance.pathIDs(e) == ["s", "mi", "mi", "mi", "mi", "after", "e"])
        #expect(instance.multiInstances.isEmpty && instance.scopes.isEmpty)
    }

    @Test func parallelUserTasksWaitTogetherAndCompletionConditionStopsEarly() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><userTask id="approve"><multiInstanceLoopCharacteristics><loopCardinality>3</loopCardinality>
            <completionCondition xsi:type="tFormalExpression">${nrOfCompletedInstances &gt;= 2}</completionCondition></multiInstanceLoopCharacteristics></userTask><endEvent id="e"/>
            \(flows("s->approve", "approve->e"))
            """)
        var (instance, effects) = e.start(id: "i", context: [:], initiator: "x", now: Date())
        let opened = effects.compactMap { effect -> Int? in
            if case .openTask(let token, _) = effect { token } else { nil }
        }
        #expect(opened.count == 3)
        _ = e.handle(.taskCompleted(token: opened[0], by: "a", variables: [:]), in: &instance, now: Date())
        #expect(instance.status == .waiting)
        _ = e.handle(.taskCompleted(token: opened[1], by: "b", variables: [:]), in: &instance, now: Date())
        #expect(instance.status == .completed)
        #expect(instance.tokens.isEmpty)
        // The third approval is no longer open.
        _ = e.handle(.taskCompleted(token: opened[2], by: "c", variables: [:]), in: &instance, now: Date())
        #expect(instance.path.map { e.process.nodes[$0].id } == ["s", "approve", "approve", "approve", "e"])
    }

    @Test func zeroInstancesPassStraightThrough() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><userTask id="u"><multiInstanceLoopCharacteristics><loopCardinality>0</loopCardinality></multiInstanceLoopCharacteristics></userTask><endEvent id="e"/>
            \(flows("s->u", "u->e"))
            """)
        #expect(await run(e).pathIDs(e) == ["s", "u", "e"])
    }

    @Test func boundaryEventsBelongToTheWholeActivity() async throws {
        let e = try engine(
            """
            <startEvent id="s"/>
            <subProcess id="sub"><multiInstanceLoopCharacteristics><loopCardinality>3</loopCardinality></multiInstanceLoopCharacteristics>
              <startEvent id="s2"/><intermediateCatchEvent id="wait"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent><endEvent id="e2"/>
              <sequenceFlow id="i1" sourceRef="s2" targetRef="wait"/><sequenceFlow id="i2" sourceRef="wait" targetRef="e2"/></subProcess>
            <boundaryEvent id="late" attachedToRef="sub"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">PT10M</timeDuration></timerEventDefinition></boundaryEvent>
            <endEvent id="done"/><endEvent id="timedOut"/>
            \(flows("s->sub", "sub->done", "late->timedOut"))
            """)
        let scheduler = ManualScheduler()
        let instance = await run(e, scheduler: scheduler)
        #expect(instance.pathIDs(e) == ["s", "s2", "s2", "s2", "late", "timedOut"])
        #expect(scheduler.sleeps == [600])
        #expect(
            instance.tokens.isEmpty && instance.scopes.isEmpty && instance.multiInstances.isEmpty
                && instance.timers.isEmpty)
    }

    @Test func negativeCardinalityIsRefused() {
        let xml = """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><process id="P" isExecutable="true"><startEvent id="s"/>
            <task id="t"><multiInstanceLoopCharacteristics><loopCardinality>-1</loopCardinality></multiInstanceLoopCharacteristics></task>
            <sequenceFlow id="f" sourceRef="s" targetRef="t"/><endEvent id="e"/><sequenceFlow id="f2" sourceRef="t" targetRef="e"/></process></definitions>
            """
        #expect(
            BPMNLoader.load(bytes: Array(xml.utf8), file: "m.bpmn").errors.map(\.message) == [
                "multi-instance 't' has loopCardinality -1; BPMN requires a whole number that is not negative"
            ])
    }
}

@Suite struct EventDefinitionRefTests {
    @Test func timerDeclaredAtTheRootIsUsedByReference() async throws {
        let xml = """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
            <timerEventDefinition id="T"><timeDuration xsi:type="tFormalExpression">PT5S</timeDuration></timerEventDefinition>
            <process id="P" isExecutable="true"><startEvent id="s"/>
            <intermediateCatchEvent id="wait"><eventDefinitionRef>T</eventDefinitionRef></intermediateCatchEvent><endEvent id="e"/>
            <sequenceFlow id="f1" sourceRef="s" targetRef="wait"/><sequenceFlow id="f2" sourceRef="wait" targetRef="e"/></process></definitions>
            """
        let result = BPMNLoader.load(bytes: Array(xml.utf8), file: "r.bpmn")
        let process = try #require(result.definitions?.processes.first, "\(result.errors)")
        let e = try Engine(process: process)
        let scheduler = ManualScheduler()
        #expect(await run(e, scheduler: scheduler).pathIDs(e) == ["s", "wait", "e"])
        #expect(scheduler.sleeps == [5])
        let dangling = xml.replacingOccurrences(of: "<eventDefinitionRef>T<", with: "<eventDefinitionRef>Nope<")
        #expect(
            BPMNLoader.load(bytes: Array(dangling.utf8), file: "r.bpmn").errors.first?.message
                == "intermediateCatchEvent 'wait' refers to event definition 'Nope', which is not declared at the root of this file"
        )
    }
}
