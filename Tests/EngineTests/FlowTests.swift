import BPMNLoader
import Engine
import ProcessModel
import Testing
import Values

@Suite struct SequenceAndGatewayTests {
    @Test func sequenceRunsToTheEndAndSetsSystemVariables() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><task id="t"/><intermediateThrowEvent id="m"/><endEvent id="e" name="Готово"/>
            \(flows("s->t", "t->m", "m->e"))
            """)
        let instance = await run(e, context: ["x": 1], initiator: "ivanov")
        #expect(instance.status == .completed)
        #expect(instance.pathIDs(e) == ["s", "t", "m", "e"])
        #expect(instance.endNode.map { e.process.nodes[$0].id } == "e")
        #expect(instance.context["x"] == 1)
        #expect(instance.context["__id"] == "i-1")
        #expect(instance.context["__name"] == "Тест")
        #expect(instance.context["__createdBy"] == "ivanov")
        #expect(instance.context["__createdAt"]?.stringValue?.hasPrefix("2027-01-15T08:00:00") == true)
        #expect(
            instance.history.contains { $0.event == .left && e.process.nodes[$0.node].id == "t" && $0.flows == [1] })
    }

    @Test(arguments: [
        (500, ["s", "g", "small", "e1"]), (1500, ["s", "g", "big", "e2"]), (5000, ["s", "g", "big", "e2"]),
    ])
    func exclusiveGatewayTakesFirstTrueInDocumentOrderElseDefault(amount: Int, path: [String]) async throws {
        let e = try engine(
            """
            <startEvent id="s"/><exclusiveGateway id="g" default="f4"/><task id="big"/><task id="huge"/><task id="small"/>
            <endEvent id="e1"/><endEvent id="e2"/>
            \(flows("s->g", "g->big: amount > 1000", "g->huge: amount > 2000", "g->small", "small->e1", "big->e2", "huge->e2"))
            """)
        let instance = await run(e, context: ["amount": .number(Double(amount))])
        #expect(instance.pathIDs(e) == path)
    }

    @Test func exclusiveGatewayWithNoTrueFlowAndNoDefaultIsAnIncident() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><exclusiveGateway id="g"/><endEvent id="e"/><endEvent id="e2"/>
            \(flows("s->g", "g->e: amount > 1000", "g->e2: amount > 2000"))
            """)
        let instance = await run(e, context: ["amount": 1])
        #expect(instance.status == .incident)
        #expect(
            instance.incident
                == Incident(
                    node: "g", message: "no condition of exclusive gateway 'g' is true and it has no default flow"))
    }

    @Test func conditionThatCannotBeEvaluatedIsAnIncidentNamingFlowAndExpression() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><exclusiveGateway id="g" default="f3"/><endEvent id="e"/>
            <sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
            <sequenceFlow id="f2" name="Крупный" sourceRef="g" targetRef="e"><conditionExpression>${amount &gt; 1000}</conditionExpression></sequenceFlow>
            <sequenceFlow id="f3" sourceRef="g" targetRef="e"/>
            """)
        let instance = await run(e, context: ["sum": 1])
        #expect(instance.status == .incident)
        #expect(instance.incident?.node == "g")
        #expect(
            instance.incident?.message
                == "cannot evaluate the condition of sequence flow 'f2' («Крупный»): unknown variable 'amount' in '${amount > 1000}'"
        )
        #expect(instance.context["sum"] == 1)
        let typed = await run(e, context: ["amount": "много"])
        #expect(typed.incident?.message.contains("cannot order string \"много\" and number 1000") == true)
    }

    @Test func parallelGatewayForksAndJoins() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><parallelGateway id="fork"/><task id="a"/><task id="b"/><task id="c"/><parallelGateway id="join"/><endEvent id="e"/>
            \(flows("s->fork", "fork->a", "fork->b", "fork->c", "a->join", "b->join", "c->join", "join->e"))
            """)
        let instance = await run(e)
        #expect(instance.status == .completed)
        #expect(instance.pathIDs(e) == ["s", "fork", "a", "b", "c", "join", "e"])
        #expect(instance.tokens.isEmpty)
    }

    @Test func parallelJoinThatCanNeverCompleteLeavesTheInstanceWaiting() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><exclusiveGateway id="x" default="f3"/><task id="a"/><task id="b"/><parallelGateway id="join"/><endEvent id="e"/>
            \(flows("s->x", "x->a: false", "x->b", "a->join", "b->join", "join->e"))
            """)
        let instance = await run(e)
        #expect(instance.status == .waiting)
        #expect(instance.tokens.map { e.process.nodes[$0.node].id } == ["join"])
    }

    @Test func inclusiveGatewayTakesEveryTrueFlowAndJoinsOnlyWhatWasTaken() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><inclusiveGateway id="split" default="f5"/><task id="a"/><task id="b"/><task id="c"/><task id="d"/>
            <inclusiveGateway id="join"/><endEvent id="e"/>
            \(flows("s->split", "split->a: x > 1", "split->b: x > 2", "split->c: x > 100", "split->d", "a->join", "b->join", "c->join", "d->join", "join->e"))
            """)
        let both = await run(e, context: ["x": 5])
        #expect(both.status == .completed)
        #expect(both.pathIDs(e) == ["s", "split", "a", "b", "join", "e"])
        let none = await run(e, context: ["x": 0])
        #expect(none.pathIDs(e) == ["s", "split", "d", "join", "e"])
    }

    @Test func inclusiveJoinWaitsForATokenThatCanStillArrive() async throws {
        // Branch b passes a user task; the join must not fire when a arrives first.
        let e = try engine(
            """
            <startEvent id="s"/><inclusiveGateway id="split"/><task id="a"/><userTask id="b"/><task id="after"/>
            <inclusiveGateway id="join"/><endEvent id="e"/>
            \(flows("s->split", "split->a: true", "split->b: true", "a->join", "b->after", "after->join", "join->e"))
            """)
        let instance = await run(e)
        #expect(instance.status == .completed)
        #expect(instance.pathIDs(e) == ["s", "split", "a", "b", "after", "join", "e"])
        #expect(instance.pathIDs(e).filter { $0 == "join" }.count == 1)
    }

    @Test func inclusiveGatewayWithoutTrueFlowIsAnIncident() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><inclusiveGateway id="split"/><endEvent id="e"/><endEvent id="e2"/>
            \(flows("s->split", "split->e: false", "split->e2: false"))
            """)
        #expect(
            await run(e).incident?.message
                == "no condition of inclusive gateway 'split' is true and it has no default flow")
    }

    @Test func conditionalAndDefaultFlowsStraightOutOfTasks() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><task id="t" default="f4"/><task id="a"/><task id="b"/><task id="c"/><endEvent id="e"/>
            \(flows("s->t", "t->a: n > 1", "t->b: n > 2", "t->c", "a->e", "b->e", "c->e"))
            """)
        #expect(await run(e, context: ["n": 3]).pathIDs(e) == ["s", "t", "a", "b", "e", "e"])
        #expect(await run(e, context: ["n": 2]).pathIDs(e) == ["s", "t", "a", "e"])
        #expect(await run(e, context: ["n": 0]).pathIDs(e) == ["s", "t", "c", "e"])
        // An unconditioned flow is always taken, so the default is not (as in Camunda).
        let withPlain = try engine(
            """
            <startEvent id="s"/><task id="t" default="f3"/><task id="a"/><task id="plain"/><task id="c"/><endEvent id="e"/>
            \(flows("s->t", "t->a: n > 1", "t->c", "t->plain", "a->e", "plain->e", "c->e"))
            """)
        #expect(await run(withPlain, context: ["n": 0]).pathIDs(withPlain) == ["s", "t", "plain", "e"])
    }

    @Test func uncontrolledMergeRunsTheTaskOncePerToken() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><parallelGateway id="fork"/><task id="a"/><task id="b"/><task id="merged"/><endEvent id="e"/>
            \(flows("s->fork", "fork->a", "fork->b", "a->merged", "b->merged", "merged->e"))
            """)
        let instance = await run(e)
        #expect(instance.status == .completed)
        #expect(instance.pathIDs(e) == ["s", "fork", "a", "b", "merged", "merged", "e", "e"])
    }

    @Test func everyTaskKindRuns() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><task id="t"/><serviceTask id="sv"/><sendTask id="sd"/><businessRuleTask id="br"/>
            <receiveTask id="r"/><manualTask id="m"/><userTask id="u"/><scriptTask id="sc"/><endEvent id="e"/>
            \(flows("s->t", "t->sv", "sv->sd", "sd->br", "br->r", "r->m", "m->u", "u->sc", "sc->e"))
            """)
        let instance = await run(
            e, answers: try Answers(json: ["r": ["by": "courier", "variables": ["parcel": "P-1"]]], file: "a.json"))
        #expect(instance.status == .completed)
        #expect(instance.pathIDs(e) == ["s", "t", "sv", "sd", "br", "r", "m", "u", "sc", "e"])
        // Receive, manual and user tasks waited for someone; the others passed straight through.
        let waited = instance.history.filter { $0.event == .entered }.map { e.process.nodes[$0.node].id }
        #expect(waited == ["r", "m", "u"])
        #expect(instance.context["parcel"] == "P-1")
    }

    @Test func terminateEndEventStopsEveryBranch() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><parallelGateway id="fork"/><userTask id="slow"/><endEvent id="stop"><terminateEventDefinition/></endEvent><endEvent id="e"/>
            \(flows("s->fork", "fork->stop", "fork->slow", "slow->e"))
            """)
        let instance = await run(e)
        #expect(instance.status == .completed)
        #expect(instance.pathIDs(e) == ["s", "fork", "stop"])
        #expect(instance.endNode.map { e.process.nodes[$0].id } == "stop")
        #expect(instance.tokens.isEmpty)
    }
}

@Suite struct SubProcessAndErrorTests {
    @Test func embeddedSubProcessRunsItsOwnFlowThenContinues() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><subProcess id="sub"><startEvent id="s2"/><task id="inner"/><endEvent id="e2"/>
            <sequenceFlow id="i1" sourceRef="s2" targetRef="inner"/><sequenceFlow id="i2" sourceRef="inner" targetRef="e2"/></subProcess>
            <endEvent id="e"/>
            \(flows("s->sub", "sub->e"))
            """)
        let instance = await run(e)
        #expect(instance.status == .completed)
        #expect(instance.pathIDs(e) == ["s", "s2", "inner", "e2", "sub", "e"])
        #expect(instance.endNode.map { e.process.nodes[$0].id } == "e")
    }

    @Test(arguments: [("Err_A", "caughtA"), ("Err_B", "caughtAny")])
    func errorEndEventIsCaughtByTheMatchingBoundaryEvent(errorRef: String, handler: String) async throws {
        let e = try engine(
            """
            <startEvent id="s"/>
            <subProcess id="sub"><startEvent id="s2"/><parallelGateway id="fork"/><userTask id="wait"/><endEvent id="boom"><errorEventDefinition errorRef="\(errorRef)"/></endEvent>
            <sequenceFlow id="i1" sourceRef="s2" targetRef="fork"/><sequenceFlow id="i2" sourceRef="fork" targetRef="boom"/><sequenceFlow id="i3" sourceRef="fork" targetRef="wait"/></subProcess>
            <boundaryEvent id="bA" attachedToRef="sub"><errorEventDefinition errorRef="Err_A"/></boundaryEvent>
            <boundaryEvent id="bAny" attachedToRef="sub"><errorEventDefinition/></boundaryEvent>
            <task id="caughtA"/><task id="caughtAny"/><task id="normal"/><endEvent id="e"/>
            \(flows("s->sub", "sub->normal", "normal->e", "bA->caughtA", "bAny->caughtAny", "caughtA->e", "caughtAny->e"))
            """)
        let instance = await run(e)
        #expect(instance.status == .completed)
        #expect(
            instance.pathIDs(e) == [
                "s", "s2", "fork", "boom", "b" + (handler == "caughtA" ? "A" : "Any"), handler, "e",
            ])
        #expect(!instance.pathIDs(e).contains("wait"))
        #expect(instance.tokens.isEmpty)
    }

    @Test func errorPropagatesThroughNestedSubProcesses() async throws {
        let e = try engine(
            """
            <startEvent id="s"/>
            <subProcess id="outer"><startEvent id="os"/>
              <subProcess id="inner"><startEvent id="is"/><endEvent id="boom"><errorEventDefinition errorRef="Err_A"/></endEvent><sequenceFlow id="x1" sourceRef="is" targetRef="boom"/></subProcess>
              <endEvent id="oe"/><sequenceFlow id="x2" sourceRef="os" targetRef="inner"/><sequenceFlow id="x3" sourceRef="inner" targetRef="oe"/>
            </subProcess>
            <boundaryEvent id="b" attachedToRef="outer"><errorEventDefinition errorRef="Err_A"/></boundaryEvent>
            <endEvent id="e"/><endEvent id="handled"/>
            \(flows("s->outer", "outer->e", "b->handled"))
            """)
        let instance = await run(e)
        #expect(instance.pathIDs(e) == ["s", "os", "is", "boom", "b", "handled"])
        #expect(instance.endNode.map { e.process.nodes[$0].id } == "handled")
    }

    @Test func uncaughtErrorEndEventEndsLikeANoneEndEvent() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><endEvent id="boom"><errorEventDefinition errorRef="Err_A"/></endEvent>
            \(flows("s->boom"))
            """)
        let instance = await run(e)
        #expect(instance.status == .completed)
        #expect(instance.endNode.map { e.process.nodes[$0].id } == "boom")
    }

    @Test func scriptTasksRunFEELAssignments() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><scriptTask id="calc"><script>fee = amount * 0.02
            total = amount + fee</script></scriptTask><endEvent id="e"/>
            \(flows("s->calc", "calc->e"))
            """)
        let instance = await run(e, context: ["amount": 1000])
        #expect(instance.context["total"] == 1020)
        let broken = await run(e, context: [:])
        #expect(broken.incident?.message == "script of 'calc' failed: script line 1 (fee): unknown variable 'amount'")
    }

    @Test func engineRefusesProcessesWithUnsupportedElements() throws {
        let xml = """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><process id="P"><startEvent id="s"/><choreographyTask id="c"/></process></definitions>
            """
        let result = BPMNLoader.load(bytes: Array(xml.utf8), file: "x.bpmn")
        let process = try #require(result.definitions?.processes.first)
        #expect(throws: EngineError.self) { try Engine(process: process) }
    }
}

