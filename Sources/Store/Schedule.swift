import Foundation
import GRDB
import Runtime

/// The timer start events of deployed processes (`schedule`, schema v7): one row per start
/// event of the newest deployed version of each process, with its next firing and, while a
/// worker starts its instance, a lock owner and expiry. A firing starts its instance and moves
/// the row on in one transaction, which checks the owner: a timer fires once across all workers.
extension InstanceStore {
    public func claimSchedule(owner: String, now: Date, lease: Double) throws -> ScheduledStart? {
        try writeSQL { db in
            let row = try Row.fetchOne(
                try db.cachedStatement(
                    sql: """
                        UPDATE schedule SET lockOwner = ?, lockExpiresAt = ?
                        WHERE rowid = (
                            SELECT rowid FROM schedule
                            WHERE dueAt <= ? AND (lockOwner IS NULL OR lockExpiresAt < ?)
                            ORDER BY dueAt LIMIT 1)
                        RETURNING definitionId, node, firing, startedAt, dueAt
                        """),
                arguments: [
                    owner, now.timeIntervalSince1970 + lease, now.timeIntervalSince1970, now.timeIntervalSince1970,
                ])
            return row.map(ScheduledStart.init(row:))
        }
    }

    public func nextScheduleTime() throws -> Date? {
        try readSQL { db in
            guard try db.tableExists("schedule") else { return nil }
            let time = try Double.fetchOne(
                try db.cachedStatement(sql: "SELECT MIN(MAX(dueAt, COALESCE(lockExpiresAt, 0))) FROM schedule"))
            return time.map(Date.init(timeIntervalSince1970:))
        }
    }

    /// Every scheduled timer start, soonest first (for tests and `procrun instances`).
    public func scheduledStarts() throws -> [ScheduledStart] {
        try readSQL { db in
            guard try db.tableExists("schedule") else { return [] }
            return try Row.fetchAll(
                db, sql: "SELECT definitionId, node, firing, startedAt, dueAt FROM schedule ORDER BY dueAt"
            ).map(ScheduledStart.init(row:))
        }
    }
}

extension ScheduledStart {
    init(row: Row) {
        self.init(
            definitionID: row["definitionId"], node: row["node"], firing: row["firing"],
            startedAt: Date(timeIntervalSince1970: row["startedAt"]), dueAt: Date(timeIntervalSince1970: row["dueAt"]))
    }
}

extension SQLiteTransaction {
    public func replaceSchedule(processID: String, with starts: [ScheduledStart]) throws {
        try db.execute(
            sql: "DELETE FROM schedule WHERE definitionId IN (SELECT id FROM definition WHERE processId = ?)",
            arguments: [processID])
        for start in starts {
            try db.execute(
                sql: "INSERT INTO schedule (definitionId, node, firing, startedAt, dueAt) VALUES (?, ?, ?, ?, ?)",
                arguments: [
                    start.definitionID, start.node, start.firing, start.startedAt.timeIntervalSince1970,
                    start.dueAt.timeIntervalSince1970,
                ])
        }
    }

    public func advanceSchedule(definitionID: Int64, node: String, owner: String, next: (firing: Int, dueAt: Date)?)
        throws -> Bool
    {
        if let next {
            try db.execute(
                sql: """
                    UPDATE schedule SET firing = ?, dueAt = ?, lockOwner = NULL, lockExpiresAt = NULL
                    WHERE definitionId = ? AND node = ? AND lockOwner = ?
                    """,
                arguments: [next.firing, next.dueAt.timeIntervalSince1970, definitionID, node, owner])
        } else {
            try db.execute(
                sql: "DELETE FROM schedule WHERE definitionId = ? AND node = ? AND lockOwner = ?",
                arguments: [definitionID, node, owner])
        }
        return db.changesCount == 1
    }
}
