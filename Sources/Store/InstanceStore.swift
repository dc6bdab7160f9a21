import Engine
import Foundation
import GRDB
import Synchronization
import Values

/// The embedded SQLite store: deployed definitions, instances with their whole state, open user
/// tasks, scheduled jobs (webhook tries and retries) and the notification outbox.
///
/// Every step of an instance is one transaction that saves the new state together with the
/// work it asks for (jobs, tasks, notifications), so a crash at any point loses nothing: on
/// restart the instance continues from its last committed state.
public final class InstanceStore: Sendable {
    let database: DatabaseQueue
    public let path: String
    /// Instances this process decoded or wrote lately, with the exact bytes stored: a load whose
    /// row still holds those bytes takes the value instead of decoding JSON again.
    private let recent = Mutex<[String: (state: Data, instance: Instance)]>([:])

    func recalled(_ id: String, state: Data) -> Instance? {
        recent.withLock { cache in cache[id].flatMap { $0.state == state ? $0.instance : nil } }
    }

    func remember(_ instance: Instance, state: Data) {
        recent.withLock { cache in
            if cache.count >= 1024, cache[instance.id] == nil { cache.removeAll(keepingCapacity: true) }
            cache[instance.id] = (state, instance)
        }
    }

    /// Opens (creating if needed) the store at `path`; `:memory:` keeps it in memory.
    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        // Several workers may share the file: wait for each other's transactions.
        configuration.busyMode = .timeout(30)
        configuration.foreignKeysEnabled = true
        if path == ":memory:" {
            database = try DatabaseQueue(configuration: configuration)
        } else {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            database = try DatabaseQueue(path: path, configuration: configuration)
            try database.writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode = WAL") }
        }
        try InstanceStore.migrator.migrate(database)
    }

    /// Versioned schema migrations; a new version appends a migration, never edits one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE definition (
                    id INTEGER PRIMARY KEY,
                    hash TEXT NOT NULL,
                    processId TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    file TEXT NOT NULL,
                    xml BLOB NOT NULL,
                    deployedAt REAL NOT NULL,
                    UNIQUE (hash, processId)
                );
                CREATE TABLE instance (
                    id TEXT PRIMARY KEY,
                    definitionId INTEGER NOT NULL REFERENCES definition(id),
                    processId TEXT NOT NULL,
                    status TEXT NOT NULL,
                    state BLOB NOT NULL,
                    answers BLOB,
                    directory BLOB,
                    simulated INTEGER NOT NULL DEFAULT 0,
                    createdAt REAL NOT NULL,
                    updatedAt REAL NOT NULL
                );
                CREATE INDEX instance_status ON instance(status);
                CREATE TABLE task (
                    instanceId TEXT NOT NULL REFERENCES instance(id) ON DELETE CASCADE,
                    token INTEGER NOT NULL,
                    nodeId TEXT NOT NULL,
                    name TEXT,
                    lane TEXT,
                    candidates TEXT NOT NULL,
                    createdAt REAL NOT NULL,
                    PRIMARY KEY (instanceId, token)
                );
                CREATE TABLE job (
                    id INTEGER PRIMARY KEY,
                    instanceId TEXT NOT NULL REFERENCES instance(id) ON DELETE CASCADE,
                    token INTEGER NOT NULL,
                    kind TEXT NOT NULL,
                    dueAt REAL NOT NULL,
                    attempt INTEGER NOT NULL,
                    idempotencyKey TEXT,
                    lease REAL NOT NULL,
                    lockOwner TEXT,
                    lockExpiresAt REAL,
                    createdAt REAL NOT NULL
                );
                CREATE INDEX job_due ON job(dueAt);
                CREATE TABLE outbox (
                    id INTEGER PRIMARY KEY,
                    instanceId TEXT NOT NULL REFERENCES instance(id) ON DELETE CASCADE,
                    node TEXT NOT NULL,
                    user TEXT NOT NULL,
                    message TEXT NOT NULL,
                    createdAt REAL NOT NULL,
                    sentAt REAL
                );
                """)
        }
        migrator.registerMigration("v2") { db in
            // The messages and signals each instance waits for, so that one thrown elsewhere finds it.
            try db.execute(sql: """
                CREATE TABLE subscription (
                    instanceId TEXT NOT NULL REFERENCES instance(id) ON DELETE CASCADE,
                    kind TEXT NOT NULL,
                    name TEXT NOT NULL
                );
                CREATE INDEX subscription_by_name ON subscription (kind, name);
                CREATE INDEX subscription_by_instance ON subscription (instanceId);
                """)
        }
        return migrator
    }

    // MARK: Definitions

    public struct StoredDefinition: Sendable {
        public var id: Int64
        public var processID: String
        public var version: Int
        public var file: String
        public var xml: [UInt8]
    }

    /// Deploys a file's process by content hash: the same bytes deploy once; changed bytes
    /// deploy a new version.
    public func deploy(file: String, xml: [UInt8], processID: String, now: Date) throws -> StoredDefinition {
        try database.write { try deploy(file: file, xml: xml, processID: processID, now: now, in: $0) }
    }

    /// Deploys inside the caller's transaction (starting an instance deploys and inserts in one).
    func deploy(file: String, xml: [UInt8], processID: String, now: Date, in db: Database) throws -> StoredDefinition {
        let hash = InstanceStore.hash(xml)
        do {
            if let row = try Row.fetchOne(
                try db.cachedStatement(sql: "SELECT id, version FROM definition WHERE hash = ? AND processId = ?"), arguments: [hash, processID])
            {
                return StoredDefinition(id: row["id"], processID: processID, version: row["version"], file: file, xml: xml)
            }
            let version = (try Int.fetchOne(db, sql: "SELECT MAX(version) FROM definition WHERE processId = ?", arguments: [processID]) ?? 0) + 1
            try db.execute(
                sql: "INSERT INTO definition (hash, processId, version, file, xml, deployedAt) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [hash, processID, version, file, Data(xml), now.timeIntervalSince1970])
            return StoredDefinition(id: db.lastInsertedRowID, processID: processID, version: version, file: file, xml: xml)
        }
    }

    public func definition(id: Int64) throws -> StoredDefinition? {
        try database.read { try definition(id: id, in: $0) }
    }

    func definition(id: Int64, in db: Database) throws -> StoredDefinition? {
        do {
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM definition WHERE id = ?", arguments: [id]) else { return nil }
            let xml: Data = row["xml"]
            return StoredDefinition(id: row["id"], processID: row["processId"], version: row["version"], file: row["file"], xml: [UInt8](xml))
        }
    }

    /// FNV-1a, 64 bits, as hex: enough to tell deployed files apart.
    static func hash(_ bytes: [UInt8]) -> String {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            value ^= UInt64(byte)
            value = value &* 0x100_0000_01b3
        }
        return String(value, radix: 16) + "-" + String(bytes.count)
    }
}

/// Figures about the store, for `procrun instances` and the benchmarks.
extension InstanceStore {
    /// The average size in bytes of a stored instance state.
    public func averageStateSize() throws -> Int {
        try database.read { try Int.fetchOne($0, sql: "SELECT CAST(AVG(LENGTH(state)) AS INTEGER) FROM instance") ?? 0 }
    }

    /// How many instances have this status.
    public func countInstances(status: String) throws -> Int {
        try database.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM instance WHERE status = ?", arguments: [status]) ?? 0 }
    }

    /// Moves the write-ahead log into the database file, so its size is the store's size.
    public func checkpoint() throws {
        try database.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    }
}
