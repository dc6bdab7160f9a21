import Foundation
import Testing

@Suite struct SkippedImplementationCLITests {
    static let file = """
        <?xml version="1.0" encoding="UTF-8"?>
        <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
          xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="D">
        <process id="Bill" isExecutable="true">
        <startEvent id="s"/>
        <serviceTask id="bill" name="Выставить счёт" camunda:class="com.acme.Bill"/>
        <serviceTask id="pay" name="Оплата"><extensionElements><zeebe:taskDefinition type="payment"/></extensionElements></serviceTask>
        <endEvent id="e"/>
        <sequenceFlow id="f1" sourceRef="s" targetRef="bill"/><sequenceFlow id="f2" sourceRef="bill" targetRef="pay"/>
        <sequenceFlow id="f3" sourceRef="pay" targetRef="e"/>
        </process>
        </definitions>
        """

    /// `validate` and `run` warn about each task they skip, with its line; `run` completes and its
    /// trace marks the skipped steps; `--strict` refuses the file (exit 2) with the same findings.
    @Test func skippedTasksAreWarnedTracedAndRefusedWhenStrict() throws {
        let path = try CLI.temporaryFile("bill.bpmn", Self.file)
        let validated = try CLI.run(["validate", path])
        #expect(validated.status == 0, "\(validated.stderr)")
        #expect(
            validated.stderr.contains(
                "\(path):6:1: warning: serviceTask 'bill' has camunda:class 'com.acme.Bill', which procrun cannot run; the task is skipped"
            ))
        #expect(validated.stderr.contains("warning: serviceTask 'pay' has zeebe:taskDefinition type 'payment'"))
        #expect(validated.stdout.contains("valid: Bill; 2 warnings"))

        let ran = try CLI.run(["run", path])
        #expect(ran.status == 0, "\(ran.stderr)")
        #expect(ran.stderr.contains("camunda:class 'com.acme.Bill', which procrun cannot run"))
        #expect(ran.stdout.contains("→ Оплата  (skipped (camunda:class 'com.acme.Bill'))"), "\(ran.stdout)")
        #expect(ran.stdout.contains("skipped (zeebe:taskDefinition type 'payment')"))
        #expect(ran.stdout.contains("completed at"))

        for command in [["validate", "--strict", path], ["run", "--strict", path]] {
            let strict = try CLI.run(command)
            #expect(strict.status == 2, "\(command): \(strict.stderr)")
            #expect(
                strict.stderr.contains("\(path):6:1: error: serviceTask 'bill' has camunda:class 'com.acme.Bill'"),
                "\(strict.stderr)")
            #expect(strict.stderr.contains("which procrun cannot run; --strict refuses it"))
        }
    }
}
