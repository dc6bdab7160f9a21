import BPMNLoader
import Engine
import Expressions
import Foundation
import ProcessModel
import Store
import Testing
import Values

// A fourth integration node type, as a Swift user of the library writes one: a reader for its
// element, a handler for its jobs. Nothing in the engine, the runtime or the store knows of it.

/// `<sms:send to="{$phone}">text</sms:send>` in the namespace `urn:example:sms`.
struct SMSConfig: IntegrationConfig {
    var to: Template
    var text: Template
    var timeout: Double { 5 }
}

struct SMSReader: IntegrationReader {
    var namespace: String { "urn:example:sms" }
    var localName: String { "send" }

    func read(_ element: ExtensionElement, siblings: [ExtensionElement], diagnostics: inout ReaderDiagnostics)
        -> IntegrationNode?
    {
        guard let to = element.attribute("to") else {
            diagnostics.error(element.location, "sms:send needs a to attribute")
            return nil
        }
        guard let toTemplate = try? Template(to), let text = try? Template(element.text) else {
            diagnostics.error(element.location, "sms:send has a template that cannot be read")
            return nil
        }
        return IntegrationNode(
            type: "sms", config: SMSConfig(to: toTemplate, text: text), onError: nil, location: element.location)
    }
}

/// Sends nothing: records what it was asked, fails the first tries as told, and answers with a
/// message id.
final class SMSHandler: JobHandler, @unchecked Sendable {
    let type = "sms"
    private let lock = NSLock()
    private var failuresLeft: Int
    private(set) var sent: [(key: String, attempt: Int, message: String)] = []

    init(failFirst: Int = 0) { failuresLeft = failFirst }

    /// The message is fixed when the node is entered: "to: text", from the context of then.
    func prepare(_ call: JobCall) -> [UInt8]? {
        guard let sms = call.integration.config as? SMSConfig else { return nil }
        func render(_ template: Template) -> String {
            template.segments.map { segment in
                switch segment {
                case .text(let text): text
                case .variable(let path): call.context[path[0]]?.stringValue ?? ""
                case .dateTime: ""
                }
            }.joined()
        }
        return Array("\(render(sms.to)): \(render(sms.text))".utf8)
    }

    func perform(_ call: JobCall) async -> JobOutcome {
        lock.withLock {
            let message = String(decoding: call.prepared ?? [], as: UTF8.self)
            sent.append((call.idempotencyKey, call.attempt, message))
            if failuresLeft > 0 {
                failuresLeft -= 1
                return .failed(status: nil, message: "operator busy", retryable: true)
            }
            return .succeeded(status: nil, summary: "SMS accepted", variables: ["smsId": .string("sms-\(sent.count)")])
        }
    }
}

func smsXML(onError: String = "", boundary: Bool = false) -> String {
    """
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1" xmlns:sms="urn:example:sms">
    <error id="Err" errorCode="sms-failed"/>
    <process id="P" name="Доставка" isExecutable="true">
    <startEvent id="s"/>
    <serviceTask id="text" name="Сообщить клиенту"><extensionElements>
      <sms:send to="{$phone}">Заказ {$orderId} собран\(onError)</sms:send>
    </extensionElements></serviceTask>
    \(boundary ? #"<boundaryEvent id="failed" attachedToRef="text"><errorEventDefinition errorRef="Err"/></boundaryEvent><endEvent id="call"/><sequenceFlow id="f3" sourceRef="failed" targetRef="call"/>"# : "")
    <scriptTask id="change" scriptFormat="feel"><script>orderId = "changed"</script></scriptTask>
    <endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="text"/><sequenceFlow id="f2" sourceRef="text" targetRef="change"/>
    <sequenceFlow id="f4" sourceRef="change" targetRef="e"/>
    </process></definitions>
    """
}

extension ProcessRuntime {
    /// Starts an instance of the SMS process, read with the SMS reader.
    func startSMS(_ xml: String, context: JSONObject) throws -> String {
        let result = BPMNLoader.load(
            bytes: Array(xml.utf8), file: "sms.bpmn", options: LoadOptions(readers: [SMSReader()]))
        let process = try #require(result.definitions?.processes.first, "\(result.diagnostics)")
        return try start(
            file: "sms.bpmn", xml: Array(xml.utf8), process: process, context: context, answers: nil, directory: nil,
            initiator: "ivanov")
    }
}

