import BPMNLoader
import Engine
import Foundation
import ProcessModel
import Testing
import Values

/// Loads a whole file and prepares an engine for each process, by id.
func engines(_ xml: String) throws -> [String: Engine] {
    let result = BPMNLoader.load(bytes: Array(xml.utf8), file: "t.bpmn")
    guard let definitions = result.definitions, !result.hasErrors else { throw DiagnosticError(result.errors) }
    var engines: [String: Engine] = [:]
    for process in definitions.processes { engines[process.id] = try Engine(process: process) }
    return engines
}

func definitions(_ body: String) -> String {
    """
    <?xml version="1.0" encoding="UTF-8"?>
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D">
    \(body)
    </definitions>
    """
}

/// How often a script task ran, from the history.
func runs(of id: String, in instance: Instance, _ engine: Engine) -> Int {
    instance.pathIDs(engine).filter { $0 == id }.count
}

@Suite struct EventTests {
    let signal = "<signal id=\"Sig_Ready\" name=\"ready\"/>"

    @Test func signalReachesEveryBranchThatWaitsEvenWhenThrownBetweenThem() async throws {
        // The throwing branch sits between two catching ones: both must be armed first.
        let e = try engines(
            definitions(
                """
                \(signal)
                <process id="P" isExecutable="true"><startEvent id="s"/><parallelGateway id="fork"/>
                <intermediateCatchEvent id="c1"><signalEventDefinition signalRef="Sig_Ready"/></intermediateCatchEvent>
                <intermediateThrowEvent id="t"><signalEventDefinition signalRef="Sig_Ready"/></intermediateThrowEvent>
                <intermediateCatchEvent id="c2"><signalEventDefinition signalRef="Sig_Ready"/></intermediateCatchEvent>
                <endEvent id="e1"/><endEvent id="e2"/><endEvent id="e3"/>
                \(flows("s->fork", "fork->c1", "fork->t", "fork->c2", "c1->e1", "t->e2", "c2->e3"))</process>
                """))["P"]!
        let instance = await run(e)
        #expect(instance.status == .completed)
        #expect(Set(instance.pathIDs(e)) == ["s", "fork", "c1", "t", "c2", "e1", "e2", "e3"])
    }

    @Test func signalEndEventIsCaughtByTheBoundaryOfItsOwnSubProcess() async throws {
        let e = try engines(
            definitions(
                """
                \(signal)
                <process id="P" isExecutable="true"><startEvent id="s"/>
                <subProcess id="sub"><startEvent id="s2"/><endEvent id="raise"><signalEventDefinition signalRef="Sig_Ready"/></endEvent>
                <sequenceFlow id="i1" sourceRef="s2" targetRef="raise"/></subProcess>
                <boundaryEvent id="caught" attachedToRef="sub"><signalEventDefinition signalRef="Sig_Ready"/></boundaryEvent>
                <endEvent id="normal"/><endEvent id="signalled"/>
                \(flows("s->sub", "sub->normal", "caught->signalled"))</process>
                """))["P"]!
        let instance = await run(e)
        #expect(instance.pathIDs(e) == ["s", "s2", "caught", "signalled"])
        #expect(instance.status == .completed)
    }

    let escalation = "<escalation id=\"Esc_Late\" escalationCode=\"late\"/>"

    @Test(arguments: [
        (true, ["s", "s2", "onLate", "late", "escalated"]),
        (false, ["s", "s2", "warn", "onLate", "rest", "late", "e2", "sub", "escalated", "done"]),
    ])
    func escalationIsCaughtByTheSubProcessBoundary(interrupting: Bool, path: [String]) async throws {
        let e = try engines(
            definitions(
                """
                \(escalation)
                <process id="P" isExecutable="true"><startEvent id="s"/>
                <subProcess id="sub"><startEvent id="s2"/><intermediateThrowEvent id="warn"><escalationEventDefinition escalationRef="Esc_Late"/></intermediateThrowEvent>
                <task id="rest"/><endEvent id="e2"/>
                <sequenceFlow id="i1" sourceRef="s2" targetRef="warn"/><sequenceFlow id="i2" sourceRef="warn" targetRef="rest"/><sequenceFlow id="i3" sourceRef="rest" targetRef="e2"/></subProcess>
                <boundaryEvent id="onLate" attachedToRef="sub" cancelActivity="\(interrupting)"><escalationEventDefinition escalationRef="Esc_Late"/></boundaryEvent>
                <task id="late"/><endEvent id="done"/><endEvent id="escalated"/>
                \(flows("s->sub", "sub->done", "onLate->late", "late->escalated"))</process>
                """))["P"]!
        let instance = await run(e)
        #expect(instance.status == .completed)
        #expect(instance.pathIDs(e) == path)
    }

