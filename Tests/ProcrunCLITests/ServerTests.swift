import Foundation
import Testing
import Values

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `procrun serve` started as a user would: a users file made with `procrun users`, a store, the
/// sample directory, a free port. Its stdout and stderr go to files (a pipe nobody reads would
/// stall it).
final class Serve: @unchecked Sendable {
    let folder: URL
    let process = Process()
    let url: String
    var tokens: [String: String] = [:]

    static let people = ["ivanov", "kozlov", "sidorov", "petrova", "admin"]

    init(workers: Int = 1, extra: [String] = []) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("procrun-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let users = folder.appendingPathComponent("users.json").path
        for person in Self.people {
            let added = try CLI.shell(
                "echo \"password-\(person)\" | \"$PROCRUN\" users add \(person) --users \"\(users)\"\(person == "admin" ? " --role admin" : "")",
                environment: ["PROCRUN": CLI.binary.path])
            guard added.status == 0 else { throw CocoaError(.fileWriteUnknown) }
            let token = try CLI.run(["users", "token", person, "--users", users])
            tokens[person] = token.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        process.executableURL = CLI.binary
        process.arguments =
            [
                "serve", "--port", "0", "--store", folder.appendingPathComponent("store.sqlite").path, "--users", users,
                "--directory", CLI.packageRoot.appendingPathComponent("Samples/org.json").path, "--workers",
                "\(workers)",
            ] + extra
        let out = folder.appendingPathComponent("stdout")
        let err = folder.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        var found: String?
        while found == nil && Date() < deadline && process.isRunning {
            let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"http://127\.0\.0\.1:\d+"#, options: .regularExpression) {
                found = String(text[range])
            } else {
                usleep(20_000)
            }
        }
        guard let found else {
            process.terminate()
            let log = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "serve did not start: \(log)"])
        }
        url = found
    }

    var log: String { (try? String(contentsOf: folder.appendingPathComponent("stderr"), encoding: .utf8)) ?? "" }

    /// SIGTERM, and the exit status once it drained.
    func stop() -> Int32 {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: folder)
    }

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: JSONValue { (try? JSONParser.parse([UInt8](body), file: "reply")) ?? .null }
        var object: JSONObject { json.objectValue ?? JSONObject() }
        var errorMessage: String { object["error"]?.objectValue?["message"]?.stringValue ?? "" }
    }

    /// One request as `as` (a person's token; nil: none), with a JSON body or raw bytes.
    func call(
        _ method: String, _ path: String, as person: String? = nil, json: JSONValue? = nil, body: Data? = nil,
        headers: [String: String] = [:]
    ) async throws -> Reply {
        var request = URLRequest(url: URL(string: url + path)!)
        request.httpMethod = method
        request.httpShouldHandleCookies = false
        if let person { request.setValue("Bearer \(tokens[person]!)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.httpBody = Data(JSONWriter.string(json).utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        } else if let body {
            request.httpBody = body
        }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let session = URLSession(configuration: .ephemeral)
        let (data, response) = try await session.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            fields[String(describing: name).lowercased()] = String(describing: value)
        }
        return Reply(status: http.statusCode, headers: fields, body: data)
    }

    /// Deploys the sample order process as the admin.
    func deployOrder() async throws {
        let xml = try Data(contentsOf: CLI.packageRoot.appendingPathComponent("Processes/order.bpmn"))
        let reply = try await call("POST", "/api/definitions?file=order.bpmn", as: "admin", body: xml)
        #expect(reply.status == 201, "\(reply.text)")
    }

    func startOrder(as person: String, warehouse: String, number: String) async throws -> String {
        let reply = try await call(
            "POST", "/api/instances", as: person,
            json: [
                "processId": "order", "businessKey": .string(number),
                "variables": [
                    "orderNumber": .string(number), "customer": ["name": "ООО «Ромашка»"], "items": [], "total": 5,
                    "manager": "kozlov", "warehouseUrl": .string(warehouse),
                ],
            ])
        #expect(reply.status == 201, "\(reply.text)")
        return reply.object["instance"]?.stringValue ?? ""
    }

    func complete(_ instance: String, _ task: String, as person: String, variables: JSONObject = [:]) async throws
        -> Reply
    {
        try await call(
            "POST", "/api/instances/\(instance)/tasks/\(task)/complete", as: person,
            json: ["variables": .object(variables)])
    }

    /// Waits until the instance ended (the in-process worker delivers its webhook).
    func waitForEnd(_ instance: String, as person: String) async throws -> JSONObject {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let reply = try await call("GET", "/api/instances/\(instance)", as: person)
            let status = reply.object["status"]?.stringValue
            if status == "completed" || status == "terminated" || status == "incident" { return reply.object }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        return try await call("GET", "/api/instances/\(instance)", as: person).object
    }
}

