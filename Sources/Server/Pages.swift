import Engine
import Expressions
import Foundation
import Hummingbird
import ProcessModel
import Runtime
import Store
import Values

/// The web pages: server-side HTML with a little JavaScript, readable on a phone. Every action
/// goes through the same rules (`Policy`) and runtime calls as the API.
struct Pages {
    let host: RuntimeHost
    let settings: ServerSettings
    let api: API

    func register(on router: Router<ServerContext>) {
        router.get("/") { _, context in
            Response.redirect(to: context.principal == nil ? "/login" : "/tasks")
        }
        router.get("login") { request, context in
            Reply.html(Page.layout(title: "Вход", user: nil, body: Page.loginForm(message: request.query("message"))))
        }
        router.post("login") { request, context in try await login(request, context) }
        router.post("logout") { _, _ in
            var response = Response.redirect(to: "/login")
            response.setCookie(Authenticator.logoutCookie)
            return response
        }
        router.get("tasks") { request, context in try await tasks(request, context) }
        router.post("tasks/:id/:task/complete") { request, context in try await complete(request, context) }
        router.post("tasks/:id/:task/claim") { _, context in
            _ = try await api.claim(context, claiming: true)
            return Response.redirect(to: "/tasks")
        }
        router.get("instances") { request, context in try await instances(request, context) }
        router.post("instances") { request, context in try await start(request, context) }
        router.get("instances/:id") { _, context in try await instance(context) }
        for action in ["retry", "skip", "cancel"] {
            router.post("instances/:id/\(action)") { _, context in
                let event: EngineEvent =
                    switch action {
                    case "retry": .retryIncident
                    case "skip": .skipIncident
                    default: .cancel
                    }
                _ = try await api.operate(event, context)
                return Response.redirect(to: "/instances/\(try context.parameter("id"))")
            }
        }
        router.get("incidents") { request, context in
            _ = try context.admin()
            return try await instances(request, context, status: "incident")
        }
        router.get("definitions") { _, context in try await definitions(context) }
        router.post("definitions") { request, context in
            _ = try await api.deploy(request, context)
            return Response.redirect(to: "/definitions")
        }
        router.get("notifications") { _, context in try await notifications(context) }
        router.post("notifications/:id/read") { _, context in
            let user = try context.user()
            if let id = Int64(try context.parameter("id")) {
                let store = host.store
                _ = try await host.run { _ in try store.markNotificationRead(id, user: user.id, now: Date()) }
            }
            return Response.redirect(to: "/notifications")
        }
    }

    func login(_ request: Request, _ context: ServerContext) async throws -> Response {
        var request = request
        let form = Form.parse(try await request.bytes(limit: settings.maxBody))
        do {
            let principal = try await settings.authenticator.login(
                user: form["user"] ?? "", password: form["password"] ?? "")
            var response = Response.redirect(to: "/tasks")
            response.setCookie(settings.authenticator.sessionCookie(for: principal.id))
            return response
        } catch let error as APIError {
            return Reply.html(
                Page.layout(title: "Вход", user: nil, body: Page.loginForm(message: error.message)),
                status: error.status)
        }
    }

    // MARK: Tasks

