import Engine
import Foundation
import Integrations
import Testing
import Values

/// Webhooks against a real HTTP server on 127.0.0.1, checking the bytes that arrive.
@Suite(.serialized) struct WireTests {
    @Test func jsonPostArrivesWithHeadersAndStoresTheResult() async throws {
        let server = try RecordingServer()
        defer { server.stop() }
        let engine = try webhookProcess(
            """
            <procrun:webhook url="{$base}/api/create-order/" result="reply">
              <procrun:param field="serialNumber" name="serial_number"/><procrun:param field="customer.name" name="customer"/>
              <procrun:param field="amount"/>
              <procrun:header name="X-Order" value="{$serialNumber} {DateTime(&quot;DD.MM.YYYY&quot;)}"/>
            </procrun:webhook>
            """)
        let instance = await simulate(
            engine,
            context: [
                "base": .string(server.base), "serialNumber": "SN-7", "customer": ["name": "Рога и копыта"],
                "amount": 1200.5,
            ])
        #expect(instance.status == .completed)
        #expect(instance.path.map { engine.process.nodes[$0].id } == ["s", "approve", "w", "done"])
        let requests = try await server.recorded().requests
        #expect(requests.count == 1)
        let request = try #require(requests.first)
        #expect(request.method == "POST")
        #expect(request.path == "/api/create-order/")
        #expect(request.text == #"{"serial_number":"SN-7","customer":"Рога и копыта","amount":1200.5}"#)
        #expect(request.header("Content-Type") == "application/json")
        #expect(request.header("Content-Length") == String(request.body.count))
        #expect(request.header("Idempotency-Key") == "inst-1-w-1")
        #expect(request.header("User-Agent") == "procrun/test")
        #expect(request.header("X-Order") == "SN-7 01.01.2026")
        #expect(request.header("Expect") == nil)
        let reply = try #require(instance.context["reply"]?.objectValue)
        #expect(reply["status"] == 200)
        #expect(reply["body"]?.objectValue?["ok"] == true)
        #expect(reply["headers"]?.objectValue?["x-recorder"] == "yes")
    }

