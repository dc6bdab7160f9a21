import BPMNLoader
import Engine
import Foundation
import ProcessModel
import Runtime
import Testing
import Values

/// Loads a process body (placed in an executable process) and prepares an engine.
func engine(_ body: String, file: String = "t.bpmn") throws -> Engine {
    let xml = """
        <?xml version="1.0" encoding="UTF-8"?>
        <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:procrun="urn:procrun:bpmn:1" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D">
        <error id="Err_A" errorCode="A"/><error id="Err_B" errorCode="B"/>
        <process id="P" name="Тест" isExecutable="true">
        <laneSet id="LS"><lane id="L1" name="Склад"><flowNodeRef>lane_task</flowNodeRef></lane><lane id="L2" name="Бухгалтерия"><flowNodeRef>group_task</flowNodeRef></lane></laneSet>
        \(body)
        </process>
        </definitions>
        """
    let result = BPMNLoader.load(bytes: Array(xml.utf8), file: file)
    guard let process = result.definitions?.processes.first, !result.hasErrors else {
        throw DiagnosticError(result.errors)
    }
    return try Engine(process: process)
}

/// Flows written compactly: "a->b", "a->b: condition", "a->b [default]" is set on the gateway instead.
func flows(_ specs: String...) -> String {
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

/// A transport that answers from a script of outcomes and records every call.
final class ScriptedPerformer: WebhookPerformer, @unchecked Sendable {
    private let lock = NSLock()
    private var outcomes: [WebhookOutcome]
    private(set) var calls: [WebhookCall] = []

    init(_ outcomes: [WebhookOutcome]) { self.outcomes = outcomes }

    func perform(_ call: WebhookCall) async -> WebhookOutcome {
        lock.withLock {
            calls.append(call)
            return outcomes.isEmpty ? .delivered(status: 200, result: .null) : outcomes.removeFirst()
        }
    }
}

func run(
    _ engine: Engine, context: JSONObject = JSONObject(), answers: Answers = Answers(),
    directory: Directory = Directory(),
    performer: ScriptedPerformer = ScriptedPerformer([]),
    scheduler: ManualScheduler = ManualScheduler(start: Date(timeIntervalSince1970: 1_800_000_000)),
    initiator: String = "init"
) async -> Instance {
    await runAll(
        engine, context: context, answers: answers, directory: directory, performer: performer, scheduler: scheduler,
        initiator: initiator)[0]
}

/// The runtime on the in-memory store, as `procrun run` runs an instance; `partners`: the other
/// processes messages and signals may start. The instances in the order they started.
func runAll(
    _ engine: Engine, id: String = "i-1", context: JSONObject = JSONObject(), partners: [Engine] = [],
    answers: Answers = Answers(),
    directory: Directory = Directory(), performer: ScriptedPerformer = ScriptedPerformer([]),
    scheduler: ManualScheduler = ManualScheduler(start: Date(timeIntervalSince1970: 1_800_000_000)),
    initiator: String = "init"
) async -> [Instance] {
    do {
        return try await ProcessRuntime.simulate(
            engine, id: id, context: context, people: SimulatedPeople(answers: answers, directory: directory),
            partners: partners,
            initiator: initiator, performer: performer, scheduler: scheduler)
    } catch {
        preconditionFailure("the runtime failed: \(error)")
    }
}

extension Instance {
    func pathIDs(_ engine: Engine) -> [String] { path.map { engine.process.nodes[$0].id } }
}

func object(_ value: JSONValue) -> JSONObject { value.objectValue! }