/// A script runner for tests: `throw CODE` throws a BPMN error, `log TEXT` writes a line.
struct CommandScripts: ScriptRunner {
    func run(_ node: FlowNode, context: JSONObject) -> ScriptOutcome {
        let text = (node.scriptText ?? "").trimmingWhitespace()
        if text.hasPrefix("throw ") { return ScriptOutcome(thrownError: String(text.dropFirst(6))) }
        if text.hasPrefix("log ") { return ScriptOutcome(log: [String(text.dropFirst(4))]) }
        return ScriptOutcome(failure: "unknown command '\(text)'")
    }
}

@Suite struct PluggableScriptTests {
    func engine(_ body: String) throws -> Engine {
        let xml = """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><error id="E" errorCode="E1"/><process id="P" isExecutable="true">\(body)</process></definitions>
            """
        let result = BPMNLoader.load(bytes: Array(xml.utf8), file: "s.bpmn", options: LoadOptions(opaqueScripts: true))
        guard let process = result.definitions?.processes.first else { throw DiagnosticError(result.errors) }
        return try Engine(process: process, scripts: CommandScripts())
    }

    @Test func thrownErrorsAreCaughtOnTheTaskOrAnEnclosingSubProcess() async throws {
        let onTask = try engine(
            """
            <startEvent id="s"/><scriptTask id="t"><script>throw E1</script></scriptTask>
            <boundaryEvent id="b" attachedToRef="t"><errorEventDefinition errorRef="E"/></boundaryEvent>
            <scriptTask id="h"><script>log handled</script></scriptTask><endEvent id="e"/>
            \(flows("s->t", "t->e", "b->h", "h->e"))
            """)
        let caught = await run(onTask)
        #expect(caught.pathIDs(onTask) == ["s", "b", "h", "e"])
        #expect(caught.log == ["handled"])

        let onSubProcess = try engine(
            """
            <startEvent id="s"/><subProcess id="sub"><startEvent id="s2"/><scriptTask id="t"><script>throw E1</script></scriptTask><endEvent id="e2"/>
            <sequenceFlow id="i1" sourceRef="s2" targetRef="t"/><sequenceFlow id="i2" sourceRef="t" targetRef="e2"/></subProcess>
            <boundaryEvent id="b" attachedToRef="sub"><errorEventDefinition/></boundaryEvent><endEvent id="e"/><endEvent id="h"/>
            \(flows("s->sub", "sub->e", "b->h"))
            """)
        #expect(await run(onSubProcess).pathIDs(onSubProcess) == ["s", "s2", "b", "h"])

        let uncaught = try engine(
            """
            <startEvent id="s"/><scriptTask id="t"><script>throw E1</script></scriptTask><endEvent id="e"/>
            \(flows("s->t", "t->e"))
            """)
        let incident = await run(uncaught)
        #expect(incident.status == .incident)
        #expect(incident.incident == Incident(node: "t", message: "error 'E1' thrown by 't' was not caught"))
    }
}

