import Engine
import Foundation
import GRDB
import ProcessModel
import Values

extension Job {
    /// A job from a row with its columns `id, instanceId, token, kind, dueAt, attempt, idempotencyKey, request`.
    init?(row: Row) {
        guard let kind = Job.Kind(stored: row["kind"]) else { return nil }
        self.init(
            id: row["id"], instanceID: row["instanceId"], token: row["token"], kind: kind,
            dueAt: Date(timeIntervalSince1970: row["dueAt"]), attempt: row["attempt"],
            idempotencyKey: row["idempotencyKey"],
            request: row["request"])
    }
}

/// What `procrun check` and `show` can tell of an instance row without decoding its state.
public struct InstanceRow: Sendable {
    public var id: String
    public var processID: String
    public var status: String
    public var definitionID: Int64
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64
    /// Why its state cannot be read, if it cannot.
    public var problem: String?
}

extension InstanceStore {
    /// Saves an instance row: a new one (`definitionID`), or the next state of one read at
    /// `expectedVersion`, which must still be the stored version (else a conflict). `codec`: the
    /// process of its definition, which names the elements in the state.
    func save(
        _ instance: Instance, codec: StateCodec, definitionID: Int64? = nil, answers: JSONValue? = nil,
        directory: JSONValue? = nil, simulated: Bool = false,
        maxSteps: Int? = nil, businessKey: String? = nil, expectedVersion: Int64? = nil, now: Date,
        in db: Database
    ) throws {
        let state = Data(codec.encode(instance))
        if let definitionID {
            try db.cachedStatement(
                sql: """
                    INSERT INTO instance (id, definitionId, processId, status, state, answers, directory, simulated, maxSteps, createdAt, updatedAt, startedBy, businessKey)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(
                arguments: [
                    instance.id, definitionID, instance.processID, instance.status.rawValue, state,
                    answers.map { JSONWriter.string($0) }, directory.map { JSONWriter.string($0) }, simulated, maxSteps,
                    now.timeIntervalSince1970, now.timeIntervalSince1970, instance.initiator, businessKey,
                ])
        } else {
            try db.cachedStatement(
                sql:
                    "UPDATE instance SET status = ?, state = ?, updatedAt = ?, version = version + 1 WHERE id = ? AND (? IS NULL OR version = ?)"
            ).execute(arguments: [
                instance.status.rawValue, state, now.timeIntervalSince1970, instance.id, expectedVersion,
                expectedVersion,
            ])
            if db.changesCount != 1 {
                throw StoreError.instanceChangedMeanwhile(instance: instance.id)
            }
        }
        remember(instance, state: state)
    }

    /// Decodes a stored state with the process of its definition.
    func decode(_ state: Data, definitionID: Int64, in db: Database) throws -> Instance {
        try stateCodec(for: definitionID, in: db).decode(state)
    }

    /// The message for an instance whose stored state cannot be decoded.
    func corruption(_ id: String, _ error: any Error, definitionID: Int64, in db: Database) -> String {
        stateError(id, error, definitionID: definitionID, in: db).problem
    }

    /// The typed error for a stored state that cannot be read: one naming an element its
    /// definition lacks, one from a newer procrun, or a corrupted one.
    func stateError(_ id: String, _ error: any Error, definitionID: Int64, in db: Database) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? StateError {
            if case .newerFormat = error {
                return .stateFromNewerProcrun(instance: id, store: path, subject: error.subject)
            }
            let definition = (try? self.definition(id: definitionID, in: db)).flatMap { $0 }
            let named =
                definition.map {
                    "definition \(definitionID) (process '\($0.processID)' version \($0.version), file '\($0.file)')"
                }
                ?? "definition \(definitionID)"
            return .stateNamesMissingElement(
                instance: id, store: path, subject: error.subject, waiting: error.isWaitingElement, definition: named)
        }
        return .corruptState(instance: id, store: path, detail: InstanceStore.corruptionDetail(error))
    }

    /// Where and why a stored state could not be decoded.
    static func corruptionDetail(_ error: any Error) -> String {
        let detail: String
        switch error {
        case DecodingError.dataCorrupted(let context), DecodingError.keyNotFound(_, let context),
            DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            detail = (path.isEmpty ? "" : "at '\(path)': ") + context.debugDescription
        default:
            detail = "\(error)"
        }
        return detail
    }

    func load(_ id: String, in db: Database) throws -> StoredInstance? {
        guard
            let row = try Row.fetchOne(
                try db.cachedStatement(sql: "SELECT * FROM instance WHERE id = ?"), arguments: [id])
        else { return nil }
        let state: Data = row["state"]
        let instance: Instance
        do {
            instance = try recalled(id, state: state) ?? decode(state, definitionID: row["definitionId"], in: db)
        } catch {
            throw stateError(id, error, definitionID: row["definitionId"], in: db)
        }
        remember(instance, state: state)
        let answers = (row["answers"] as String?).flatMap { try? JSONParser.parse($0) }
        let directory = (row["directory"] as String?).flatMap { try? JSONParser.parse($0) }
        return StoredInstance(
            instance: instance, definitionID: row["definitionId"], answers: answers, directory: directory,
            simulated: row["simulated"],
            version: row["version"] ?? 0, maxSteps: row["maxSteps"])
    }

    /// An instance row without decoding its state; `problem` says if the state cannot be decoded.
    public func row(_ id: String) throws -> InstanceRow? {
        try readSQL { db in
            try Row.fetchOne(db, sql: "SELECT * FROM instance WHERE id = ?", arguments: [id]).map {
                instanceRow($0, decode: true, in: db)
            }
        }
    }

    func instanceRow(_ row: Row, decode: Bool, in db: Database) -> InstanceRow {
        let id: String = row["id"]
        var problem: String?
        if decode {
            let state: Data = row["state"]
            if recalled(id, state: state) == nil {
                do { _ = try self.decode(state, definitionID: row["definitionId"], in: db) } catch {
                    problem = corruption(id, error, definitionID: row["definitionId"], in: db)
                }
            }
        }
        return InstanceRow(
            id: id, processID: row["processId"], status: row["status"], definitionID: row["definitionId"],
            createdAt: Date(timeIntervalSince1970: row["createdAt"]),
            updatedAt: Date(timeIntervalSince1970: row["updatedAt"]),
            version: row["version"] ?? 0, problem: problem)
    }

    /// Every instance whose state cannot be decoded (`procrun check`), oldest first; and how many were checked.
    public func corruptInstances() throws -> (checked: Int, corrupt: [InstanceRow]) {
        try readSQL { db in
            var checked = 0
            var corrupt: [InstanceRow] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM instance ORDER BY createdAt, id")
            while let row = try rows.next() {
                checked += 1
                let instance = instanceRow(row, decode: true, in: db)
                if instance.problem != nil { corrupt.append(instance) }
            }
            return (checked, corrupt)
        }
    }

    /// The instance id a user typed: the id itself, or a unique prefix of at least 4 characters
    /// (as git accepts abbreviated commit ids).
    public func resolve(_ typed: String) throws -> String {
        try readSQL { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM instance WHERE id = ?", arguments: [typed]) == true {
                return typed
            }
            let escaped = typed.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_")
            let matches =
                typed.count >= 4
                ? try String.fetchAll(
                    db, sql: "SELECT id FROM instance WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 6",
                    arguments: [escaped + "%"])
                : []
            switch matches.count {
            case 0:
                throw StoreError.noSuchInstance(id: typed, store: path, tooShort: typed.count < 4)
            case 1:
                return matches[0]
            default:
                throw StoreError.ambiguousInstance(
                    typed: typed, store: path, matches: Array(matches.prefix(5)), more: matches.count > 5)
            }
        }
    }

    public func instance(_ id: String) throws -> StoredInstance? {
        try readSQL { try load(id, in: $0) }
    }

    /// Instance ids with their status, newest first.
    public func instances(status: InstanceStatus?) throws -> [(
        id: String, processID: String, status: InstanceStatus, updatedAt: Date
    )] {
        try readSQL { db in
            let rows: [Row]
            if let status {
                rows = try Row.fetchAll(
                    db,
                    sql:
                        "SELECT id, processId, status, updatedAt FROM instance WHERE status = ? ORDER BY createdAt DESC",
                    arguments: [status.rawValue])
            } else {
                rows = try Row.fetchAll(
                    db, sql: "SELECT id, processId, status, updatedAt FROM instance ORDER BY createdAt DESC")
            }
            return rows.map { row in
                (
                    row["id"], row["processId"], InstanceStatus(rawValue: row["status"]) ?? .running,
                    Date(timeIntervalSince1970: row["updatedAt"])
                )
            }
        }
    }

    public func openTasks(instance: String? = nil) throws -> [OpenTask] {
        try readSQL { try openTasks(instance: instance, in: $0) }
    }

    func openTasks(instance: String?, in db: Database) throws -> [OpenTask] {
        do {
            let rows =
                if let instance {
                    try Row.fetchAll(
                        try db.cachedStatement(
                            sql: "SELECT * FROM task WHERE instanceId = ? ORDER BY createdAt, token"),
                        arguments: [instance])
                } else {
                    try Row.fetchAll(
                        try db.cachedStatement(sql: "SELECT * FROM task ORDER BY createdAt, instanceId, token"))
                }
            return rows.map { row in
                let candidates: String = row["candidates"]
                return OpenTask(
                    instanceID: row["instanceId"], token: row["token"], nodeID: row["nodeId"], name: row["name"],
                    lane: row["lane"],
                    candidates: candidates.split(separator: ",").map(String.init), assignee: row["assignee"])
            }
        }
    }

    func insertTask(_ task: OpenTask, now: Date, in db: Database) throws {
        try db.cachedStatement(
            sql:
                "INSERT OR REPLACE INTO task (instanceId, token, nodeId, name, lane, candidates, createdAt, assignee) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ).execute(
            arguments: [
                task.instanceID, task.token, task.nodeID, task.name, task.lane, task.candidates.joined(separator: ","),
                now.timeIntervalSince1970, task.assignee,
            ])
    }

    /// `lease`: how long a worker may hold the job before others may take it over (a webhook
    /// job: its timeout and a margin).
    /// `lockedBy`: a job due now that the runner that made it will run next is created already
    /// claimed by it, so running it needs no claiming transaction; if that runner dies, the lock
    /// expires and any worker takes the job, as with a claimed one.
    /// `request`: a webhook or retry job's request snapshot.
    func insertJob(
        instance: String, token: Int, kind: Job.Kind, dueAt: Date, attempt: Int, key: String?, request: Data? = nil,
        lease: Double = 30,
        lockedBy owner: String? = nil, now: Date, in db: Database
    ) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO job (instanceId, token, kind, dueAt, attempt, idempotencyKey, request, lease, createdAt, lockOwner, lockExpiresAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                instance, token, kind.rawValue, dueAt.timeIntervalSince1970, attempt, key, request, lease,
                now.timeIntervalSince1970, owner,
                owner == nil ? nil : now.timeIntervalSince1970 + lease,
            ])
    }

    /// The next due job this owner already holds the lock of (read only: no transaction to commit).
    public func ownJob(owner: String, now: Date, instance: String? = nil, excluding: Set<Int64> = []) throws -> Job? {
        let skip = InstanceStore.idList(excluding)
        let found = try readSQL { db in
            try Row.fetchOne(
                try db.cachedStatement(
                    sql: """
                        SELECT id, instanceId, token, kind, dueAt, attempt, idempotencyKey, request, lease, lockExpiresAt FROM job
                        WHERE lockOwner = ? AND lockExpiresAt >= ? AND dueAt <= ? AND (? IS NULL OR instanceId = ?)
                            AND (? IS NULL OR id NOT IN (SELECT value FROM json_each(?)))
                        ORDER BY dueAt, id LIMIT 1
                        """),
                arguments: [
                    owner, now.timeIntervalSince1970, now.timeIntervalSince1970, instance, instance, skip, skip,
                ])
        }
        guard let row = found, let job = Job(row: row) else { return nil }
        // A job made just now holds its whole lease (the common case: no write). One that waited
        // behind others has less left than a try may take: its lock is renewed first, or, if it
        // expired meanwhile and another worker took it, left to that worker.
        let lease: Double = row["lease"]
        let expires: Double = row["lockExpiresAt"]
        if expires - now.timeIntervalSince1970 < lease - 1 {
            let renewed = try writeSQL { db in
                try db.cachedStatement(
                    sql:
                        "UPDATE job SET lockExpiresAt = ? + lease WHERE id = ? AND lockOwner = ? AND lockExpiresAt >= ?"
                )
                .execute(arguments: [now.timeIntervalSince1970, job.id, owner, now.timeIntervalSince1970])
                return db.changesCount == 1
            }
            guard renewed else { return nil }
        }
        return job
    }

    /// Job ids as a JSON array for `json_each`, or nil for none (the query then skips the test).
    static func idList(_ ids: Set<Int64>) -> String? {
        ids.isEmpty ? nil : "[" + ids.sorted().map(String.init).joined(separator: ",") + "]"
    }

    /// Claims the next due job, the way Camunda's job executor does: the job gets a lock owner
    /// and an expiry in one atomic UPDATE, so two workers never run the same job; a job whose
    /// worker died becomes claimable again when its lock expires.
    public func claimJob(owner: String, now: Date, instance: String? = nil, excluding: Set<Int64> = []) throws -> Job? {
        let skip = InstanceStore.idList(excluding)
        return try writeSQL { db in
            let row = try Row.fetchOne(
                try db.cachedStatement(
                    sql: """
                        UPDATE job SET lockOwner = ?, lockExpiresAt = ? + lease
                        WHERE id = (
                            SELECT id FROM job
                            WHERE dueAt <= ? AND (lockOwner IS NULL OR lockExpiresAt < ?) AND (? IS NULL OR instanceId = ?)
                                AND (? IS NULL OR id NOT IN (SELECT value FROM json_each(?)))
                            ORDER BY dueAt, id LIMIT 1)
                        RETURNING id, instanceId, token, kind, dueAt, attempt, idempotencyKey, request
                        """),
                arguments: [
                    owner, now.timeIntervalSince1970, now.timeIntervalSince1970, now.timeIntervalSince1970, instance,
                    instance, skip, skip,
                ])
            return row.flatMap(Job.init(row:))
        }
    }

    /// When the next job (of the instance, or of any) falls due or its lock expires; nil when none is left.
    public func nextJobTime(instance: String? = nil, excluding: Set<Int64> = []) throws -> Date? {
        let skip = InstanceStore.idList(excluding)
        return try readSQL { db in
            let time = try Double.fetchOne(
                try db.cachedStatement(
                    sql: """
                        SELECT MIN(MAX(dueAt, COALESCE(lockExpiresAt, 0))) FROM job WHERE (? IS NULL OR instanceId = ?)
                            AND (? IS NULL OR id NOT IN (SELECT value FROM json_each(?)))
                        """),
                arguments: [instance, instance, skip, skip])
            return time.map(Date.init(timeIntervalSince1970:))
        }
    }

    public func notifications(instance: String) throws -> [(node: String, user: String, message: String)] {
        try readSQL { db in
            try Row.fetchAll(
                db, sql: "SELECT node, user, message FROM outbox WHERE instanceId = ? ORDER BY id",
                arguments: [instance]
            ).map {
                ($0["node"], $0["user"], $0["message"])
            }
        }
    }

    /// Records what the instance waits for now, replacing what it waited for before.
    func subscribe(_ instanceID: String, to triggers: [EventTrigger], in db: Database) throws {
        try db.cachedStatement(sql: "DELETE FROM subscription WHERE instanceId = ?").execute(arguments: [instanceID])
        for trigger in triggers {
            switch trigger {
            case .message(let name), .signal(let name):
                try db.cachedStatement(sql: "INSERT INTO subscription (instanceId, kind, name) VALUES (?, ?, ?)")
                    .execute(arguments: [instanceID, trigger.name, name])
            default:
                continue
            }
        }
    }

    /// The instances waiting for a message or signal, in the order they were started: a message
    /// goes to the first, as `run` gives it to the first instance of the run that waits.
    func subscribers(kind: String, name: String, except instanceID: String, in db: Database) throws -> [String] {
        try String.fetchAll(
            try db.cachedStatement(
                sql: """
                    SELECT instance.id FROM instance WHERE instance.id IN
                        (SELECT instanceId FROM subscription WHERE kind = ? AND name = ? AND instanceId != ?)
                    ORDER BY instance.rowid
                    """),
            arguments: [kind, name, instanceID])
    }

    /// Runs `body` in one write transaction, begun IMMEDIATE: it holds the write lock from its
    /// first read, so another process cannot change what it read before it commits. Database
    /// failures become `StoreError`s that name the store; nothing of a failed transaction is kept.
    public func writeSQL<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try database.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch {
            // Definitions deployed in the failed transaction are gone, and their ids may be given
            // again: forget the processes learnt meanwhile (they load again when needed).
            forgetCodecs()
            if let error = error as? DatabaseError { throw InstanceStore.failure(error, path: path, writing: true) }
            throw error
        }
    }

    /// Runs `body` in one read transaction; database failures become `StoreError`s.
    public func readSQL<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try database.read(body)
        } catch let error as DatabaseError {
            throw InstanceStore.failure(error, path: path, writing: false)
        }
    }
}