    @Test func errorEventSubProcessHandlesTheErrorAndTheFlowGoesOn() async throws {
        let e = try engine(
            """
            <startEvent id="s"/>
            <subProcess id="sub"><startEvent id="s2"/><endEvent id="fail"><errorEventDefinition errorRef="Err_A"/></endEvent>
            <subProcess id="handler" triggeredByEvent="true"><startEvent id="onError"><errorEventDefinition errorRef="Err_A"/></startEvent>
            <scriptTask id="note"><script>handled = true</script></scriptTask><endEvent id="he"/>
            <sequenceFlow id="h1" sourceRef="onError" targetRef="note"/><sequenceFlow id="h2" sourceRef="note" targetRef="he"/></subProcess>
            <sequenceFlow id="i1" sourceRef="s2" targetRef="fail"/></subProcess>
            <endEvent id="e"/>
            \(flows("s->sub", "sub->e"))
            """)
        let instance = await run(e)
        #expect(instance.status == .completed)
        #expect(instance.uncaughtError == nil)
        #expect(instance.context["handled"] == true)
        #expect(instance.pathIDs(e) == ["s", "s2", "fail", "onError", "note", "he", "handler", "sub", "e"])
    }

    @Test func interruptingSignalEventSubProcessEndsTheRestOfItsScope() async throws {
        let e = try engines(
            definitions(
                """
                <signal id="Stop" name="stop"/>
                <process id="P" isExecutable="true"><startEvent id="s"/>
                <subProcess id="work"><startEvent id="s2"/><parallelGateway id="fork"/><userTask id="slow"/><intermediateThrowEvent id="halt"><signalEventDefinition signalRef="Stop"/></intermediateThrowEvent>
                <endEvent id="e2"/><endEvent id="e3"/>
                <subProcess id="onStop" triggeredByEvent="true"><startEvent id="stopped"><signalEventDefinition signalRef="Stop"/></startEvent>
                <scriptTask id="note"><script>stopped = true</script></scriptTask><endEvent id="se"/>
                <sequenceFlow id="h1" sourceRef="stopped" targetRef="note"/><sequenceFlow id="h2" sourceRef="note" targetRef="se"/></subProcess>
                <sequenceFlow id="i1" sourceRef="s2" targetRef="fork"/><sequenceFlow id="i2" sourceRef="fork" targetRef="slow"/><sequenceFlow id="i3" sourceRef="fork" targetRef="halt"/>
                <sequenceFlow id="i4" sourceRef="slow" targetRef="e2"/><sequenceFlow id="i5" sourceRef="halt" targetRef="e3"/></subProcess>
                <endEvent id="e"/>
                \(flows("s->work", "work->e"))</process>
                """))["P"]!
        // The user task never completes by itself here: the signal interrupts it.
        let (instance, _) = e.start(id: "i", context: [:], initiator: "x", now: Date())
        #expect(instance.status == .completed)
        #expect(instance.context["stopped"] == true)
        #expect(!instance.pathIDs(e).contains("slow"))
        #expect(instance.pathIDs(e).suffix(2) == ["work", "e"])
    }

