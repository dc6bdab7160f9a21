import Engine
import Foundation
import ProcessModel
import Runtime
import Values

/// The assertions of a test case, each failing with expected against actual.
struct ProcessTestAssertions {
    let run: ProcessTestRun
    typealias TestFailure = ProcessTestRun.TestFailure

    var process: ProcessDefinition { run.process }

    func check(_ instruction: JSONObject, type: String) throws {
        let instance = try run.requireInstance()
        switch type {
        case "ASSERT_PROCESS_INSTANCE":
            let actual: String
            switch instance.status {
            case .running, .waiting: actual = "ACTIVE"
            case .completed: actual = "COMPLETED"
            case .terminated: actual = "TERMINATED"
            case .incident: actual = "INCIDENT"
            }
            if let expected = instruction["state"]?.stringValue?.uppercased(), expected != actual {
                let detail =
                    instance.status == .incident
                    ? " (\(instance.incident?.message ?? ""))"
                    : actual == "ACTIVE"
                        ? " (waiting at \(instance.tokens.map { "'\(process.nodes[$0.node].id)'" }.joined(separator: ", ")))"
                        : ""
                throw TestFailure("expected state \(expected), actual \(actual)\(detail)")
            }
            if let end = instruction["endElementId"]?.stringValue {
                let actualEnd = instance.endNode.map { process.nodes[$0].id } ?? "none"
                if actualEnd != end { throw TestFailure("expected end element '\(end)', actual '\(actualEnd)'") }
            }
        case "ASSERT_ELEMENT_INSTANCES":
            var nodes: [Int] = []
            for (key, single) in [("elementIds", "elementId"), ("elementNames", "elementName")] {
                guard case .array(let list)? = instruction[key] else { continue }
                for item in list {
                    guard let text = item.stringValue, let node = ProcessTestFile.node(text, key: single, in: process)
                    else {
                        throw TestFailure("'\(JSONWriter.string(item))' is not an element of process '\(process.id)'")
                    }
                    nodes.append(node)
                }
            }
            if nodes.isEmpty { throw TestFailure("give elementIds or elementNames") }
            let state = instruction["state"]?.stringValue?.uppercased() ?? "COMPLETED"
            let completed = instance.path
            let touched = Set(instance.history.map(\.node)).union(instance.tokens.map(\.node))
            for node in nodes {
                let id = process.nodes[node].id
                let times = completed.filter { $0 == node }.count
                switch state {
                case "COMPLETED":
                    if times == 0 {
                        throw TestFailure(
                            "expected '\(id)' COMPLETED, actual \(touched.contains(node) ? "ACTIVE" : "NOT_ACTIVATED")")
                    }
                case "ACTIVE":
                    if !instance.tokens.contains(where: { $0.node == node }) {
                        throw TestFailure(
                            "expected '\(id)' ACTIVE, actual \(times > 0 ? "COMPLETED" : "NOT_ACTIVATED")")
                    }
                case "NOT_ACTIVATED":
                    if touched.contains(node) {
                        throw TestFailure(
                            "expected '\(id)' NOT_ACTIVATED, actual \(times > 0 ? "COMPLETED" : "ACTIVE")")
                    }
                default:
                    throw TestFailure("state '\(state)' is not ACTIVE, COMPLETED or NOT_ACTIVATED")
                }
                if case .number(let expected)? = instruction["times"], expected != Double(times) {
                    throw TestFailure(
                        "expected '\(id)' completed \(JSONWriter.number(expected)) times, actual \(times)")
                }
            }
            if instruction["inOrder"] == true {
                // The nodes, in this order, as a subsequence of the path (others may come between).
                var position = completed.startIndex
                var inOrder = true
                for node in nodes {
                    guard let found = completed[position...].firstIndex(of: node) else {
                        inOrder = false
                        break
                    }
                    position = found + 1
                }
                if !inOrder {
                    throw TestFailure(
                        "expected in order \(nodes.map { "'\(process.nodes[$0].id)'" }.joined(separator: ", ")), actual order \(completed.filter(nodes.contains).map { "'\(process.nodes[$0].id)'" }.joined(separator: ", "))"
                    )
                }
            }
        case "ASSERT_USER_TASK":
            let node = try run.node(instruction)
            let flowNode = process.nodes[node]
            let open = try run.store.read { try $0.openTasks(instance: instance.id) }
            guard let task = open.first(where: { $0.nodeID == flowNode.id }) else {
                throw TestFailure("task '\(flowNode.id)' is not waiting")
            }
            // Who may perform it: the assignee, candidate users, and the members of its candidate
            // groups and of the org unit or group named after its lane, from the directory.
            if case .array(let list)? = instruction["candidates"] {
                let expected = list.compactMap(\.stringValue)
                if Set(expected) != Set(task.candidates) {
                    throw TestFailure("expected candidates \(expected.sorted()), actual \(task.candidates.sorted())")
                }
            }
            if let assignee = instruction["assignee"]?.stringValue, assignee != flowNode.assignee {
                throw TestFailure("expected assignee '\(assignee)', actual '\(flowNode.assignee ?? "none")'")
            }
            for (key, actual) in [
                ("candidateUsers", flowNode.candidateUsers), ("candidateGroups", flowNode.candidateGroups),
            ] {
                if case .array(let list)? = instruction[key] {
                    let expected = list.compactMap(\.stringValue)
                    if Set(expected) != Set(actual) {
                        throw TestFailure("expected \(key) \(expected), actual \(actual)")
                    }
                }
            }
        case "ASSERT_VARIABLES":
            guard case .object(let expected)? = instruction["variables"] else {
                throw TestFailure("give \"variables\"")
            }
            for (name, value) in expected {
                let actual = instance.context[name]
                if value == .null {
                    if let actual, actual != .null {
                        throw TestFailure("expected '\(name)' not set, actual \(JSONWriter.string(actual))")
                    }
                } else if actual.map({ Self.matches($0, value) }) != true {
                    throw TestFailure(
                        "expected '\(name)' = \(JSONWriter.string(value)), actual \(actual.map { JSONWriter.string($0) } ?? "not set")"
                    )
                }
            }
        case "ASSERT_NOTIFICATIONS":
            let users = instance.notifications.map(\.user)
            if case .array(let list)? = instruction["users"] {
                let expected = Set(list.compactMap(\.stringValue))
                if expected != Set(users) {
                    throw TestFailure("expected notifications to \(expected.sorted()), actual \(Set(users).sorted())")
                }
            }
            if let text = instruction["messageContains"]?.stringValue {
                let sent = (try? run.store.storedNotifications(user: nil, instance: instance.id)) ?? []
                if !sent.contains(where: { $0.outgoing.text.contains(text) || $0.outgoing.message.contains(text) }) {
                    throw TestFailure(
                        "expected a notification containing '\(text)', actual: \(sent.map { "«\($0.outgoing.text)»" }.joined(separator: ", "))"
                    )
                }
            }
        case "ASSERT_JOB_REQUESTS":
            let node = try run.node(instruction)
            let requests = run.book.requests(of: process.nodes[node].id)
            if case .number(let count)? = instruction["count"], count != Double(requests.count) {
                throw TestFailure(
                    "expected \(JSONWriter.number(count)) requests of '\(process.nodes[node].id)', actual \(requests.count)"
                )
            }
            guard let last = requests.last else {
                if instruction["count"] == nil || instruction["count"] != 0 {
                    throw TestFailure("'\(process.nodes[node].id)' made no request")
                }
                return
            }
            if let method = instruction["method"]?.stringValue, method.uppercased() != last.method {
                throw TestFailure("expected method \(method.uppercased()), actual \(last.method)")
            }
            if let url = instruction["url"]?.stringValue, url != last.url {
                throw TestFailure("expected url \(url), actual \(last.url)")
            }
            if case .object(let headers)? = instruction["headers"] {
                for (name, value) in headers {
                    let actual = last.headers.first { $0.name.lowercased() == name.lowercased() }?.value
                    if actual != RequestText.scalar(value) {
                        throw TestFailure(
                            "expected header \(name): \(RequestText.scalar(value)), actual \(actual ?? "none")")
                    }
                }
            }
            if let body = instruction["body"] {
                let sent = last.body ?? []
                let parsed = (try? JSONParser.parse(sent)) ?? Self.form(String(decoding: sent, as: UTF8.self))
                if !Self.matches(parsed, body) {
                    throw TestFailure(
                        "expected a body containing \(JSONWriter.string(body)), actual \(String(decoding: sent, as: UTF8.self))"
                    )
                }
            }
        case "ASSERT_INCIDENT":
            guard instance.status == .incident, let incident = instance.incident else {
                throw TestFailure("expected an incident, actual state \(instance.status.rawValue)")
            }
            if instruction["elementId"] != nil || instruction["elementName"] != nil {
                let node = try run.node(instruction)
                if process.nodes[node].id != incident.node {
                    throw TestFailure(
                        "expected an incident at '\(process.nodes[node].id)', actual at '\(incident.node)'")
                }
            }
            if let text = instruction["messageContains"]?.stringValue, !incident.message.contains(text) {
                throw TestFailure("expected an incident message containing '\(text)', actual '\(incident.message)'")
            }
        default:
            throw TestFailure("unknown instruction")
        }
    }

    /// Whether `actual` holds `expected`: objects by subset, everything else equal.
    static func matches(_ actual: JSONValue, _ expected: JSONValue) -> Bool {
        guard case .object(let want) = expected else { return actual == expected }
        guard case .object(let have) = actual else { return false }
        for (key, value) in want {
            guard let found = have[key], matches(found, value) else { return false }
        }
        return true
    }

    /// A form-encoded body as an object of strings.
    static func form(_ text: String) -> JSONValue {
        var object = JSONObject()
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            object[parts[0]] = .string(parts.count > 1 ? parts[1] : "")
        }
        return .object(object)
    }
}
