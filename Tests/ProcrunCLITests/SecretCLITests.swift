import Foundation
import Testing
import Values

/// A secret that needs every encoding: `@`, space, `/`, `"`, `\` and a non-ASCII letter.
private let secret = "p@ss w/rd\"\\ё"
/// The same secret percent-encoded in a URL, written out by hand.
private let secretInURL = "p%40ss%20w%2Frd%22%5C%D1%91"

/// Pieces of every form procrun could write the secret in (as it is, percent- or form-encoded in
/// either hex case, JSON-escaped with or without `\/` and `\u0451`), written out by hand.
private let fragments = [
    "p@ss", "p%40ss", "w/rd", "w\\/rd", "w%2Frd", "w%2frd", "%5C%D1%91", "%5c%d1%91", "rd\"\\ё", "rd\\\"\\\\ё",
    "\\u0451", "\\u0451".uppercased(),
]

private func leaks(_ text: String) -> [String] { fragments.filter { text.contains($0) } }

private func leaks(_ bytes: Data) -> [String] {
    fragments.filter { bytes.range(of: Data($0.utf8)) != nil }
}

/// A secret used three ways, each failing differently: a rendering error (a date template fed the
/// secret), a refused connection (the secret in the URL), and HTTP 503 (the secret in the URL, the
/// query string, an Authorization header and the text body), which ends in an incident. Every
/// failure notifies.
@Suite(.serialized) struct SecretCLITests {
    static let bpmn = """
        <?xml version="1.0" encoding="UTF-8"?>
        <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1">
        <process id="P" name="Секреты" isExecutable="true">
        <startEvent id="s"/>
        <serviceTask id="render" name="Дата"><extensionElements>
          <procrun:webhook url="{$hook}/never">
            <procrun:header name="X-Date" value="{DateTime(&quot;YYYY&quot;, {$secrets.TOKEN})}"/>
            <procrun:onError interrupt="Дальше"><procrun:notify user="ivanov"/></procrun:onError>
          </procrun:webhook></extensionElements></serviceTask>
        <serviceTask id="refused" name="Закрыто"><extensionElements>
          <procrun:webhook url="{$closed}/c/{$secrets.TOKEN}">
            <procrun:onError interrupt="Дальше"><procrun:notify user="ivanov"/></procrun:onError>
          </procrun:webhook></extensionElements></serviceTask>
        <serviceTask id="failing" name="Склад"><extensionElements>
          <procrun:webhook url="{$hook}/hook/{$secrets.TOKEN}?k={$secrets.TOKEN}" type="text">
            <procrun:header name="Authorization" value="Bearer {$secrets.TOKEN}"/>
            <procrun:text>token={$secrets.TOKEN}</procrun:text>
            <procrun:onError retries="1" delay="0"><procrun:notify user="ivanov"/></procrun:onError>
          </procrun:webhook></extensionElements></serviceTask>
        <endEvent id="e1"/><endEvent id="e2"/><endEvent id="e3"/>
        <sequenceFlow id="f1" sourceRef="s" targetRef="render"/>
        <sequenceFlow id="f2" sourceRef="render" targetRef="e1"/>
        <sequenceFlow id="f3" name="Дальше" sourceRef="render" targetRef="refused"/>
        <sequenceFlow id="f4" sourceRef="refused" targetRef="e2"/>
        <sequenceFlow id="f5" name="Дальше" sourceRef="refused" targetRef="failing"/>
        <sequenceFlow id="f6" sourceRef="failing" targetRef="e3"/>
        </process></definitions>
        """