    func tasks(_ request: Request, _ context: ServerContext) async throws -> Response {
        let user = try context.user()
        let open = try await host.run { runner -> [(OpenTask, ProcessDefinition?, JSONObject)] in
            try API.tasks(of: user, runner).prefix(200).map { task, process in
                (task, process, (try? runner.store.instance(task.instanceID))??.instance.context ?? JSONObject())
            }
        }
        var body = "<h1>Мои задачи</h1>"
        if let message = request.query("message") { body += "<p class=\"notice\">\(Page.escape(message))</p>" }
        if open.isEmpty { body += "<p>Нет задач.</p>" }
        for (task, process, context) in open {
            let title = task.name ?? task.nodeID
            body +=
                "<section class=\"card task\" id=\"task-\(Page.escape(task.instanceID))-\(Page.escape(task.nodeID))\">"
            body +=
                "<h2>\(Page.escape(title))</h2><p class=\"meta\">\(Page.escape(process?.displayName ?? "")) · <a href=\"/instances/\(Page.escape(task.instanceID))\">\(Page.escape(String(task.instanceID.prefix(8))))</a>"
            if let lane = task.lane { body += " · \(Page.escape(lane))" }
            if let assignee = task.assignee { body += " · взял(а) \(Page.escape(assignee))" }
            body += "</p>"
            let action = "/tasks/\(Page.escape(task.instanceID))/\(Page.escape(task.nodeID))"
            if Policy.mayPerform(task, user, declared: Policy.declaresPerformers(task, in: process)) {
                body += "<form method=\"post\" action=\"\(action)/complete\">"
                body += process.map { Self.form(of: task.nodeID, in: $0, context: context) } ?? ""
                body +=
                    "<details><summary>Другие переменные</summary><textarea name=\"more\" rows=\"3\" placeholder=\"имя=значение, по одной в строке\"></textarea></details>"
                body += "<button type=\"submit\">Выполнить</button></form>"
            }
            if task.assignee == nil {
                body +=
                    "<form method=\"post\" action=\"\(action)/claim\" class=\"inline\"><button type=\"submit\" class=\"secondary\">Взять себе</button></form>"
            }
            body += "</section>"
        }
        return Reply.html(Page.layout(title: "Мои задачи", user: user, body: body))
    }

    /// A task's form fields: its `camunda:formField`s, typed, else a text field per variable the
    /// conditions after it read; each pre-filled from the instance's variables.
    static func form(of nodeID: String, in process: ProcessDefinition, context: JSONObject) -> String {
        var html = ""
        let fields = process.nodeIndex(id: nodeID).map { process.nodes[$0].formFields } ?? []
        func current(_ id: String, _ fallback: String?) -> String {
            context[id].map { $0.stringValue ?? JSONWriter.string($0) } ?? fallback ?? ""
        }
        if fields.isEmpty {
            for name in formFields(of: nodeID, in: process) {
                html +=
                    "<label>\(Page.escape(name)) <input name=\"var.\(Page.escape(name))\" value=\"\(Page.escape(current(name, nil)))\"></label>"
            }
            return html
        }
        for field in fields {
            let name = "var.\(Page.escape(field.id))"
            let label = Page.escape(field.label ?? field.id)
            let value = current(field.id, field.defaultValue)
            switch field.type {
            case "boolean":
                // Unchecked sends only the hidden false; checked sends both, and the last wins.
                html +=
                    "<label class=\"check\"><input type=\"hidden\" name=\"\(name)\" value=\"false\"><input type=\"checkbox\" name=\"\(name)\" value=\"true\"\(value == "true" ? " checked" : "")> \(label)</label>"
            case "enum":
                html += "<label>\(label) <select name=\"\(name)\">"
                for choice in field.choices {
                    html +=
                        "<option value=\"\(Page.escape(choice.id))\"\(choice.id == value ? " selected" : "")>\(Page.escape(choice.name))</option>"
                }
                html += "</select></label>"
            case "long":
                html +=
                    "<label>\(label) <input type=\"number\" step=\"1\" name=\"\(name)\" value=\"\(Page.escape(value))\"></label>"
            case "date":
                html +=
                    "<label>\(label) <input type=\"date\" name=\"\(name)\" value=\"\(Page.escape(String(value.prefix(10))))\"></label>"
            default:
                html += "<label>\(label) <input name=\"\(name)\" value=\"\(Page.escape(value))\"></label>"
            }
        }
        return html
    }

    /// The variables a task's form asks for: those the conditions after it read (on its own
    /// outgoing flows, and on those of the gateways it leads to).
    static func formFields(of nodeID: String, in process: ProcessDefinition) -> [String] {
        guard let node = process.nodeIndex(id: nodeID) else { return [] }
        var names: [String] = []
        var flows = process.nodes[node].outgoing
        var seen: Set<Int> = []
        while let flow = flows.popLast() {
            guard seen.insert(flow).inserted else { continue }
            if let condition = process.flows[flow].condition {
                for name in condition.variableNames where !names.contains(name) { names.append(name) }
            }
            let target = process.flows[flow].target
            switch process.nodes[target].kind {
            case .exclusiveGateway, .inclusiveGateway, .complexGateway: flows += process.nodes[target].outgoing
            default: break
            }
        }
        return names
    }

