import Foundation
import Testing
import Values

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// `procrun render` and `procrun test --coverage-report`: SVG drawn from BPMNDI, valid XML with
/// UTF-8 text, rendered to PNG by librsvg as a browser would draw it.
@Suite(.serialized) struct RenderCLITests {
    static let order = CLI.packageRoot.appendingPathComponent("Processes/order.bpmn").path

    /// The group of an element in the SVG.
    func group(_ svg: String, _ id: String) -> String {
        guard let start = svg.range(of: "<g id=\"\(id)\"") else { return "" }
        let rest = svg[start.lowerBound...]
        return String(rest[..<(rest.range(of: "</g>")?.upperBound ?? rest.endIndex)])
    }

    @Test func theOrderProcessIsDrawnAndRendersToPNG() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("procrun-render-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let report = folder.appendingPathComponent("run.json").path
        let run = try CLI.run([
            "run", Self.order, "--context", "Samples/order.json", "--answers", "Samples/answers.json", "--json",
        ])
        try Data(run.stdout.utf8).write(to: URL(fileURLWithPath: report))
        let svgPath = folder.appendingPathComponent("order.svg").path
        let result = try CLI.run(["render", Self.order, "--report", report, "-o", svgPath])
        #expect(result.status == 0, "\(result.stderr)")
        let svg = try String(contentsOfFile: svgPath, encoding: .utf8)
        #expect(XMLParser(data: Data(svg.utf8)).parse(), "the SVG is well-formed XML")
        #expect(svg.contains(">Принять заказ</text>"))
        #expect(svg.contains("rotate(-90"), "lane labels run vertically")
        // Passed: green; not passed: dimmed.
        #expect(group(svg, "Task_accept").contains("stroke=\"#2e7d32\""))
        #expect(group(svg, "Task_procure").contains("opacity=\"0.4\""))
        #expect(group(svg, "Flow_in_stock").contains("stroke=\"#2e7d32\""))
        #expect(group(svg, "Gateway_in_stock").contains(">×</text>"))
        #expect(group(svg, "Task_webhook").contains("webhook"))
        // librsvg draws it (as a browser would); the PNG is what was looked at.
        let png = folder.appendingPathComponent("order.png").path
        let convert = Process()
        convert.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        convert.arguments = ["rsvg-convert", "-o", png, svgPath]
        try convert.run()
        convert.waitUntilExit()
        #expect(convert.terminationStatus == 0, "rsvg-convert (Debian's librsvg2-bin, installed by scripts/deps.sh)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(bytes.count > 10_000)
    }

    /// A stored instance: passed nodes green, the waiting task orange; a file without BPMNDI is
    /// refused clearly.
    @Test func aStoredInstanceAndAFileWithoutADiagram() throws {
        let store = try temporaryStore()
        let started = try CLI.run(["start", Self.order, "--context", "Samples/order.json", "--store", store, "--json"])
        let id = try #require(try JSONParser.parse(started.stdout).objectValue?["instance"]?.stringValue)
        let result = try CLI.run(["render", Self.order, "--instance", id, "--store", store])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(group(result.stdout, "Task_accept").contains("stroke=\"#ef6c00\""))
        #expect(group(result.stdout, "Start_order").contains("stroke=\"#2e7d32\""))
        let bare = try CLI.temporaryFile(
            "bare.bpmn",
            """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="P" isExecutable="true">
            <startEvent id="s"/><endEvent id="e"/><sequenceFlow id="f" sourceRef="s" targetRef="e"/></process></definitions>
            """)
        let refused = try CLI.run(["render", bare])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("\(bare):1:1: error: the file has no diagram (BPMNDI) to draw"))
    }

    /// `procrun test --coverage-report DIR`: one drawing of all cases and one per case, each SVG
    /// well-formed, with a selector per case.
    @Test func theCoverageReportDrawsEachCase() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("procrun-cov-\(UUID())").path
        let result = try CLI.run(["test", "Processes", "--coverage-report", folder])
        #expect(result.status == 0, "\(result.stderr)")
        let html = try String(contentsOfFile: folder + "/index.html", encoding: .utf8)
        #expect(
            html.contains("<option value=\"p0-4\">no warehouse address: nothing sent, «Завершить» at once</option>"))
        let svgs = html.components(separatedBy: "<svg ").dropFirst().map {
            "<svg " + $0.components(separatedBy: "</svg>")[0] + "</svg>"
        }
        // The order process (all cases, then its 5 cases), then the error boundary variant (all, 2 cases).
        #expect(svgs.count == 9)
        #expect(
            html.contains(
                "<option value=\"p1-0\">error boundary variant: warehouse down, the order goes over by hand</option>"))
        for svg in svgs { #expect(XMLParser(data: Data(svg.utf8)).parse()) }
        // All cases together pass every node; the out-of-stock case passes the supplier's task, the happy path does not.
        #expect(!group(svgs[0], "Task_procure").contains("opacity=\"0.4\""))
        #expect(group(svgs[1], "Task_procure").contains("opacity=\"0.4\""))
        #expect(group(svgs[2], "Task_procure").contains("stroke=\"#2e7d32\""))
        // The variant's failing case passes its boundary event; its delivered case does not.
        #expect(group(svgs[7], "Boundary_failed").contains("stroke=\"#2e7d32\""))
        #expect(group(svgs[8], "Boundary_failed").contains("opacity=\"0.4\""))
    }
}
