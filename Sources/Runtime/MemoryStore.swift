import Engine
import Foundation
import ProcessModel
import Values

/// The runtime's in-memory adapter: definitions, instances, open tasks, jobs, subscriptions and
/// the outbox in dictionaries under one lock, for runs and tests that need no file (with a
/// `ManualScheduler`, days of timers and retries pass in milliseconds).
///
/// It keeps the contract of the ports as the SQLite store does: a transaction works on a copy
/// of the state and replaces it only when its body returns (a body that throws leaves nothing
/// behind); `update` checks the version the step read; deletes report whether they removed the
/// row; claims set the lock owner and expiry under the lock. Instances are kept as values, not
/// encoded. Transactions run one at a time, and each copies the tables it changes: meant for a
/// run's or a test's few instances, not for a large store.
public final class MemoryStore: RuntimeStore, @unchecked Sendable {
    public let path: String
    private let lock = NSLock()
    private var state = MemoryState()

    public init(name: String = "memory") {
        path = name
    }

    public func write<T>(_ body: (MemoryTransaction) throws -> T) throws -> T {
        try lock.withLock {
            let transaction = MemoryTransaction(state: state, path: path)
            let result = try body(transaction)
            state = transaction.state
            return result
        }
    }

    public func read<T>(_ body: (MemoryTransaction) throws -> T) throws -> T {
        try lock.withLock { try body(MemoryTransaction(state: state, path: path)) }
    }

    public func ownJob(owner: String, now: Date, instance: String? = nil) throws -> Job? {
        lock.withLock {
            state.dueJobs(now: now, instance: instance) { $0.lockOwner == owner && ($0.lockExpiresAt ?? .distantPast) >= now }.first?.job
        }
    }

    public func claimJob(owner: String, now: Date, instance: String? = nil) throws -> Job? {
        lock.withLock {
            let free = state.dueJobs(now: now, instance: instance) { $0.lockOwner == nil || ($0.lockExpiresAt ?? .distantPast) < now }
            guard let row = free.first else { return nil }
            state.jobs[row.job.id]?.lockOwner = owner
            state.jobs[row.job.id]?.lockExpiresAt = now.addingTimeInterval(row.lease)
            return row.job
        }
    }

    public func nextJobTime(instance: String? = nil) throws -> Date? {
        lock.withLock {
            state.jobs.values.filter { instance == nil || $0.job.instanceID == instance }
                .map { max($0.job.dueAt, $0.lockExpiresAt ?? .distantPast) }.min()
        }
    }

    public func claimNotification(owner: String, now: Date, lease: Double, instance: String? = nil) throws -> StoredNotification? {
        lock.withLock {
            let due = state.outbox.values.filter {
                $0.stored.status == .pending && $0.stored.dueAt <= now && ($0.lockOwner == nil || ($0.lockExpiresAt ?? .distantPast) < now)
                    && (instance == nil || $0.stored.outgoing.instance == instance)
            }
            guard let row = due.min(by: { ($0.stored.dueAt, $0.stored.id) < ($1.stored.dueAt, $1.stored.id) }) else { return nil }
            state.outbox[row.stored.id]?.lockOwner = owner
            state.outbox[row.stored.id]?.lockExpiresAt = now.addingTimeInterval(lease)
            return row.stored
        }
    }

    public func recordNotificationTry(
        _ id: Int64, owner: String, status: StoredNotification.Status, channel: String?, done: Set<String>, attempts: Int, dueAt: Date,
        lastError: String?, sentAt: Date?
    ) throws {
        lock.withLock {
            guard var row = state.outbox[id], row.lockOwner == owner else { return }
            row.stored.status = status
            row.stored.channel = channel
            row.stored.done = done
            row.stored.attempts = attempts
            row.stored.dueAt = dueAt
            row.stored.lastError = lastError
            row.stored.sentAt = sentAt
            row.lockOwner = nil
            row.lockExpiresAt = nil
            state.outbox[id] = row
        }
    }

    public func nextNotificationTime(instance: String? = nil) throws -> Date? {
        lock.withLock {
            state.outbox.values.filter { $0.stored.status == .pending && (instance == nil || $0.stored.outgoing.instance == instance) }
                .map { max($0.stored.dueAt, $0.lockExpiresAt ?? .distantPast) }.min()
        }
    }

