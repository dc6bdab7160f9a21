import Engine
import Foundation
import GRDB
import Runtime

/// One instance as lists show it, without its state.
public struct InstanceSummary: Sendable {
    public var id: String
    public var processID: String
    public var definitionID: Int64
    public var status: String
    public var startedBy: String?
    public var businessKey: String?
    public var createdAt: Date
    public var updatedAt: Date
}

/// A deployed definition as lists show it, without its file.
public struct DefinitionSummary: Sendable {
    public var id: Int64
    public var processID: String
    public var version: Int
    public var file: String
    public var deployedAt: Date

    public init(id: Int64, processID: String, version: Int, file: String, deployedAt: Date) {
        self.id = id
        self.processID = processID
        self.version = version
        self.file = file
        self.deployedAt = deployedAt
    }
}

/// What the server lists: pages of instances (only those a person may see), definitions, who
/// took part, notifications read.
extension InstanceStore {
    /// Instances newest first, filtered; `visibleTo`: only those the person started or took
    /// part in. Also the number of all that match.
    public func instanceSummaries(
        status: String? = nil, processID: String? = nil, startedBy: String? = nil, visibleTo user: String? = nil,
        limit: Int, offset: Int
    ) throws -> (total: Int, items: [InstanceSummary]) {
        var conditions: [String] = []
        var arguments = StatementArguments()
        if let status {
            conditions.append("status = ?")
            arguments += [status]
        }
        if let processID {
            conditions.append("processId = ?")
            arguments += [processID]
        }
        if let startedBy {
            conditions.append("startedBy = ?")
            arguments += [startedBy]
        }
        if let user {
            conditions.append(
                "(startedBy = ? OR EXISTS (SELECT 1 FROM participant p WHERE p.instanceId = instance.id AND p.user = ?))"
            )
            arguments += [user, user]
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try readSQL { db in
            let total =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM instance \(filter)", arguments: arguments)
                ?? 0
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, processId, definitionId, status, startedBy, businessKey, createdAt, updatedAt
                    FROM instance \(filter) ORDER BY createdAt DESC, id LIMIT ? OFFSET ?
                    """,
                arguments: arguments + [limit, offset])
            return (
                total,
                rows.map { row in
                    InstanceSummary(
                        id: row["id"], processID: row["processId"], definitionID: row["definitionId"],
                        status: row["status"], startedBy: row["startedBy"], businessKey: row["businessKey"],
                        createdAt: Date(timeIntervalSince1970: row["createdAt"]),
                        updatedAt: Date(timeIntervalSince1970: row["updatedAt"]))
                }
            )
        }
    }

    /// The starter and the people who took part in an instance.
    public func people(ofInstance id: String) throws -> (
        startedBy: String?, businessKey: String?, participants: [String]
    ) {
        try readSQL { db in
            let row = try Row.fetchOne(
                db, sql: "SELECT startedBy, businessKey FROM instance WHERE id = ?", arguments: [id])
            let participants = try String.fetchAll(
                db, sql: "SELECT user FROM participant WHERE instanceId = ? ORDER BY user", arguments: [id])
            return (row?["startedBy"], row?["businessKey"], participants)
        }
    }

    /// Every deployed definition, newest version of each process first.
    public func definitionSummaries() throws -> [DefinitionSummary] {
        try readSQL { db in
            try Row.fetchAll(
                db,
                sql: "SELECT id, processId, version, file, deployedAt FROM definition ORDER BY processId, version DESC"
            ).map { row in
                DefinitionSummary(
                    id: row["id"], processID: row["processId"], version: row["version"], file: row["file"],
                    deployedAt: Date(timeIntervalSince1970: row["deployedAt"]))
            }
        }
    }

    /// The latest version of a process, nil when none is deployed.
    public func latestDefinition(processID: String) throws -> Int64? {
        try readSQL { db in
            try Int64.fetchOne(
                db, sql: "SELECT id FROM definition WHERE processId = ? ORDER BY version DESC LIMIT 1",
                arguments: [processID])
        }
    }

    /// Instances by status, and jobs waiting (all, and those due by `now`): a server's gauges.
    public func gauges(now: Date) throws -> (instances: [String: Int], jobs: Int, dueJobs: Int) {
        try readSQL { db in
            var instances: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM instance GROUP BY status") {
                instances[row["status"]] = row["n"]
            }
            let jobs = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM job") ?? 0
            let due =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM job WHERE dueAt <= ?", arguments: [now.timeIntervalSince1970]) ?? 0
            return (instances, jobs, due)
        }
    }

    /// When a person read each of their notifications that they read.
    public func notificationsRead(user: String) throws -> [Int64: Date] {
        try readSQL { db in
            var read: [Int64: Date] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT id, readAt FROM outbox WHERE user = ? AND readAt IS NOT NULL", arguments: [user])
            {
                read[row["id"]] = Date(timeIntervalSince1970: row["readAt"])
            }
            return read
        }
    }

    /// Marks a notification of this person read; false when they have none of that id.
    public func markNotificationRead(_ id: Int64, user: String, now: Date) throws -> Bool {
        try writeSQL { db in
            try db.execute(
                sql: "UPDATE outbox SET readAt = COALESCE(readAt, ?) WHERE id = ? AND user = ?",
                arguments: [now.timeIntervalSince1970, id, user])
            return db.changesCount == 1
        }
    }
}
