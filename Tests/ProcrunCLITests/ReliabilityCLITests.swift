import Foundation
import Testing
import Values

extension CLI {
    /// Starts every command at once (as separate processes) and waits for all of them.
    static func runConcurrently(_ commands: [[String]], environment: [String: String] = [:]) throws -> [Result] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "procrun-par-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var running: [(Process, URL, URL)] = []
        for (index, arguments) in commands.enumerated() {
            let process = Process()
            process.executableURL = binary
            process.arguments = arguments
            process.currentDirectoryURL = packageRoot
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            let out = directory.appendingPathComponent("\(index).out")
            let err = directory.appendingPathComponent("\(index).err")
            _ = FileManager.default.createFile(atPath: out.path, contents: nil)
            _ = FileManager.default.createFile(atPath: err.path, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: out)
            process.standardError = try FileHandle(forWritingTo: err)
            process.standardInput = FileHandle.nullDevice
            running.append((process, out, err))
        }
        for (process, _, _) in running { try process.run() }
        return try running.map { process, out, err in
            process.waitUntilExit()
            return Result(
                status: process.terminationStatus, stdout: String(decoding: try Data(contentsOf: out), as: UTF8.self),
                stderr: String(decoding: try Data(contentsOf: err), as: UTF8.self))
        }
    }

    /// Runs a shell command line (for what `Process` cannot pass: invalid UTF-8, `ulimit`).
    static func shell(_ script: String, environment: [String: String] = [:]) throws -> Result {
        try run(["__shell__"], environment: environment, shell: script)
    }

    private static func run(_ arguments: [String], environment: [String: String], shell script: String) throws -> Result
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", script]
        process.currentDirectoryURL = packageRoot
        process.environment = ProcessInfo.processInfo.environment.merging(
            environment.merging(["PROCRUN": binary.path]) { $1 }
        ) { $1 }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("procrun-sh-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("out")
        let err = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: try Data(contentsOf: out), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: err), as: UTF8.self))
    }
}

/// A fresh store path in its own temporary folder.
func temporaryStore() throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("procrun-store-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory.appendingPathComponent("s.sqlite").path
}

/// Starts the sample order in a store; returns the instance id (it waits at «Принять заказ»).
func startOrder(store: String) throws -> String {
    let started = try CLI.run([
        "start", "Processes/order.bpmn", "--context", "Samples/order.json", "--directory", "Samples/org.json",
        "--initiator", "ivanov",
        "--store", store, "--json",
    ])
    #expect(started.status == 4, "\(started.stderr)")
    return try #require(try JSONParser.parse(started.stdout).objectValue?["instance"]?.stringValue)
}

/// Runs SQL on a store with Python's sqlite3 module (the tests' only outside tool), as a
/// damaged disk or a careless administrator would change it.
func sqlite(_ store: String, _ sql: String) throws {
    let script = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, store, sql]
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
}

