import BPMNLoader
import Engine
import Foundation
import ProcessModel
import Testing
import Values

/// Models that never reach a wait state: each would run forever without the step budget.
enum Spinning {
    /// A script task and an exclusive gateway whose default flow leads back; the way out
    /// waits for a value the loop never sets.
    static let scriptLoop = """
        <startEvent id="s"/><scriptTask id="calc" name="Посчитать"><script>n = 1</script></scriptTask>
        <exclusiveGateway id="g" default="f3"/><endEvent id="e"/>
        \(flows("s->calc", "calc->g", "g->calc", "g->e: n > 5"))
        """
    /// A standard loop whose condition is always true, without loopMaximum.
    static let alwaysTrueLoop = """
        <startEvent id="s"/><task id="t" name="Повторять"><standardLoopCharacteristics><loopCondition>= true</loopCondition></standardLoopCharacteristics></task>
        <endEvent id="e"/>
        \(flows("s->t", "t->e"))
        """
    /// A parallel gateway that forks twice back into the exclusive gateway before it (and once
    /// to the end): the tokens double each round.
    static let forkBomb = """
        <startEvent id="s"/><exclusiveGateway id="x"/><parallelGateway id="p"/><endEvent id="e"/>
        \(flows("s->x", "x->p", "p->x", "p->x", "p->e"))
        """
}

