import Foundation
import Testing
import Values

/// The step budget through the CLI: models that never wait stop in an incident (exit 3) that
/// names the node, under a memory cap, instead of running until memory runs out.
@Suite struct LoopCLITests {
    static let scriptLoop = process(
        """
        <startEvent id="s"/><scriptTask id="calc" name="Посчитать"><script>attempts = 1</script></scriptTask>
        <exclusiveGateway id="g" default="back"/><endEvent id="e"/>
        <sequenceFlow id="f1" sourceRef="s" targetRef="calc"/><sequenceFlow id="f2" sourceRef="calc" targetRef="g"/>
        <sequenceFlow id="back" sourceRef="g" targetRef="calc"/>
        <sequenceFlow id="out" sourceRef="g" targetRef="e"><conditionExpression>approved = true</conditionExpression></sequenceFlow>
        """)
    static let alwaysTrueLoop = process(
        """
        <startEvent id="s"/><task id="t" name="Повторять"><standardLoopCharacteristics><loopCondition>= true</loopCondition></standardLoopCharacteristics></task>
        <endEvent id="e"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/><sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
        """)
    static let forkBomb = process(
        """
        <startEvent id="s"/><exclusiveGateway id="x"/><parallelGateway id="p"/><endEvent id="e"/>
        <sequenceFlow id="f1" sourceRef="s" targetRef="x"/><sequenceFlow id="f2" sourceRef="x" targetRef="p"/>
        <sequenceFlow id="f3" sourceRef="p" targetRef="x"/><sequenceFlow id="f4" sourceRef="p" targetRef="x"/>
        <sequenceFlow id="f5" sourceRef="p" targetRef="e"/>
        """)
    static let miwg = "Tests/ProcrunCLITests/Fixtures/miwg-C.1.1-export.bpmn"

