import ArgumentParser
import BPMNLoader
import Engine
import Foundation
import ProcessModel
import Values
import Views

struct RenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Draw a BPMN file's diagram as SVG, optionally with the path an instance took.",
        discussion: """
            Draws what the file's BPMNDI places: pools and lanes, events, tasks, gateways, sub-processes, flows. \
            With --report (the JSON of `run --json`) or --instance (of the store), the nodes passed and the \
            flows taken are green, waiting tokens orange, the node of an incident red. Exit 2 for a file that does \
            not load or has no diagram.
            """)

    @Argument(help: "The BPMN file.") var file: String
    @Option(name: .shortAndLong, help: "Write the SVG here (default: standard output).") var output: String?
    @Option(help: "Mark the path of this `procrun run --json` report.") var report: String?
    @Option(help: "Mark the path of this stored instance (with --store).") var instance: String?
    @Option(help: "The SQLite store of --instance (default: $PROCRUN_STORE, else .procrun/procrun.sqlite).")
    var store: String?

    func run() async throws {
        var options = LoadOptions()
        options.readDiagram = true
        let result = BPMNLoader.load(path: file, options: options)
        for diagnostic in result.diagnostics where diagnostic.severity == .error { printError(diagnostic.description) }
        guard !result.hasErrors, let definitions = result.definitions, let diagram = result.diagram else {
            throw ExitWith(code: Exit.invalidInput)
        }
        guard !diagram.isEmpty else {
            throw Inputs.fail([
                .error(at: SourceLocation(file: file, line: 1, column: 1), "the file has no diagram (BPMNDI) to draw")
            ])
        }
        var highlight: DiagramSVG.Highlight?
        if let report {
            guard case .object(let json) = try Inputs.readJSON(report),
                let processID = json["process"]?.stringValue, let process = definitions.process(id: processID)
            else {
                throw Inputs.fail([.error(at: nil, "\(report) is not a `procrun run --json` report of \(file)")])
            }
            var marks = DiagramSVG.Highlight()
            marks.nodes = Set(json["path"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            marks.incident = json["incident"]?.objectValue?["node"]?.stringValue
            for flow in process.flows
            where marks.nodes.contains(process.nodes[flow.source].id)
                && marks.nodes.contains(process.nodes[flow.target].id)
            {
                marks.flows.insert(flow.id)
            }
            highlight = marks
        } else if let instance {
            let options = try StoreOptions.parse(store.map { ["--store", $0] } ?? [])
            let runner = try options.reader()
            let id = try runner.store.resolve(instance)
            let view = try StoredView(runner, id)
            let process = view.process
            let stored = view.stored.instance
            var marks = DiagramSVG.Highlight()
            for entry in stored.history {
                marks.nodes.insert(process.nodes[entry.node].id)
                for flow in entry.flows { marks.flows.insert(process.flows[flow].id) }
            }
            marks.waiting = Set(stored.tokens.map { process.nodes[$0.node].id })
            marks.incident = stored.incident?.node
            highlight = marks
        }
        let svg = DiagramSVG.render(diagram, highlight: highlight)
        if let output {
            do {
                try Data(svg.utf8).write(to: URL(fileURLWithPath: output))
            } catch {
                throw Inputs.fail([.error(at: nil, "cannot write '\(output)': \(error.localizedDescription)")])
            }
        } else {
            print(svg, terminator: "")
        }
    }
}
