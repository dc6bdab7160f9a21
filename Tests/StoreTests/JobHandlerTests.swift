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

    /// A job whose type no handler of this runtime serves is not lost: it is left pending (said
    /// once), and a runtime with the handler runs it later. What the handler fixes is fixed at
    /// its first try then, and every retry works from it.
    @Test(arguments: Adapter.allCases) func aTypeWithoutAHandlerWaitsForARuntimeThatHasOne(_ adapter: Adapter)
        async throws
    {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let without = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
                nonisolated(unsafe) var said: [String] = []
                without.onLeftJob = { _, reason in said.append(reason) }
                let xml = smsXML(onError: #"<procrun:onError retries="1"/>"#)
                let id = try without.startSMS(xml, context: ["phone": "+7999", "orderId": "ЗК-9"])
                try await without.drain(instance: id)
                try await without.drain(instance: id)
                #expect(try without.stored(id).status == .waiting)
                #expect(said == ["no handler for jobs of type 'sms' is registered with this runtime"])

                let sms = SMSHandler(failFirst: 1)
                let with = ProcessRuntime(store: store, handlers: [sms], scheduler: ManualScheduler())
                try await with.drain(instance: id)
                #expect(try with.stored(id).status == .completed)
                #expect(sms.sent.map(\.message) == ["+7999: Заказ ЗК-9 собран", "+7999: Заказ ЗК-9 собран"])
            }
        }
        try await adapter.run(Scenario())
    }

    /// A definition read back from the SQLite store is read with the store's load options: a
    /// worker that knows the reader runs the node; one that does not stops in an incident that
    /// says so (the job is never dropped in silence).
    @Test func aStoredDefinitionIsReadWithTheStoresReaders() async throws {
        let path = temporaryStore()
        let first = ProcessRuntime(
            store: try InstanceStore(path: path, loadOptions: LoadOptions(readers: [SMSReader()])), handlers: [],
            scheduler: ManualScheduler())
        let id = try first.startSMS(smsXML(), context: ["phone": "+7999", "orderId": "ЗК-10"])

        let sms = SMSHandler()
        let knowing = ProcessRuntime(
            store: try InstanceStore(path: path, loadOptions: LoadOptions(readers: [SMSReader()])), handlers: [sms],
            scheduler: ManualScheduler())
        try await knowing.drain(instance: id)
        #expect(try knowing.stored(id).status == .completed)
        #expect(sms.sent.count == 1)

        let second = try first.startSMS(smsXML(), context: ["phone": "+7999", "orderId": "ЗК-11"])
        let unaware = ProcessRuntime(
            store: try InstanceStore(path: path), handlers: [SMSHandler()], scheduler: ManualScheduler())
        try await unaware.drain(instance: second)
        let stopped = try unaware.stored(second)
        #expect(stopped.status == .incident)
        #expect(
            stopped.incident?.message == "'text' has a job, but this runtime does not read it as an integration node")
    }

    /// A notify node's text reads the variables as they were at the node, not as the rest of
    /// the step left them.
    @Test(arguments: Adapter.allCases) func aNotifyNodeReadsTheVariablesAtTheNode(_ adapter: Adapter) async throws {
        struct Scenario: RuntimeScenario {
            func run<S: RuntimeStore>(on store: S) async throws {
                let xml = """
                    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1">
                    <process id="P" name="Склад" isExecutable="true"><startEvent id="s"/>
                    <sendTask id="tell" name="Сообщить"><extensionElements><procrun:notify>
                      <procrun:recipient variable="manager"/><procrun:message>Заказ {$orderId} собран</procrun:message>
                    </procrun:notify></extensionElements></sendTask>
                    <scriptTask id="change" scriptFormat="feel"><script>orderId = "changed"</script></scriptTask>
                    <endEvent id="e"/>
                    <sequenceFlow id="f1" sourceRef="s" targetRef="tell"/><sequenceFlow id="f2" sourceRef="tell" targetRef="change"/>
                    <sequenceFlow id="f3" sourceRef="change" targetRef="e"/></process></definitions>
                    """
                let runtime = ProcessRuntime(store: store, performer: CountingPerformer(), scheduler: ManualScheduler())
                let id = try runtime.start(xml, context: ["orderId": "ЗК-12", "manager": "kozlov"])
                #expect(try runtime.stored(id).status == .completed)
                let sent = try store.storedNotifications(user: "kozlov", instance: id)
                #expect(sent.map(\.outgoing.text) == ["Заказ ЗК-12 собран"])
                #expect(sent.map(\.outgoing.subject) == ["Процесс «Склад»: «Сообщить»"])
                #expect(try runtime.stored(id).notifications.map(\.message) == ["Заказ ЗК-12 собран"])
            }
        }
        try await adapter.run(Scenario())
    }

    /// The loader: a library user's reader comes before procrun's own for the same element; a
    /// task runs one integration element; a notify node takes no onError.
    @Test func readersAreAskedInOrderAndATaskRunsOne() throws {
        struct Mine: IntegrationReader {
            var namespace: String { "urn:procrun:bpmn:1" }
            var localName: String { "webhook" }
            func read(_ element: ExtensionElement, siblings: [ExtensionElement], diagnostics: inout ReaderDiagnostics)
                -> IntegrationNode?
            {
                IntegrationNode(
                    type: "mine", config: SMSConfig(to: try! Template("x"), text: try! Template("y")), onError: nil,
                    location: element.location)
            }
        }
        func load(_ extensions: String, readers: [any IntegrationReader] = []) -> LoadResult {
            let xml = """
                <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1">
                <process id="P" isExecutable="true"><startEvent id="s"/>
                <serviceTask id="t"><extensionElements>\(extensions)</extensionElements></serviceTask><endEvent id="e"/>
                <sequenceFlow id="f1" sourceRef="s" targetRef="t"/><sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
                </process></definitions>
                """
            return BPMNLoader.load(bytes: Array(xml.utf8), file: "r.bpmn", options: LoadOptions(readers: readers))
        }
        let webhook = #"<procrun:webhook url="http://127.0.0.1:9/x"/>"#
        #expect(load(webhook).definitions?.processes.first?.nodes[1].integration?.type == "webhook")
        #expect(load(webhook, readers: [Mine()]).definitions?.processes.first?.nodes[1].integration?.type == "mine")
        let two = load(
            webhook + #"<procrun:email subject="s" to="a@b.c"><procrun:text>x</procrun:text></procrun:email>"#)
        #expect(
            two.errors.map(\.message) == [
                "procrun:email is a second integration element of this task, which has procrun:webhook already; a task runs one"
            ])
        let notify = load(
            #"<procrun:notify><procrun:recipient user="a"/><procrun:message>m</procrun:message><procrun:onError retries="1"/></procrun:notify>"#
        )
        #expect(notify.errors.map(\.message).first?.hasPrefix("procrun:notify takes no procrun:onError") == true)
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