    /// Runs procrun under a 1 GB address-space cap: a run that grows without bound is killed
    /// (and the test fails) instead of taking the machine down.
    static func capped(_ arguments: [String]) throws -> CLI.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "ulimit -v 1048576 && exec \"$0\" \"$@\"", CLI.binary.path] + arguments
        process.currentDirectoryURL = CLI.packageRoot
        // Files, not pipes: a chatty child would block on a full pipe nobody is reading yet.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "procrun-capped-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("stdout")
        let errURL = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return CLI.Result(
            status: process.terminationStatus, stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    static func file(_ name: String, _ xml: String) throws -> String { try CLI.temporaryFile(name, xml) }

    static func report(_ result: CLI.Result) throws -> JSONObject {
        let value = try JSONParser.parse(Array(result.stdout.utf8), file: "stdout")
        return try #require(value.objectValue)
    }

    @Test(arguments: [
        ("script-loop.bpmn", scriptLoop, "calc", "5000 of them at 'calc' («Посчитать»)"),
        ("always-true.bpmn", alwaysTrueLoop, "t", "9999 of them at 't' («Повторять»)"),
        ("fork-bomb.bpmn", forkBomb, "", "step budget of 10000 steps exhausted without reaching a wait state"),
    ])
    func spinningModelEndsInAnIncidentNamingTheNode(name: String, xml: String, node: String, phrase: String) throws {
        let path = try Self.file(name, xml)
        let context = try Self.file("context.json", #"{"approved": false}"#)
        let result = try Self.capped(["run", path, "--context", context, "--json"])
        #expect(result.status == 3, "\(result.stderr)")
        let report = try Self.report(result)
        #expect(report["status"] == "incident")
        let incident = try #require(report["incident"]?.objectValue)
        let message = incident["message"]?.stringValue ?? ""
        #expect(message.contains(phrase), "\(message)")
        #expect(message.contains("--max-steps"))
        if !node.isEmpty { #expect(incident["node"] == .string(node)) }
        // The fork bomb names one of its gateways.
        #expect(["calc", "t", "x", "p"].contains(incident["node"]?.stringValue ?? ""))
    }

    /// The MIWG file: gateways without conditions always take their first flow, back into a cycle
    /// of user tasks that the simulated people complete at once.
    @Test func miwgInvoiceCycleStopsOverSimulatedAnswers() throws {
        let result = try Self.capped(["run", Self.miwg])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(
            result.stdout.contains(
                "incident at 'Bpmn_UserTask_256ftmo0BiuEeiTaYFQ8JSDfA': step budget of 10000 steps exhausted over"))
        #expect(result.stdout.contains("events handled without time passing"))
        #expect(result.stdout.contains("at 'Bpmn_UserTask_256ftmo0BiuEeiTaYFQ8JSDfA' («Approve Invoice»)"))
    }

    @Test func maxStepsChangesWhereItStops() throws {
        let path = try Self.file("script-loop.bpmn", Self.scriptLoop)
        let context = try Self.file("context.json", #"{"approved": false}"#)
        var lengths: [Int] = []
        for steps in [50, 51, 1_000] {
            let result = try Self.capped(["run", path, "--context", context, "--json", "--max-steps", String(steps)])
            #expect(result.status == 3)
            let report = try Self.report(result)
            #expect(
                report["incident"]?.objectValue?["message"]?.stringValue?.hasPrefix(
                    "step budget of \(steps) steps exhausted") == true)
            // One node left per step.
            lengths.append(report["path"]?.arrayValue?.count ?? -1)
            // The start event, then calc and g in turn: the 50th step is the script task, the 51st the gateway.
            let last = report["path"]?.arrayValue?.last?.stringValue
            #expect(last == (steps % 2 == 0 ? "calc" : "g"))
        }
        #expect(lengths == [50, 51, 1_000])
        let miwg = try Self.capped(["run", Self.miwg, "--max-steps", "50"])
        #expect(miwg.status == 3)
        #expect(miwg.stdout.contains("step budget of 50 steps exhausted over"))
    }

    @Test(arguments: ["0", "-5"])
    func maxStepsBelowOneIsInvalidInput(value: String) throws {
        let path = try Self.file("script-loop.bpmn", Self.scriptLoop)
        let result = try CLI.run(["run", path, "--max-steps=\(value)"])
        #expect(result.status == 2)
        #expect(result.stderr == "procrun: error: --max-steps must be a whole number from 1 (got \(value))\n")
        let start = try CLI.run([
            "start", path, "--store",
            FileManager.default.temporaryDirectory.appendingPathComponent("never-\(UUID()).sqlite").path,
            "--max-steps=\(value)",
        ])
        #expect(start.status == 2)
    }

    /// A loop of 5,000 iterations with a way out completes under the default budget.
    @Test func legitimateLongLoopCompletes() throws {
        let path = try Self.file(
            "count.bpmn",
            process(
                """
                <startEvent id="s"/>
                <scriptTask id="inc"><standardLoopCharacteristics><loopCondition>n &lt; 5000</loopCondition></standardLoopCharacteristics><script>n = n + 1</script></scriptTask>
                <endEvent id="e"/><sequenceFlow id="f1" sourceRef="s" targetRef="inc"/><sequenceFlow id="f2" sourceRef="inc" targetRef="e"/>
                """))
        let context = try Self.file("context.json", #"{"n": 0}"#)
        let result = try Self.capped(["run", path, "--context", context, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.report(result)["context"]?.objectValue?["n"] == 5000)
        #expect(try CLI.run(["validate", path]).stderr == "")
    }

    @Test func validateWarnsAboutTheSpinningModelsOnly() throws {
        for (name, xml, element) in [
            ("script-loop.bpmn", Self.scriptLoop, "'calc' («Посчитать»)"),
            ("always-true.bpmn", Self.alwaysTrueLoop, "'t' («Повторять»)"),
            ("fork-bomb.bpmn", Self.forkBomb, "'x', 'p'"),
        ] {
            let path = try Self.file(name, xml)
            let result = try CLI.run(["validate", path])
            #expect(result.status == 0, "\(result.stderr)")
            let warnings = result.stderr.split(separator: "\n").filter {
                $0.contains(": warning: ") && $0.contains("step budget")
            }
            #expect(warnings.count == 1, "\(result.stderr)")
            #expect(warnings.first?.hasPrefix(path + ":4:") == true)
            #expect(warnings.first?.contains(element) == true)
        }
        let legit = try Self.file(
            "legit.bpmn",
            process(
                """
                <startEvent id="s"/><scriptTask id="inc"><script>n = n + 1</script></scriptTask><exclusiveGateway id="g" default="out"/><endEvent id="e"/>
                <sequenceFlow id="f1" sourceRef="s" targetRef="inc"/><sequenceFlow id="f2" sourceRef="inc" targetRef="g"/>
                <sequenceFlow id="back" sourceRef="g" targetRef="inc"><conditionExpression>n &lt; 5</conditionExpression></sequenceFlow>
                <sequenceFlow id="out" sourceRef="g" targetRef="e"/>
                """))
        let result = try CLI.run(["validate", legit])
        #expect(result.status == 0)
        #expect(result.stderr == "")
    }

    /// The store has the same budget: `start` ends its first transaction in an incident, the
    /// budget given to `start` is stored with the instance (a later `retry`, another process,
    /// runs that many steps again), and `skip` is refused: there is no failed step to leave.
    @Test func storedInstanceStopsAndKeepsItsBudget() throws {
        let path = try Self.file("script-loop.bpmn", Self.scriptLoop)
        let context = try Self.file("context.json", #"{"approved": false}"#)
        let store = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("s.sqlite").path
        let start = try Self.capped(["start", path, "--context", context, "--store", store, "--max-steps", "50"])
        #expect(start.status == 3, "\(start.stderr)")
        #expect(
            start.stdout.contains(
                "step budget of 50 steps exhausted without reaching a wait state, 25 of them at 'calc'"))
        let id = try #require(start.stdout.split(separator: " ").first.map(String.init))
        func pathLength() throws -> Int {
            let show = try CLI.run(["show", id, "--store", store, "--json"])
            return try Self.report(show)["path"]?.arrayValue?.count ?? -1
        }
        #expect(try pathLength() == 50)
        let skip = try CLI.run(["skip", id, "--store", store])
        #expect(skip.status == 5)
        #expect(
            skip.stderr.contains(
                "stopped on its step budget of 50 steps at 'calc', not on a failed step: there is nothing to skip"))
        #expect(try pathLength() == 50)
        let retry = try Self.capped(["retry", id, "--store", store])
        #expect(retry.status == 3)
        #expect(try pathLength() == 100)
        #expect(try CLI.run(["cancel", id, "--store", store]).status == 0)
    }

    /// `run --store`: the simulated people's answers are separate transactions, but they carry
    /// one budget on, as in `run`: the MIWG cycle of user tasks ends in an incident, each
    /// transaction short, instead of answering forever.
    @Test func storedSimulationStopsOverSimulatedAnswers() throws {
        let directory = URL(fileURLWithPath: try Self.file("x", "")).deletingLastPathComponent()
        let store = directory.appendingPathComponent("s.sqlite").path
        let result = try Self.capped(["run", Self.miwg, "--store", store, "--max-steps", "300", "--json"])
        #expect(result.status == 3, "\(result.stderr)")
        let incident = try #require(try Self.report(result)["incident"]?.objectValue)
        #expect(incident["node"] == "Bpmn_UserTask_256ftmo0BiuEeiTaYFQ8JSDfA")
        #expect(
            incident["message"]?.stringValue?.hasPrefix(
                "step budget of 300 steps exhausted over 151 events handled without time passing") == true)
    }
}
