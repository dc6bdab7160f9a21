import ArgumentParser
import BPMNLoader
import Engine
import Foundation
import Integrations
import ProcessModel
import Runtime
import Values
import Views

struct TestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run process tests (*.test.json): mocked integrations, a virtual clock, coverage.",
        discussion: """
            PATH is a test file or a folder searched for *.test.json (default: the current folder). One line per \
            test case, PASS or FAIL, then `N passed, M failed`. Exit 0 when all pass, 1 when any fails (or \
            coverage is below --coverage-min), 2 for an invalid test file or model.
            """)

    @Argument(help: "Test files, or folders searched for *.test.json.") var paths: [String] = []
    @Option(help: "Write the results as JUnit XML to this file.") var junit: String?
    @Flag(help: "Print the flow nodes and sequence flows the cases covered, per process.") var coverage = false
    @Option(help: "Fail when the sequence flows covered are below this percentage.") var coverageMin: Double?
    @Flag(help: "Print the results as JSON.") var json = false
    @Option(help: "Only the test cases whose name contains this.") var filter: String?
    @Option(help: "Write DIR/index.html: each process drawn with what the cases covered, and each case's path.")
    var coverageReport: String?

    func run() async throws {
        let files = try Self.testFiles(paths.isEmpty ? ["."] : paths)
        if files.isEmpty {
            throw Inputs.fail([
                .error(at: nil, "no *.test.json under \(paths.isEmpty ? "." : paths.joined(separator: ", "))")
            ])
        }
        var suites: [ProcessTestFile] = []
        for file in files { suites.append(try ProcessTestFile(path: file)) }
        var results: [ProcessTestResult] = []
        var covered: [String: (process: ProcessDefinition, nodes: Set<Int>, flows: Set<Int>)] = [:]
        // For the report: by process, each case's nodes and flows (ids), in the order run.
        var paths: [String: [(name: String, file: String, nodes: Set<String>, flows: Set<String>)]] = [:]
        var order: [String] = []  // processes in the order the cases first ran them
        for suite in suites {
            for testCase in suite.cases where filter.map({ testCase.name.contains($0) }) ?? true {
                let started = Date()
                let run = try await ProcessTestRun(suite: suite, testCase: testCase)
                let failure = await run.execute()
                var result = ProcessTestResult(
                    file: suite.path, name: testCase.name, failure: failure, seconds: Date().timeIntervalSince(started))
                result.path = run.pathText
                results.append(result)
                if !json {
                    print("\(failure == nil ? "PASS" : "FAIL") \(testCase.name) (\(suite.path))")
                    if let failure { print(failure.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")) }
                }
                // Coverage by process: the case's own, and any other of its file it started.
                var ran: [String: (nodes: Set<Int>, flows: Set<Int>)] = [testCase.process.id: ([], [])]
                for instance in run.instances where run.processes[instance.processID] != nil {
                    for item in instance.history {
                        ran[instance.processID, default: ([], [])].nodes.insert(item.node)
                        ran[instance.processID, default: ([], [])].flows.formUnion(item.flows)
                    }
                }
                for (id, (caseNodes, caseFlows)) in ran {
                    guard let process = run.processes[id] else { continue }
                    let key = "\(testCase.model.file)#\(id)"
                    if covered[key] == nil { order.append(key) }
                    var entry = covered[key] ?? (process, [], [])
                    entry.nodes.formUnion(caseNodes)
                    entry.flows.formUnion(caseFlows)
                    covered[key] = entry
                    paths[key, default: []].append(
                        (
                            testCase.name, suite.path, Set(caseNodes.map { process.nodes[$0].id }),
                            Set(caseFlows.map { process.flows[$0].id })
                        ))
                }
            }
        }
        if results.isEmpty, let filter {
            throw Inputs.fail([.error(at: nil, "no test case's name contains '\(filter)'")])
        }
        let failed = results.filter { $0.failure != nil }.count
        var belowMinimum = false
        if json {
            print(JSONWriter.string(.array(results.map(\.json)), pretty: true))
        } else {
            print("\(results.count - failed) passed, \(failed) failed")
        }
        if coverage || coverageMin != nil {
            for key in order {
                let (process, nodes, flows) = covered[key]!
                let nodePercent = Self.percent(nodes.count, process.nodes.count)
                let flowPercent = Self.percent(flows.count, process.flows.count)
                if let coverageMin, flowPercent < coverageMin { belowMinimum = true }
                guard coverage, !json else { continue }
                print(
                    "coverage \(process.id): flow nodes \(nodes.count)/\(process.nodes.count) (\(JSONWriter.number(nodePercent))%), "
                        + "sequence flows \(flows.count)/\(process.flows.count) (\(JSONWriter.number(flowPercent))%)")
                let missingNodes = process.nodes.indices.filter { !nodes.contains($0) }.map {
                    "\(process.nodes[$0].id)\(process.nodes[$0].name.map { " «\($0)»" } ?? "")"
                }
                let missingFlows = process.flows.indices.filter { !flows.contains($0) }.map {
                    "\(process.flows[$0].id)\(process.flows[$0].name.map { " «\($0)»" } ?? "")"
                }
                if !missingNodes.isEmpty { print("  not covered: \(missingNodes.joined(separator: ", "))") }
                if !missingFlows.isEmpty { print("  flows not covered: \(missingFlows.joined(separator: ", "))") }
            }
            if belowMinimum, let coverageMin {
                printError("procrun: sequence flow coverage is below --coverage-min \(JSONWriter.number(coverageMin))%")
            }
        }
        if let coverageReport {
            try Self.writeReport(coverageReport, order: order, covered: covered, paths: paths)
        }
        if let junit {
            do {
                try Data(ProcessTestResult.junit(results).utf8).write(to: URL(fileURLWithPath: junit))
            } catch {
                throw Inputs.fail([
                    .error(at: nil, "cannot write the JUnit file '\(junit)': \(error.localizedDescription)")
                ])
            }
        }
        if failed > 0 || belowMinimum { throw ExitWith(code: 1) }
    }

    /// `DIR/index.html`: per process, its diagram with the nodes and flows all cases covered
    /// (the others dimmed), and a selector that shows one case's path instead.
    static func writeReport(
        _ folder: String, order: [String],
        covered: [String: (process: ProcessDefinition, nodes: Set<Int>, flows: Set<Int>)],
        paths: [String: [(name: String, file: String, nodes: Set<String>, flows: Set<String>)]]
    ) throws {
        var html = """
            <!DOCTYPE html>
            <html lang="ru"><head><meta charset="utf-8"><title>procrun test coverage</title>
            <style>body{font-family:sans-serif;margin:20px} .view{display:none} .view.shown{display:block} svg{max-width:100%;height:auto;border:1px solid #ddd}</style>
            </head><body><h1>procrun test coverage</h1>

            """
        for (number, key) in order.enumerated() {
            let (process, nodes, flows) = covered[key]!
            let file = String(key[..<(key.lastIndex(of: "#") ?? key.endIndex)])
            var options = LoadOptions()
            options.readDiagram = true
            let diagram = BPMNLoader.load(path: file, options: options).diagram ?? Diagram()
            html +=
                "<h2>\(DiagramSVG.escape(process.displayName)) (\(DiagramSVG.escape(process.id))): flow nodes \(nodes.count)/\(process.nodes.count), sequence flows \(flows.count)/\(process.flows.count)</h2>\n"
            guard !diagram.isEmpty else {
                html += "<p>\(DiagramSVG.escape(file)) has no diagram (BPMNDI) to draw.</p>\n"
                continue
            }
            html +=
                "<select onchange=\"for(const v of document.querySelectorAll('.p\(number)'))v.classList.toggle('shown',v.id===this.value)\">"
            html += "<option value=\"p\(number)-all\">all cases</option>"
            let cases = paths[key] ?? []
            for (index, item) in cases.enumerated() {
                html += "<option value=\"p\(number)-\(index)\">\(DiagramSVG.escape(item.name))</option>"
            }
            html += "</select>\n"
            func view(_ id: String, _ marks: DiagramSVG.Highlight, shown: Bool) -> String {
                var svg = DiagramSVG.render(diagram, highlight: marks)
                if let start = svg.range(of: "<svg ") { svg = String(svg[start.lowerBound...]) }
                return "<div class=\"view p\(number)\(shown ? " shown" : "")\" id=\"\(id)\">\(svg)</div>\n"
            }
            var all = DiagramSVG.Highlight()
            all.nodes = Set(nodes.map { process.nodes[$0].id })
            all.flows = Set(flows.map { process.flows[$0].id })
            html += view("p\(number)-all", all, shown: true)
            for (index, item) in cases.enumerated() {
                html += view(
                    "p\(number)-\(index)", DiagramSVG.Highlight(nodes: item.nodes, flows: item.flows), shown: false)
            }
        }
        html += "</body></html>\n"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Data(html.utf8).write(to: URL(fileURLWithPath: folder).appendingPathComponent("index.html"))
        } catch {
            throw Inputs.fail([
                .error(at: nil, "cannot write the coverage report to '\(folder)': \(error.localizedDescription)")
            ])
        }
    }

    static func percent(_ part: Int, _ whole: Int) -> Double {
        whole == 0 ? 100 : (Double(part) * 1000 / Double(whole)).rounded() / 10
    }

    /// The test files a run takes: files as given, folders searched for `*.test.json`, sorted.
    static func testFiles(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                throw Inputs.fail([.error(at: nil, "\(path): no such file or folder")])
            }
            if !isFolder.boolValue {
                files.append(path)
                continue
            }
            let found = FileManager.default.enumerator(atPath: path)?.compactMap { $0 as? String } ?? []
            files += found.filter { $0.hasSuffix(".test.json") && !$0.contains(".build/") }.sorted().map {
                path == "." ? $0 : (path as NSString).appendingPathComponent($0)
            }
        }
        return files
    }
}