    func complete(_ request: Request, _ context: ServerContext) async throws -> Response {
        let user = try context.user()
        let id = try context.parameter("id")
        let task = try context.parameter("task")
        var request = request
        let form = Form.parse(try await request.bytes(limit: settings.maxBody))
        var variables = JSONObject()
        // A typed field is read by its type (text stays text); others as JSON when they read so.
        let fields =
            (try? await host.run { runner -> [FormField] in
                guard let stored = try runner.store.instance(id) else { return [] }
                let process = try runner.process(of: stored.definitionID)
                return process.nodeIndex(id: task).map { process.nodes[$0].formFields } ?? []
            }) ?? []
        for (key, value) in form.pairs where key.hasPrefix("var.") && !value.isEmpty {
            let name = String(key.dropFirst(4))
            switch fields.first(where: { $0.id == name })?.type {
            case "string"?, "date"?, "enum"?: variables[name] = .string(value)
            case "long"?:
                guard let number = Int(value.trimmingCharacters(in: .whitespaces)) else {
                    throw APIError.badRequest("'\(name)' must be a whole number", field: name)
                }
                variables[name] = .number(Double(number))
            case "boolean"?: variables[name] = .bool(value == "true")
            default: variables[name] = Form.value(value)
            }
        }
        for line in (form["more"] ?? "").split(whereSeparator: \.isNewline) {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            if !name.isEmpty { variables[name] = Form.value(String(line[line.index(after: equals)...])) }
        }
        try await api.completeTask(id: id, task: task, variables: variables, user: user)
        return Response.redirect(to: "/tasks?message=" + Form.encode("Задача выполнена"))
    }

    // MARK: Instances

    func instances(_ request: Request, _ context: ServerContext, status fixed: String? = nil) async throws -> Response {
        let user = try context.user()
        let status = fixed ?? request.query("status").flatMap { $0.isEmpty ? nil : $0 }
        let process = request.query("process").flatMap { $0.isEmpty ? nil : $0 }
        let store = host.store
        let (total, items) = try await host.run { _ in
            try store.instanceSummaries(
                status: status, processID: process, visibleTo: user.isAdmin ? nil : user.id, limit: 100, offset: 0)
        }
        var body = "<h1>\(fixed == "incident" ? "Инциденты" : "Экземпляры")</h1>"
        if fixed == nil {
            body += "<form method=\"get\" class=\"filters\"><select name=\"status\"><option value=\"\">все</option>"
            for option in ["running", "waiting", "incident", "completed", "terminated"] {
                body += "<option\(option == status ? " selected" : "")>\(option)</option>"
            }
            body +=
                "</select><input name=\"process\" placeholder=\"процесс\" value=\"\(Page.escape(process ?? ""))\"><button type=\"submit\">Показать</button></form>"
        }
        body +=
            "<p class=\"meta\">\(total) всего</p><table><tr><th>Экземпляр</th><th>Процесс</th><th>Статус</th><th>Начал</th><th>Изменён</th></tr>"
        for item in items {
            body +=
                "<tr><td><a href=\"/instances/\(Page.escape(item.id))\">\(Page.escape(item.businessKey ?? String(item.id.prefix(8))))</a></td><td>\(Page.escape(item.processID))</td><td class=\"status-\(Page.escape(item.status))\">\(Page.escape(item.status))</td><td>\(Page.escape(item.startedBy ?? ""))</td><td>\(Page.time(item.updatedAt))</td></tr>"
        }
        body += "</table>"
        return Reply.html(Page.layout(title: "Экземпляры", user: user, body: body))
    }

