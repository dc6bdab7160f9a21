import Foundation
import GRDB

/// The reference for durable steps: plain SQLite transactions through the same library, the
/// same journal mode and the same disk, each writing one row as large as an instance's state.
final class RawSQLite {
    let database: DatabaseQueue

    init(path: String) throws {
        database = try DatabaseQueue(path: path)
        try database.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS row (id TEXT PRIMARY KEY, state BLOB NOT NULL, updatedAt REAL NOT NULL)")
        }
    }

    /// One insert and `updates` updates of the same row, each in its own transaction.
    func transaction(insert id: String, blob: [UInt8], updates: Int) throws {
        let data = Data(blob)
        try database.write { db in
            try db.execute(sql: "INSERT INTO row (id, state, updatedAt) VALUES (?, ?, ?)", arguments: [id, data, Date().timeIntervalSince1970])
        }
        for _ in 0..<updates {
            try database.write { db in
                try db.execute(sql: "UPDATE row SET state = ?, updatedAt = ? WHERE id = ?", arguments: [data, Date().timeIntervalSince1970, id])
            }
        }
    }
}
