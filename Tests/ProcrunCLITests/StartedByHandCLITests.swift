import Foundation
import Testing

@Suite struct StartedByHandCLITests {
    /// A process that only a timer starts runs when `run` is asked to, and `run` says it started
    /// it by hand (nothing schedules the timer yet); a process with a none start event says nothing.
    @Test func aTimerStartedProcessIsStartedByHandAndSaysSo() throws {
        let path = try CLI.temporaryFile(
            "hourly.bpmn",
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D">
            <process id="Hourly" name="Сверка" isExecutable="true">
            <startEvent id="tick" name="Каждый час"><timerEventDefinition><timeCycle xsi:type="tFormalExpression">R/PT1H</timeCycle></timerEventDefinition></startEvent>
            <endEvent id="e"/><sequenceFlow id="f" sourceRef="tick" targetRef="e"/>
            </process></definitions>
            """)
        let ran = try CLI.run(["run", path])
        #expect(ran.status == 0, "\(ran.stderr)")
        #expect(
            ran.stderr.contains(
                "procrun: process «Сверка» starts only by its startEvent(timer) «Каждый час»; started by hand, now (on its timer, a worker starts it once it is deployed to the store)"
            ), "\(ran.stderr)")
        #expect(ran.stdout.contains("completed at"))

        let plain = try CLI.run([
            "run",
            try CLI.temporaryFile(
                "plain.bpmn",
                process(
                    "<startEvent id=\"s\"/><endEvent id=\"e\"/><sequenceFlow id=\"f\" sourceRef=\"s\" targetRef=\"e\"/>"
                )),
        ])
        #expect(plain.status == 0 && !plain.stderr.contains("started by hand"), "\(plain.stderr)")
    }
}