    func start(_ request: Request, _ context: ServerContext) async throws -> Response {
        let user = try context.user()
        var request = request
        let form = Form.parse(try await request.bytes(limit: settings.maxBody))
        guard let processID = form["processId"], !processID.isEmpty else {
            throw APIError.badRequest("choose a process", field: "processId")
        }
        var variables = JSONObject()
        if let text = form["variables"], !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            guard case .object(let object)? = try? JSONParser.parse(text, file: "variables") else {
                throw APIError.badRequest("the variables must be a JSON object", field: "variables")
            }
            variables = object
        }
        let businessKey = form["businessKey"].flatMap { $0.isEmpty ? nil : $0 }
        let directory = settings.directory
        let context = variables
        let id = try await host.step("start") { runner -> String in
            guard let definitionID = try runner.store.latestDefinition(processID: processID),
                let stored = try runner.store.definition(id: definitionID)
            else { throw APIError.notFound("no deployed process '\(processID)'") }
            return try runner.start(
                file: stored.file, xml: stored.xml, process: try runner.process(of: definitionID), context: context,
                answers: nil, directory: directory, initiator: user.id, businessKey: businessKey)
        }
        settings.wakeWorkers()
        host.metrics.increment("procrun_instances_started_total")
        return Response.redirect(to: "/instances/\(id)")
    }

    func instance(_ context: ServerContext) async throws -> Response {
        let user = try context.user()
        let id = try context.parameter("id")
        let view = try await api.instanceView(id, context)
        let instance = view.stored.instance
        let process = view.process
        var body =
            "<h1>\(Page.escape(process.displayName))</h1><p class=\"meta\">\(Page.escape(view.businessKey ?? id)) · <span class=\"status-\(instance.status.rawValue)\">\(instance.status.rawValue)</span> · начал(а) \(Page.escape(view.startedBy ?? "—"))</p>"
        if let incident = instance.incident {
            body +=
                "<p class=\"error\">Инцидент на «\(Page.escape(process.nodes.first { $0.id == incident.node }?.name ?? incident.node))»: \(Page.escape(incident.message))</p>"
            if Policy.mayOperateIncidents(user) {
                body += "<div class=\"actions\">"
                for (action, label) in [("retry", "Повторить"), ("skip", "Пропустить"), ("cancel", "Отменить")] {
                    body +=
                        "<form method=\"post\" action=\"/instances/\(Page.escape(id))/\(action)\" class=\"inline\"><button type=\"submit\">\(label)</button></form>"
                }
                body += "</div>"
            }
        }
        if !view.tasks.isEmpty {
            body +=
                "<p>Ждёт: \(view.tasks.map { "<a href=\"/tasks#task-\(Page.escape(id))-\(Page.escape($0.nodeID))\">\(Page.escape($0.name ?? $0.nodeID))</a>" }.joined(separator: ", "))</p>"
        }
        if let svg = try? await view.svg(host), let start = svg.range(of: "<svg ") {
            body += "<div class=\"diagram\">\(svg[start.lowerBound...])</div>"
        }
        body += "<h2>Шаги</h2><ol class=\"timeline\">"
        for entry in instance.history {
            let node = process.nodes[entry.node]
            body +=
                "<li><span class=\"time\">\(Page.time(entry.time))</span> \(Page.escape(node.name ?? node.id)) — \(entry.event.rawValue)\(entry.performer.map { " (\(Page.escape($0)))" } ?? "")\(entry.note.map { ": \(Page.escape($0))" } ?? "")</li>"
        }
        body += "</ol>"
        if !instance.jobRuns.isEmpty {
            body +=
                "<h2>Интеграции</h2><table><tr><th>Узел</th><th>Попытка</th><th>Время</th><th>Статус</th><th>Ошибка</th></tr>"
            for run in instance.jobRuns {
                for attempt in run.tries {
                    body +=
                        "<tr><td>\(Page.escape(process.nodes[run.node].name ?? process.nodes[run.node].id)) (\(Page.escape(run.type)))</td><td>\(attempt.attempt)</td><td>\(Page.time(attempt.time))</td><td>\(attempt.status.map(String.init) ?? "—")</td><td>\(Page.escape(attempt.error ?? ""))</td></tr>"
                }
            }
            body += "</table>"
        }
        if !view.notifications.isEmpty {
            body += "<h2>Уведомления</h2><ul>"
            for item in view.notifications {
                body +=
                    "<li>\(Page.escape(item.outgoing.user)): \(Page.escape(item.outgoing.text)) <span class=\"meta\">(\(item.status.rawValue))</span></li>"
            }
            body += "</ul>"
        }
        body +=
            "<h2>Переменные</h2><pre>\(Page.escape(JSONWriter.string(.object(instance.context), pretty: true)))</pre>"
        if instance.status != .completed && instance.status != .terminated
            && Policy.mayCancel(startedBy: view.startedBy, inIncident: instance.status == .incident, user)
            && instance.incident == nil
        {
            body +=
                "<form method=\"post\" action=\"/instances/\(Page.escape(id))/cancel\"><button type=\"submit\" class=\"secondary\">Отменить экземпляр</button></form>"
        }
        return Reply.html(Page.layout(title: process.displayName, user: user, body: body))
    }

    // MARK: Definitions and notifications

    func definitions(_ context: ServerContext) async throws -> Response {
        let user = try context.user()
        let store = host.store
        let list = try await host.run { _ in try store.definitionSummaries() }
        var body = "<h1>Процессы</h1><table><tr><th>Процесс</th><th>Версия</th><th>Файл</th><th>Развёрнут</th></tr>"
        var latest: [String] = []
        for item in list {
            if !latest.contains(item.processID) { latest.append(item.processID) }
            body +=
                "<tr><td>\(Page.escape(item.processID))</td><td>\(item.version)</td><td><a href=\"/api/definitions/\(item.id)/svg\">\(Page.escape(item.file))</a></td><td>\(Page.time(item.deployedAt))</td></tr>"
        }
        body += "</table>"
        if !latest.isEmpty {
            body += "<h2>Запустить</h2><form method=\"post\" action=\"/instances\"><select name=\"processId\">"
            for id in latest { body += "<option>\(Page.escape(id))</option>" }
            body +=
                "</select><input name=\"businessKey\" placeholder=\"номер (необязательно)\"><textarea name=\"variables\" rows=\"4\" placeholder='{\"orderNumber\": \"ЗК-1\"}'></textarea><button type=\"submit\">Запустить</button></form>"
        }
        if Policy.mayDeploy(user) {
            body +=
                "<h2>Развернуть</h2><form method=\"post\" action=\"/definitions\" enctype=\"multipart/form-data\"><input type=\"file\" name=\"file\" accept=\".bpmn,.xml\"><button type=\"submit\">Развернуть</button></form>"
        }
        return Reply.html(Page.layout(title: "Процессы", user: user, body: body))
    }

    func notifications(_ context: ServerContext) async throws -> Response {
        let user = try context.user()
        let store = host.store
        let (list, read) = try await host.run { _ in
            (try store.storedNotifications(user: user.id, instance: nil), try store.notificationsRead(user: user.id))
        }
        var body = "<h1>Уведомления</h1>"
        if list.isEmpty { body += "<p>Нет уведомлений.</p>" }
        body += "<ul class=\"inbox\">"
        for item in list.reversed() {
            body +=
                "<li class=\"\(read[item.id] == nil ? "unread" : "read")\">\(Page.escape(item.outgoing.text)) <a href=\"/instances/\(Page.escape(item.outgoing.instance))\">экземпляр</a>"
            if read[item.id] == nil {
                body +=
                    " <form method=\"post\" action=\"/notifications/\(item.id)/read\" class=\"inline\"><button type=\"submit\" class=\"secondary\">Прочитано</button></form>"
            }
            body += "</li>"
        }
        body += "</ul>"
        return Reply.html(Page.layout(title: "Уведомления", user: user, body: body))
    }
}

