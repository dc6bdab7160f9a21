import Foundation
import Testing
import Values

/// Instances stored by an older procrun (state format 1: elements by index; the fixture store of
/// Tests/StoreTests/Fixtures, see its SOURCE.md) go on with today's procrun, which stores elements by id.
@Suite(.serialized) struct StateUpgradeCLITests {
    static let fixtures = CLI.packageRoot.appendingPathComponent("Tests/StoreTests/Fixtures")

    /// A copy of the fixture store (the committed file is never opened), and its instances by name.
    func fixtureStore() throws -> (store: String, ids: [String: String]) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("procrun-v1-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = directory.appendingPathComponent("store.sqlite").path
        try FileManager.default.copyItem(
            atPath: Self.fixtures.appendingPathComponent("store-v1.sqlite").path, toPath: store)
        let listing = try String(
            contentsOf: Self.fixtures.appendingPathComponent("store-v1.instances"), encoding: .utf8)
        var ids: [String: String] = [:]
        for line in listing.split(separator: "\n") {
            let parts = line.split(separator: " ")
            ids[String(parts[0])] = String(parts[1])
        }
        #expect(ids.count == 5)
        return (store, ids)
    }

    func show(_ id: String, _ store: String) throws -> JSONObject {
        let result = try CLI.run(["show", id, "--json", "--store", store])
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(try JSONParser.parse(result.stdout).objectValue)
    }

    @Test func instancesStoredBeforeIdsRunToTheirEnds() throws {
        let (store, ids) = try fixtureStore()
        let first = try #require(ids["first"])
        let later = try #require(ids["later"])
        let retry = try #require(ids["retry"])
        let waiting = try #require(ids["waiting"])
        let incident = try #require(ids["incident"])
        // Nothing migrated yet: every stored state is format 1.
        #expect(try query(store, "SELECT COUNT(*) FROM instance WHERE json_extract(state, '$.format') IS NULL") == "5")
        #expect(try show(first, store)["status"] == "waiting")
        #expect(try show(later, store)["path"]?.arrayValue?.compactMap(\.stringValue).last == "Gateway_merge")
        #expect(try show(retry, store)["webhooks"]?.arrayValue?.first?.objectValue?["tries"]?.arrayValue?.count == 1)
        #expect(try show(waiting, store)["status"] == "waiting")
        #expect(try show(incident, store)["incident"]?.objectValue?["node"] == "Task_call")
        let tasks = try CLI.run(["tasks", "--store", store])
        #expect(
            tasks.stdout.contains("Task_accept") && tasks.stdout.contains("Task_assemble")
                && tasks.stdout.contains("Task_inner"))

        // The fixture's webhooks go to this port; the inbox now answers 200.
        let inbox = try Inbox(arguments: ["--port", "39187"])
        defer { _ = inbox.stop() }
        func complete(_ id: String, _ task: String, _ extra: [String] = [], expect status: Int32) throws {
            let result = try CLI.run(["complete", id, task, "--by", "ivanov", "--store", store] + extra)
            #expect(result.status == status, "complete \(task): \(result.stdout)\(result.stderr)")
        }
        try complete(first, "Task_accept", expect: 4)
        try complete(first, "Task_assemble", ["--set", "packages=1"], expect: 4)
        try complete(first, "Task_invoice", ["--set", "invoiceNumber=\"СЧ-1\""], expect: 0)
        try complete(later, "Task_assemble", ["--set", "packages=2"], expect: 4)
        try complete(later, "Task_invoice", ["--set", "invoiceNumber=\"СЧ-2\""], expect: 0)
        try complete(waiting, "Task_inner", expect: 4)
        // The timer fell due long ago: it fires, the join passes, the webhook is delivered.
        try complete(waiting, "Task_inner", expect: 0)
        let retried = try CLI.run(["retry", incident, "--store", store])
        #expect(retried.status == 0, "\(retried.stdout)\(retried.stderr)")
        // The pending retry of `retry`.
        let worker = try CLI.run(["worker", "--until-idle", "--store", store])
        #expect(worker.status == 0, "\(worker.stderr)")

        for (id, end) in [
            (first, "End_done"), (later, "End_done"), (retry, "End_done"), (waiting, "End"), (incident, "End"),
        ] {
            let report = try show(id, store)
            #expect(report["status"] == "completed", "\(id): \(report)")
            #expect(report["end"]?.objectValue?["id"]?.stringValue == end)
        }
        #expect(try show(retry, store)["webhooks"]?.arrayValue?.first?.objectValue?["outcome"] == "delivered")
        let received = inbox.stop()
        #expect(received.components(separatedBy: "POST /api/create-order/").count - 1 == 3)
        #expect(received.components(separatedBy: "POST /api/waits/").count - 1 == 2)
        // Every state was written anew, by element id.
        #expect(try query(store, "SELECT COUNT(*) FROM instance WHERE json_extract(state, '$.format') = 3") == "5")
        #expect(
            try query(store, "SELECT json_extract(state, '$.endNode') FROM instance WHERE id = '\(first)'")
                == "End_done")
    }

    /// A state that waits at an element its definition does not contain is refused, naming the
    /// instance, the element and the definition (exit 6), and nothing is changed.
    @Test func anInstanceWaitingAtAMissingElementIsRefused() throws {
        let (store, ids) = try fixtureStore()
        let first = try #require(ids["first"])
        let later = try #require(ids["later"])
        // `later` in format 2, then its token moved (by hand) to an element nobody defined.
        let assemble = try CLI.run(["complete", later, "Task_assemble", "--by", "sidorov", "--store", store])
        #expect(assemble.status == 4, "\(assemble.stderr)")
        try sqlite(
            store,
            "UPDATE instance SET state = replace(state, '\"node\":\"Task_invoice\"', '\"node\":\"Task_gone\"') WHERE id = '\(later)'"
        )
        // `first` in format 1: its token at an index past the process's nodes.
        try sqlite(store, "UPDATE instance SET state = json_set(state, '$.tokens[0].node', 99) WHERE id = '\(first)'")
        let before = try query(store, "SELECT group_concat(version || state, '|') FROM instance ORDER BY id")

        let complete = try CLI.run(["complete", later, "Task_invoice", "--by", "petrova", "--store", store])
        #expect(complete.status == 6)
        #expect(
            complete.stderr.contains(
                "instance '\(later)' in the store '\(store)' waits at element 'Task_gone' (tokens.0.node), which definition 2 (process 'order' version 1, file 'Processes/order.bpmn') does not contain; procrun does not guess where the instance stands"
            ), "\(complete.stderr)")
        let show = try CLI.run(["show", later, "--store", store])
        #expect(show.status == 6)
        #expect(show.stderr.contains("waits at element 'Task_gone'"), "\(show.stderr)")
        let old = try CLI.run(["complete", first, "Task_accept", "--by", "ivanov", "--store", store])
        #expect(old.status == 6)
        #expect(
            old.stderr.contains(
                "instance '\(first)' in the store '\(store)' waits at node #99 (tokens.0.node) of 10, which definition 2"
            ), "\(old.stderr)")
        let check = try CLI.run(["check", "--store", store])
        #expect(check.stdout.contains(later) && check.stdout.contains(first), "\(check.stdout)")
        #expect(try query(store, "SELECT group_concat(version || state, '|') FROM instance ORDER BY id") == before)
    }
}
