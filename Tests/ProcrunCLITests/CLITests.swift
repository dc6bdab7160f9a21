import Foundation
import Testing
import Values

/// Runs the built `procrun` binary, as a user would.
struct CLI {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let binary: URL = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
                "procrun"),
            Bundle.main.bundleURL.appendingPathComponent("procrun"),
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("procrun"),
            packageRoot.appendingPathComponent(".build/debug/procrun"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates.last!
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil) throws
        -> Result
    {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? packageRoot
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        // Files, not pipes: a chatty child would block on a full pipe nobody is reading yet.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "procrun-out-\(UUID().uuidString)")
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
        let stdout = try Data(contentsOf: outURL)
        let stderr = try Data(contentsOf: errURL)
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    static func temporaryFile(_ name: String, _ contents: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "procrun-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}

func process(_ body: String) -> String {
    """
    <?xml version="1.0" encoding="UTF-8"?>
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">
    <process id="P" isExecutable="true">
    \(body)
    </process>
    </definitions>
    """
}

@Suite struct RunCommandTests {
    @Test func sampleOrderFlowRunsToTheEndWithATrace() throws {
        let result = try CLI.run([
            "Processes/order.bpmn", "--context", "Samples/order.json", "--answers", "Samples/answers.json",
            "--directory", "Samples/org.json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("process «Заказ клиента» (order)"))
        #expect(result.stdout.contains("Принять заказ"))
        #expect(result.stdout.contains("by ivanov"))
        #expect(result.stdout.contains("→ «Да»"))
        #expect(result.stdout.contains("by sidorov"))
        #expect(result.stdout.contains("completed at"))
    }

    @Test func jsonReportHasTheDocumentedShape() throws {
        let result = try CLI.run([
            "run", "Processes/order.bpmn", "--context", "Samples/order.json", "--answers", "Samples/answers.json",
            "--initiator", "kozlov", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONParser.parse(result.stdout).objectValue)
        #expect(
            report.keys == [
                "instance", "process", "status", "end", "path", "context", "notifications", "jobs", "webhooks",
                "incident",
            ])
        #expect(report["process"] == "order")
        #expect(report["status"] == "completed")
        #expect(report["end"]?.objectValue?.keys == ["id", "name"])
        #expect(report["incident"] == .null)
        let path = report["path"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(
            Array(path.prefix(6)) == [
                "Start_order", "Task_accept", "Gateway_in_stock", "Gateway_merge", "Task_assemble", "Task_invoice",
            ])
        let context = try #require(report["context"]?.objectValue)
        #expect(context["orderNumber"] == "ЗК-2026-00417")
        #expect(context["invoiceNumber"] == "СЧ-2026-1182")
        #expect(context["__createdBy"] == "kozlov")
        #expect(report["webhooks"]?.arrayValue?.first?.objectValue?["node"] == "Task_webhook")
    }

    @Test func notInStockTakesTheDefaultBranch() throws {
        let context = try CLI.temporaryFile("ctx.json", #"{"inStock": false, "warehouseUrl": "http://127.0.0.1:9"}"#)
        let result = try CLI.run(["Processes/order.bpmn", "--context", context, "--json"])
        let report = try #require(try JSONParser.parse(result.stdout).objectValue)
        #expect(report["path"]?.arrayValue?.contains("Task_procure") == true)
    }

    @Test func incidentExitsWithThree() throws {
        let file = try CLI.temporaryFile(
            "x.bpmn",
            process(
                """
                <startEvent id="s"/><exclusiveGateway id="g"/><endEvent id="e"/><endEvent id="e2"/>
                <sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
                <sequenceFlow id="f2" sourceRef="g" targetRef="e"><conditionExpression>${amount &gt; 1}</conditionExpression></sequenceFlow>
                <sequenceFlow id="f3" sourceRef="g" targetRef="e2"><conditionExpression>${amount &gt; 2}</conditionExpression></sequenceFlow>
                """))
        let result = try CLI.run([file, "--json"])
        #expect(result.status == 3)
        let report = try #require(try JSONParser.parse(result.stdout).objectValue)
        #expect(report["status"] == "incident")
        #expect(
            report["incident"] == [
                "node": "g",
                "message":
                    "cannot evaluate the condition of sequence flow 'f2': unknown variable 'amount' in '${amount > 1}'",
            ])
        let trace = try CLI.run([file])
        #expect(trace.status == 3)
        #expect(trace.stdout.contains("incident at 'g'"))
    }

    @Test func waitingExitsWithFour() throws {
        let file = try CLI.temporaryFile(
            "x.bpmn",
            process(
                """
                <startEvent id="s"/><exclusiveGateway id="x"/><task id="a"/><parallelGateway id="j"/><endEvent id="e"/>
                <sequenceFlow id="f1" sourceRef="s" targetRef="x"/><sequenceFlow id="f2" sourceRef="x" targetRef="a"/>
                <sequenceFlow id="f3" sourceRef="x" targetRef="j"><conditionExpression>false</conditionExpression></sequenceFlow>
                <sequenceFlow id="f4" sourceRef="a" targetRef="j"/><sequenceFlow id="f5" sourceRef="j" targetRef="e"/>
                """))
        let result = try CLI.run([file, "--json"])
        #expect(result.status == 4)
        #expect(try JSONParser.parse(result.stdout).objectValue?["status"] == "waiting")
    }

    @Test func chosenProcessAndUnknownProcess() throws {
        let file = try CLI.temporaryFile(
            "two.bpmn",
            """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
            <process id="A" isExecutable="true"><startEvent id="a1"/><endEvent id="a2"/><sequenceFlow id="af" sourceRef="a1" targetRef="a2"/></process>
            <process id="B" isExecutable="true"><startEvent id="b1"/><endEvent id="b2"/><sequenceFlow id="bf" sourceRef="b1" targetRef="b2"/></process>
            </definitions>
            """)
        let first = try CLI.run([file, "--json"])
        #expect(try JSONParser.parse(first.stdout).objectValue?["process"] == "A")
        let second = try CLI.run([file, "--process", "B", "--json"])
        #expect(try JSONParser.parse(second.stdout).objectValue?["path"] == ["b1", "b2"])
        let missing = try CLI.run([file, "--process", "C"])
        #expect(missing.status == 2)
        #expect(missing.stderr == "\(file):1:1: error: no process 'C' in this file (processes: A, B)\n")
    }

    @Test func aMessageToAnotherPoolStartsItsProcess() throws {
        let file = try CLI.temporaryFile(
            "pools.bpmn",
            """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><message id="M" name="order"/>
            <collaboration id="C"><participant id="Sales" processRef="SalesP"/><participant id="Stock" processRef="StockP"/>
            <messageFlow id="m1" sourceRef="send" targetRef="got"/></collaboration>
            <process id="SalesP" isExecutable="true"><startEvent id="s"/><sendTask id="send" messageRef="M"/><endEvent id="e"/>
            <sequenceFlow id="f1" sourceRef="s" targetRef="send"/><sequenceFlow id="f2" sourceRef="send" targetRef="e"/></process>
            <process id="StockP" name="Склад" isExecutable="true"><startEvent id="got"><messageEventDefinition messageRef="M"/></startEvent><userTask id="pick"/><endEvent id="se"/>
            <sequenceFlow id="w1" sourceRef="got" targetRef="pick"/><sequenceFlow id="w2" sourceRef="pick" targetRef="se"/></process>
            </definitions>
            """)
        // In memory and in a store alike: the other pool's task is answered by a simulated person
        // (in the store, `run --store` runs the jobs of the instances its messages started).
        let store = FileManager.default.temporaryDirectory.appendingPathComponent(
            "procrun-pools-\(UUID().uuidString).sqlite"
        ).path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: store + suffix) } }
        for arguments in [[file], [file, "--store", store]] {
            let result = try CLI.run(arguments)
            #expect(result.status == 0, "\(arguments): \(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("completed at «e» (e)"))
            #expect(
                result.stdout.range(
                    of: #"also ran: Склад \([0-9a-f-]{36}\), started by a message or signal: completed"#,
                    options: .regularExpression) != nil,
                "\(arguments): \(result.stdout)")
        }
        let listed = try CLI.run(["instances", "--store", store])
        #expect(listed.stdout.components(separatedBy: "completed").count == 3, "\(listed.stdout)")
    }

    @Test func badInputsExitWithTwoAndOneLocatedLine() throws {
        let badJSON = try CLI.temporaryFile("ctx.json", "{\n  \"a\": 1,\n  \"b\": tru\n}")
        let json = try CLI.run(["Processes/order.bpmn", "--context", badJSON])
        #expect(json.status == 2)
        #expect(json.stderr == "\(badJSON):3:8: error: expected a JSON value, found 't'\n")
        #expect(json.stdout.isEmpty)

        let array = try CLI.temporaryFile("ctx.json", "[1]")
        let notObject = try CLI.run(["Processes/order.bpmn", "--context", array])
        #expect(notObject.status == 2)
        #expect(notObject.stderr.hasPrefix("\(array):1:1: error: the context must be a JSON object"))

        let missingFile = try CLI.run(["nope.bpmn"])
        #expect(missingFile.status == 2)
        #expect(missingFile.stderr == "procrun: error: nope.bpmn: no such file\n")

        let badFlag = try CLI.run(["Processes/order.bpmn", "--frobnicate"])
        #expect(badFlag.status == 2)
        #expect(badFlag.stderr.hasPrefix("procrun: error: "))
        #expect(badFlag.stderr.split(separator: "\n").count == 1)

        let unsupported = try CLI.temporaryFile(
            "u.bpmn",
            process(
                "<startEvent id=\"s\"/>\n<choreographyTask id=\"Gateway_1\"/>\n<endEvent id=\"e\"/><sequenceFlow id=\"f\" sourceRef=\"s\" targetRef=\"e\"/>"
            ))
        let refused = try CLI.run([unsupported])
        #expect(refused.status == 2)
        #expect(refused.stderr == "\(unsupported):5:1: error: unsupported element 'choreographyTask' (id Gateway_1)\n")
    }

    @Test func nonExecutableProcessWithUnsupportedElementsIsRefusedWhenRun() throws {
        let file = try CLI.temporaryFile(
            "n.bpmn",
            """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
            <process id="P"><startEvent id="s"/><choreographyTask id="c"/></process>
            </definitions>
            """)
        let validate = try CLI.run(["validate", file])
        #expect(validate.status == 0)
        #expect(
            validate.stderr.contains(
                "warning: unsupported element 'choreographyTask' (id c) in a process that is not executable"))
        let run = try CLI.run([file])
        #expect(run.status == 2)
        #expect(run.stderr.contains("\(file):2:37: error: unsupported element 'choreographyTask' (id c)"))
    }
}

