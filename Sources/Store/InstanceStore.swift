import BPMNLoader
import Engine
import Foundation
import GRDB
import ProcessModel
import Synchronization
import Values

/// The embedded SQLite store: deployed definitions, instances with their whole state, open user
/// tasks, scheduled jobs (webhook tries and retries) and the notification outbox. It is the
/// runtime's SQLite adapter (`RuntimeStore`, through `SQLiteTransaction`; see SQLiteAdapter.swift).
///
/// Every step of an instance is one transaction that saves the new state together with the
/// work it asks for (jobs, tasks, notifications), so a crash at any point loses nothing: on
/// restart the instance continues from its last committed state.
///
/// Concurrency: every write transaction is `BEGIN IMMEDIATE` (it holds the write lock from its
/// first read, so what it read is what it changes), and every instance row carries a `version`
/// that each step's update checks and raises: a step computed from a state that another
/// process changed meanwhile fails with a conflict instead of overwriting it.
public final class InstanceStore: Sendable {
    let database: DatabaseQueue
    public let path: String
    /// How stored definitions are read again.
    public let loadOptions: LoadOptions
    /// Opened with `readOnly`: nothing is written, not even migrations.
    public let isReadOnly: Bool
    /// Instances this process decoded or wrote lately, with the exact bytes stored: a load whose
    /// row still holds those bytes takes the value instead of decoding JSON again.
    private let recent = Mutex<[String: (state: Data, instance: Instance)]>([:])
    /// The state codec of each definition that states were read or written with: its process,
    /// loaded once per store (see `stateCodec(for:in:)`).
    private let codecs = Mutex<[Int64: StateCodec]>([:])

    /// The codec of a stored definition, whose process reads and writes its instances' states.
    func stateCodec(for definitionID: Int64, in db: Database) throws -> StateCodec {
        if let codec = codecs.withLock({ $0[definitionID] }) { return codec }
        guard let definition = try definition(id: definitionID, in: db) else {
            throw StoreError.definitionMissing(definition: definitionID)
        }
        let result = BPMNLoader.load(bytes: definition.xml, file: definition.file, options: loadOptions)
        guard let process = result.definitions?.process(id: definition.processID) else {
            throw StoreError.definitionNoLongerLoads(definition: definitionID, errors: result.errors.map(\.description))
        }
        let codec = StateCodec(process: process)
        register(codec, for: definitionID)
        return codec
    }

    /// Remembers the codec a runner already has for a definition (so the store need not load it again).
    func register(_ codec: StateCodec, for definitionID: Int64) {
        codecs.withLock { $0[definitionID] = codec }
    }

    /// Remembers the process of a definition just deployed, unless one is known already.
    func forgetCodecs() {
        codecs.withLock { $0.removeAll() }
    }

    func registerIfMissing(_ process: ProcessDefinition, for definitionID: Int64) {
        codecs.withLock { if $0[definitionID] == nil { $0[definitionID] = StateCodec(process: process) } }
    }

    func recalled(_ id: String, state: Data) -> Instance? {
        recent.withLock { cache in cache[id].flatMap { $0.state == state ? $0.instance : nil } }
    }

    func remember(_ instance: Instance, state: Data) {
        recent.withLock { cache in
            if cache.count >= 1024, cache[instance.id] == nil { cache.removeAll(keepingCapacity: true) }
            cache[instance.id] = (state, instance)
        }
    }