@Suite(.serialized) struct ServerTests {
    /// The order flow over HTTP by three people and an admin: the clerk starts and accepts, the
    /// warehouse assembles, accounting invoices; the in-process worker delivers the webhook to a
    /// real receiver («Заказ выполнен»); with the warehouse failing it ends at «Завершить» and
    /// notifies the warehouse group, accounting and the manager, who see it in their inbox.
    @Test func theOrderFlowByThreePeopleAndAnAdmin() async throws {
        let server = try Serve()
        let inbox = try Inbox()
        try await server.deployOrder()
        let id = try await server.startOrder(as: "ivanov", warehouse: inbox.url, number: "ЗК-1")
        var mine = try await server.call("GET", "/api/tasks", as: "ivanov")
        #expect(mine.object["items"]?.arrayValue?.first?.objectValue?["task"] == "Task_accept", "\(mine.text)")
        #expect(
            (try await server.complete(id, "Task_accept", as: "ivanov", variables: ["inStock": true])).status == 200)
        mine = try await server.call("GET", "/api/tasks", as: "sidorov")
        #expect(mine.object["items"]?.arrayValue?.first?.objectValue?["task"] == "Task_assemble", "\(mine.text)")
        #expect((try await server.complete(id, "Task_assemble", as: "sidorov")).status == 200)
        #expect(
            (try await server.complete(id, "Task_invoice", as: "petrova", variables: ["invoiceNumber": "СЧ-1"])).status
                == 200)
        let done = try await server.waitForEnd(id, as: "ivanov")
        #expect(done["status"] == "completed", "\(done)")
        #expect(done["end"]?.objectValue?["id"] == "End_done")
        #expect(done["participants"] == ["ivanov", "petrova", "sidorov"])
        #expect(done["businessKey"] == "ЗК-1")
        let received = inbox.stop()
        #expect(received.contains(#""order_number":"ЗК-1""#), "\(received)")
        #expect(received.contains(#""invoice":"СЧ-1""#))

        // The warehouse down: four tries, «Завершить», notifications.
        let failing = try Inbox(arguments: ["--fail-first", "100", "--status", "503"])
        let second = try await server.startOrder(as: "ivanov", warehouse: failing.url, number: "ЗК-2")
        _ = try await server.complete(second, "Task_accept", as: "ivanov", variables: ["inStock": true])
        _ = try await server.complete(second, "Task_assemble", as: "sidorov")
        _ = try await server.complete(second, "Task_invoice", as: "petrova", variables: ["invoiceNumber": "СЧ-2"])
        let manual = try await server.waitForEnd(second, as: "ivanov")
        _ = failing.stop()
        #expect(manual["end"]?.objectValue?["id"] == "End_manual", "\(manual)")
        #expect(manual["jobs"]?.arrayValue?.first?.objectValue?["tries"]?.arrayValue?.count == 4)
        let inboxOfSidorov = try await server.call("GET", "/api/notifications", as: "sidorov")
        let notes = inboxOfSidorov.json.arrayValue ?? []
        #expect(notes.count == 1 && notes[0].objectValue?["read"] == false, "\(inboxOfSidorov.text)")
        var noteID = 0
        if case .number(let number)? = notes.first?.objectValue?["id"] { noteID = Int(number) }
        #expect((try await server.call("POST", "/api/notifications/\(noteID)/read", as: "sidorov")).status == 200)
        #expect((try await server.call("POST", "/api/notifications/\(noteID)/read", as: "ivanov")).status == 404)
        let read = try await server.call("GET", "/api/notifications", as: "sidorov")
        #expect(read.json.arrayValue?.first?.objectValue?["read"] == true)
        // Prometheus' text: the store's instances by status, this server's starts, steps and job tries.
        let metrics = try await server.call("GET", "/metrics")
        #expect(metrics.status == 200, "\(metrics.text)")
        for line in [
            #"procrun_instances{status="completed"} 2"#, "procrun_instances_started_total 2",
            #"procrun_job_tries_total{type="webhook",result="succeeded"} 1"#,
            #"procrun_job_tries_total{type="webhook",result="failed"} 4"#,
            #"procrun_steps_total{operation="complete"} 6"#, "# TYPE procrun_step_duration_seconds histogram",
            #"procrun_step_duration_seconds_count{operation="start"} 2"#, "procrun_jobs_due 0",
        ] {
            #expect(metrics.text.contains(line + "\n"), "\(line)\n\(metrics.text)")
        }
        #expect(server.stop() == 0, "SIGTERM drains and exits 0: \(server.log)")
        #expect(server.log.contains("path=/api/instances"), "one log line per request")
        #expect(server.log.contains("job try"), "one log line per job try")
        #expect(server.log.contains("element=Task_webhook"))
    }

    /// A real browser (headless Chromium, phone-sized) runs the order flow through the pages: the
    /// sales clerk logs in, starts an order and accepts it, the warehouse worker assembles it, the
    /// accountant invoices it, and the instance page shows the completed path. Screenshots are
    /// kept in `.build/screenshots/`.
    @Test func aBrowserRunsTheOrderFlowThroughThePages() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") else {
            Issue.record("chromium is missing: scripts/deps.sh installs it")
            return
        }
        let shots = CLI.packageRoot.appendingPathComponent(".build/screenshots").path
        let server = try Serve()
        let inbox = try Inbox()
        try await server.deployOrder()
        let browser = try Browser()
        func login(_ person: String) throws {
            try browser.open(server.url + "/login")
            try browser.submit(
                "document.querySelector('input[name=user]').value='\(person)';document.querySelector('input[name=password]').value='password-\(person)';document.querySelector('form.login').submit()"
            )
            #expect(browser.location == "/tasks", "\(person) logged in: \(browser.text)")
        }
        try browser.open(server.url + "/tasks")
        #expect(browser.location == "/login", "the pages ask who you are first")
        try browser.screenshot(shots + "/1-login.png")
        try login("ivanov")
        try browser.open(server.url + "/definitions")
        try browser.submit(
            "document.querySelector('input[name=businessKey]').value='ЗК-7';document.querySelector('textarea[name=variables]').value=JSON.stringify({orderNumber:'ЗК-7',customer:{name:'ООО «Ромашка»'},items:[],total:5,manager:'kozlov',warehouseUrl:'\(inbox.url)'});document.querySelector('form[action=\"/instances\"]').submit()"
        )
        let id = String(browser.location.dropFirst("/instances/".count))
        #expect(browser.text.contains("Заказ клиента"), "\(browser.text)")
        try browser.open(server.url + "/tasks")
        #expect(browser.text.contains("Принять заказ"), "\(browser.text)")
        try browser.screenshot(shots + "/2-tasks-of-the-sales-clerk.png")
        try browser.submit(
            "document.querySelector('#task-\(id)-Task_accept input[name=\"var.inStock\"]').value='true';document.querySelector('#task-\(id)-Task_accept form').submit()"
        )
        #expect(browser.text.contains("Задача выполнена"), "\(browser.text)")
        try browser.submit("document.querySelector('nav form').submit()")
        try login("sidorov")
        #expect(browser.text.contains("Собрать заказ"), "\(browser.text)")
        try browser.submit("document.querySelector('#task-\(id)-Task_assemble form').submit()")
        try browser.submit("document.querySelector('nav form').submit()")
        try login("petrova")
        #expect(browser.text.contains("Выставить счёт"), "\(browser.text)")
        try browser.submit(
            "document.querySelector('#task-\(id)-Task_invoice details').open=true;document.querySelector('#task-\(id)-Task_invoice textarea[name=more]').value='invoiceNumber=СЧ-7';document.querySelector('#task-\(id)-Task_invoice form').submit()"
        )
        let done = try await server.waitForEnd(id, as: "petrova")
        #expect(done["end"]?.objectValue?["id"] == "End_done", "\(done)")
        #expect(done["context"]?.objectValue?["invoiceNumber"] == "СЧ-7")
        try browser.open(server.url + "/instances/\(id)")
        let page = browser.text
        #expect(page.contains("completed") && page.contains("Заказ выполнен"), "\(page)")
        #expect(try browser.evaluate("document.querySelectorAll('.diagram svg').length") == 1)
        // The path is drawn: the delivered flow and the end event highlighted.
        #expect(
            try browser.evaluate(
                "document.querySelector('.diagram svg [id=\"End_done\"]').outerHTML.includes('#2e7d32')") == true)
        try browser.screenshot(shots + "/3-instance-completed.png")
        _ = inbox.stop()
    }

    /// A task with `camunda:formData` gets a typed form; what it sends is read by each field's type.
    @Test func typedFormsFromCamundaFormData() async throws {
        let server = try Serve(workers: 0)
        let model = """
            <?xml version="1.0" encoding="UTF-8"?>
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
              <process id="approval" isExecutable="true">
                <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
                <userTask id="t" name="Согласовать">
                  <extensionElements><camunda:formData>
                    <camunda:formField id="approved" label="Согласовано" type="boolean"/>
                    <camunda:formField id="amount" label="Сумма" type="long" defaultValue="100"/>
                    <camunda:formField id="level" label="Уровень" type="enum">
                      <camunda:value id="low" name="Низкий"/><camunda:value id="high" name="Высокий"/>
                    </camunda:formField>
                    <camunda:formField id="comment" label="Комментарий &lt;b&gt;" type="string"/>
                  </camunda:formData></extensionElements>
                </userTask>
                <sequenceFlow id="f2" sourceRef="t" targetRef="e"/><endEvent id="e"/>
              </process>
            </definitions>
            """
        #expect(
            (try await server.call("POST", "/api/definitions?file=approval.bpmn", as: "admin", body: Data(model.utf8)))
                .status == 201)
        let started = try await server.call("POST", "/api/instances", as: "ivanov", json: ["processId": "approval"])
        let id = started.object["instance"]?.stringValue ?? ""
        let login = try await server.call(
            "POST", "/api/login", json: ["user": "ivanov", "password": "password-ivanov"])
        let cookie = (login.headers["set-cookie"] ?? "").components(separatedBy: ";")[0]
        let page = try await server.call("GET", "/tasks", headers: ["Cookie": cookie]).text
        #expect(page.contains(#"<input type="checkbox" name="var.approved" value="true">"#), "\(page)")
        #expect(page.contains(#"<input type="number" step="1" name="var.amount" value="100">"#))
        #expect(page.contains(#"<option value="high">Высокий</option>"#))
        #expect(page.contains("Комментарий &lt;b&gt;"), "labels are escaped")
        let form = "var.approved=false&var.approved=true&var.amount=12&var.level=high&var.comment=007"
        let sent = try await server.call(
            "POST", "/tasks/\(id)/t/complete", body: Data(form.utf8),
            headers: ["Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"])
        #expect(sent.status == 302 || sent.status == 303 || sent.status == 200, "\(sent.status) \(sent.text)")
        let done = try await server.call("GET", "/api/instances/\(id)", as: "ivanov").object
        #expect(done["status"] == "completed", "\(done)")
        let context = done["context"]?.objectValue ?? [:]
        #expect(context["approved"] == true && context["amount"] == 12)
        #expect(context["level"] == "high" && context["comment"] == "007", "text stays text: \(context)")
    }

    /// Deploying by a multipart form (the page's upload), the definition's XML as a sandboxed
    /// download and its SVG; giving a claimed task back; `procrun users` refusing bad input.
    @Test func definitionsUploadsAndUnclaims() async throws {
        let server = try Serve(workers: 0)
        let xml = try String(
            contentsOf: CLI.packageRoot.appendingPathComponent("Processes/order.bpmn"), encoding: .utf8)
        let boundary = "procrun-test-boundary"
        let form =
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"заказ.bpmn\"\r\nContent-Type: application/xml\r\n\r\n\(xml)\r\n--\(boundary)--\r\n"
        let deployed = try await server.call(
            "POST", "/api/definitions", as: "admin", body: Data(form.utf8),
            headers: ["Content-Type": "multipart/form-data; boundary=\(boundary)"])
        #expect(deployed.status == 201, "\(deployed.text)")
        #expect(deployed.json.arrayValue?.first?.objectValue?["file"] == "заказ.bpmn")
        let noFile = try await server.call(
            "POST", "/api/definitions", as: "admin", body: Data("--x\r\n\r\n--x--\r\n".utf8),
            headers: ["Content-Type": "multipart/form-data; boundary=x"])
        #expect(noFile.status == 400 && noFile.object["error"]?.objectValue?["field"] == "file", "\(noFile.text)")
        let download = try await server.call("GET", "/api/definitions/1/xml", as: "ivanov")
        #expect(download.text == xml)
        #expect(download.headers["content-disposition"] == #"attachment; filename="definition-1.bpmn""#)
        let svg = try await server.call("GET", "/api/definitions/1/svg", as: "ivanov")
        #expect(svg.text.hasPrefix("<?xml") || svg.text.hasPrefix("<svg"), "\(svg.text.prefix(80))")
        #expect(svg.text.contains("Принять заказ"))
        // Claimed, given back, claimed by another candidate.
        let id = try await server.startOrder(as: "ivanov", warehouse: "http://127.0.0.1:9", number: "ЗК-11")
        #expect(
            (try await server.call("POST", "/api/instances/\(id)/tasks/Task_accept/claim", as: "ivanov")).status == 200)
        #expect(
            (try await server.call("POST", "/api/instances/\(id)/tasks/Task_accept/unclaim", as: "kozlov")).status
                == 409)
        let back = try await server.call("POST", "/api/instances/\(id)/tasks/Task_accept/unclaim", as: "ivanov")
        #expect(back.status == 200 && back.object["assignee"] == .null, "\(back.text)")
        #expect(
            (try await server.call("POST", "/api/instances/\(id)/tasks/Task_accept/claim", as: "kozlov")).status == 200)
        // procrun users: a short password, an unknown role, a token for nobody, a broken file.
        let users = server.folder.appendingPathComponent("users.json").path
        let short = try CLI.shell(
            "echo short | \"$PROCRUN\" users add x --users \"\(users)\"", environment: ["PROCRUN": CLI.binary.path])
        #expect(short.status == 2 && short.stderr.contains("a password has at least 8 characters"))
        let role = try CLI.run(["users", "add", "x", "--role", "boss", "--users", users])
        #expect(role.status == 2 && role.stderr.contains("--role 'boss' is not admin or user"))
        let nobody = try CLI.run(["users", "token", "nobody", "--users", users])
        #expect(nobody.status == 2 && nobody.stderr.contains("no user 'nobody'"))
        let listed = try CLI.run(["users", "list", "--users", users])
        #expect(listed.stdout.contains("admin  admin  1 token(s)"), "\(listed.stdout)")
        let broken = try CLI.temporaryFile("users.json", #"{"users": [{"id": "a", "roles": ["boss"]}]}"#)
        let refused = try CLI.run(["users", "list", "--users", broken])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("\(broken):1:34: error: users[0] 'a': role \"boss\" is not admin or user"))
    }

    /// Each role rule, one by one.
    @Test func everyRoleRuleHolds() async throws {
        let server = try Serve(workers: 0)
        // No or bad credentials: 401 JSON.
        let anonymous = try await server.call("GET", "/api/instances")
        #expect(anonymous.status == 401)
        #expect(anonymous.object["error"]?.objectValue?["code"] == "unauthenticated")
        let forged = try await server.call(
            "GET", "/api/instances", headers: ["Authorization": "Bearer prt_not-a-token"])
        #expect(forged.status == 401)
        // Only admins deploy.
        let xml = try Data(contentsOf: CLI.packageRoot.appendingPathComponent("Processes/order.bpmn"))
        let refused = try await server.call("POST", "/api/definitions", as: "ivanov", body: xml)
        #expect(refused.status == 403, "\(refused.text)")
        #expect(refused.errorMessage == "only administrators deploy definitions")
        try await server.deployOrder()
        // A person completes only a task they are a candidate of (the lane's org unit).
        let id = try await server.startOrder(as: "ivanov", warehouse: "http://127.0.0.1:9", number: "ЗК-3")
        // Someone with nothing to do with the instance does not learn it exists.
        let stranger = try await server.complete(id, "Task_accept", as: "sidorov", variables: ["inStock": true])
        #expect(stranger.status == 404, "\(stranger.text)")
        // Admins are held to the same rule.
        #expect((try await server.complete(id, "Task_accept", as: "admin")).status == 403)
        // A claimed task is the claimer's: another candidate gets a conflict.
        let claimed = try await server.call("POST", "/api/instances/\(id)/tasks/Task_accept/claim", as: "kozlov")
        #expect(claimed.status == 200 && claimed.object["assignee"] == "kozlov", "\(claimed.text)")
        let taken = try await server.complete(id, "Task_accept", as: "ivanov", variables: ["inStock": true])
        #expect(taken.status == 409)
        #expect(taken.errorMessage == "task 'Task_accept' is claimed by kozlov; only they may complete it")
        #expect(
            (try await server.call("POST", "/api/instances/\(id)/tasks/Task_accept/claim", as: "ivanov")).status == 409)
        #expect(
            (try await server.complete(id, "Task_accept", as: "kozlov", variables: ["inStock": true])).status == 200)
        // The starter sees the instance but is not a candidate of the warehouse's task.
        let notCandidate = try await server.complete(id, "Task_assemble", as: "ivanov")
        #expect(notCandidate.status == 403)
        #expect(
            notCandidate.errorMessage == "ivanov may not perform task 'Task_assemble' (candidates: sidorov, smirnova)")
        // People see what they started or took part in; admins see all.
        let other = try await server.startOrder(as: "petrova", warehouse: "http://127.0.0.1:9", number: "ЗК-4")
        let ivanovs = try await server.call("GET", "/api/instances", as: "ivanov")
        #expect(ivanovs.object["items"]?.arrayValue?.compactMap { $0.objectValue?["id"]?.stringValue } == [id])
        let kozlovs = try await server.call("GET", "/api/instances", as: "kozlov")
        #expect(kozlovs.object["total"] == 1, "kozlov took part: \(kozlovs.text)")
        #expect((try await server.call("GET", "/api/instances/\(other)", as: "sidorov")).status == 404)
        // A candidate of its open task sees it (the tasklist links to it), without it being listed.
        #expect((try await server.call("GET", "/api/instances/\(other)", as: "ivanov")).status == 200)
        let all = try await server.call("GET", "/api/instances", as: "admin")
        #expect(all.object["total"] == 2)
        #expect((try await server.call("GET", "/api/instances?startedBy=petrova", as: "admin")).object["total"] == 1)
        // Only admins retry, skip or cancel incidents; the starter may cancel their instance.
        #expect((try await server.call("POST", "/api/instances/\(other)/retry", as: "petrova")).status == 403)
        #expect((try await server.call("GET", "/api/incidents", as: "petrova")).status == 403)
        #expect((try await server.call("POST", "/api/instances/\(other)/cancel", as: "sidorov")).status == 404)
        #expect((try await server.call("POST", "/api/instances/\(other)/cancel", as: "ivanov")).status == 403)
        let cancelled = try await server.call("POST", "/api/instances/\(other)/cancel", as: "petrova")
        #expect(cancelled.status == 200 && cancelled.object["status"] == "terminated", "\(cancelled.text)")
        #expect((try await server.call("POST", "/api/instances/\(other)/cancel", as: "admin")).status == 409)
    }

    /// What the review found: a task whose model names performers the directory does not know is
    /// open to administrators only; the starter does not cancel an incident; messages and
    /// signals name only instances the caller may see; task names may be percent-encoded; a
    /// task is claimed on a server that never ran its process (a fresh engine, read inside the
    /// claim's transaction); copies of a multi-instance task are claimed one each; cross-site
    /// POSTs with the session cookie are refused; parallel wrong logins are throttled too.
    @Test func reviewFindingsStayFixed() async throws {
        let server = try Serve(workers: 0)
        let model = """
            <?xml version="1.0" encoding="UTF-8"?>
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
              <message id="M" name="ping"/>
              <process id="review" isExecutable="true">
                <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="fork"/>
                <parallelGateway id="fork"/>
                <sequenceFlow id="f2" sourceRef="fork" targetRef="ghost"/>
                <sequenceFlow id="f3" sourceRef="fork" targetRef="copies"/>
                <sequenceFlow id="f4" sourceRef="fork" targetRef="wait"/>
                <userTask id="ghost" name="Для отдела-призрака" camunda:candidateGroups="Призраки"/>
                <userTask id="copies" name="Проверить позицию">
                  <multiInstanceLoopCharacteristics isSequential="false"><loopCardinality>3</loopCardinality></multiInstanceLoopCharacteristics>
                </userTask>
                <intermediateCatchEvent id="wait"><messageEventDefinition messageRef="M"/></intermediateCatchEvent>
                <sequenceFlow id="f5" sourceRef="ghost" targetRef="join"/>
                <sequenceFlow id="f6" sourceRef="copies" targetRef="join"/>
                <sequenceFlow id="f7" sourceRef="wait" targetRef="join"/>
                <parallelGateway id="join"/><sequenceFlow id="f8" sourceRef="join" targetRef="e"/><endEvent id="e"/>
              </process>
            </definitions>
            """
        let file = server.folder.appendingPathComponent("review.bpmn").path
        try model.write(toFile: file, atomically: true, encoding: .utf8)
        // Deployed and started by the command line: the server's runtime has never loaded it.
        let store = server.folder.appendingPathComponent("store.sqlite").path
        let started = try CLI.run(["start", file, "--store", store, "--initiator", "petrova"])
        #expect(started.status == 4, "\(started.stderr)")
        let id = String(started.stdout.prefix { $0 != " " })
        let claim = try await server.call("POST", "/api/instances/\(id)/tasks/copies/claim", as: "kozlov")
        #expect(claim.status == 200, "\(claim.text)")
        let second = try await server.call("POST", "/api/instances/\(id)/tasks/copies/claim", as: "ivanov")
        #expect(second.status == 200 && second.object["assignee"] == "ivanov", "another copy: \(second.text)")
        // Names the directory does not know: nobody but an administrator.
        let ghost = try await server.complete(id, "ghost", as: "petrova")
        #expect(ghost.status == 403, "\(ghost.text)")
        #expect(ghost.errorMessage.contains("names performers the directory does not know"))
        let encoded = "Для отдела-призрака".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        #expect((try await server.complete(id, encoded, as: "admin")).status == 200, "by its name, percent-encoded")
        // A message into another's instance: delivered, but not named to someone who may not see it.
        let message = try await server.call("POST", "/api/messages", as: "sidorov", json: ["name": "ping"])
        #expect(message.status == 200 && message.object["result"] == "correlated", "\(message.text)")
        #expect(message.object["instance"] == .null)
        let signal = try await server.call("POST", "/api/signals", as: "sidorov", json: ["name": "nobody-waits"])
        #expect(signal.object["delivered"] == 0 && signal.object["instances"] == [])
        // Completing a task of an instance one may not see at all: not found, nothing told.
        try await server.deployOrder()
        let order = try await server.startOrder(as: "ivanov", warehouse: "http://127.0.0.1:9", number: "ЗК-9")
        let hidden = try await server.complete(order, "Task_invoice", as: "sidorov")
        #expect(hidden.status == 404, "\(hidden.text)")
        // The starter does not cancel an instance in an incident.
        let failing = try await server.call(
            "POST", "/api/instances", as: "ivanov",
            json: ["processId": "order", "variables": ["orderNumber": "ЗК-10", "inStock": "maybe"]])
        let broken = failing.object["instance"]?.stringValue ?? ""
        _ = try await server.complete(broken, "Task_accept", as: "ivanov", variables: ["inStock": "maybe"])
        let incident = try await server.call("GET", "/api/instances/\(broken)", as: "ivanov")
        #expect(incident.object["status"] == "incident", "\(incident.text)")
        let refused = try await server.call("POST", "/api/instances/\(broken)/cancel", as: "ivanov")
        #expect(refused.status == 403 && refused.errorMessage.contains("in an incident"), "\(refused.text)")
        #expect((try await server.call("POST", "/api/instances/\(broken)/cancel", as: "admin")).status == 200)
        // A cross-site POST with the session cookie is refused; the same from the site is not.
        let login = try await server.call(
            "POST", "/api/login", json: ["user": "ivanov", "password": "password-ivanov"])
        let cookie = (login.headers["set-cookie"] ?? "").components(separatedBy: ";")[0]
        let forged = try await server.call(
            "POST", "/api/instances", json: ["processId": "order"],
            headers: ["Cookie": cookie, "Origin": "http://evil.example"])
        #expect(forged.status == 403, "\(forged.text)")
        let host = String(server.url.dropFirst("http://".count))
        let same = try await server.call(
            "POST", "/api/instances", json: ["processId": "order"],
            headers: ["Cookie": cookie, "Origin": "http://\(host)"])
        #expect(same.status == 201, "\(same.text)")
        // Thirty wrong passwords at once: at most ten are checked, the rest wait.
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<30 {
                group.addTask {
                    try await server.call("POST", "/api/login", json: ["user": "kozlov", "password": "guess"]).status
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 401 }.count <= 10, "\(statuses)")
        #expect(statuses.filter { $0 == 429 }.count >= 20, "\(statuses)")
        #expect(!server.log.contains("status=500"), "\(server.log)")
    }

    /// Two people completing the same task at once: exactly one succeeds, the other gets 409.
    @Test func aDoubleCompletionIsAConflict() async throws {
        let server = try Serve(workers: 0)
        try await server.deployOrder()
        for round in 0..<5 {
            let id = try await server.startOrder(as: "ivanov", warehouse: "http://127.0.0.1:9", number: "ЗК-\(round)")
            async let first = server.complete(id, "Task_accept", as: "ivanov", variables: ["inStock": true])
            async let second = server.complete(id, "Task_accept", as: "kozlov", variables: ["inStock": false])
            let statuses = [try await first.status, try await second.status].sorted()
            #expect(statuses == [200, 409], "round \(round)")
        }
    }

    /// Bad input gets 400 (naming the field) or 413, never a 500; logins are throttled.
    @Test func badInputIsRefusedClearly() async throws {
        let server = try Serve(workers: 0)
        try await server.deployOrder()
        let notJSON = try await server.call("POST", "/api/instances", as: "ivanov", body: Data("{nope".utf8))
        #expect(notJSON.status == 400)
        #expect(notJSON.errorMessage.hasPrefix("the body is not JSON: expected a string key"), "\(notJSON.text)")
        let wrongType = try await server.call("POST", "/api/instances", as: "ivanov", json: ["processId": 5])
        #expect(wrongType.status == 400 && wrongType.object["error"]?.objectValue?["field"] == "processId")
        let unknown = try await server.call(
            "POST", "/api/instances", as: "ivanov", json: ["processId": "order", "colour": "red"])
        #expect(unknown.status == 400 && unknown.object["error"]?.objectValue?["field"] == "colour")
        let variables = try await server.call(
            "POST", "/api/instances", as: "ivanov", json: ["processId": "order", "variables": [1, 2]])
        #expect(variables.status == 400 && variables.object["error"]?.objectValue?["field"] == "variables")
        let noProcess = try await server.call("POST", "/api/instances", as: "ivanov", json: ["processId": "nope"])
        #expect(noProcess.status == 404 && noProcess.object["error"]?.objectValue?["field"] == "processId")
        let huge = try await server.call(
            "POST", "/api/instances", as: "ivanov", body: Data(repeating: UInt8(ascii: " "), count: 2_000_000))
        #expect(huge.status == 413, "\(huge.text)")
        let badPage = try await server.call("GET", "/api/instances?limit=0", as: "ivanov")
        #expect(badPage.status == 400 && badPage.object["error"]?.objectValue?["field"] == "limit")
        let badStatus = try await server.call("GET", "/api/instances?status=done", as: "ivanov")
        #expect(badStatus.status == 400)
        let brokenBPMN = try await server.call("POST", "/api/definitions", as: "admin", body: Data("<definitions".utf8))
        #expect(brokenBPMN.status == 400 && brokenBPMN.object["error"]?.objectValue?["code"] == "invalid_bpmn")
        #expect((try await server.call("GET", "/api/instances/nope", as: "admin")).status == 404)
        #expect((try await server.call("GET", "/api/nothing-here", as: "admin")).status == 404)
        // Ten wrong passwords in a minute, then even the right one waits.
        for _ in 0..<10 {
            let wrong = try await server.call("POST", "/api/login", json: ["user": "petrova", "password": "guess"])
            #expect(wrong.status == 401)
        }
        let throttled = try await server.call(
            "POST", "/api/login", json: ["user": "petrova", "password": "password-petrova"])
        #expect(throttled.status == 429, "\(throttled.text)")
        #expect(throttled.errorMessage.hasPrefix("too many failed logins for 'petrova'"))
        // Another person is not held up; a login sets a session cookie the pages accept.
        let login = try await server.call(
            "POST", "/api/login", json: ["user": "sidorov", "password": "password-sidorov"])
        #expect(login.status == 200)
        let cookie = (login.headers["set-cookie"] ?? "").components(separatedBy: ";")[0]
        #expect(cookie.hasPrefix("procrun_session="), "\(login.headers)")
        let page = try await server.call("GET", "/tasks", headers: ["Cookie": cookie])
        #expect(page.status == 200 && page.text.contains("Мои задачи"), "\(page.status)")
        let tampered = try await server.call(
            "GET", "/api/me", headers: ["Cookie": cookie.replacingOccurrences(of: "c2lkb3Jvdg", with: "aXZhbm92")])
        #expect(tampered.status == 401)
        #expect(!server.log.contains("status=500"), "\(server.log)")
    }
}
