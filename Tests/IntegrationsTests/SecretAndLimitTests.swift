import BPMNLoader
import Engine
import Foundation
import Integrations
import ProcessModel
import Testing
import Values

/// A secret that needs every encoding: `@`, space, `/`, `"`, `\` and a non-ASCII letter.
let awkwardSecret = "p@ss w/rd\"\\ё"
/// The same secret as procrun percent-encodes it in a URL, written out by hand.
let awkwardSecretInURL = "p%40ss%20w%2Frd%22%5C%D1%91"

/// Pieces of every form of `awkwardSecret` (as it is, percent- and form-encoded in either hex
/// case, JSON-escaped with or without `\/` and `\u0451`), written out by hand rather than computed
/// by the code under test. None may appear in anything procrun shows or stores.
let secretFragments = [
    "p@ss", "p%40ss", "w/rd", "w\\/rd", "w%2Frd", "w%2frd", "%5C%D1%91", "%5c%d1%91", "rd\"\\ё", "rd\\\"\\\\ё",
    "\\u0451", "\\u0451".uppercased(),
]

func leakedFragments(_ text: String) -> [String] {
    secretFragments.filter { text.contains($0) }
}

/// The recorder's header values are decoded as Latin-1 (as Python's http.server reads them).
func utf8(fromLatin1 text: String) -> String {
    String(decoding: text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }, as: UTF8.self)
}

@Suite(.serialized) struct SecretRedactionTests {
    let environment = ["PROCRUN_SECRET_TOKEN": awkwardSecret]

    @Test func everyFormOfASecretIsHidden() {
        let redactor = Redactor(secrets: [awkwardSecret])
        let forms = [
            awkwardSecret, awkwardSecretInURL, "p%40ss%20w%2frd%22%5c%d1%91", "p%40ss+w%2Frd%22%5C%D1%91",
            "p%40ss+w%2frd%22%5c%d1%91",
            #"p@ss w/rd\"\\ё"#, #"p@ss w\/rd\"\\ё"#, #"p@ss w/rd\"\\\u0451"#, #"p@ss w\/rd\"\\\u0451"#,
        ]
        for form in forms {
            #expect(redactor.redact("before \(form) after") == "before *** after", "\(form)")
        }
        #expect(redactor.redact("nothing secret here: p@ss") == "nothing secret here: p@ss")
        let json: JSONValue = [
            "k": .string("x \(awkwardSecret) y"), "list": [.string(awkwardSecretInURL), 1, nil], awkwardSecret: true,
        ]
        #expect(redactor.redact(json) == ["k": "x *** y", "list": ["***", 1, nil], "***": true])
        #expect(Redactor(secrets: []).redact(json) == json)
    }