    /// Opens (creating and migrating if needed) the store at `path`; `:memory:` keeps it in memory.
    ///
    /// With `readOnly`, the store is opened without write access and is not migrated, so
    /// read-only files and stores of other users can be inspected; a store that does not exist
    /// yet reads as an empty one and is not created.
    /// `loadOptions`: how a stored definition's file is read again (a library user's own
    /// integration readers, `LoadOptions.readers`, must be among them, else their nodes no
    /// longer run when a process reads the definition back).
    public init(path: String, readOnly: Bool = false, loadOptions: LoadOptions = LoadOptions()) throws {
        self.path = path
        self.isReadOnly = readOnly
        self.loadOptions = loadOptions
        var configuration = Configuration()
        // Several workers may share the file: wait for each other's transactions.
        configuration.busyMode = .timeout(30)
        configuration.foreignKeysEnabled = true
        configuration.readonly = readOnly
        do {
            if path == ":memory:" || (readOnly && !FileManager.default.fileExists(atPath: path)) {
                // A store nobody has written yet reads as an empty one; nothing is created.
                configuration.readonly = false
                database = try DatabaseQueue(configuration: configuration)
            } else if readOnly {
                var file: DatabaseQueue
                let hasSchema: Bool
                do {
                    file = try DatabaseQueue(path: path, configuration: configuration)
                    hasSchema = try file.read { try $0.tableExists("grdb_migrations") }
                } catch let error as DatabaseError
                    where error.resultCode == .SQLITE_READONLY || error.resultCode == .SQLITE_CANTOPEN
                {
                    // A WAL store needs a shared-memory file beside it, which a folder the user
                    // cannot write cannot hold: read the file as it is (nobody can write it either).
                    let uri =
                        path.addingPercentEncoding(
                            withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "?#%")))
                        ?? path
                    file = try DatabaseQueue(path: "file:\(uri)?immutable=1", configuration: configuration)
                    hasSchema = try file.read { try $0.tableExists("grdb_migrations") }
                }
                if hasSchema {
                    database = file
                    return
                }
                // A store another process is creating right now, with no tables yet: empty.
                configuration.readonly = false
                database = try DatabaseQueue(configuration: configuration)
            } else {
                let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                database = try DatabaseQueue(path: path, configuration: configuration)
                // Switching a new file to WAL needs it to itself for a moment, and SQLite answers
                // "busy" at once, without its busy timeout, while another process opens the same
                // new store: try again for up to 30 s (only when stores are created at once).
                let deadline = Date().addingTimeInterval(30)
                while true {
                    do {
                        try database.writeWithoutTransaction { db in
                            if try String.fetchOne(db, sql: "PRAGMA journal_mode") != "wal" {
                                try db.execute(sql: "PRAGMA journal_mode = WAL")
                            }
                        }
                        break
                    } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && Date() < deadline {
                        usleep(5_000)
                    }
                }
            }
            try migrate()
        } catch let error as StoreError {
            throw error
        } catch {
            throw InstanceStore.failure(error, path: path, writing: !readOnly)
        }
    }

    /// A database error as the user should read it: what happened to which store.
    static func failure(_ error: any Error, path: String, writing: Bool) -> StoreError {
        guard let error = error as? DatabaseError else {
            return .unavailable(store: path, reason: .other(writing: writing, detail: "\(error)"))
        }
        let detail = "SQLite error \(error.extendedResultCode.rawValue): \(error.message ?? "\(error.resultCode)")"
        switch error.resultCode {
        case .SQLITE_FULL, .SQLITE_IOERR:
            return .unavailable(store: path, reason: .diskFull(detail: detail))
        case .SQLITE_READONLY:
            return .unavailable(store: path, reason: .readOnly(detail: detail))
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return .unavailable(store: path, reason: .locked(detail: detail))
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return .unavailable(store: path, reason: .damaged(detail: detail))
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH:
            return .unavailable(store: path, reason: .cannotOpen(detail: detail))
        default:
            return .unavailable(store: path, reason: .failed(detail: detail))
        }
    }

    /// The schema, one migration per version; a new version appends a migration, never edits one.
    /// The identifiers are recorded in `grdb_migrations`, where stores made with GRDB's
    /// migrator recorded them too.
    static let migrations: [(identifier: String, sql: String)] = [
        (
            "v1",
            """
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
            """
        ),
        (
            // The messages and signals each instance waits for, so that one thrown elsewhere finds it.
            "v2",
            """
            CREATE TABLE subscription (
                instanceId TEXT NOT NULL REFERENCES instance(id) ON DELETE CASCADE,
                kind TEXT NOT NULL,
                name TEXT NOT NULL
            );
            CREATE INDEX subscription_by_name ON subscription (kind, name);
            CREATE INDEX subscription_by_instance ON subscription (instanceId);
            """
        ),
        (
            // Optimistic concurrency: every step's update checks and raises the version it read.
            // Per-instance look-ups of tasks and jobs use an index instead of scanning the table.
            // `maxSteps`: the step budget an instance was started with (NULL: the default).
            "v3",
            """
            ALTER TABLE instance ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE instance ADD COLUMN maxSteps INTEGER;
            CREATE INDEX IF NOT EXISTS task_by_instance ON task (instanceId);
            CREATE INDEX IF NOT EXISTS job_by_instance ON job (instanceId);
            """
        ),
        (
            // `request`: the request of a webhook execution, built when its node was entered
            // (`WebhookPreparation.encoded`, secrets as references), carried by its webhook and
            // retry jobs so that every try sends the same bytes. NULL in jobs of older stores:
            // their tries build the request when they run.
            "v4",
            """
            ALTER TABLE job ADD COLUMN request BLOB;
            """
        ),
        (
            // Notifications are delivered by workers, like jobs: each outbox row (one per notified
            // person) carries what every try sends (fixed when the step committed), its state
            // (pending, delivered, failed), a lock owner and expiry, its tries and the last error.
            "v5",
            """
            ALTER TABLE outbox ADD COLUMN idempotencyKey TEXT;
            ALTER TABLE outbox ADD COLUMN process TEXT;
            ALTER TABLE outbox ADD COLUMN name TEXT;
            ALTER TABLE outbox ADD COLUMN email TEXT;
            ALTER TABLE outbox ADD COLUMN subject TEXT;
            ALTER TABLE outbox ADD COLUMN text TEXT;
            ALTER TABLE outbox ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';
            ALTER TABLE outbox ADD COLUMN channel TEXT;
            ALTER TABLE outbox ADD COLUMN done TEXT NOT NULL DEFAULT '';
            ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE outbox ADD COLUMN dueAt REAL NOT NULL DEFAULT 0;
            ALTER TABLE outbox ADD COLUMN lockOwner TEXT;
            ALTER TABLE outbox ADD COLUMN lockExpiresAt REAL;
            ALTER TABLE outbox ADD COLUMN lastError TEXT;
            CREATE INDEX outbox_due ON outbox (status, dueAt);
            CREATE INDEX outbox_by_instance ON outbox (instanceId);
            CREATE INDEX outbox_by_user ON outbox (user);
            UPDATE outbox SET status = 'failed',
                lastError = 'not sent: written before procrun delivered notifications (schema v5), so it may be long out of date';
            """
        ),
        (
            // Integration nodes of every type share one job kind (the node says which type):
            // what earlier stores called a webhook job. An older procrun refuses the store
            // rather than misread its jobs and states (state format 3).
            "v6",
            """
            UPDATE job SET kind = 'job' WHERE kind = 'webhook';
            """
        ),
        (
            // Timer start events of deployed processes: their next firing (see Schedule.swift).
            "v7",
            """
            CREATE TABLE schedule (
                definitionId INTEGER NOT NULL REFERENCES definition(id) ON DELETE CASCADE,
                node TEXT NOT NULL,
                firing INTEGER NOT NULL,
                startedAt REAL NOT NULL,
                dueAt REAL NOT NULL,
                lockOwner TEXT,
                lockExpiresAt REAL,
                PRIMARY KEY (definitionId, node)
            );
            CREATE INDEX schedule_due ON schedule (dueAt);
            """
        ),
        (
            // For the server: who started an instance (and its business key), who took part in
            // it (completed its tasks), who claimed a task, and which notifications were read.
            // Instances started before this version have no starter recorded (admins see them).
            "v8",
            """
            ALTER TABLE instance ADD COLUMN startedBy TEXT;
            ALTER TABLE instance ADD COLUMN businessKey TEXT;
            CREATE INDEX instance_started_by ON instance (startedBy);
            CREATE TABLE participant (
                instanceId TEXT NOT NULL REFERENCES instance(id) ON DELETE CASCADE,
                user TEXT NOT NULL,
                PRIMARY KEY (instanceId, user)
            ) WITHOUT ROWID;
            CREATE INDEX participant_by_user ON participant (user);
            ALTER TABLE task ADD COLUMN assignee TEXT;
            ALTER TABLE outbox ADD COLUMN readAt REAL;
            """
        ),
    ]

    /// Runs the migrations this store lacks, all in one `BEGIN IMMEDIATE` transaction: several
    /// processes opening a new store at once take turns, and each finds the work done by the
    /// one before it. A store migrated by a newer procrun is refused rather than misread.
    func migrate() throws {
        let known = Set(InstanceStore.migrations.map(\.identifier))
        let applied = try database.read { db -> Set<String> in
            guard try db.tableExists("grdb_migrations") else { return [] }
            return Set(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"))
        }
        if applied == known { return }
        try writeSQL { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
            let applied = Set(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"))
            if let unknown = applied.subtracting(known).sorted().first {
                throw StoreError.unavailable(store: path, reason: .newerSchema(version: unknown))
            }
            for migration in InstanceStore.migrations where !applied.contains(migration.identifier) {
                try db.execute(sql: migration.sql)
                try db.execute(
                    sql: "INSERT INTO grdb_migrations (identifier) VALUES (?)", arguments: [migration.identifier])
            }
        }
    }

    /// The schema versions this store has, for tests and `check`.
    public func schemaVersions() throws -> [String] {
        try readSQL { db in
            guard try db.tableExists("grdb_migrations") else { return [] }
            return try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
        }
    }

    // MARK: Definitions

    public typealias StoredDefinition = Runtime.StoredDefinition

    /// Deploys a file's process by content hash: the same bytes deploy once; changed bytes
    /// deploy a new version.
    public func deploy(file: String, xml: [UInt8], processID: String, now: Date) throws -> StoredDefinition {
        try writeSQL { try deploy(file: file, xml: xml, processID: processID, now: now, in: $0) }
    }

    /// Deploys inside the caller's transaction (starting an instance deploys and inserts in one).
    func deploy(file: String, xml: [UInt8], processID: String, now: Date, in db: Database) throws -> StoredDefinition {
        let hash = InstanceStore.hash(xml)
        do {
            if let row = try Row.fetchOne(
                try db.cachedStatement(sql: "SELECT id, version FROM definition WHERE hash = ? AND processId = ?"),
                arguments: [hash, processID])
            {
                return StoredDefinition(
                    id: row["id"], processID: processID, version: row["version"], file: file, xml: xml)
            }
            let version =
                (try Int.fetchOne(
                    db, sql: "SELECT MAX(version) FROM definition WHERE processId = ?", arguments: [processID]) ?? 0)
                + 1
            try db.execute(
                sql:
                    "INSERT INTO definition (hash, processId, version, file, xml, deployedAt) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [hash, processID, version, file, Data(xml), now.timeIntervalSince1970])
            return StoredDefinition(
                id: db.lastInsertedRowID, processID: processID, version: version, file: file, xml: xml, isNew: true)
        }
    }

    public func definition(id: Int64) throws -> StoredDefinition? {
        try readSQL { try definition(id: id, in: $0) }
    }

    func definition(id: Int64, in db: Database) throws -> StoredDefinition? {
        do {
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM definition WHERE id = ?", arguments: [id]) else {
                return nil
            }
            let xml: Data = row["xml"]
            return StoredDefinition(
                id: row["id"], processID: row["processId"], version: row["version"], file: row["file"],
                xml: [UInt8](xml))
        }
    }

    /// The newest version of each deployed process, oldest process first.
    public func latestDefinitionIDs() throws -> [Int64] {
        try readSQL {
            try Int64.fetchAll(
                $0,
                sql: """
                    SELECT id FROM definition d
                    WHERE version = (SELECT MAX(version) FROM definition WHERE processId = d.processId)
                    ORDER BY id
                    """)
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
        try readSQL { try Int.fetchOne($0, sql: "SELECT CAST(AVG(LENGTH(state)) AS INTEGER) FROM instance") ?? 0 }
    }

    /// How many instances have this status.
    public func countInstances(status: String) throws -> Int {
        try readSQL {
            try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM instance WHERE status = ?", arguments: [status]) ?? 0
        }
    }

    /// Moves the write-ahead log into the database file, so its size is the store's size.
    public func checkpoint() throws {
        try database.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    }
}