@Suite struct JobHandlerTests {
    /// The handler gets the message its `prepare` fixed when the node was entered, under the
    /// execution's key; its result variables go into the context; the node's job is of type
    /// `sms` in the state, the trace and the store.
    @Test(arguments: Adapter.allCases) func aHandlerOfItsOwnTypeRunsItsNodes(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let clock = ManualScheduler()
                let sms = SMSHandler()
                let runtime = ProcessRuntime(store: store, handlers: [sms], scheduler: clock)
                let id = try runtime.startSMS(smsXML(), context: ["phone": "+79990001122", "orderId": "ЗК-7"])
                try await runtime.drain(instance: id)
                let instance = try runtime.stored(id)
                #expect(instance.status == .completed)
                #expect(sms.sent.map(\.message) == ["+79990001122: Заказ ЗК-7 собран"])
                #expect(sms.sent.map(\.key) == ["\(id)-text-1"])
                #expect(instance.context["smsId"] == "sms-1")
                #expect(instance.jobRuns.map(\.type) == ["sms"])
                #expect(instance.jobRuns.first?.outcome == .delivered)
                #expect(instance.history.contains { $0.event == .tried && $0.note == "try 1: SMS accepted" })
            }
        }
        try await adapter.run(Scenario())
    }

    /// The shared on-error policy: retries wait `delay`, then `delay × backoff` per try, at most
    /// `maxDelay`; every try sends the message fixed when the node was entered; after the last
    /// failure the error boundary event catches `sms-failed`.
    @Test(arguments: Adapter.allCases) func retriesBackOffAndTheBoundaryCatchesTheTypesErrorCode(_ adapter: Adapter)
        async throws
    {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let clock = ManualScheduler()
                let sms = SMSHandler(failFirst: 10)
                let runtime = ProcessRuntime(store: store, handlers: [sms], scheduler: clock)
                let xml = smsXML(
                    onError: #"<procrun:onError retries="4" delay="10" backoff="2" maxDelay="PT30S"/>"#, boundary: true)
                let id = try runtime.startSMS(xml, context: ["phone": "+7999", "orderId": "ЗК-8"])
                try await runtime.drain(instance: id)
                #expect(clock.sleeps == [10, 20, 30, 30])
                #expect(sms.sent.map(\.attempt) == [1, 2, 3, 4, 5])
                #expect(Set(sms.sent.map(\.key)) == ["\(id)-text-1"])
                #expect(Set(sms.sent.map(\.message)) == ["+7999: Заказ ЗК-8 собран"])
                let instance = try runtime.stored(id)
                #expect(instance.status == .completed)
                #expect(try runtime.path(id).suffix(2) == ["failed", "call"])
                #expect(instance.jobRuns.first?.outcome == .caught)
                #expect(
                    instance.history.contains {
                        $0.note == "try 5 of 5 failed: operator busy"
                    })
            }
        }
        try await adapter.run(Scenario())
    }

    /// A node whose type no handler serves fails once, naming the type, and stops in an incident.
    @Test(arguments: Adapter.allCases) func aTypeWithoutAHandlerIsAnIncidentNamingIt(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
                let id = try runtime.startSMS(smsXML(), context: ["phone": "+7999", "orderId": "ЗК-9"])
                try await runtime.drain(instance: id)
                let instance = try runtime.stored(id)
                #expect(instance.status == .incident)
                #expect(
                    instance.incident?.message
                        == "sms 'Сообщить клиенту' failed after 1 try: no handler for jobs of type 'sms' is registered with this runtime"
                )
            }
        }
        try await adapter.run(Scenario())
    }

    /// The reader's errors are the file's: `FILE:LINE:COL: error: …`, and the file is refused.
    @Test func aReadersErrorsRefuseTheFile() throws {
        let xml = smsXML().replacingOccurrences(of: #"<sms:send to="{$phone}">"#, with: "<sms:send>")
        let result = BPMNLoader.load(
            bytes: Array(xml.utf8), file: "sms.bpmn", options: LoadOptions(readers: [SMSReader()]))
        #expect(result.definitions == nil)
        #expect(result.errors.map(\.description) == ["sms.bpmn:6:3: error: sms:send needs a to attribute"])
        // Without the reader, the element is somebody else's extension: the task passes through.
        let plain = BPMNLoader.load(bytes: Array(smsXML().utf8), file: "sms.bpmn")
        #expect(plain.errors.isEmpty)
        #expect(plain.definitions?.processes.first?.nodes.first { $0.id == "text" }?.integration == nil)
    }
}
