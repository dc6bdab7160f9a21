import BPMNLoader
import Engine
import Foundation
import Integrations
import ProcessModel
import Runtime
import Testing
import Values

/// The Python recording server in Fixtures/, started per test on 127.0.0.1 with a free port.
final class RecordingServer: @unchecked Sendable {
    struct Request {
        var method: String
        var path: String
        var headers: [(String, String)]
        var body: [UInt8]

        var text: String { String(decoding: body, as: UTF8.self) }

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    let process = Process()
    let input = Pipe()
    let output = Pipe()
    let port: Int

    var base: String { "http://127.0.0.1:\(port)" }

    init() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Fixtures/recorder.py")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        var line: [UInt8] = []
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte.first == UInt8(ascii: "\n") { break }
            line.append(contentsOf: byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            throw TransportError(message: "recorder did not start")
        }
        self.port = port
    }

    func recorded() async throws -> (requests: [Request], maxInFlight: Int) {
        let response = try await CurlTransport.shared.send(
            HTTPRequest(method: "GET", url: base + "/__requests", headers: [], body: nil, timeout: 10))
        let json = try JSONParser.parse(response.body)
        let requests = (json.objectValue?["requests"]?.arrayValue ?? []).map { value -> Request in
            let object = value.objectValue!
            let headers = (object["headers"]?.arrayValue ?? []).map { pair -> (String, String) in
                let items = pair.arrayValue!
                return (items[0].stringValue!, items[1].stringValue!)
            }
            let body = [UInt8](Data(base64Encoded: object["body"]!.stringValue!)!)
            return Request(
                method: object["method"]!.stringValue!, path: object["path"]!.stringValue!, headers: headers, body: body
            )
        }
        var maxInFlight = 0
        if case .number(let n)? = json.objectValue?["maxInFlight"] { maxInFlight = Int(n) }
        return (requests, maxInFlight)
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    deinit { if process.isRunning { process.terminate() } }
}

/// A port nothing listens on: bound, then closed.
func closedPort() -> Int {
    let server = try! RecordingServer()
    let port = server.port
    server.stop()
    return port
}

func loadProcess(root: String = "", _ body: String) throws -> ProcessDefinition {
    let xml = """
        <?xml version="1.0" encoding="UTF-8"?>
        <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1" id="D">
        \(root)
        <process id="P" name="Заказ" isExecutable="true">
        \(body)
        </process>
        </definitions>
        """
    let result = BPMNLoader.load(bytes: Array(xml.utf8), file: "w.bpmn")
    guard let process = result.definitions?.processes.first, !result.hasErrors else {
        throw DiagnosticError(result.errors)
    }
    return process
}

/// A process: start → user task "approve" → webhook node "w" → end "done"; with an interrupt
/// flow «Завершить» → "stopped" when `interrupt` is set, and `extra` elements.
func webhookProcess(_ webhook: String, interrupt: Bool = false, extra: String = "", root: String = "") throws -> Engine
{
    try Engine(
        process: try loadProcess(
            root: root,
            """
            <startEvent id="s"/><userTask id="approve"/>
            <serviceTask id="w" name="Передать заказ"><extensionElements>\(webhook)</extensionElements></serviceTask>
            <endEvent id="done"/>\(interrupt ? "<endEvent id=\"stopped\"/>" : "")\(extra.contains("handled") ? "<endEvent id=\"handled\"/>" : "")
            \(extra)
            <sequenceFlow id="f1" sourceRef="s" targetRef="approve"/><sequenceFlow id="f2" sourceRef="approve" targetRef="w"/>
            <sequenceFlow id="ok" name="Передано" sourceRef="w" targetRef="done"/>
            \(interrupt ? "<sequenceFlow id=\"stop\" name=\"Завершить\" sourceRef=\"w\" targetRef=\"stopped\"/>" : "")
            """))
}

let utc = TimeZone(identifier: "UTC")!

func simulate(
    _ engine: Engine, context: JSONObject, scheduler: ManualScheduler = ManualScheduler(),
    directory: Directory = Directory(),
    environment: [String: String] = [:], answers: Answers = Answers()
) async -> Instance {
    let performer = HTTPWebhookPerformer(
        userAgent: "procrun/test", timeZone: utc, environment: environment, clock: { [scheduler] in scheduler.now })
    do {
        return try await ProcessRuntime.simulate(
            engine, id: "inst-1", context: context, people: SimulatedPeople(answers: answers, directory: directory),
            initiator: "ivanov",
            performer: performer, scheduler: scheduler)[0]
    } catch {
        preconditionFailure("the runtime failed: \(error)")
    }
}
