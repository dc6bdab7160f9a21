import Engine
import Foundation
import GRDB
import ProcessModel
@_exported import Runtime
import Values

/// The runtime on the SQLite store (`start`, `complete`, `worker`, `run --store`).
public typealias DurableRunner = ProcessRuntime<InstanceStore>

/// One SQLite transaction seen through the runtime's ports. Writes run in `BEGIN IMMEDIATE`
/// transactions (see `InstanceStore.writeSQL`); the version check of `update` and the deletes
/// that report what they removed make the same contract hold for a store without a single writer.
public struct SQLiteTransaction: StoreTransaction {
    let store: InstanceStore
    let db: Database

    public func deploy(file: String, xml: [UInt8], process: ProcessDefinition, now: Date) throws -> StoredDefinition {
        let definition = try store.deploy(file: file, xml: xml, processID: process.id, now: now, in: db)
        store.registerIfMissing(process, for: definition.id)
        return definition
    }

    public func definition(id: Int64) throws -> StoredDefinition? {
        try store.definition(id: id, in: db)
    }

    public func process(of definitionID: Int64) throws -> ProcessDefinition {
        try store.stateCodec(for: definitionID, in: db).process
    }

    public func load(_ id: String) throws -> StoredInstance? {
        try store.load(id, in: db)
    }

    public func definitionID(ofInstance id: String) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT definitionId FROM instance WHERE id = ?"), arguments: [id])
    }

    public func insert(_ new: consuming NewInstance, codec: StateCodec, now: Date) throws {
        try store.save(
            new.instance, codec: codec, definitionID: new.definitionID, answers: new.answers, directory: new.directory,
            simulated: new.simulated,
            maxSteps: new.maxSteps, businessKey: new.businessKey, now: now, in: db)
    }

    public func update(_ instance: Instance, codec: StateCodec, expectedVersion: Int64, now: Date) throws {
        try store.save(instance, codec: codec, expectedVersion: expectedVersion, now: now, in: db)
    }

    public func forceTerminate(_ id: String, now: Date) throws -> String? {
        guard let status = try String.fetchOne(db, sql: "SELECT status FROM instance WHERE id = ?", arguments: [id])
        else { return nil }
        guard status != InstanceStatus.completed.rawValue && status != InstanceStatus.terminated.rawValue else {
            return status
        }
        try db.execute(
            sql: "UPDATE instance SET status = ?, updatedAt = ?, version = version + 1 WHERE id = ?",
            arguments: [InstanceStatus.terminated.rawValue, now.timeIntervalSince1970, id])
        for table in ["task", "job", "subscription"] {
            try db.execute(sql: "DELETE FROM \(table) WHERE instanceId = ?", arguments: [id])
        }
        return status
    }

    public func openTasks(instance: String) throws -> [OpenTask] {
        try store.openTasks(instance: instance, in: db)
    }

    public func insertTask(_ task: OpenTask, now: Date) throws {
        try store.insertTask(task, now: now, in: db)
    }

    public func deleteTask(instance: String, token: Int, nodeID: String) throws -> Bool {
        try db.cachedStatement(sql: "DELETE FROM task WHERE instanceId = ? AND token = ? AND nodeId = ?")
            .execute(arguments: [instance, token, nodeID])
        return db.changesCount == 1
    }

    public func closeTasks(instance: String, keeping tokens: [Int]) throws {
        let waiting = tokens.map(String.init).joined(separator: ",")
        try db.cachedStatement(
            sql: "DELETE FROM task WHERE instanceId = ? AND token NOT IN (SELECT value FROM json_each(?))"
        )
        .execute(arguments: [instance, "[\(waiting)]"])
    }

    public func deleteTasks(instance: String) throws {
        try db.execute(sql: "DELETE FROM task WHERE instanceId = ?", arguments: [instance])
    }

    public func assignTask(instance: String, token: Int, to user: String?) throws -> Bool {
        try db.cachedStatement(sql: "UPDATE task SET assignee = ? WHERE instanceId = ? AND token = ?")
            .execute(arguments: [user, instance, token])
        return db.changesCount == 1
    }

    public func addParticipant(instance: String, user: String) throws {
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO participant (instanceId, user) VALUES (?, ?)")
            .execute(arguments: [instance, user])
    }

    public func insertJob(_ job: NewJob, now: Date) throws {
        try store.insertJob(
            instance: job.instanceID, token: job.token, kind: job.kind, dueAt: job.dueAt, attempt: job.attempt,
            key: job.idempotencyKey,
            request: job.request, lease: job.lease, lockedBy: job.lockedBy, now: now, in: db)
    }

    public func deleteJob(id: Int64) throws -> Bool {
        try db.cachedStatement(sql: "DELETE FROM job WHERE id = ?").execute(arguments: [id])
        return db.changesCount == 1
    }

    public func releaseJob(id: Int64, owner: String) throws {
        try db.cachedStatement(
            sql: "UPDATE job SET lockOwner = NULL, lockExpiresAt = NULL WHERE id = ? AND lockOwner = ?"
        ).execute(arguments: [id, owner])
    }

    public func hasDueJob(instance: String, now: Date) throws -> Bool {
        try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM job WHERE instanceId = ? AND dueAt <= ?)"),
            arguments: [instance, now.timeIntervalSince1970]) ?? false
    }

    public func deleteJobs(instance: String) throws {
        try db.execute(sql: "DELETE FROM job WHERE instanceId = ?", arguments: [instance])
    }

    public func closeJobs(instance: String, keepingTokens tokens: [Int], timers: [Int]) throws {
        try db.cachedStatement(
            sql: """
                DELETE FROM job WHERE instanceId = ? AND token NOT IN (SELECT value FROM json_each(CASE kind WHEN 'timer' THEN ? ELSE ? END))
                """
        ).execute(arguments: [
            instance, "[\(timers.map(String.init).joined(separator: ","))]",
            "[\(tokens.map(String.init).joined(separator: ","))]",
        ])
    }

    public func subscribe(_ instanceID: String, to triggers: [EventTrigger]) throws {
        try store.subscribe(instanceID, to: triggers, in: db)
    }

    public func subscribers(kind: String, name: String, except instanceID: String) throws -> [String] {
        try store.subscribers(kind: kind, name: name, except: instanceID, in: db)
    }

    public func insertNotification(_ notification: OutgoingNotification, now: Date) throws {
        try store.insertNotification(notification, now: now, in: db)
    }
}

extension InstanceStore: RuntimeStore {
    public func write<T>(_ body: (SQLiteTransaction) throws -> T) throws -> T {
        try writeSQL { try body(SQLiteTransaction(store: self, db: $0)) }
    }

    public func read<T>(_ body: (SQLiteTransaction) throws -> T) throws -> T {
        try readSQL { try body(SQLiteTransaction(store: self, db: $0)) }
    }
}
