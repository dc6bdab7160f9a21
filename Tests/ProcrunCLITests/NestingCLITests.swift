import Foundation
import Testing

/// Hostile expressions in a BPMN file: `procrun validate` reports nesting past the limit at the
/// element, as `FILE:LINE:COL: error: expression nested too deeply (limit N)`, and exits 2.
/// Before the limit, each of these files crashed `validate` with SIGSEGV (exit 139).
@Suite struct NestingCLITests {
    /// As users see it (`FEELExpression.nestingLimit` is 64).
    static let message = "error: expression nested too deeply (limit 64)"

    /// A process whose exclusive gateway has one conditional flow (its `conditionExpression` on
    /// line 9, column 3) and whose script task's `script` is on line 13, column 3.
    static func model(condition: String, script: String = "done = true") -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">
        <process id="P" isExecutable="true">
        <startEvent id="s"/>
        <exclusiveGateway id="g" default="f3"/>
        <endEvent id="e"/>
        <sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
        <sequenceFlow id="f2" sourceRef="g" targetRef="t">
          <conditionExpression>\(condition)</conditionExpression>
        </sequenceFlow>
        <sequenceFlow id="f3" sourceRef="g" targetRef="e"/>
        <scriptTask id="t" scriptFormat="feel">
          <script>\(script)</script>
        </scriptTask>
        <sequenceFlow id="f4" sourceRef="t" targetRef="e"/>
        </process>
        </definitions>
        """
    }

    static let parentheses: String =
        String(repeating: "(", count: 10_000) + "1" + String(repeating: ")", count: 10_000) + " = 1"

    static let hostileConditions: [(name: String, condition: String)] = [
        ("parentheses", parentheses),
        ("unary minus", String(repeating: "-", count: 100_000) + "1 = 1"),
        ("JUEL negation", "${" + String(repeating: "!", count: 100_000) + "true}"),
        ("calls", String(repeating: "not(", count: 10_000) + "true" + String(repeating: ")", count: 10_000)),
    ]

    @Test(arguments: hostileConditions)
    func aConditionNestedTooDeeplyIsAnErrorAtItsElement(name: String, condition: String) throws {
        let file = try CLI.temporaryFile("nested.bpmn", Self.model(condition: condition))
        let result = try CLI.run(["validate", file])
        #expect(result.status == 2, "\(name): exit \(result.status)")
        let errors: [String] = result.stderr.split(separator: "\n").map(String.init).filter { $0.contains(": error: ") }
        let expected: [String] = [file + ":9:3: " + Self.message]
        #expect(errors == expected, "\(name)")
    }

    @Test func aScriptLineNestedTooDeeplyIsAnErrorAtTheScript() throws {
        let script = "a = 1\nb = " + Self.parentheses
        let file = try CLI.temporaryFile("nested-script.bpmn", Self.model(condition: "true", script: script))
        let result = try CLI.run(["validate", file])
        #expect(result.status == 2)
        let errors: [String] = result.stderr.split(separator: "\n").map(String.init).filter { $0.contains(": error: ") }
        let expected: [String] = [file + ":13:3: " + Self.message]
        #expect(errors == expected)
    }

    /// A flat chain is one level however long: the file is valid, and runs.
    @Test func aFlatChainOf100000TermsValidatesAndRuns() throws {
        let chain = Array(repeating: "1", count: 100_000).joined(separator: " - ") + " = -99998"
        let script = "total = " + Array(repeating: "1", count: 100_000).joined(separator: " + ")
        let file = try CLI.temporaryFile("chain.bpmn", Self.model(condition: chain, script: script))
        let validate = try CLI.run(["validate", file])
        #expect(validate.status == 0, "\(validate.stderr)")
        let run = try CLI.run([file, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(
            run.stdout.contains("\"total\":100000") || run.stdout.contains("\"total\": 100000"),
            "\(run.stdout.prefix(2000))")
    }
}