/// One test case's outcome.
struct ProcessTestResult {
    var file: String
    var name: String
    var failure: String?
    var seconds: Double
    var path = ""

    var json: JSONValue {
        [
            "file": .string(file), "name": .string(name), "passed": .bool(failure == nil),
            "failure": failure.map(JSONValue.string) ?? .null, "seconds": .number(seconds),
        ]
    }

    /// Text for XML: the same escaping as the drawings'.
    static func xml(_ text: String) -> String { DiagramSVG.escape(text) }

    static func junit(_ results: [ProcessTestResult]) -> String {
        var text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        let failures = results.filter { $0.failure != nil }.count
        let total = results.reduce(0) { $0 + $1.seconds }
        text +=
            "<testsuites name=\"procrun test\" tests=\"\(results.count)\" failures=\"\(failures)\" time=\"\(String(format: "%.3f", total))\">\n"
        var files: [String] = []
        for result in results where !files.contains(result.file) { files.append(result.file) }
        for file in files {
            let cases = results.filter { $0.file == file }
            let failed = cases.filter { $0.failure != nil }.count
            let time = cases.reduce(0) { $0 + $1.seconds }
            text +=
                "  <testsuite name=\"\(xml(file))\" tests=\"\(cases.count)\" failures=\"\(failed)\" errors=\"0\" time=\"\(String(format: "%.3f", time))\">\n"
            for result in cases {
                text +=
                    "    <testcase name=\"\(xml(result.name))\" classname=\"\(xml(file))\" time=\"\(String(format: "%.3f", result.seconds))\""
                if let failure = result.failure {
                    let first = failure.split(separator: "\n").first.map(String.init) ?? failure
                    text += ">\n      <failure message=\"\(xml(first))\">\(xml(failure))</failure>\n    </testcase>\n"
                } else {
                    text += "/>\n"
                }
            }
            text += "  </testsuite>\n"
        }
        return text + "</testsuites>\n"
    }
}