/// `application/x-www-form-urlencoded` bodies.
struct Form {
    var pairs: [(String, String)]

    subscript(name: String) -> String? { pairs.first { $0.0 == name }?.1 }

    static func parse(_ bytes: [UInt8]) -> Form {
        let text = String(decoding: bytes, as: UTF8.self)
        return Form(
            pairs: text.split(separator: "&").map { pair in
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                return (decode(String(parts[0])), parts.count > 1 ? decode(String(parts[1])) : "")
            })
    }

    static func decode(_ text: String) -> String {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? text
    }

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }

    /// A form value as a variable: JSON when it reads as a number, boolean or null, or an
    /// object or list; text otherwise.
    static func value(_ text: String) -> JSONValue {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let parsed = try? JSONParser.parse(trimmed, file: "form") {
            if case .string = parsed { return .string(text) }
            return parsed
        }
        return .string(text)
    }
}

enum Page {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func time(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "ru_RU")
        formatter.dateFormat = "dd.MM.yyyy HH:mm:ss"
        return formatter.string(from: date)
    }

    static func loginForm(message: String?) -> String {
        var body = "<h1>Вход в procrun</h1>"
        if let message { body += "<p class=\"error\">\(escape(message))</p>" }
        body +=
            "<form method=\"post\" action=\"/login\" class=\"login\"><label>Пользователь <input name=\"user\" autocomplete=\"username\" required></label><label>Пароль <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label><button type=\"submit\">Войти</button></form>"
        return body
    }

    static func layout(title: String, user: Principal?, body: String) -> String {
        var navigation = ""
        if let user {
            navigation =
                "<nav><a href=\"/tasks\">Задачи</a><a href=\"/instances\">Экземпляры</a>\(user.isAdmin ? "<a href=\"/incidents\">Инциденты</a>" : "")<a href=\"/definitions\">Процессы</a><a href=\"/notifications\">Уведомления</a><span class=\"who\">\(escape(user.id))\(user.isAdmin ? " (admin)" : "")</span><form method=\"post\" action=\"/logout\" class=\"inline\"><button type=\"submit\" class=\"link\">Выйти</button></form></nav>"
        }
        return """
            <!DOCTYPE html>
            <html lang="ru"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title)) · procrun</title><style>\(style)</style></head>
            <body>\(navigation)<main>\(body)</main></body></html>
            """
    }

    static let style = """
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#f6f7f9}
        nav{display:flex;flex-wrap:wrap;gap:4px 16px;align-items:center;padding:10px 16px;background:#1f3a5f}
        nav a,nav .who,nav .link{color:#fff;text-decoration:none;font-size:15px}
        nav .who{margin-left:auto;opacity:.8}
        main{max-width:1100px;margin:0 auto;padding:16px}
        h1{font-size:22px;margin:8px 0 16px}h2{font-size:18px;margin:20px 0 8px}
        .card{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px 16px;margin:0 0 12px}
        .meta{color:#666;font-size:14px}
        label{display:block;margin:8px 0}label.check input{width:auto;display:inline}input,select,textarea{font:inherit;padding:6px 8px;border:1px solid #c5cbd3;border-radius:6px;max-width:100%;box-sizing:border-box}
        label input{display:block;width:100%}textarea{width:100%;display:block;margin:6px 0}
        button{font:inherit;background:#1f6feb;color:#fff;border:0;border-radius:6px;padding:8px 14px;margin:6px 6px 0 0;cursor:pointer}
        button.secondary{background:#e8ecf1;color:#222}button.link{background:none;padding:0;margin:0}
        form.inline{display:inline}form.filters{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:8px}form.login{max-width:360px}
        table{border-collapse:collapse;width:100%;background:#fff;font-size:14px}th,td{border-bottom:1px solid #e3e6ea;padding:6px 8px;text-align:left}
        .error{color:#b42318;background:#fef3f2;padding:8px 12px;border-radius:6px}.notice{color:#05603a;background:#ecfdf3;padding:8px 12px;border-radius:6px}
        .status-completed{color:#05603a}.status-incident{color:#b42318}.status-waiting,.status-running{color:#b54708}
        .diagram{overflow-x:auto;background:#fff;border:1px solid #dde1e6;border-radius:8px;margin:8px 0}.diagram svg{max-width:none;height:auto}
        ol.timeline{padding-left:20px}ol.timeline .time{color:#666;font-size:13px}
        ul.inbox li.unread{font-weight:600}pre{background:#fff;border:1px solid #dde1e6;padding:8px;overflow-x:auto}
        @media (max-width:600px){main{padding:10px}table{font-size:13px}th:nth-child(5),td:nth-child(5){display:none}}
        """
}

/// `Sources/Server/Resources/openapi.json`, served at `/api/openapi.json`.
enum OpenAPI {
    static let document = String(decoding: PackageResources.openapi_json, as: UTF8.self)
}