@Suite struct ComplexGatewayTests {
    @Test func splitsByConditionsAndJoinsLikeAnInclusiveGatewayWithoutActivation() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><complexGateway id="split"/><task id="a"/><task id="b"/><complexGateway id="join"/><endEvent id="e"/>
            \(flows("s->split", "split->a: x > 1", "split->b: x > 2", "a->join", "b->join", "join->e"))
            """)
        #expect(await run(e, context: ["x": 5]).pathIDs(e) == ["s", "split", "a", "b", "join", "e"])
        #expect(await run(e, context: ["x": 2]).pathIDs(e) == ["s", "split", "a", "join", "e"])
        #expect(
            await run(e, context: ["x": 0]).incident?.message
                == "no condition of complex gateway 'split' is true and it has no default flow")
    }

    @Test func discriminatorFiresOnceForTheFirstArrival() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><parallelGateway id="fork"/><task id="a"/><userTask id="b"/><task id="c"/>
            <complexGateway id="first"><activationCondition>${activationCount &gt;= 1}</activationCondition></complexGateway>
            <task id="after"/><endEvent id="e"/>
            \(flows("s->fork", "fork->a", "fork->b", "fork->c", "a->first", "b->first", "c->first", "first->after", "after->e"))
            """)
        let instance = await run(e)
        #expect(instance.status == .completed)
        #expect(instance.pathIDs(e).filter { $0 == "after" }.count == 1)
        #expect(instance.firedComplexGateways.isEmpty)
    }
}

@Suite struct TokenQuantityTests {
    @Test func completionQuantitySendsSeveralTokensAndStartQuantityMergesThem() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><task id="send" completionQuantity="2"/><task id="forward"/><task id="receive" startQuantity="2"/><endEvent id="e"/>
            \(flows("s->send", "send->forward", "forward->receive", "receive->e"))
            """)
        let instance = await run(e)
        #expect(instance.status == .completed)
        #expect(instance.pathIDs(e) == ["s", "send", "forward", "forward", "receive", "e"])
    }

    @Test func startQuantityWaitsForTokensThatNeverCome() async throws {
        let e = try engine(
            """
            <startEvent id="s"/><task id="receive" startQuantity="2"/><endEvent id="e"/>
            \(flows("s->receive", "receive->e"))
            """)
        let instance = await run(e)
        #expect(instance.status == .waiting)
        #expect(instance.pathIDs(e) == ["s"])
    }
}