    @Test func theEchoedSecretIsHiddenInTheResultAndArrivedEncodedOnTheWire() async throws {
        let server = try RecordingServer()
        defer { server.stop() }
        let headers = """
            <procrun:header name="Authorization" value="Bearer {$secrets.TOKEN}"/>
            <procrun:header name="Proxy-Authorization" value="Basic {$proxyCredentials}"/>
            <procrun:header name="X-Key" value="{$secrets.TOKEN}"/>
            """
        let json = try webhookProcess(
            #"<procrun:webhook url="{$base}/echo/{$secrets.TOKEN}?k={$secrets.TOKEN}" result="reply">\#(headers)</procrun:webhook>"#
        )
        let text = try webhookProcess(
            #"<procrun:webhook url="{$base}/echotext/{$secrets.TOKEN}" type="text" result="reply">\#(headers)<procrun:text>token={$secrets.TOKEN}</procrun:text></procrun:webhook>"#
        )
        let context: JSONObject = ["base": .string(server.base), "proxyCredentials": "dXNlcjpwcm94eQ=="]
        let first = await simulate(json, context: context, environment: environment)
        let second = await simulate(text, context: context, environment: environment)

        // The secret went out, properly encoded in the URL and as it is in headers and the text body.
        let requests = try await server.recorded().requests
        #expect(requests.count == 2)
        #expect(
            requests.map(\.path) == [
                "/echo/\(awkwardSecretInURL)?k=\(awkwardSecretInURL)", "/echotext/\(awkwardSecretInURL)",
            ])
        #expect(
            requests.map { $0.header("Authorization").map(utf8(fromLatin1:)) } == [
                "Bearer \(awkwardSecret)", "Bearer \(awkwardSecret)",
            ])
        #expect(requests.map { $0.header("X-Key").map(utf8(fromLatin1:)) } == [awkwardSecret, awkwardSecret])
        #expect(requests[1].text == "token=\(awkwardSecret)")

        // The answers echoed it; the result variable has it hidden.
        #expect(first.status == .completed && second.status == .completed)
        let echoed = try #require(first.context["reply"]?.objectValue?["body"]?.objectValue)
        #expect(echoed["path"] == "/echo/***?k=***")
        // Credential headers are hidden whole, scheme and all; a credential that came from a
        // plain variable (not a secret) as well.
        #expect(echoed["headers"]?.objectValue?["Authorization"] == "***")
        #expect(echoed["headers"]?.objectValue?["Proxy-Authorization"] == "***")
        #expect(echoed["headers"]?.objectValue?["X-Key"] == "***")
        let raw = try #require(second.context["reply"]?.objectValue?["body"]?.stringValue)
        #expect(raw.hasPrefix("POST /echotext/*** HTTP/1.1\r\n"))
        #expect(raw.contains("\r\nAuthorization: ***\r\n") && raw.contains("\r\nProxy-Authorization: ***\r\n"))
        #expect(raw.hasSuffix("\r\n\r\ntoken=***"))
        for instance in [first, second] {
            let reply = JSONWriter.string(instance.context["reply"] ?? nil)
            #expect(leakedFragments(reply).isEmpty, "\(reply)")
            #expect(!reply.contains("dXNlcjpwcm94eQ=="), "\(reply)")
        }
    }

    @Test func failedTriesNeverShowTheSecret() async throws {
        let server = try RecordingServer()
        defer { server.stop() }
        let port = closedPort()
        let onError =
            #"<procrun:onError retries="1" interrupt="Завершить"><procrun:notify currentUser="true"/></procrun:onError>"#
        let cases: [(webhook: String, error: String, requests: Int)] = [
            // An HTTP error status: the message quotes the URL, where the secret is percent-encoded.
            (
                #"<procrun:webhook url="{$base}/status/503/{$secrets.TOKEN}?k={$secrets.TOKEN}">\#(onError)</procrun:webhook>"#,
                "HTTP 503 from \(server.base)/status/503/***", 2
            ),
            // A transport error (libcurl's message, then the URL).
            (
                #"<procrun:webhook url="http://127.0.0.1:\#(port)/x/{$secrets.TOKEN}">\#(onError)</procrun:webhook>"#,
                "/x/***)", 0
            ),
            // A rendering error quotes the value that is not a date, JSON-escaped.
            (
                #"<procrun:webhook url="{$base}/ok"><procrun:header name="X-Date" value="{DateTime(&quot;YYYY&quot;, {$secrets.TOKEN})}"/>\#(onError)</procrun:webhook>"#,
                #"variable 'secrets.TOKEN' is not a date ("***")"#, 0
            ),
        ]
        var sent = 0
        for (webhook, error, requests) in cases {
            let engine = try webhookProcess(webhook, interrupt: true)
            let instance = await simulate(engine, context: ["base": .string(server.base)], environment: environment)
            #expect(instance.endNode.map { engine.process.nodes[$0].id } == "stopped")
            let errors = instance.jobRuns.first?.tries.compactMap(\.error) ?? []
            #expect(!errors.isEmpty && errors.allSatisfy { $0.hasPrefix(error) || $0.hasSuffix(error) }, "\(errors)")
            let notification = try #require(instance.notifications.first?.message)
            #expect(notification.contains("***"))
            let shown =
                errors.joined(separator: "\n") + notification + instance.history.map { "\($0)" }.joined(separator: "\n")
            #expect(leakedFragments(shown).isEmpty, "\(shown)")
            sent += requests
        }
        // The HTTP error case reached the server with the secret in the URL.
        let paths = try await server.recorded().requests.map(\.path)
        #expect(paths == Array(repeating: "/status/503/\(awkwardSecretInURL)?k=\(awkwardSecretInURL)", count: sent))
    }

    @Test func anIncidentDoesNotShowTheSecret() async throws {
        let server = try RecordingServer()
        defer { server.stop() }
        let engine = try webhookProcess(#"<procrun:webhook url="{$base}/status/500/{$secrets.TOKEN}"/>"#)
        let instance = await simulate(engine, context: ["base": .string(server.base)], environment: environment)
        #expect(instance.status == .incident)
        let message = try #require(instance.incident?.message)
        #expect(message == "webhook 'Передать заказ' failed after 1 try: HTTP 500 from \(server.base)/status/500/***")
        #expect(try await server.recorded().requests.map(\.path) == ["/status/500/\(awkwardSecretInURL)"])
    }
}

