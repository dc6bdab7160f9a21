import Foundation
import GRDB

/// The reference for durable steps: plain SQLite transactions through the same library, the
/// same journal mode and the same disk, each writing what a step writes — the instance's state
/// blob, and one small indexed row in and one out (the open task or the job that changes hands).
final class RawSQLite {
    let database: DatabaseQueue

    init(path: String) throws {
        database = try DatabaseQueue(path: path)
        try database.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS row (id TEXT PRIMARY KEY, state BLOB NOT NULL, updatedAt REAL NOT NULL);
                    CREATE TABLE IF NOT EXISTS work (id INTEGER PRIMARY KEY, rowId TEXT NOT NULL, kind TEXT NOT NULL, dueAt REAL NOT NULL);
                    CREATE INDEX IF NOT EXISTS work_row ON work (rowId);
                    """)
        }
    }

    /// One insert and `updates` updates of the same row, each in its own transaction, each also
    /// adding a small row and removing the one before.
    func transaction(insert id: String, blob: [UInt8], updates: Int) throws {
        let data = Data(blob)
        try database.write { db in
            try db.execute(
                sql: "INSERT INTO row (id, state, updatedAt) VALUES (?, ?, ?)",
                arguments: [id, data, Date().timeIntervalSince1970])
            try db.execute(
                sql: "INSERT INTO work (rowId, kind, dueAt) VALUES (?, 'task', ?)",
                arguments: [id, Date().timeIntervalSince1970])
        }
        for _ in 0..<updates {
            try database.write { db in
                try db.execute(
                    sql: "UPDATE row SET state = ?, updatedAt = ? WHERE id = ?",
                    arguments: [data, Date().timeIntervalSince1970, id])
                try db.execute(sql: "DELETE FROM work WHERE rowId = ?", arguments: [id])
                try db.execute(
                    sql: "INSERT INTO work (rowId, kind, dueAt) VALUES (?, 'task', ?)",
                    arguments: [id, Date().timeIntervalSince1970])
            }
        }
    }
}
