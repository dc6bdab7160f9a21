import Engine
import Foundation
import GRDB
import Values

extension StoredNotification {
    /// What an outbox row written before schema v5 (never sent) says; the migration marks them so.
    static let neverSent =
        "not sent: written before procrun delivered notifications (schema v5), so it may be long out of date"

    /// From a `SELECT * FROM outbox` row; rows from before schema v5 (read, not migrated) read as
    /// the migration leaves them: failed, never sent.
    init(row: Row) {
        let legacy = (row["status"] as String?) == nil
        let instance: String = row["instanceId"]
        let id: Int64 = row["id"]
        let created = Date(timeIntervalSince1970: row["createdAt"])
        let message: String = row["message"]
        let done: String = row["done"] ?? ""
        self.init(
            id: id,
            outgoing: OutgoingNotification(
                key: row["idempotencyKey"] ?? "\(instance)-outbox-\(id)", process: row["process"] ?? "",
                instance: instance, node: row["node"],
                user: row["user"], name: row["name"], email: row["email"], message: message,
                subject: row["subject"] ?? "procrun",
                text: row["text"] ?? message, createdAt: created),
            status: legacy ? .failed : Status(rawValue: row["status"]) ?? .pending, channel: row["channel"],
            done: Set(done.split(separator: ",").map(String.init)), attempts: row["attempts"] ?? 0,
            dueAt: Date(timeIntervalSince1970: row["dueAt"] ?? 0),
            lastError: legacy ? StoredNotification.neverSent : (row["lastError"] as String?),
            sentAt: (row["sentAt"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }
}

extension InstanceStore {
    /// Writes a notification inside the transaction of the step that notifies.
    func insertNotification(_ notification: OutgoingNotification, now: Date, in db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO outbox (instanceId, node, user, message, createdAt, idempotencyKey, process, name, email, subject, text, status, dueAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)
                """
        ).execute(
            arguments: [
                notification.instance, notification.node, notification.user, notification.message,
                now.timeIntervalSince1970, notification.key,
                notification.process, notification.name, notification.email, notification.subject, notification.text,
                now.timeIntervalSince1970,
            ])
    }

    /// Claims the next pending notification that is due, as `claimJob` claims a job: a lock
    /// owner and expiry in one UPDATE; a worker that dies lets it go when the lock expires.
    public func claimNotification(owner: String, now: Date, lease: Double, instance: String? = nil) throws
        -> StoredNotification?
    {
        try writeSQL { db in
            let row = try Row.fetchOne(
                try db.cachedStatement(
                    sql: """
                        UPDATE outbox SET lockOwner = ?, lockExpiresAt = ?
                        WHERE id = (
                            SELECT id FROM outbox
                            WHERE status = 'pending' AND dueAt <= ? AND (lockOwner IS NULL OR lockExpiresAt < ?) AND (? IS NULL OR instanceId = ?)
                            ORDER BY dueAt, id LIMIT 1)
                        RETURNING *
                        """),
                arguments: [
                    owner, now.timeIntervalSince1970 + lease, now.timeIntervalSince1970, now.timeIntervalSince1970,
                    instance, instance,
                ])
            return row.map(StoredNotification.init(row:))
        }
    }

    /// Records a try of a claimed notification, if this owner still holds it.
    public func recordNotificationTry(
        _ id: Int64, owner: String, status: StoredNotification.Status, channel: String?, done: Set<String>,
        attempts: Int, dueAt: Date,
        lastError: String?, sentAt: Date?
    ) throws {
        try writeSQL { db in
            try db.cachedStatement(
                sql: """
                    UPDATE outbox SET status = ?, channel = ?, done = ?, attempts = ?, dueAt = ?, lastError = ?, sentAt = ?,
                        lockOwner = NULL, lockExpiresAt = NULL
                    WHERE id = ? AND lockOwner = ?
                    """
            ).execute(
                arguments: [
                    status.rawValue, channel, done.sorted().joined(separator: ","), attempts,
                    dueAt.timeIntervalSince1970, lastError,
                    sentAt?.timeIntervalSince1970, id, owner,
                ])
        }
    }

    /// When the next pending notification falls due or its lock expires; nil when none is pending.
    public func nextNotificationTime(instance: String? = nil) throws -> Date? {
        try readSQL { db in
            guard try db.columns(in: "outbox").contains(where: { $0.name == "status" }) else { return nil }
            let time = try Double.fetchOne(
                try db.cachedStatement(
                    sql:
                        "SELECT MIN(MAX(dueAt, COALESCE(lockExpiresAt, 0))) FROM outbox WHERE status = 'pending' AND (? IS NULL OR instanceId = ?)"
                ),
                arguments: [instance, instance])
            return time.map(Date.init(timeIntervalSince1970:))
        }
    }

    /// The outbox, oldest first (`procrun notifications`): of one person, or of everyone.
    public func storedNotifications(user: String? = nil, instance: String? = nil) throws -> [StoredNotification] {
        try readSQL { db in
            guard try db.tableExists("outbox") else { return [] }
            return try Row.fetchAll(
                db,
                sql:
                    "SELECT * FROM outbox WHERE (? IS NULL OR user = ?) AND (? IS NULL OR instanceId = ?) ORDER BY createdAt, id",
                arguments: [user, user, instance, instance]
            ).map(StoredNotification.init(row:))
        }
    }
}