@Suite struct StepBudgetTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func scriptLoopStopsInAnIncidentNamingTheNodeAfterTheBudget() throws {
        let e = try engine(Spinning.scriptLoop)
        #expect(e.maxSteps == Engine.defaultMaxSteps)
        let (instance, _) = e.start(id: "i", context: JSONObject(), initiator: "u", now: now)
        #expect(instance.status == .incident)
        #expect(instance.incident?.node == "calc")
        #expect(instance.incident?.stepBudget == 10_000)
        let message = instance.incident?.message ?? ""
        #expect(
            message.hasPrefix(
                "step budget of 10000 steps exhausted without reaching a wait state, 5000 of them at 'calc' («Посчитать»): a cycle that never waits"
            ))
        // The start event, then the script task and the gateway in turn: 10,000 steps in all.
        let left = instance.history.filter { $0.event == .left }
        #expect(left.count == 10_000)
        #expect(left.filter { e.process.nodes[$0.node].id == "calc" }.count == 5_000)
        #expect(instance.tokens.count == 1)
    }

    @Test func alwaysTrueStandardLoopStops() throws {
        let e = try engine(Spinning.alwaysTrueLoop)
        let (instance, _) = e.start(id: "i", context: JSONObject(), initiator: "u", now: now)
        #expect(instance.status == .incident)
        #expect(instance.incident?.node == "t")
        #expect(instance.incident?.message.contains("9999 of them at 't' («Повторять»)") == true)
    }

    /// Every token step counts: the token crowd stays within the budget instead of filling memory.
    @Test func forkBombStopsWithTokensBoundedByTheBudget() throws {
        let e = try engine(Spinning.forkBomb)
        let (instance, _) = e.start(id: "i", context: JSONObject(), initiator: "u", now: now)
        #expect(instance.status == .incident)
        #expect(instance.incident?.isStepBudget == true)
        #expect(["x", "p"].contains(instance.incident?.node ?? ""))
        #expect(instance.tokens.count <= e.maxSteps)
        #expect(instance.tokens.count > 1_000)
        // One history entry per step, nothing more.
        #expect(instance.history.count <= e.maxSteps + 1)
        // Cancelling the crowd is one pass over it.
        var cancelled = instance
        _ = e.handle(.cancel, in: &cancelled, now: now)
        #expect(cancelled.status == .terminated)
        #expect(cancelled.tokens.isEmpty)
    }

    @Test(arguments: [50, 51, 1_000])
    func maxStepsSetsWhereItStops(maxSteps: Int) throws {
        var e = try engine(Spinning.scriptLoop)
        e.maxSteps = maxSteps
        let (instance, _) = e.start(id: "i", context: JSONObject(), initiator: "u", now: now)
        #expect(instance.status == .incident)
        #expect(instance.incident?.stepBudget == maxSteps)
        #expect(instance.incident?.message.contains("step budget of \(maxSteps) steps") == true)
        #expect(instance.history.filter { $0.event == .left }.count == maxSteps)
    }

    /// The budget is exact: a run of N steps completes with a budget of N and stops with N - 1.
    @Test func budgetIsExactlyTheStepsTaken() throws {
        // start + 100 × (script, gateway) + end = 202 steps.
        let body = """
            <startEvent id="s"/><scriptTask id="inc"><script>n = n + 1</script></scriptTask>
            <exclusiveGateway id="g" default="f4"/><endEvent id="e"/>
            \(flows("s->inc", "inc->g", "g->inc: n < 100", "g->e"))
            """
        let enough = try Engine(process: try engine(body).process, maxSteps: 202)
        let (done, _) = enough.start(id: "i", context: ["n": 0], initiator: "u", now: now)
        #expect(done.status == .completed)
        #expect(done.context["n"] == 100)
        let short = try Engine(process: try engine(body).process, maxSteps: 201)
        let (stopped, _) = short.start(id: "i", context: ["n": 0], initiator: "u", now: now)
        #expect(stopped.status == .incident)
        // The script task and the gateway ran 100 times each: the activity is named.
        #expect(stopped.incident?.node == "inc")
    }

    @Test func legitimateLoopOf5000IterationsCompletesUnderTheDefaultBudget() async throws {
        let e = try engine(
            """
            <startEvent id="s"/>
            <scriptTask id="inc"><standardLoopCharacteristics><loopCondition>n &lt; 5000</loopCondition></standardLoopCharacteristics><script>n = n + 1</script></scriptTask>
            <endEvent id="e"/>
            \(flows("s->inc", "inc->e"))
            """)
        let instance = await run(e, context: ["n": 0])
        #expect(instance.status == .completed)
        #expect(instance.context["n"] == 5000)
    }

    /// Retry gives another budget's worth of steps, from where the budget ran out; the
    /// incident survives the stored state; skip does not apply; cancel ends the instance.
    @Test func retryRunsAnotherBudgetAndCancelEnds() throws {
        var e = try engine(Spinning.scriptLoop)
        e.maxSteps = 40
        var (instance, _) = e.start(id: "i", context: JSONObject(), initiator: "u", now: now)
        #expect(instance.incident?.stepBudget == 40)
        // Through the store's encoding and back.
        instance = try e.stateCodec.decode(Data(StateEncoding.encode(instance, codec: e.stateCodec)))
        #expect(instance.incident?.isStepBudget == true)

        var skipped = instance
        _ = e.handle(.skipIncident, in: &skipped, now: now)
        #expect(skipped.status == .incident)
        #expect(skipped.history.count == instance.history.count)

        _ = e.handle(.retryIncident, in: &instance, now: now)
        #expect(instance.status == .incident)
        #expect(instance.history.filter { $0.event == .left }.count == 80)
        #expect(instance.history.filter { $0.event == .incident }.count == 2)
        // The steps went on where they stopped: the script task and the gateway still alternate.
        let left = instance.history.filter { $0.event == .left }.map { e.process.nodes[$0.node].id }
        #expect(left.dropFirst().enumerated().allSatisfy { $0.element == ($0.offset % 2 == 0 ? "calc" : "g") })

        _ = e.handle(.cancel, in: &instance, now: now)
        #expect(instance.status == .terminated)
        #expect(instance.tokens.isEmpty)
    }

    /// Retried with a budget that is large enough, a long loop that ran out of steps completes.
    @Test func retryFinishesALoopThatNeededMoreSteps() throws {
        let e = try Engine(
            process: try engine(
                """
                <startEvent id="s"/><scriptTask id="inc"><script>n = n + 1</script></scriptTask>
                <exclusiveGateway id="g" default="f4"/><endEvent id="e"/>
                \(flows("s->inc", "inc->g", "g->inc: n < 30", "g->e"))
                """
            ).process, maxSteps: 25)
        var (instance, _) = e.start(id: "i", context: ["n": 0], initiator: "u", now: now)
        #expect(instance.status == .incident)
        _ = e.handle(.retryIncident, in: &instance, now: now)
        #expect(instance.status == .incident)
        _ = e.handle(.retryIncident, in: &instance, now: now)
        #expect(instance.status == .completed)
        #expect(instance.context["n"] == 30)
    }

    /// In `run`, people answer at once: a cycle through a user task with no way out stops too,
    /// the budget counting every step between two timed events.
    @Test func simulatedPeopleAnsweringACycleForeverStop() async throws {
        var e = try engine(
            """
            <startEvent id="s"/><userTask id="approve" name="Согласовать"/><exclusiveGateway id="g"/><endEvent id="e"/>
            \(flows("s->approve", "approve->g", "g->approve", "g->e"))
            """)
        e.maxSteps = 300
        let instance = await run(e)
        #expect(instance.status == .incident)
        #expect(instance.incident?.node == "approve")
        #expect(instance.incident?.message.contains("events handled without time passing") == true)
    }

    /// A timer between passes renews the budget: a loop that waits is not stopped.
    @Test func timedLoopIsNotStopped() async throws {
        var e = try engine(
            """
            <startEvent id="s"/><scriptTask id="inc"><script>n = n + 1</script></scriptTask>
            <intermediateCatchEvent id="wait"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">PT1M</timeDuration></timerEventDefinition></intermediateCatchEvent>
            <exclusiveGateway id="g" default="f5"/><endEvent id="e"/>
            \(flows("s->inc", "inc->wait", "wait->g", "g->inc: n < 40", "g->e"))
            """)
        e.maxSteps = 10
        let instance = await run(e, context: ["n": 0])
        #expect(instance.status == .completed)
        #expect(instance.context["n"] == 40)
    }
}

@Suite struct MultiInstanceLimitTests {
    /// The limit is stated, not "not a whole number".
    @Test func loopCardinalityOverTheLimitSaysTheLimit() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><task id="t"><multiInstanceLoopCharacteristics><loopCardinality>n</loopCardinality></multiInstanceLoopCharacteristics></task><endEvent id="e"/>
            \(flows("s->t", "t->e"))
            """)
        let over = await run(e, context: ["n": 100_000])
        #expect(over.incident?.message == "loopCardinality of 't' gave 100000, more than the limit of 99999 instances")
        let negative = await run(e, context: ["n": -1])
        #expect(negative.incident?.message == "loopCardinality of 't' gave -1, not a whole number from 0 to 99999")
        let fine = await run(e, context: ["n": 3])
        #expect(fine.status == .completed)
    }
}
