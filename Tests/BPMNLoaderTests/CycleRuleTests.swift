import BPMNLoader
import Foundation
import ProcessModel
import Testing
import Values

/// Sequence flows written compactly: "a->b" or "a->b: condition"; ids f1, f2, … in order.
private func flows(_ specs: String...) -> String {
    specs.enumerated().map { index, spec in
        let parts = spec.split(separator: ":", maxSplits: 1).map { String($0).trimmingWhitespace() }
        let ends = parts[0].components(separatedBy: "->")
        let condition =
            parts.count > 1
            ? "<conditionExpression>\(parts[1].replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;"))</conditionExpression>"
            : ""
        return
            "<sequenceFlow id=\"f\(index + 1)\" sourceRef=\"\(ends[0])\" targetRef=\"\(ends[1])\">\(condition)</sequenceFlow>"
    }.joined(separator: "\n")
}

@Suite struct CycleRuleTests {
    func cycleWarnings(_ body: String, executable: Bool = true) -> [String] {
        let result = load(document(body, executable: executable))
        #expect(!result.hasErrors, "\(result.lines)")
        return result.diagnostics.filter { $0.severity == .warning && $0.message.contains("step budget") }.map(
            \.description)
    }

    @Test func scriptLoopWhoseExitReadsAVariableNothingInItSets() {
        let warnings = cycleWarnings(
            """
            <startEvent id="s"/><scriptTask id="calc" name="Посчитать"><script>attempts = 1</script></scriptTask>
            <exclusiveGateway id="g" default="f3"/><endEvent id="e"/>
            \(flows("s->calc", "calc->g", "g->calc", "g->e: approved = true"))
            """)
        #expect(
            warnings == [
                "t.bpmn:4:21: warning: the cycle through 'calc' («Посчитать»), 'g' has no wait state, and nothing in it sets 'approved', which the conditions that can leave it read: unless it leaves at the first pass, an instance that enters it runs until the step budget stops it in an incident"
            ])
    }

    /// An exclusive gateway takes the first unconditioned flow: the one back into the cycle.
    @Test func exclusiveGatewayWithoutConditionsNeverLeaves() {
        let warnings = cycleWarnings(
            """
            <startEvent id="s"/><task id="pay" name="Оплатить"/><exclusiveGateway id="g"/><endEvent id="e"/>
            \(flows("s->pay", "pay->g", "g->pay", "g->e"))
            """)
        #expect(
            warnings == [
                "t.bpmn:4:21: warning: the cycle through 'pay' («Оплатить»), 'g' has no wait state and no condition that can leave it: an instance that enters it runs until the step budget stops it in an incident"
            ])
    }

    @Test func constantConditionsDoNotLeave() {
        let warnings = cycleWarnings(
            """
            <startEvent id="s"/><task id="t"/><exclusiveGateway id="g"/><endEvent id="e"/>
            \(flows("s->t", "t->g", "g->e: = false", "g->t: ${true}"))
            """)
        #expect(warnings.count == 1)
    }

    @Test func forkBombAndParallelJoinCycle() {
        let bomb = cycleWarnings(
            """
            <startEvent id="s"/><exclusiveGateway id="x"/><parallelGateway id="p"/><endEvent id="e"/>
            \(flows("s->x", "x->p", "p->x", "p->x", "p->e"))
            """)
        #expect(
            bomb == [
                "t.bpmn:4:21: warning: the cycle through 'x', 'p' has no wait state and no condition that can leave it: an instance that enters it runs until the step budget stops it in an incident"
            ])
        // The fork's flow to the end does not stop the token that goes round.
        let forkJoin = cycleWarnings(
            """
            <startEvent id="s"/><exclusiveGateway id="x"/><parallelGateway id="p"/><task id="a"/><task id="b"/><parallelGateway id="j"/><endEvent id="e"/>
            \(flows("s->x", "x->p", "p->a", "p->b", "a->j", "b->j", "j->x", "j->e"))
            """)
        #expect(forkJoin.count == 1)
    }

    @Test func taskWithAFlowBackToItself() {
        let warnings = cycleWarnings(
            """
            <startEvent id="s"/><task id="t" name="Снова"/><endEvent id="e"/>
            \(flows("s->t", "t->t", "t->e"))
            """)
        #expect(
            warnings == [
                "t.bpmn:4:21: warning: the flow from 't' («Снова») back to itself has no wait state and no condition that can leave it: an instance that enters it runs until the step budget stops it in an incident"
            ])
    }

    @Test func alwaysTrueStandardLoopWithoutMaximum() {
        let warnings = cycleWarnings(
            """
            <startEvent id="s"/><task id="t" name="Повторять"><standardLoopCharacteristics><loopCondition>= true</loopCondition></standardLoopCharacteristics></task>
            <endEvent id="e"/>
            \(flows("s->t", "t->e"))
            """)
        #expect(
            warnings == [
                "t.bpmn:4:21: warning: the loop of 't' («Повторять») repeats while '= true', which is always true, has no loopMaximum and no wait state: an instance runs it until the step budget stops it in an incident"
            ])
    }

    @Test func linkEventsCloseACycle() {
        let warnings = cycleWarnings(
            """
            <startEvent id="s"/><parallelGateway id="p"/><endEvent id="e"/>
            <intermediateCatchEvent id="back"><linkEventDefinition name="again"/></intermediateCatchEvent>
            <task id="t"/><intermediateThrowEvent id="go"><linkEventDefinition name="again"/></intermediateThrowEvent>
            \(flows("s->p", "p->e", "p->t", "back->t", "t->go"))
            """)
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("'back', 't', 'go'") == true)
    }

    @Test func nonExecutableProcessesAreWarnedToo() {
        let warnings = cycleWarnings(
            """
            <startEvent id="s"/><task id="pay"/><exclusiveGateway id="g"/><endEvent id="e"/>
            \(flows("s->pay", "pay->g", "g->pay", "g->e"))
            """, executable: false)
        #expect(warnings.count == 1)
    }

    /// Loops with a real way out, or that wait, are left alone.
    @Test(arguments: [
        // The script sets what the exit condition reads.
        """
        <startEvent id="s"/><scriptTask id="inc"><script>n = n + 1</script></scriptTask><exclusiveGateway id="g" default="f4"/><endEvent id="e"/>
        \(flows("s->inc", "inc->g", "g->inc: n < 5", "g->e"))
        """,
        // The default flow back, a condition out that the script can make true.
        """
        <startEvent id="s"/><scriptTask id="inc"><script>n = n + 1</script></scriptTask><exclusiveGateway id="g" default="f3"/><endEvent id="e"/>
        \(flows("s->inc", "inc->g", "g->inc", "g->e: n >= 5"))
        """,
        // A person decides each pass.
        """
        <startEvent id="s"/><userTask id="review"/><exclusiveGateway id="g"/><endEvent id="e"/>
        \(flows("s->review", "review->g", "g->review", "g->e"))
        """,
        // A timer between passes.
        """
        <startEvent id="s"/><task id="t"/><intermediateCatchEvent id="w"><timerEventDefinition><timeDuration xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="tFormalExpression">PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent>
        <exclusiveGateway id="g"/><endEvent id="e"/>
        \(flows("s->t", "t->w", "w->g", "g->t", "g->e"))
        """,
        // A boundary event on a member.
        """
        <startEvent id="s"/><task id="t"/><boundaryEvent id="b" attachedToRef="t"><errorEventDefinition/></boundaryEvent><exclusiveGateway id="g"/><endEvent id="e"/><endEvent id="e2"/>
        \(flows("s->t", "t->g", "g->t", "g->e", "b->e2"))
        """,
        // A parallel join that also waits for a branch from outside the cycle.
        """
        <startEvent id="s"/><parallelGateway id="fork"/><userTask id="u"/><parallelGateway id="j"/><task id="t"/><exclusiveGateway id="g" default="f8"/><endEvent id="e"/>
        \(flows("s->fork", "fork->j", "fork->u", "u->j", "j->t", "t->g", "g->j: again", "g->e"))
        """,
        // Inclusive gateway: the flow back has a condition.
        """
        <startEvent id="s"/><scriptTask id="inc"><script>n = n + 1</script></scriptTask><inclusiveGateway id="g" default="f4"/><endEvent id="e"/>
        \(flows("s->inc", "inc->g", "g->inc: n < 3", "g->e"))
        """,
        // Standard loops with a maximum or a real condition.
        """
        <startEvent id="s"/><task id="t"><standardLoopCharacteristics loopMaximum="3"><loopCondition>true</loopCondition></standardLoopCharacteristics></task><endEvent id="e"/>
        \(flows("s->t", "t->e"))
        """,
        """
        <startEvent id="s"/><task id="t"><standardLoopCharacteristics><loopCondition>n &lt; 3</loopCondition></standardLoopCharacteristics></task><endEvent id="e"/>
        \(flows("s->t", "t->e"))
        """,
        // A sub-process member that waits inside.
        """
        <startEvent id="s"/><subProcess id="sub"><startEvent id="s2"/><userTask id="u"/><endEvent id="e2"/>
        <sequenceFlow id="i1" sourceRef="s2" targetRef="u"/><sequenceFlow id="i2" sourceRef="u" targetRef="e2"/></subProcess>
        <exclusiveGateway id="g"/><endEvent id="e"/>
        \(flows("s->sub", "sub->g", "g->sub", "g->e"))
        """,
    ])
    func legitimateLoopsAreNotWarned(body: String) {
        #expect(cycleWarnings(body) == [])
    }

    /// Tarjan without recursion: a cycle of 20,000 tasks is one finding, found in linear time.
    @Test func hugeCycleIsAnalysedWithoutRecursion() {
        let count = 20_000
        var lines = (0..<count).map { "<task id=\"t\($0)\"/>" }
        lines.append("<startEvent id=\"s\"/><endEvent id=\"e\"/><exclusiveGateway id=\"g\"/>")
        lines.append("<sequenceFlow id=\"in\" sourceRef=\"s\" targetRef=\"t0\"/>")
        lines += (0..<(count - 1)).map { "<sequenceFlow id=\"c\($0)\" sourceRef=\"t\($0)\" targetRef=\"t\($0 + 1)\"/>" }
        lines.append("<sequenceFlow id=\"last\" sourceRef=\"t\(count - 1)\" targetRef=\"g\"/>")
        lines.append(
            "<sequenceFlow id=\"back\" sourceRef=\"g\" targetRef=\"t0\"/><sequenceFlow id=\"out\" sourceRef=\"g\" targetRef=\"e\"/>"
        )
        let warnings = cycleWarnings(lines.joined(separator: "\n"))
        #expect(warnings.count == 1)
        #expect(
            warnings.first?.hasPrefix(
                "t.bpmn:4:1: warning: the cycle through 't0', 't1', 't2', 't3' and 19997 more has no wait state")
                == true)
    }
}

@Suite struct LoopCardinalityLimitTests {
    @Test func cardinalityOverTheLimitIsAnErrorThatStatesIt() {
        let over = load(
            document(
                """
                <startEvent id="s"/><task id="t"><multiInstanceLoopCharacteristics><loopCardinality>100000</loopCardinality></multiInstanceLoopCharacteristics></task><endEvent id="e"/>
                <sequenceFlow id="f1" sourceRef="s" targetRef="t"/><sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
                """))
        #expect(
            over.errors.map(\.description) == [
                "t.bpmn:4:68: error: multi-instance 't' has loopCardinality 100000, more than the limit of 99999 instances procrun runs of one activity"
            ])
        let atLimit = load(
            document(
                """
                <startEvent id="s"/><task id="t"><multiInstanceLoopCharacteristics><loopCardinality>99999</loopCardinality></multiInstanceLoopCharacteristics></task><endEvent id="e"/>
                <sequenceFlow id="f1" sourceRef="s" targetRef="t"/><sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
                """))
        #expect(!atLimit.hasErrors)
        #expect(MultiInstance.maximumCardinality == 99_999)
    }
}