@Suite(.serialized) struct ReplySizeCapTests {
    @Test func aReplyPastTheCapFailsTheTryWithOrWithoutContentLength() async throws {
        let server = try RecordingServer()
        defer { server.stop() }
        for kind in ["big", "chunked"] {
            let engine = try webhookProcess(
                """
                <procrun:webhook url="{$base}/\(kind)/1000000" maxResponseBytes="1000" result="reply">
                  <procrun:onError retries="1" interrupt="Завершить"><procrun:notify user="petrov"/></procrun:onError>
                </procrun:webhook>
                """, interrupt: true)
            let instance = await simulate(engine, context: ["base": .string(server.base)])
            let expected =
                "HTTP 200 from \(server.base)/\(kind)/1000000: reply larger than maxResponseBytes (1000 bytes)"
            let tries = instance.jobRuns.first?.tries ?? []
            #expect(tries.map(\.error) == [expected, expected], "\(kind)")
            #expect(tries.map(\.status) == [200, 200])
            // The usual error handling: retried, notified, left by the interrupt flow; no result.
            #expect(instance.endNode.map { engine.process.nodes[$0].id } == "stopped")
            #expect(instance.notifications.map(\.user) == ["petrov"])
            #expect(
                instance.notifications.first?.message.contains("reply larger than maxResponseBytes (1000 bytes)")
                    == true)
            #expect(instance.context["reply"] == nil)
        }
        #expect(try await server.recorded().requests.count == 4)
    }

    @Test func aReplyAtTheCapIsDeliveredWhole() async throws {
        let server = try RecordingServer()
        defer { server.stop() }
        for kind in ["big", "chunked"] {
            let engine = try webhookProcess(
                #"<procrun:webhook url="{$base}/\#(kind)/1000" maxResponseBytes="1000" result="reply"/>"#)
            let instance = await simulate(engine, context: ["base": .string(server.base)])
            #expect(instance.status == .completed, "\(kind)")
            #expect(instance.context["reply"]?.objectValue?["body"] == .string(String(repeating: "x", count: 1000)))
        }
        for kind in ["big", "chunked"] {
            let engine = try webhookProcess(
                #"<procrun:webhook url="{$base}/\#(kind)/1001" maxResponseBytes="1000" result="reply"/>"#)
            let instance = await simulate(engine, context: ["base": .string(server.base)])
            #expect(instance.status == .incident, "\(kind)")
            #expect(instance.incident?.message.hasSuffix("reply larger than maxResponseBytes (1000 bytes)") == true)
        }
    }

    @Test func theDefaultCapIsTenMegabytes() async throws {
        let server = try RecordingServer()
        defer { server.stop() }
        let engine = try webhookProcess(#"<procrun:webhook url="{$base}/chunked/11000000" result="reply"/>"#)
        #expect(engine.process.nodes.compactMap(\.webhook).first?.maxResponseBytes == 10_485_760)
        let instance = await simulate(engine, context: ["base": .string(server.base)])
        #expect(instance.status == .incident)
        #expect(instance.incident?.message.hasSuffix("reply larger than maxResponseBytes (10485760 bytes)") == true)
        #expect(instance.context["reply"] == nil)
    }

    @Test func theTransportStopsReceivingAtTheCap() async throws {
        let server = try RecordingServer()
        defer { server.stop() }
        let transport = CurlTransport()
        for kind in ["big", "chunked"] {
            let request = HTTPRequest(
                method: "GET", url: "\(server.base)/\(kind)/1000000", headers: [], body: nil, timeout: 10,
                maxResponseBytes: 4096)
            do {
                let response = try await transport.send(request)
                Issue.record("\(kind): a reply of \(response.body.count) bytes got through a cap of 4096")
            } catch {
                #expect(error.message == "reply larger than maxResponseBytes (4096 bytes)")
                #expect(error.status == 200)
            }
        }
    }

    @Test func theLoaderReadsMaxResponseBytesAndRefusesBadValues() throws {
        func load(_ value: String) -> BPMNLoadOutcome {
            let xml = """
                <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1" id="D">
                <process id="P" isExecutable="true"><startEvent id="s"/>
                <serviceTask id="w"><extensionElements>
                  <procrun:webhook url="http://x/" maxResponseBytes="\(value)"/>
                </extensionElements></serviceTask><endEvent id="e"/>
                <sequenceFlow id="f1" sourceRef="s" targetRef="w"/><sequenceFlow id="f2" sourceRef="w" targetRef="e"/></process></definitions>
                """
            return BPMNLoadOutcome(xml)
        }
        let accepted = [
            "1": 1, "1000": 1000, "512KB": 524_288, "10MB": 10_485_760, "10 mb": 10_485_760, "2048B": 2048,
            "1GB": 1_073_741_824,
        ]
        for (text, bytes) in accepted {
            let outcome = load(text)
            #expect(outcome.errors.isEmpty, "\(text): \(outcome.errors)")
            #expect(outcome.maxResponseBytes == bytes, "\(text)")
        }
        for text in [
            "0", "-5", "abc", "", "1.5MB", "10XB", "2GB", "1073741825", "99999999999999999999", "MB", "10 M B",
        ] {
            let outcome = load(text)
            #expect(
                outcome.errors == [
                    "w.bpmn:4:3: error: procrun:webhook maxResponseBytes '\(text)' is not a size from 1 byte to 1GB (a number of bytes, or with a unit: 512KB, 10MB)"
                ], "\(text)")
        }
    }
}

/// What loading one webhook gave: the errors as printed, and the cap.
struct BPMNLoadOutcome {
    var errors: [String] = []
    var maxResponseBytes: Int?

    init(_ xml: String) {
        do {
            let process = try loadProcessXML(xml)
            maxResponseBytes = process.nodes.compactMap(\.webhook).first?.maxResponseBytes
        } catch let error as DiagnosticError {
            errors = error.diagnostics.map(\.description)
        } catch {
            errors = ["\(error)"]
        }
    }
}

func loadProcessXML(_ xml: String) throws -> ProcessDefinition {
    let result = BPMNLoader.load(bytes: Array(xml.utf8), file: "w.bpmn")
    guard let process = result.definitions?.processes.first, !result.hasErrors else {
        throw DiagnosticError(result.errors)
    }
    return process
}