    @Test func nonInterruptingTimerEventSubProcessRunsOncePerCycleWhileItsScopeRuns() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><scriptTask id="init"><script>reminders = 0</script></scriptTask>
            <subProcess id="work"><startEvent id="s2"/><intermediateCatchEvent id="wait"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent><endEvent id="e2"/>
            <subProcess id="remind" triggeredByEvent="true"><startEvent id="every" isInterrupting="false"><timerEventDefinition><timeCycle xsi:type="tFormalExpression">R10/PT25M</timeCycle></timerEventDefinition></startEvent>
            <scriptTask id="count"><script>reminders = reminders + 1</script></scriptTask><endEvent id="re"/>
            <sequenceFlow id="r1" sourceRef="every" targetRef="count"/><sequenceFlow id="r2" sourceRef="count" targetRef="re"/></subProcess>
            <sequenceFlow id="i1" sourceRef="s2" targetRef="wait"/><sequenceFlow id="i2" sourceRef="wait" targetRef="e2"/></subProcess>
            <endEvent id="e"/>
            \(flows("s->init", "init->work", "work->e"))
            """)
        let scheduler = ManualScheduler()
        let instance = await run(e, scheduler: scheduler)
        // At 25 and 50 minutes; the third reminder would come after the work ended at 60.
        #expect(instance.context["reminders"] == 2)
        #expect(instance.status == .completed)
        #expect(instance.timers.isEmpty)
        #expect(scheduler.sleeps == [1500, 1500, 600])
    }

    @Test(arguments: [(500, ["s", "big", "review", "e"]), (50, ["s", "e"])])
    func conditionalBoundaryFiresWhenItsConditionAlreadyHolds(amount: Int, path: [String]) async throws {
        let e = try engine(
            """
            <startEvent id="s"/>
            <subProcess id="sub"><startEvent id="s2"/><endEvent id="e2"/><sequenceFlow id="i1" sourceRef="s2" targetRef="e2"/></subProcess>
            <boundaryEvent id="big" attachedToRef="sub"><conditionalEventDefinition><condition xsi:type="tFormalExpression">amount &gt; 100</condition></conditionalEventDefinition></boundaryEvent>
            <task id="review"/><endEvent id="e"/>
            \(flows("s->sub", "sub->e", "big->review", "review->e"))
            """)
        let instance = await run(e, context: ["amount": .number(Double(amount))])
        #expect(instance.pathIDs(e).filter { $0 != "s2" && $0 != "e2" && $0 != "sub" } == path)
        #expect(instance.status == .completed)
    }

    @Test func linkEventsJumpWithinALevel() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><intermediateThrowEvent id="go"><linkEventDefinition name="Склад"/></intermediateThrowEvent>
            <intermediateCatchEvent id="land"><linkEventDefinition name="Склад"/></intermediateCatchEvent><endEvent id="e"/>
            \(flows("s->go", "land->e"))
            """)
        let instance = await run(e)
        #expect(instance.pathIDs(e) == ["s", "go", "land", "e"])
        #expect(instance.status == .completed)
    }

    @Test func timeCycleOnACatchEventSendsATokenOnPerFiring() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><intermediateCatchEvent id="tick"><timerEventDefinition><timeCycle xsi:type="tFormalExpression">R3/PT10S</timeCycle></timerEventDefinition></intermediateCatchEvent>
            <task id="work"/><endEvent id="e"/>
            \(flows("s->tick", "tick->work", "work->e"))
            """)
        let scheduler = ManualScheduler()
        let instance = await run(e, scheduler: scheduler)
        #expect(runs(of: "work", in: instance, e) == 3)
        #expect(scheduler.sleeps == [10, 10, 10])
        #expect(instance.status == .completed)
    }

    @Test func parallelMultipleCatchWaitsForEveryEvent() async throws {
        let body = { (thrown: String) in
            definitions(
                """
                <signal id="S1" name="one"/><signal id="S2" name="two"/>
                <process id="P" isExecutable="true"><startEvent id="s"/><parallelGateway id="fork"/>
                <intermediateCatchEvent id="both" parallelMultiple="true"><signalEventDefinition signalRef="S1"/><signalEventDefinition signalRef="S2"/></intermediateCatchEvent>
                <intermediateThrowEvent id="t">\(thrown)</intermediateThrowEvent><endEvent id="e1"/><endEvent id="e2"/>
                \(flows("s->fork", "fork->both", "fork->t", "both->e1", "t->e2"))</process>
                """)
        }
        let one = try engines(body("<signalEventDefinition signalRef=\"S1\"/>"))["P"]!
        let stuck = await run(one)
        #expect(stuck.status == .waiting)
        #expect(!stuck.pathIDs(one).contains("both"))
        let two = try engines(
            body("<signalEventDefinition signalRef=\"S1\"/><signalEventDefinition signalRef=\"S2\"/>"))["P"]!
        let done = await run(two)
        #expect(done.status == .completed)
        #expect(done.pathIDs(two).contains("both"))
    }
}

@Suite struct CompensationAndTransactionTests {
    @Test func compensationRunsTheHandlersOfCompletedActivitiesNewestFirst() async throws {
        let e = try engine(
            """
            <startEvent id="s"/>
            <scriptTask id="reserve"><script>reserved = true</script></scriptTask>
            <boundaryEvent id="cr" attachedToRef="reserve"><compensateEventDefinition/></boundaryEvent>
            <scriptTask id="release" isForCompensation="true"><script>reserved = false</script></scriptTask>
            <scriptTask id="charge"><script>charged = true</script></scriptTask>
            <boundaryEvent id="cc" attachedToRef="charge"><compensateEventDefinition/></boundaryEvent>
            <scriptTask id="refund" isForCompensation="true"><script>charged = false</script></scriptTask>
            <association id="a1" sourceRef="cr" targetRef="release"/><association id="a2" sourceRef="cc" targetRef="refund"/>
            <intermediateThrowEvent id="undo"><compensateEventDefinition/></intermediateThrowEvent><endEvent id="e"/>
            \(flows("s->reserve", "reserve->charge", "charge->undo", "undo->e"))
            """)
        let instance = await run(e)
        #expect(instance.status == .completed)
        #expect(instance.context["reserved"] == false && instance.context["charged"] == false)
        #expect(instance.pathIDs(e) == ["s", "reserve", "charge", "refund", "release", "undo", "e"])
    }

    @Test func cancelEndEventCompensatesTheTransactionAndLeavesByItsCancelBoundary() async throws {
        let e = try engine(
            """
            <startEvent id="s"/>
            <transaction id="tx"><startEvent id="s2"/><scriptTask id="book"><script>booked = true</script></scriptTask>
            <boundaryEvent id="cb" attachedToRef="book"><compensateEventDefinition/></boundaryEvent>
            <scriptTask id="unbook" isForCompensation="true"><script>booked = false</script></scriptTask>
            <association id="a1" sourceRef="cb" targetRef="unbook"/>
            <endEvent id="abort"><cancelEventDefinition/></endEvent>
            <sequenceFlow id="i1" sourceRef="s2" targetRef="book"/><sequenceFlow id="i2" sourceRef="book" targetRef="abort"/></transaction>
            <boundaryEvent id="cancelled" attachedToRef="tx"><cancelEventDefinition/></boundaryEvent>
            <endEvent id="ok"/><endEvent id="rolledBack"/>
            \(flows("s->tx", "tx->ok", "cancelled->rolledBack"))
            """)
        let instance = await run(e)
        #expect(instance.status == .completed)
        #expect(instance.context["booked"] == false)
        #expect(instance.endNode.map { e.process.nodes[$0].id } == "rolledBack")
        #expect(!instance.pathIDs(e).contains("ok"))
    }

    @Test func cancelEndEventOutsideATransactionIsRefused() {
        let result = BPMNLoader.load(
            bytes: Array(
                definitions(
                    """
                    <process id="P" isExecutable="true"><startEvent id="s"/><endEvent id="x"><cancelEventDefinition/></endEvent>
                    <sequenceFlow id="f" sourceRef="s" targetRef="x"/></process>
                    """
                ).utf8), file: "t.bpmn")
        #expect(
            result.errors.map(\.description) == [
                "t.bpmn:3:57: error: cancel endEvent(cancel) 'x' is not directly inside a transaction; BPMN allows cancel end events only in a transaction sub-process"
            ])
    }
}

@Suite struct ProcessInteractionTests {
    /// Sales sends the order to the warehouse pool, whose process a message starts; the
    /// warehouse confirms and sales waits for that at an event-based gateway, against a deadline.
    func orderFlow(confirm: Bool) -> String {
        definitions(
            """
            <message id="M_Order" name="order"/><message id="M_Ready" name="assembled"/>
            <collaboration id="C"><participant id="Sales" name="Продажи" processRef="SalesP"/><participant id="Stock" name="Склад" processRef="StockP"/>
            <messageFlow id="m1" sourceRef="send" targetRef="gotOrder"/><messageFlow id="m2" sourceRef="confirm" targetRef="ready"/></collaboration>
            <process id="SalesP" isExecutable="true"><startEvent id="s"/><sendTask id="send" messageRef="M_Order"/>
            <eventBasedGateway id="wait"/><intermediateCatchEvent id="ready"><messageEventDefinition messageRef="M_Ready"/></intermediateCatchEvent>
            <intermediateCatchEvent id="deadline"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">P1D</timeDuration></timerEventDefinition></intermediateCatchEvent>
            <endEvent id="shipped"/><endEvent id="late"/>
            \(flows("s->send", "send->wait", "wait->ready", "wait->deadline", "ready->shipped", "deadline->late"))</process>
            <process id="StockP" isExecutable="true"><startEvent id="gotOrder"><messageEventDefinition messageRef="M_Order"/></startEvent>
            <scriptTask id="assemble"><script>assembled = items * 2</script></scriptTask>
            \(confirm ? "<intermediateThrowEvent id=\"confirm\"><messageEventDefinition messageRef=\"M_Ready\"/></intermediateThrowEvent>" : "<task id=\"confirm\"/>")
            <endEvent id="se"/>
            <sequenceFlow id="w1" sourceRef="gotOrder" targetRef="assemble"/><sequenceFlow id="w2" sourceRef="assemble" targetRef="confirm"/><sequenceFlow id="w3" sourceRef="confirm" targetRef="se"/></process>
            """)
    }

    @Test func aMessageStartsTheWarehouseProcessAndItsAnswerIsAwaited() async throws {
        let e = try engines(orderFlow(confirm: true))
        let scheduler = ManualScheduler()
        let instances = await runAll(
            e["SalesP"]!, id: "order-1", context: ["items": 3], partners: [e["StockP"]!], scheduler: scheduler,
            initiator: "petrova")
        #expect(instances.count == 2)
        #expect(instances.map(\.status) == [.completed, .completed])
        #expect(instances[0].endNode.map { e["SalesP"]!.process.nodes[$0].id } == "shipped")
        #expect(instances[1].processID == "StockP")
        // The message carried the sales variables; the warehouse computed from them.
        #expect(instances[1].context["assembled"] == 6)
        #expect(scheduler.sleeps.isEmpty)
    }

    @Test func withoutAnAnswerTheDeadlineBranchOfTheEventGatewayIsTaken() async throws {
        let e = try engines(orderFlow(confirm: false))
        let scheduler = ManualScheduler()
        let instances = await runAll(
            e["SalesP"]!, id: "order-1", context: ["items": 3], partners: [e["StockP"]!], scheduler: scheduler,
            initiator: "petrova")
        #expect(instances[0].endNode.map { e["SalesP"]!.process.nodes[$0].id } == "late")
        #expect(scheduler.sleeps == [86_400])
        #expect(instances[0].timers.isEmpty)
    }

    @Test func signalStartEventsStartOtherProcessesOfTheFile() async throws {
        let e = try engines(
            definitions(
                """
                <signal id="Sig" name="stock-low"/>
                <process id="A" isExecutable="true"><startEvent id="s"/><intermediateThrowEvent id="t"><signalEventDefinition signalRef="Sig"/></intermediateThrowEvent><endEvent id="e"/>
                \(flows("s->t", "t->e"))</process>
                <process id="B" isExecutable="true"><startEvent id="b"><signalEventDefinition signalRef="Sig"/></startEvent><task id="reorder"/><endEvent id="be"/>
                <sequenceFlow id="x1" sourceRef="b" targetRef="reorder"/><sequenceFlow id="x2" sourceRef="reorder" targetRef="be"/></process>
                """))
        let instances = await runAll(e["A"]!, id: "a", partners: [e["B"]!], initiator: "x")
        #expect(instances.map(\.processID) == ["A", "B"])
        #expect(instances[1].pathIDs(e["B"]!) == ["b", "reorder", "be"])
    }

    @Test func callActivityRunsAGlobalTask() async throws {
        let e = try engines(
            definitions(
                """
                <globalScriptTask id="Fee"><script>fee = price * 0.1</script></globalScriptTask>
                <process id="Main" isExecutable="true"><startEvent id="s"/><callActivity id="charge" calledElement="Fee"/><endEvent id="e"/>
                \(flows("s->charge", "charge->e"))</process>
                """))
        let instance = await run(e["Main"]!, context: ["price": 200])
        #expect(instance.context["fee"] == 20)
        #expect(instance.pathIDs(e["Main"]!) == ["s", "charge", "e"])
    }

    @Test func callActivityRunsTheCalledProcessInPlace() async throws {
        let e = try engines(
            definitions(
                """
                <process id="Main" isExecutable="true"><startEvent id="s"/><callActivity id="invoice" calledElement="Billing"/>
                <boundaryEvent id="failed" attachedToRef="invoice"><errorEventDefinition/></boundaryEvent><endEvent id="e"/><endEvent id="fe"/>
                \(flows("s->invoice", "invoice->e", "failed->fe"))</process>
                <process id="Billing" isExecutable="false"><startEvent id="bs"/><scriptTask id="bill"><script>total = price * 2</script></scriptTask><endEvent id="be"/>
                <sequenceFlow id="b1" sourceRef="bs" targetRef="bill"/><sequenceFlow id="b2" sourceRef="bill" targetRef="be"/></process>
                """))
        let instance = await run(e["Main"]!, context: ["price": 21])
        #expect(instance.context["total"] == 42)
        #expect(instance.pathIDs(e["Main"]!) == ["s", "invoice/bs", "invoice/bill", "invoice/be", "invoice", "e"])
    }
}

@Suite struct MultiInstanceBehaviourTests {
    @Test func noneBehaviourSignalsTheBoundaryAfterEveryInstanceWithoutCancelling() async throws {
        let e = try engines(
            definitions(
                """
                <signal id="Sig" name="one-done"/><signalEventDefinition id="SigDef" signalRef="Sig"/>
                <process id="P" isExecutable="true"><startEvent id="s"/>
                <task id="pick"><multiInstanceLoopCharacteristics isSequential="true" behavior="None" noneBehaviorEventRef="SigDef"><loopCardinality>3</loopCardinality></multiInstanceLoopCharacteristics></task>
                <boundaryEvent id="each" attachedToRef="pick"><signalEventDefinition signalRef="Sig"/></boundaryEvent>
                <task id="report"/><endEvent id="e"/><endEvent id="re"/>
                \(flows("s->pick", "pick->e", "each->report", "report->re"))</process>
                """))["P"]!
        let instance = await run(e)
        #expect(instance.status == .completed)
        #expect(runs(of: "pick", in: instance, e) == 4)  // three instances, then the activity
        #expect(runs(of: "report", in: instance, e) == 3)
        #expect(instance.pathIDs(e).contains("e"))
    }

    @Test(arguments: [
        ("behavior=\"One\" oneBehaviorEventRef=\"SigDef\"", "", 3, 1),
        (
            "behavior=\"Complex\"",
            "<complexBehaviorDefinition><condition>nrOfCompletedInstances = 2</condition><event id=\"ev\"><eventDefinitionRef>SigDef</eventDefinitionRef></event></complexBehaviorDefinition><completionCondition xsi:type=\"tFormalExpression\">nrOfCompletedInstances &gt;= 2</completionCondition>",
            2, 1
        ),
    ])
    func oneAndComplexBehavioursThrowWhenTheyShould(attributes: String, children: String, instances: Int, reports: Int)
        async throws
    {
        let e = try engines(
            definitions(
                """
                <signal id="Sig" name="progress"/><signalEventDefinition id="SigDef" signalRef="Sig"/>
                <process id="P" isExecutable="true"><startEvent id="s"/>
                <task id="pick"><multiInstanceLoopCharacteristics isSequential="true" \(attributes)><loopCardinality>3</loopCardinality>\(children)</multiInstanceLoopCharacteristics></task>
                <boundaryEvent id="each" attachedToRef="pick"><signalEventDefinition signalRef="Sig"/></boundaryEvent>
                <task id="report"/><endEvent id="e"/><endEvent id="re"/>
                \(flows("s->pick", "pick->e", "each->report", "report->re"))</process>
                """))["P"]!
        let instance = await run(e)
        #expect(instance.status == .completed)
        #expect(runs(of: "pick", in: instance, e) == instances + 1)
        #expect(runs(of: "report", in: instance, e) == reports)
    }
}

/// A script runner whose scripts take time.
struct SlowScripts: ScriptRunner {
    func run(_ node: FlowNode, context: JSONObject) -> ScriptOutcome {
        ScriptOutcome(variables: ["ran": .string(node.id)], duration: Double(node.scriptText ?? "") ?? 0)
    }
}

@Suite struct LongScriptTests {
    @Test func aBoundaryTimerInterruptsAScriptThatTakesLonger() async throws {
        let xml = definitions(
            """
            <process id="P" isExecutable="true"><startEvent id="s"/><scriptTask id="slow"><script>600</script></scriptTask>
            <boundaryEvent id="timeout" attachedToRef="slow"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">PT2M</timeDuration></timerEventDefinition></boundaryEvent>
            <task id="after"/><endEvent id="e"/><endEvent id="te"/>
            \(flows("s->slow", "slow->after", "after->e", "timeout->te"))</process>
            """)
        let result = BPMNLoader.load(bytes: Array(xml.utf8), file: "t.bpmn", options: LoadOptions(opaqueScripts: true))
        let process = try #require(result.definitions?.processes.first)
        let e = try Engine(process: process, scripts: SlowScripts())
        let scheduler = ManualScheduler()
        let instance = await run(e, scheduler: scheduler)
        #expect(instance.pathIDs(e) == ["s", "timeout", "te"])
        #expect(scheduler.sleeps == [120])
    }
}