@Suite struct ValidateCommandTests {
    @Test func sampleProcessIsValid() throws {
        let result = try CLI.run(["validate", "Processes/order.bpmn"])
        #expect(result.status == 0)
        #expect(result.stdout == "Processes/order.bpmn: valid: order\n")
        #expect(result.stderr.isEmpty)
    }

    @Test func hostileXMLExitsWithTwo() throws {
        let bomb = try CLI.temporaryFile(
            "bomb.bpmn",
            """
            <?xml version="1.0"?>
            <!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="P" name="&c;"/></definitions>
            """)
        let result = try CLI.run(["validate", bomb])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("\(bomb):2:"))
        #expect(result.stderr.contains("DOCTYPE declarations are not allowed"))
    }

    /// The MIWG corpus (a copy in the tests' fixtures, with its SOURCE.md): every file is valid or
    /// gets located diagnostics, and the malformed export a located XML error.
    @Test func corpusValidatesWithZeroOrTwo() throws {
        let root = CLI.packageRoot.appendingPathComponent("Tests/ProcrunCLITests/Fixtures/miwg")
        let files = FileManager.default.enumerator(atPath: root.path)!.compactMap { $0 as? String }.filter {
            $0.hasSuffix(".bpmn")
        }.sorted()
        let result = try CLI.run(["validate"] + files.map { root.appendingPathComponent($0).path })
        #expect(result.status == 2)
        // Every stderr line is a located diagnostic.
        for line in result.stderr.split(separator: "\n") {
            #expect(
                line.range(of: #"^/.+\.bpmn:\d+:\d+: (error|warning): "#, options: .regularExpression) != nil, "\(line)"
            )
        }
        let malformed = try CLI.run([
            "validate", root.appendingPathComponent("malformed/genmymodel-0.47/C.1.0-export.bpmn").path,
        ])
        #expect(malformed.status == 2)
        #expect(malformed.stderr.contains(":97:67: error: malformed XML"))
    }
}