    @Test func formTextAndGetOnTheWire() async throws {
        let server = try RecordingServer()
        defer { server.stop() }
        let context: JSONObject = ["base": .string(server.base), "name": "Иван Петров", "qty": 2, "tags": ["a", "b"]]
        let form = try webhookProcess(
            #"<procrun:webhook url="{$base}/form" type="form"><procrun:param field="name"/><procrun:param field="qty"/><procrun:param field="tags"/></procrun:webhook>"#
        )
        let text = try webhookProcess(
            #"<procrun:webhook url="{$base}/text" type="text"><procrun:text>Привет, {$name}! Кол-во: {$qty}</procrun:text></procrun:webhook>"#
        )
        let get = try webhookProcess(
            #"<procrun:webhook url="{$base}/lookup/{$name}" method="GET"><procrun:param field="qty"/><procrun:param field="name" name="who"/></procrun:webhook>"#
        )
        for engine in [form, text, get] { #expect(await simulate(engine, context: context).status == .completed) }
        let requests = try await server.recorded().requests
        #expect(requests.map(\.method) == ["POST", "POST", "GET"])
        #expect(requests[0].header("Content-Type") == "application/x-www-form-urlencoded")
        #expect(
            requests[0].text
                == "name=%D0%98%D0%B2%D0%B0%D0%BD+%D0%9F%D0%B5%D1%82%D1%80%D0%BE%D0%B2&qty=2&tags=%5B%22a%22%2C%22b%22%5D"
        )
        #expect(requests[1].header("Content-Type") == "text/plain; charset=utf-8")
        #expect(requests[1].text == "Привет, Иван Петров! Кол-во: 2")
        #expect(
            requests[2].path
                == "/lookup/%D0%98%D0%B2%D0%B0%D0%BD%20%D0%9F%D0%B5%D1%82%D1%80%D0%BE%D0%B2?qty=2&who=%D0%98%D0%B2%D0%B0%D0%BD+%D0%9F%D0%B5%D1%82%D1%80%D0%BE%D0%B2"
        )
        #expect(requests[2].body.isEmpty)
        #expect(requests[2].header("Content-Length") == nil)
    }

    @Test func retriesKeepTheIdempotencyKeyAndWaitTheDelay() async throws {
        let server = try RecordingServer()
        defer { server.stop() }
        let engine = try webhookProcess(
            #"<procrun:webhook url="{$base}/flaky/2/order-1"><procrun:onError retries="3" delay="PT1.5S" interrupt="Завершить"/></procrun:webhook>"#,
            interrupt: true)
        let scheduler = ManualScheduler()
        let instance = await simulate(engine, context: ["base": .string(server.base)], scheduler: scheduler)
        #expect(instance.path.map { engine.process.nodes[$0].id }.last == "done")
        #expect(scheduler.sleeps == [1.5, 1.5])
        let requests = try await server.recorded().requests
        #expect(requests.count == 3)
        #expect(Set(requests.compactMap { $0.header("Idempotency-Key") }) == ["inst-1-w-1"])
        #expect(instance.jobRuns.first?.tries.map(\.status) == [503, 503, 200])
        let times = instance.jobRuns.first?.tries.map { $0.time.timeIntervalSince1970 } ?? []
        #expect(times.count == 3 && times[1] - times[0] == 1.5 && times[2] - times[1] == 1.5)
    }

    @Test func finalFailureNotifiesAndLeavesByTheInterruptTransition() async throws {
        let server = try RecordingServer()
        defer { server.stop() }
        let engine = try webhookProcess(
            """
            <procrun:webhook url="{$base}/status/503?token={$secrets.T}">
              <procrun:onError retries="2" delay="0.5" interrupt="Завершить">
                <procrun:notify currentUser="true"/><procrun:notify user="petrov"/><procrun:notify group="Склад"/>
                <procrun:notify orgUnit="Продажи"/><procrun:notify variable="manager"/>
              </procrun:onError>
            </procrun:webhook>
            """, interrupt: true)
        let directory = try Directory(
            json: [
                "groups": ["Склад": ["sidorov", "petrov"]],
                "orgUnits": [["name": "Продажи", "members": ["ivanov", "kozlov"]]],
            ], file: "org.json")
        let answers = try Answers(json: ["approve": ["by": "smirnova"]], file: "a.json")
        let instance = await simulate(
            engine, context: ["base": .string(server.base), "manager": ["kozlov", "boss"]], directory: directory,
            environment: ["PROCRUN_SECRET_T": "hunter2"], answers: answers)
        #expect(instance.status == .completed)
        #expect(instance.endNode.map { engine.process.nodes[$0].id } == "stopped")
        #expect(try await server.recorded().requests.count == 3)
        #expect(instance.notifications.map(\.user) == ["smirnova", "petrov", "sidorov", "ivanov", "kozlov", "boss"])
        let message = try #require(instance.notifications.first?.message)
        #expect(message.contains("«Заказ»") && message.contains("'Передать заказ'") && message.contains("inst-1"))
        #expect(message.contains("HTTP 503"))
        #expect(!message.contains("hunter2") && !message.contains("token="))
        #expect(instance.jobRuns.first?.outcome == .interrupted)
    }

    @Test func errorBoundaryEventCatchesAWebhookFailure() async throws {
        let server = try RecordingServer()
        defer { server.stop() }
        let engine = try webhookProcess(
            #"<procrun:webhook url="{$base}/status/500"><procrun:onError retries="1"/></procrun:webhook>"#,
            extra: """
                <boundaryEvent id="b" attachedToRef="w"><errorEventDefinition errorRef="E"/></boundaryEvent>
                <sequenceFlow id="fb" sourceRef="b" targetRef="handled"/>
                """, root: #"<error id="E" errorCode="webhook-failed"/>"#)
        let instance = await simulate(engine, context: ["base": .string(server.base)])
        #expect(instance.path.map { engine.process.nodes[$0].id } == ["s", "approve", "b", "handled"])
        #expect(try await server.recorded().requests.count == 2)
    }

    @Test func withNeitherInterruptNorBoundaryTheInstanceStopsInAnIncident() async throws {
        let server = try RecordingServer()
        defer { server.stop() }
        let engine = try webhookProcess(#"<procrun:webhook url="{$base}/status/404"/>"#)
        let instance = await simulate(engine, context: ["base": .string(server.base), "kept": 1])
        #expect(instance.status == .incident)
        #expect(instance.incident?.node == "w")
        #expect(
            instance.incident?.message.hasPrefix(
                "webhook 'Передать заказ' failed after 1 try: HTTP 404 from http://127.0.0.1:") == true)
        #expect(instance.context["kept"] == 1)
    }

    @Test func unsetVariableFailsBeforeSendingAndIsNotRetried() async throws {
        let server = try RecordingServer()
        defer { server.stop() }
        let engine = try webhookProcess(
            #"<procrun:webhook url="{$base}/x/{$orderId}"><procrun:onError retries="3" delay="1" interrupt="Завершить"/></procrun:webhook>"#,
            interrupt: true)
        let scheduler = ManualScheduler()
        let instance = await simulate(engine, context: ["base": .string(server.base)], scheduler: scheduler)
        #expect(try await server.recorded().requests.isEmpty)
        #expect(scheduler.sleeps.isEmpty)
        #expect(instance.jobRuns.first?.tries.map(\.error) == ["variable 'orderId' is not set"])
        #expect(instance.endNode.map { engine.process.nodes[$0].id } == "stopped")
    }

    @Test func refusedConnectionIsAFailure() async throws {
        let port = closedPort()
        let engine = try webhookProcess(
            #"<procrun:webhook url="http://127.0.0.1:\#(port)/x"><procrun:onError retries="1" delay="0.1" interrupt="Завершить"/></procrun:webhook>"#,
            interrupt: true)
        let instance = await simulate(engine, context: [:])
        let tries = instance.jobRuns.first?.tries ?? []
        #expect(tries.count == 2)
        #expect(tries.allSatisfy { $0.status == nil && ($0.error?.contains("onnect") ?? false) })
        #expect(instance.endNode.map { engine.process.nodes[$0].id } == "stopped")
    }

    @Test func tlsFailureIsAFailure() async throws {
        // An https:// URL pointed at a plain-HTTP receiver fails in the TLS handshake.
        let server = try RecordingServer()
        defer { server.stop() }
        let engine = try webhookProcess(#"<procrun:webhook url="https://127.0.0.1:\#(server.port)/x" timeout="5"/>"#)
        let instance = await simulate(engine, context: [:])
        #expect(instance.status == .incident)
        let error = instance.jobRuns.first?.tries.first?.error ?? ""
        #expect(instance.jobRuns.first?.tries.first?.status == nil)
        #expect(error.lowercased().contains("ssl") || error.lowercased().contains("tls"), "\(error)")
    }

    @Test func slowReceiverTimesOut() async throws {
        let server = try RecordingServer()
        defer { server.stop() }
        let engine = try webhookProcess(#"<procrun:webhook url="{$base}/slow/5" timeout="0.5"/>"#)
        let instance = await simulate(engine, context: ["base": .string(server.base)])
        #expect(instance.status == .incident)
        let error = instance.jobRuns.first?.tries.first?.error ?? ""
        #expect(error.contains("timed out") || error.contains("Timeout"), "\(error)")
    }

    @Test func manyRequestsAreInFlightAtOnceWithoutBlockingThePool() async throws {
        let server = try RecordingServer()
        defer { server.stop() }
        let transport = CurlTransport()
        // A heartbeat on the cooperative pool keeps ticking while curl waits on its own thread.
        let beats = Heartbeat()
        let ticker = Task {
            while !Task.isCancelled {
                beats.tick()
                try? await Task.sleep(nanoseconds: 20_000_000)
            }
        }
        let statuses = await withTaskGroup(of: Int.self) { group in
            for i in 0..<8 {
                group.addTask {
                    let request = HTTPRequest(
                        method: "POST", url: server.base + "/slow/0.4/\(i)", headers: [], body: Array("{}".utf8),
                        timeout: 10)
                    return (try? await transport.send(request).status) ?? -1
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        ticker.cancel()
        #expect(statuses == Array(repeating: 200, count: 8))
        #expect(try await server.recorded().maxInFlight >= 4)
        #expect(beats.count >= 5)
    }
}

final class Heartbeat: @unchecked Sendable {
    private let lock = NSLock()
    private var beats = 0
    func tick() { lock.withLock { beats += 1 } }
    var count: Int { lock.withLock { beats } }
}