/// One value from a store, by Python's sqlite3 module.
func query(_ store: String, _ sql: String) throws -> String {
    let script = "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, store, sql]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Issue 10: races, damaged state, full disks and read-only stores never cost data or give a raw error.
@Suite(.serialized) struct ReliabilityCLITests {
    /// Defect 1: of N processes completing the same task at once, exactly one wins; the others
    /// exit 5 with "already completed" and change nothing (no second task completed, no variables).
    @Test func concurrentCompletesOfOneTaskHaveExactlyOneWinner() throws {
        for round in 0..<4 {
            let store = try temporaryStore()
            let id = try startOrder(store: store)
            let users = ["ivanov", "kozlov", "ivanov", "kozlov", "ivanov", "kozlov"]
            let results = try CLI.runConcurrently(
                users.enumerated().map { index, user in
                    ["complete", id, "Принять заказ", "--by", user, "--set", "loser\(index)=true", "--store", store]
                })
            let winners = results.indices.filter { results[$0].status == 4 }
            #expect(winners.count == 1, "round \(round): \(results.map { "\($0.status) \($0.stderr)" })")
            for (index, result) in results.enumerated() where !winners.contains(index) {
                #expect(result.status == 5, "round \(round): \(result.status) \(result.stderr)")
                #expect(
                    result.stderr.contains("task 'Принять заказ' of instance '\(id)' is already completed by "),
                    "\(result.stderr)")
            }
            let shown = try CLI.run(["show", id, "--json", "--store", store])
            let report = try #require(try JSONParser.parse(shown.stdout).objectValue)
            // The winner's task is done; «Собрать заказ» is still open, completed by nobody.
            let path = report["path"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(path.filter { $0 == "Task_accept" }.count == 1)
            #expect(!path.contains("Task_assemble"))
            #expect(report["openTasks"]?.arrayValue?.first?.objectValue?["task"] == "Task_assemble")
            let context = report["context"]?.objectValue ?? JSONObject()
            let set = context.keys.filter { $0.hasPrefix("loser") }
            #expect(set == ["loser\(winners.first ?? -1)"], "only the winner's variables: \(set)")
        }
    }

    /// Defect 1, second part: `skip`, `retry` and `cancel` racing each other give one winner.
    @Test func concurrentIncidentCommandsHaveOneWinner() throws {
        let store = try temporaryStore()
        let bpmn = try webhookBPMN(retries: 0, delay: 0, timeout: 2)
        // Nothing listens on port 9: the webhook fails at once, the instance stops in an incident.
        let context = try CLI.temporaryFile("c.json", #"{"url": "http://127.0.0.1:9", "order": "A-1"}"#)
        let answers = try CLI.temporaryFile("a.json", #"{"u": {"by": "petrova"}}"#)
        for round in 0..<3 {
            let started = try CLI.run([
                "start", bpmn, "--context", context, "--answers", answers, "--store", store, "--json",
            ])
            #expect(started.status == 3, "\(started.stderr)")
            let id = try #require(try JSONParser.parse(started.stdout).objectValue?["instance"]?.stringValue)
            let results = try CLI.runConcurrently(Array(repeating: ["skip", id, "--store", store], count: 4))
            #expect(
                results.filter { $0.status == 0 }.count == 1,
                "round \(round): \(results.map { "\($0.status) \($0.stderr)" })")
            #expect(results.filter { $0.status == 5 }.count == 3)
            for result in results where result.status == 5 {
                #expect(
                    result.stderr.contains("is completed, not in an incident; nothing was changed"), "\(result.stderr)")
            }
            let cancels = try CLI.runConcurrently(Array(repeating: ["cancel", id, "--store", store], count: 3))
            #expect(cancels.allSatisfy { $0.status == 5 }, "a completed instance cannot be cancelled")
        }
        let started = try CLI.run([
            "start", bpmn, "--context", context, "--answers", answers, "--store", store, "--json",
        ])
        let id = try #require(try JSONParser.parse(started.stdout).objectValue?["instance"]?.stringValue)
        let mixed = try CLI.runConcurrently([
            ["cancel", id, "--store", store], ["cancel", id, "--store", store], ["cancel", id, "--store", store],
        ])
        #expect(mixed.filter { $0.status == 0 }.count == 1, "\(mixed.map { "\($0.status) \($0.stderr)" })")
        #expect(mixed.filter { $0.status == 5 && $0.stderr.contains("is already terminated") }.count == 2)
    }

    /// Defect 1, a worker's side: a webhook outcome that arrives after the instance was cancelled
    /// is dropped, never applied to the terminated instance.
    @Test func aWebhookOutcomeAfterACancelIsDropped() throws {
        let store = try temporaryStore()
        let inbox = try Inbox(arguments: ["--delay", "2"])
        defer { _ = inbox.stop() }
        let bpmn = try webhookBPMN(retries: 0, delay: 0, timeout: 10)
        let context = try CLI.temporaryFile("c.json", #"{"url": "\#(inbox.url)", "order": "A-1"}"#)
        let started = try CLI.run(["start", bpmn, "--context", context, "--store", store, "--json"])
        let id = try #require(try JSONParser.parse(started.stdout).objectValue?["instance"]?.stringValue)
        // The answered task hands the webhook job to a worker; the receiver takes 2 s to answer.
        let worker = try spawn(["complete", id, "u", "--by", "petrova", "--store", store])
        Thread.sleep(forTimeInterval: 0.8)
        let cancelled = try CLI.run(["cancel", id, "--store", store])
        #expect(cancelled.status == 0, "\(cancelled.stderr)")
        worker.waitUntilExit()
        let shown = try CLI.run(["show", id, "--json", "--store", store])
        let report = try #require(try JSONParser.parse(shown.stdout).objectValue)
        #expect(report["status"] == "terminated")
        let path = report["path"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(path == ["s", "u"], "the late outcome did not move the instance")
    }

    /// Defect 4: processes opening a new store at once all succeed; migrations run once.
    @Test func openingANewStoreFromManyProcessesAtOnce() throws {
        for round in 0..<6 {
            let store = try temporaryStore()
            let results = try CLI.runConcurrently(
                (0..<6).map { index in
                    index % 2 == 0 ? ["worker", "--until-idle", "--store", store] : ["instances", "--store", store]
                })
            for result in results {
                #expect(result.status == 0, "round \(round): \(result.stderr)")
            }
            let versions = try CLI.run(["check", "--store", store])
            #expect(versions.status == 0, "\(versions.stderr)")
            #expect(versions.stdout == "0 instances checked, 0 corrupt\n")
        }
    }

    /// Defect 8: a damaged state names the instance and the store; `show` prints what it can,
    /// `check` and `instances --status corrupt` list it, `cancel --force` terminates it.
    @Test func aCorruptedStateIsReportedListedAndCanBeTerminated() throws {
        let store = try temporaryStore()
        let healthy = try startOrder(store: store)
        let id = try startOrder(store: store)
        try sqlite(store, "UPDATE instance SET state = '{\"id\": \"x\", \"tokens\": 7' WHERE id = '\(id)'")

        let shown = try CLI.run(["show", id, "--store", store])
        #expect(shown.status == 6)
        #expect(
            shown.stdout.hasPrefix("instance \(id) of process order, version 1: waiting, updated "), "\(shown.stdout)")
        #expect(
            shown.stderr.hasPrefix("procrun: error: instance '\(id)' in the store '\(store)' has a corrupted state ("),
            "\(shown.stderr)")
        #expect(shown.stderr.contains("`procrun cancel \(id) --force` terminates it"))

        for command in [["complete", id, "Принять заказ", "--by", "ivanov"], ["retry", id], ["cancel", id]] {
            let result = try CLI.run(command + ["--store", store])
            #expect(result.status == 6, "\(command): \(result.stderr)")
            #expect(
                result.stderr.contains("instance '\(id)' in the store '\(store)' has a corrupted state"),
                "\(result.stderr)")
        }
        let check = try CLI.run(["check", "--store", store])
        #expect(check.status == 6)
        #expect(check.stdout.hasPrefix("\(id)  order "), "\(check.stdout)")
        #expect(check.stdout.hasSuffix("2 instances checked, 1 corrupt\n"))
        let listed = try CLI.run(["instances", "--status", "corrupt", "--store", store])
        #expect(listed.stdout.hasPrefix("\(id)  order            corrupt"), "\(listed.stdout)")
        #expect(!listed.stdout.contains(healthy))

        let forced = try CLI.run(["cancel", id, "--force", "--store", store])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stdout == "\(id) terminated (forced: its stored state could not be read)\n")
        let terminated = try CLI.run(["instances", "--status", "terminated", "--store", store])
        #expect(terminated.stdout.hasPrefix(id))
        let tasks = try CLI.run(["tasks", "--store", store]).stdout
        #expect(!tasks.contains(id))
        // Still listed as corrupt (its bytes are kept), but handled: check passes.
        let after = try CLI.run(["check", "--store", store])
        #expect(after.status == 0, "\(after.stdout)")
        // The healthy instance goes on.
        #expect(try CLI.run(["complete", healthy, "Task_accept", "--by", "ivanov", "--store", store]).status == 4)
    }

    /// Defect 9: a commit that cannot be written (here: a file-size limit) is a clear message and
    /// exit 6, and nothing of the step is committed.
    @Test func aFullDiskIsAClearErrorAndLosesNothing() throws {
        let store = try temporaryStore()
        let id = try startOrder(store: store)
        // A 2 MB variable cannot be written under a 1 MB file-size limit.
        let big = String(repeating: "x", count: 2_000_000)
        let variables = try CLI.temporaryFile("big.json", "{\"blob\": \"\(big)\"}")
        let full = try CLI.shell(
            #"ulimit -f 1024; "$PROCRUN" complete "$ID" Task_accept --by ivanov --variables "$VARS" --store "$STORE""#,
            environment: ["ID": id, "VARS": variables, "STORE": store])
        #expect(full.status == 6, "\(full.stderr)")
        #expect(
            full.stderr.hasPrefix(
                "procrun: error: the store '\(store)' could not be written: disk full or I/O error (SQLite error "),
            "\(full.stderr)")
        #expect(full.stderr.hasSuffix("; nothing of this step was committed\n"))
        let shown = try CLI.run(["show", id, "--json", "--store", store])
        let report = try #require(try JSONParser.parse(shown.stdout).objectValue)
        #expect(report["openTasks"]?.arrayValue?.first?.objectValue?["task"] == "Task_accept")
        #expect(report["context"]?.objectValue?["blob"] == nil)
        #expect(try CLI.run(["complete", id, "Task_accept", "--by", "ivanov", "--store", store]).status == 4)
    }

    /// Defect 10: `instances`, `tasks`, `show` and `check` open the store read-only: they work on
    /// a store the user cannot write, and never migrate it.
    @Test func readOnlyStoresCanBeInspected() throws {
        let store = try temporaryStore()
        let id = try startOrder(store: store)
        let folder = URL(fileURLWithPath: store).deletingLastPathComponent()
        // Run as an unprivileged user where the tests run as root (root may write anything).
        let asUser = getuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : ""
        let binary = folder.appendingPathComponent("procrun")
        try FileManager.default.copyItem(at: CLI.binary, to: binary)
        let script = """
            chmod 755 "$DIR" "$DIR/procrun" && chmod 444 "$DIR"/s.sqlite* && chmod 555 "$DIR" &&
            for command in "instances" "tasks" "show $ID" "check"; do
              \(asUser)"$DIR/procrun" $command --store "$DIR/s.sqlite" || echo "FAILED: $command"
            done
            """
        let result = try CLI.shell(script, environment: ["DIR": folder.path, "ID": id])
        try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.contains("FAILED"), "\(result.stdout) \(result.stderr)")
        #expect(!result.stderr.contains("readonly"), "\(result.stderr)")
        #expect(result.stdout.contains("Принять заказ"))
        #expect(result.stdout.contains("instance \(id) of «Заказ клиента»"))
        // A store nobody has written yet reads as empty and is not created.
        let missing = folder.appendingPathComponent("none/s.sqlite").path
        #expect(try CLI.run(["instances", "--store", missing]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: missing))
    }

    /// A store written before schema v3 is read as it is by read-only commands (never migrated
    /// by them) and migrated by the first command that writes.
    @Test func anOlderStoreIsReadAsItIsAndMigratedByAWriter() throws {
        let store = try temporaryStore()
        let id = try startOrder(store: store)
        try sqlite(
            store,
            """
            DROP INDEX task_by_instance; DROP INDEX job_by_instance; ALTER TABLE instance DROP COLUMN version;
            ALTER TABLE instance DROP COLUMN maxSteps; ALTER TABLE job DROP COLUMN request;
            DELETE FROM grdb_migrations WHERE identifier IN ('v3', 'v4', 'v5', 'v6', 'v7', 'v8'); DROP TABLE schedule;
            DROP TABLE participant; DROP INDEX instance_started_by; ALTER TABLE instance DROP COLUMN startedBy;
            ALTER TABLE instance DROP COLUMN businessKey; ALTER TABLE task DROP COLUMN assignee;
            ALTER TABLE outbox DROP COLUMN readAt;
            DROP INDEX outbox_due; DROP INDEX outbox_by_instance; DROP INDEX outbox_by_user;
            """
                + [
                    "idempotencyKey", "process", "name", "email", "subject", "text", "status", "channel", "done",
                    "attempts", "dueAt",
                    "lockOwner", "lockExpiresAt", "lastError",
                ].map { "ALTER TABLE outbox DROP COLUMN \($0);" }.joined(separator: " ")
                + " INSERT INTO outbox (instanceId, node, user, message, createdAt) VALUES ('\(id)', 'Task_webhook', 'old', 'failed', 0);"
        )
        let schema = "SELECT group_concat(identifier) FROM grdb_migrations"
        for command in [["tasks"], ["instances"], ["show", id], ["check"], ["notifications"]] {
            let result = try CLI.run(command + ["--store", store])
            #expect(result.status == 0, "\(command): \(result.stderr)")
        }
        #expect(try query(store, schema) == "v1,v2", "read-only commands do not migrate")
        let completed = try CLI.run(["complete", id, "Task_accept", "--by", "ivanov", "--store", store])
        #expect(completed.status == 4, "\(completed.stderr)")
        #expect(try query(store, schema) == "v1,v2,v3,v4,v5,v6,v7,v8")
        // A notification the older store recorded (and never sent) is not sent after the upgrade.
        #expect(
            try query(store, "SELECT status || ': ' || lastError FROM outbox WHERE user = 'old'")
                == "failed: not sent: written before procrun delivered notifications (schema v5), so it may be long out of date"
        )
        #expect(try query(store, "SELECT version FROM instance") == "1")
    }

    /// A worker meets a job whose instance cannot be read: it reports it, runs the other
    /// instances' jobs, and exits 6 at the end instead of stopping at the first.
    @Test func aDamagedInstanceDoesNotStopTheWorker() throws {
        let store = try temporaryStore()
        let model = try CLI.temporaryFile(
            "wait.bpmn",
            """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
            <process id="wait" isExecutable="true"><startEvent id="s"/>
            <intermediateCatchEvent id="t"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">PT0.5S</timeDuration></timerEventDefinition></intermediateCatchEvent>
            <endEvent id="e"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/><sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
            </process></definitions>
            """)
        var ids: [String] = []
        for _ in 0..<2 {
            let started = try CLI.run(["start", model, "--store", store])
            #expect(started.status == 4, "\(started.stderr)")
            ids.append(String(started.stdout.prefix { $0 != " " }))
        }
        try sqlite(store, "UPDATE instance SET state = '{\"id\": \"x\", \"tokens\": 7' WHERE id = '\(ids[0])'")
        Thread.sleep(forTimeInterval: 0.6)
        let worked = try CLI.run(["worker", "--until-idle", "--store", store])
        #expect(worked.status == 6, "\(worked.stderr)")
        #expect(
            worked.stderr.contains(
                "procrun: warning: the timer job of instance '\(ids[0])' cannot run, the others go on: instance '\(ids[0])'"
            ), "\(worked.stderr)")
        #expect(
            worked.stderr.contains(
                "procrun: error: 1 job(s) of 1 instance(s) could not run, as their instances cannot be read: \(ids[0])")
        )
        #expect(try query(store, "SELECT status FROM instance WHERE id = '\(ids[1])'") == "completed")
    }

    /// Defect 11 (b, c) and the mistyped-id note: invalid UTF-8 and system variables are refused;
    /// an unknown id says "no instance"; a unique prefix is accepted.
    @Test func smallInputProblemsAreRefusedClearly() throws {
        let store = try temporaryStore()
        let id = try startOrder(store: store)
        let invalid = try CLI.shell(
            #""$PROCRUN" complete "$ID" Task_accept --by ivanov --set "note=$(printf 'a\377b')" --store "$STORE""#,
            environment: ["ID": id, "STORE": store])
        #expect(invalid.status == 2)
        #expect(invalid.stderr == "procrun: error: argument 7 ('note=a\u{FFFD}b') is not valid UTF-8\n")
        let system = try CLI.run(["complete", id, "Task_accept", "--by", "ivanov", "--set", "__id=x", "--store", store])
        #expect(system.status == 2)
        #expect(
            system.stderr
                == "procrun: error: variable '__id' is a system variable and read-only (names starting with __ are set by procrun)\n"
        )

        let unknown = try CLI.run(["complete", "0000000-nope", "Task_accept", "--by", "ivanov", "--store", store])
        #expect(unknown.status == 2)
        #expect(unknown.stderr == "procrun: error: no instance '0000000-nope' in the store '\(store)'\n")
        let prefix = String(id.prefix(8))
        let shown = try CLI.run(["show", prefix, "--store", store])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.hasPrefix("instance \(id) "))
        let completed = try CLI.run(["complete", prefix, "Task_accept", "--by", "ivanov", "--store", store])
        #expect(completed.status == 4, "\(completed.stderr)")
        #expect(completed.stdout.hasPrefix("\(id) waiting"))
        let again = try CLI.run(["complete", prefix, "Task_accept", "--by", "kozlov", "--store", store])
        #expect(again.status == 5)
        #expect(
            again.stderr.hasPrefix(
                "procrun: error: task 'Task_accept' of instance '\(id)' is already completed by ivanov (at "))
    }
}