    public func storedNotifications(user: String? = nil, instance: String? = nil) throws -> [StoredNotification] {
        lock.withLock {
            state.outbox.values.map(\.stored)
                .filter { (user == nil || $0.outgoing.user == user) && (instance == nil || $0.outgoing.instance == instance) }
                .sorted { $0.id < $1.id }
        }
    }
}

/// What a `MemoryStore` holds.
struct MemoryState {
    struct DefinitionKey: Hashable {
        var processID: String
        var xml: [UInt8]
    }

    struct InstanceRow {
        var stored: StoredInstance
        /// The status column: the instance's, or `terminated` after `forceTerminate`.
        var status: String
        /// The order instances were started in.
        var sequence: Int
    }

    struct TaskRow {
        var task: OpenTask
        var createdAt: Date
    }

    struct JobRow {
        var job: Job
        var lease: Double
        var lockOwner: String?
        var lockExpiresAt: Date?
    }

    struct OutboxRow {
        var stored: StoredNotification
        var lockOwner: String?
        var lockExpiresAt: Date?
    }

    var definitions: [Int64: StoredDefinition] = [:]
    var definitionIDs: [DefinitionKey: Int64] = [:]
    var processes: [Int64: ProcessDefinition] = [:]
    var instances: [String: InstanceRow] = [:]
    var tasks: [String: [TaskRow]] = [:]
    var jobs: [Int64: JobRow] = [:]
    /// By instance: the (kind, name) pairs it waits for.
    var subscriptions: [String: [(kind: String, name: String)]] = [:]
    var outbox: [Int64: OutboxRow] = [:]
    var lastID: Int64 = 0

    mutating func nextID() -> Int64 {
        lastID += 1
        return lastID
    }

    /// Due jobs (of one instance, or all) that pass `filter`, oldest due first.
    func dueJobs(now: Date, instance: String?, _ filter: (JobRow) -> Bool) -> [JobRow] {
        jobs.values.filter { $0.job.dueAt <= now && (instance == nil || $0.job.instanceID == instance) && filter($0) }
            .sorted { ($0.job.dueAt, $0.job.id) < ($1.job.dueAt, $1.job.id) }
    }
}

/// A transaction of a `MemoryStore`: works on its own copy of the state, which the store keeps
/// only if the transaction's body returns.
public final class MemoryTransaction: StoreTransaction {
    fileprivate(set) var state: MemoryState
    let path: String

    init(state: MemoryState, path: String) {
        self.state = state
        self.path = path
    }

    public func deploy(file: String, xml: [UInt8], process: ProcessDefinition, now: Date) throws -> StoredDefinition {
        let key = MemoryState.DefinitionKey(processID: process.id, xml: xml)
        if let id = state.definitionIDs[key], var known = state.definitions[id] {
            known.file = file
            return known
        }
        let version = (state.definitions.values.filter { $0.processID == process.id }.map(\.version).max() ?? 0) + 1
        let definition = StoredDefinition(id: state.nextID(), processID: process.id, version: version, file: file, xml: xml)
        state.definitions[definition.id] = definition
        state.definitionIDs[key] = definition.id
        state.processes[definition.id] = process
        return definition
    }

    public func definition(id: Int64) throws -> StoredDefinition? {
        state.definitions[id]
    }

    public func process(of definitionID: Int64) throws -> ProcessDefinition {
        guard let process = state.processes[definitionID] else { throw StoreError.definitionMissing(definition: definitionID) }
        return process
    }

    public func load(_ id: String) throws -> StoredInstance? {
        state.instances[id]?.stored
    }

    public func definitionID(ofInstance id: String) throws -> Int64? {
        state.instances[id]?.stored.definitionID
    }

    public func insert(_ new: NewInstance, codec: StateCodec, now: Date) throws {
        guard state.instances[new.instance.id] == nil else { throw StoreError.instanceChangedMeanwhile(instance: new.instance.id) }
        let stored = StoredInstance(
            instance: new.instance, definitionID: new.definitionID, answers: new.answers, directory: new.directory, simulated: new.simulated,
            version: 0, maxSteps: new.maxSteps)
        state.instances[new.instance.id] = MemoryState.InstanceRow(
            stored: stored, status: new.instance.status.rawValue, sequence: state.instances.count)
    }