    @Test func noEncodingOfASecretReachesTheTraceReportNotificationsOrStore() throws {
        let failing = try Inbox(arguments: ["--fail-first", "100", "--status", "503"])
        let notifications = try Inbox()
        let bpmn = try CLI.temporaryFile("secret.bpmn", SecretCLITests.bpmn)
        let context = try CLI.temporaryFile("ctx.json", #"{"hook": "\#(failing.url)", "closed": "http://127.0.0.1:1"}"#)
        let environment = ["PROCRUN_SECRET_TOKEN": secret]
        let storeDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "procrun-secret-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: storeDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: storeDirectory) }
        let store = storeDirectory.appendingPathComponent("s.sqlite").path

        let json = try CLI.run(
            [bpmn, "--context", context, "--json", "--notify-url", notifications.url + "/notify"],
            environment: environment)
        let trace = try CLI.run(
            [bpmn, "--context", context, "--notify-url", notifications.url + "/notify"], environment: environment)
        let stored = try CLI.run([bpmn, "--context", context, "--store", store], environment: environment)
        let received = failing.stop()
        let notified = notifications.stop()

        // Each run ends in the incident at «Склад», after the other two failures were handled.
        for result in [json, trace, stored] { #expect(result.status == 3, "\(result.stdout)\(result.stderr)") }
        let report = try #require(try JSONParser.parse(json.stdout).objectValue)
        let incident = try #require(report["incident"]?.objectValue?["message"]?.stringValue)
        #expect(incident == "webhook 'Склад' failed after 2 tries: HTTP 503 from \(failing.url)/hook/***")
        let tries = (report["webhooks"]?.arrayValue ?? []).flatMap { $0.objectValue?["tries"]?.arrayValue ?? [] }
        let errors = tries.compactMap { $0.objectValue?["error"]?.stringValue }
        #expect(errors.count == 4)
        #expect(errors.first == #"variable 'secrets.TOKEN' is not a date ("***")"#)
        #expect(errors.dropFirst().first?.hasSuffix("(http://127.0.0.1:1/c/***)") == true, "\(errors)")
        #expect(Array(errors.dropFirst(2)) == Array(repeating: "HTTP 503 from \(failing.url)/hook/***", count: 2))
        #expect(report["notifications"]?.arrayValue?.count == 3)
        #expect(trace.stdout.contains("failed: HTTP 503 from \(failing.url)/hook/***"))
        #expect(stored.stdout.contains("✉ notified ivanov"), "\(stored.stdout)")

        // Nothing procrun printed, POSTed or stored holds the secret in any form.
        for (place, text) in [
            ("--json", json.stdout + json.stderr), ("trace", trace.stdout + trace.stderr),
            ("run --store", stored.stdout + stored.stderr), ("--notify-url", notified),
        ] {
            #expect(leaks(text).isEmpty, "\(place): \(leaks(text))\n\(text)")
        }
        #expect(notified.components(separatedBy: "POST /notify HTTP/1.1").count == 7)
        #expect(
            notified.contains(#"is not a date (\"***\")"#) && notified.contains("/c/***)")
                && notified.contains("/hook/***"))
        let id = try #require(
            stored.stdout.split(separator: "\n").first.flatMap { line in
                line.split(separator: " ").first { $0.count == 36 }.map(String.init)
            }, "\(stored.stdout)")
        for arguments in [["show", id, "--store", store, "--json"], ["show", id, "--store", store]] {
            let shown = try CLI.run(arguments)
            #expect(shown.stdout.contains("***"), "\(shown.stdout)\(shown.stderr)")
            #expect(leaks(shown.stdout + shown.stderr).isEmpty, "\(arguments): \(shown.stdout)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: storeDirectory.path)
        #expect(files.contains("s.sqlite"))
        for file in files {
            let bytes = try Data(contentsOf: storeDirectory.appendingPathComponent(file))
            #expect(leaks(bytes).isEmpty, "\(file): \(leaks(bytes))")
        }
        // The store holds the failures (masked), so the check above looked at the right bytes.
        let database = try Data(contentsOf: storeDirectory.appendingPathComponent("s.sqlite"))
        #expect(database.range(of: Data("/hook/***".utf8)) != nil)

        // The secret did go out, properly encoded, in each of the six tries that reached the receiver.
        #expect(
            received.components(separatedBy: "POST /hook/\(secretInURL)?k=\(secretInURL) HTTP/1.1\n").count == 7,
            "\(received)")
        #expect(received.components(separatedBy: "Authorization: Bearer \(secret)\n").count == 7)
        #expect(received.components(separatedBy: "\ntoken=\(secret)\n").count == 7)
    }
}
