import BPMNLoader
import Foundation
import ProcessModel
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

@Suite struct ForeignImplementationTests {
    static func file(executable: Bool, _ tasks: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
          xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:procrun="urn:procrun:bpmn:1" id="D">
        <process id="P" isExecutable="\(executable)">
        <startEvent id="s"/>
        \(tasks)
        <endEvent id="e"/>
        </process>
        </definitions>
        """
    }

    static let tasks = """
        <serviceTask id="java" camunda:class="com.acme.Bill"/>
        <serviceTask id="bean" camunda:delegateExpression="${billing}"/>
        <sendTask id="expr" camunda:expression="${mail.send()}"/>
        <serviceTask id="topic" camunda:type="external" camunda:topic="invoice"/>
        <businessRuleTask id="dmn" camunda:decisionRef="discount"/>
        <serviceTask id="job"><extensionElements><zeebe:taskDefinition type="payment" retries="3"/></extensionElements></serviceTask>
        <businessRuleTask id="decision"><extensionElements><zeebe:calledDecision decisionId="risk" resultVariable="r"/></extensionElements></businessRuleTask>
        <serviceTask id="rest"><extensionElements><camunda:connector><camunda:connectorId>http-connector</camunda:connectorId></camunda:connector></extensionElements></serviceTask>
        <serviceTask id="plain"/>
        <userTask id="person" camunda:assignee="ivanov"/>
        """

    static let chain = ["java", "bean", "expr", "topic", "dmn", "job", "decision", "rest", "plain", "person"]

    static var flows: String {
        let ids = ["s"] + chain + ["e"]
        return zip(ids, ids.dropFirst()).enumerated().map {
            "<sequenceFlow id=\"f\($0)\" sourceRef=\"\($1.0)\" targetRef=\"\($1.1)\"/>"
        }
        .joined()
    }

    /// Each Camunda 7 or Camunda 8 implementation procrun cannot run is a warning in an executable
    /// process, naming the task and what it skips, at the task's line; `--strict` makes each an
    /// error; a process that is not executable, a plain task and a user task get none.
    @Test func eachSkippedImplementationIsAWarningNamingIt() throws {
        let result = load(Self.file(executable: true, Self.tasks + Self.flows))
        #expect(!result.hasErrors, "\(result.diagnostics)")
        let skipped = result.diagnostics.filter { $0.message.contains("which procrun cannot run") }
        #expect(
            skipped.map(\.message).map { String($0.prefix(while: { $0 != "," })) } == [
                "serviceTask 'java' has camunda:class 'com.acme.Bill'",
                "serviceTask 'bean' has camunda:delegateExpression '${billing}'",
                "sendTask 'expr' has camunda:expression '${mail.send()}'",
                "serviceTask 'topic' has camunda:type 'external' (topic 'invoice')",
                "businessRuleTask 'dmn' has camunda:decisionRef 'discount'",
                "serviceTask 'job' has zeebe:taskDefinition type 'payment'",
                "businessRuleTask 'decision' has zeebe:calledDecision 'risk'",
                "serviceTask 'rest' has camunda:connector 'http-connector'",
            ])
        #expect(skipped.allSatisfy { $0.severity == .warning && $0.location?.line ?? 0 >= 6 })
        let process = try #require(result.definitions?.processes.first)
        #expect(process.nodes.filter { $0.skippedImplementation != nil }.count == 8)

        let strict = BPMNLoader.load(
            bytes: Array(Self.file(executable: true, Self.tasks + Self.flows).utf8), file: "t.bpmn",
            options: LoadOptions(strict: true))
        #expect(
            strict.errors.filter { $0.message.contains("which procrun cannot run; --strict refuses it") }.count == 8)

        let notExecutable = load(Self.file(executable: false, Self.tasks + Self.flows))
        #expect(!notExecutable.diagnostics.contains { $0.message.contains("which procrun cannot run") })
        // A procrun webhook on the task is what runs: nothing is skipped.
        let withWebhook = load(
            Self.file(
                executable: true,
                """
                <serviceTask id="java" camunda:class="com.acme.Bill"><extensionElements>
                <procrun:webhook url="http://127.0.0.1:9/x"/></extensionElements></serviceTask>
                <sequenceFlow id="f1" sourceRef="s" targetRef="java"/><sequenceFlow id="f2" sourceRef="java" targetRef="e"/>
                """))
        #expect(
            !withWebhook.diagnostics.contains { $0.message.contains("which procrun cannot run") },
            "\(withWebhook.diagnostics)")
    }

    /// Every BPMN file in the repository's tests that gives a task of an executable process a
    /// Camunda (Activiti, Flowable) or Zeebe implementation gets one warning per such task (counted here by a separate
    /// XML reader, not by the loader).
    @Test func everyTestFileWithSuchTasksIsWarnedAboutEach() throws {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let files = FileManager.default.enumerator(atPath: tests.path)!.compactMap { $0 as? String }.filter {
            $0.hasSuffix(".bpmn")
        }
        var checked = 0
        for file in files {
            let url = tests.appendingPathComponent(file)
            let counter = ForeignTaskCounter()
            let parser = XMLParser(contentsOf: url)!
            parser.shouldProcessNamespaces = true
            parser.delegate = counter
            guard parser.parse(), counter.count > 0 else { continue }
            let result = BPMNLoader.load(path: url.path)
            let warned = result.diagnostics.filter {
                $0.severity == .warning && $0.message.contains("which procrun cannot run")
            }
            #expect(warned.count == counter.count, "\(file): \(warned)")
            checked += 1
        }
        #expect(checked >= 3)
    }
}

/// Counts service, send and business rule tasks with a Camunda (Activiti, Flowable) or Zeebe
/// implementation procrun cannot run in executable processes (all but Camunda 8's REST connector).
final class ForeignTaskCounter: NSObject, XMLParserDelegate {
    var count = 0
    private var executable = false
    private var inTask = false
    private var taskCounted = false
    private let bpmn = "http://www.omg.org/spec/BPMN/20100524/MODEL"
    private let camunda = "http://camunda.org/schema/1.0/bpmn"
    private let zeebe = "http://camunda.org/schema/zeebe/1.0"

    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String]
    ) {
        if namespaceURI == bpmn && name == "process" { executable = attributes["isExecutable"] == "true" }
        if namespaceURI == bpmn && ["serviceTask", "sendTask", "businessRuleTask"].contains(name) {
            inTask = true
            taskCounted = false
            // Any prefix: the files bind `camunda`, `activiti` or `flowable` to these dialects' namespaces.
            let named = attributes.keys.contains { key in
                key.contains(":")
                    && ["class", "delegateExpression", "expression", "decisionRef"].contains(
                        key.split(separator: ":").last.map(String.init))
            }
            if named || attributes["camunda:type"] == "external" { mark() }
        } else if inTask
            && ((namespaceURI == zeebe && name == "calledDecision") || (namespaceURI == camunda && name == "connector"))
        {
            mark()
        } else if inTask && namespaceURI == zeebe && name == "taskDefinition"
            // Camunda 8's REST connector runs as a webhook job: not skipped.
            && attributes["type"] != "io.camunda:http-json:1"
        {
            mark()
        }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if namespaceURI == bpmn && ["serviceTask", "sendTask", "businessRuleTask"].contains(name) { inTask = false }
    }

    private func mark() {
        if executable && !taskCounted {
            count += 1
            taskCounted = true
        }
    }
}