    public func update(_ instance: Instance, codec: StateCodec, expectedVersion: Int64, now: Date) throws {
        guard var row = state.instances[instance.id], row.stored.version == expectedVersion else {
            throw StoreError.instanceChangedMeanwhile(instance: instance.id)
        }
        row.stored.instance = instance
        row.stored.version += 1
        row.status = instance.status.rawValue
        state.instances[instance.id] = row
    }

    public func forceTerminate(_ id: String, now: Date) throws -> String? {
        guard var row = state.instances[id] else { return nil }
        let status = row.status
        guard status != InstanceStatus.completed.rawValue && status != InstanceStatus.terminated.rawValue else { return status }
        row.status = InstanceStatus.terminated.rawValue
        row.stored.version += 1
        state.instances[id] = row
        state.tasks[id] = nil
        state.jobs = state.jobs.filter { $0.value.job.instanceID != id }
        state.subscriptions[id] = nil
        return status
    }

    public func openTasks(instance: String) throws -> [OpenTask] {
        (state.tasks[instance] ?? []).sorted { ($0.createdAt, $0.task.token) < ($1.createdAt, $1.task.token) }.map(\.task)
    }

    public func insertTask(_ task: OpenTask, now: Date) throws {
        var rows = state.tasks[task.instanceID] ?? []
        rows.removeAll { $0.task.token == task.token }
        rows.append(MemoryState.TaskRow(task: task, createdAt: now))
        state.tasks[task.instanceID] = rows
    }

    public func deleteTask(instance: String, token: Int, nodeID: String) throws -> Bool {
        guard var rows = state.tasks[instance], let index = rows.firstIndex(where: { $0.task.token == token && $0.task.nodeID == nodeID }) else {
            return false
        }
        rows.remove(at: index)
        state.tasks[instance] = rows
        return true
    }

    public func closeTasks(instance: String, keeping tokens: [Int]) throws {
        guard let rows = state.tasks[instance] else { return }
        let kept = rows.filter { tokens.contains($0.task.token) }
        if kept.count != rows.count { state.tasks[instance] = kept }
    }

    public func deleteTasks(instance: String) throws {
        state.tasks[instance] = nil
    }

    public func insertJob(_ job: NewJob, now: Date) throws {
        let id = state.nextID()
        state.jobs[id] = MemoryState.JobRow(
            job: Job(
                id: id, instanceID: job.instanceID, token: job.token, kind: job.kind, dueAt: job.dueAt, attempt: job.attempt,
                idempotencyKey: job.idempotencyKey, request: job.request),
            lease: job.lease, lockOwner: job.lockedBy, lockExpiresAt: job.lockedBy == nil ? nil : now.addingTimeInterval(job.lease))
    }

    public func deleteJob(id: Int64) throws -> Bool {
        state.jobs.removeValue(forKey: id) != nil
    }

    public func deleteJobs(instance: String) throws {
        state.jobs = state.jobs.filter { $0.value.job.instanceID != instance }
    }

    public func subscribe(_ instanceID: String, to triggers: [EventTrigger]) throws {
        var list: [(kind: String, name: String)] = []
        for trigger in triggers {
            switch trigger {
            case .message(let name), .signal(let name):
                list.append((trigger.name, name))
            default:
                continue
            }
        }
        if list.isEmpty && state.subscriptions[instanceID] == nil { return }
        state.subscriptions[instanceID] = list.isEmpty ? nil : list
    }

    public func subscribers(kind: String, name: String, except instanceID: String) throws -> [String] {
        state.subscriptions.filter { $0.key != instanceID && $0.value.contains { $0.kind == kind && $0.name == name } }.keys
            .sorted { (state.instances[$0]?.sequence ?? .max) < (state.instances[$1]?.sequence ?? .max) }
    }

    public func insertNotification(_ notification: OutgoingNotification, now: Date) throws {
        let id = state.nextID()
        var outgoing = notification
        outgoing.createdAt = now
        state.outbox[id] = MemoryState.OutboxRow(
            stored: StoredNotification(
                id: id, outgoing: outgoing, status: .pending, channel: nil, done: [], attempts: 0, dueAt: now, lastError: nil, sentAt: nil))
    }
}
