import Engine
import Foundation
import ProcessModel
import Values

/// The runtime's in-memory adapter: definitions, instances, open tasks, jobs, subscriptions and
/// the outbox in dictionaries under one lock, for runs and tests that need no file (with a
/// `ManualScheduler`, days of timers and retries pass in milliseconds).
///
/// It keeps the contract of the ports as the SQLite store does: a transaction changes the tables
/// in place and keeps an undo log, which puts everything back if its body throws (nothing of a
/// failed transaction is kept); `update` checks the version the step read; deletes report
/// whether they removed the row; claims set the lock owner and expiry under the lock.
/// Transactions run one at a time. Instances are kept as values, not encoded.
public final class MemoryStore: RuntimeStore, @unchecked Sendable {
    public let path: String
    private let lock = NSLock()
    fileprivate var state = MemoryState()
    /// The undo log of the transaction running now (kept between transactions, empty, so a
    /// transaction allocates none).
    fileprivate var undo: [MemoryState.Change] = []

    public init(name: String = "memory") {
        path = name
    }

    public func write<T>(_ body: (MemoryTransaction) throws -> T) throws -> T {
        try lock.withLock {
            let transaction = MemoryTransaction(store: self, writing: true)
            defer { undo.removeAll(keepingCapacity: undo.capacity <= 64) }
            do {
                return try body(transaction)
            } catch {
                // Every change of the transaction is undone, the last first.
                for change in undo.reversed() { state.undo(change) }
                throw error
            }
        }
    }

    public func read<T>(_ body: (MemoryTransaction) throws -> T) throws -> T {
        try lock.withLock { try body(MemoryTransaction(store: self, writing: false)) }
    }

    public func ownJob(owner: String, now: Date, instance: String? = nil, excluding: Set<Int64> = []) throws -> Job? {
        lock.withLock {
            guard
                let row = state.firstDueJob(
                    now: now, instance: instance,
                    {
                        $0.lockOwner == owner && ($0.lockExpiresAt ?? .distantPast) >= now
                            && !excluding.contains($0.job.id)
                    })
            else { return nil }
            // A job that waited behind others gets its whole lease again before it runs.
            state.jobs[row.job.id]?.lockExpiresAt = now.addingTimeInterval(row.lease)
            return row.job
        }
    }

    public func claimJob(owner: String, now: Date, instance: String? = nil, excluding: Set<Int64> = []) throws -> Job? {
        lock.withLock {
            let free = state.firstDueJob(now: now, instance: instance) {
                ($0.lockOwner == nil || ($0.lockExpiresAt ?? .distantPast) < now) && !excluding.contains($0.job.id)
            }
            guard let row = free else { return nil }
            state.jobs[row.job.id]?.lockOwner = owner
            state.jobs[row.job.id]?.lockExpiresAt = now.addingTimeInterval(row.lease)
            return row.job
        }
    }

    public func nextJobTime(instance: String? = nil, excluding: Set<Int64> = []) throws -> Date? {
        lock.withLock {
            var next: Date?
            for row in state.jobs.values
            where (instance == nil || row.job.instanceID == instance) && !excluding.contains(row.job.id) {
                let due = max(row.job.dueAt, row.lockExpiresAt ?? .distantPast)
                if next.map({ due < $0 }) ?? true { next = due }
            }
            return next
        }
    }

    /// Every job, with its kind and due time (for `procrun test`, which moves its virtual clock
    /// on to retries but not past timers).
    public func pendingJobs() -> [(kind: Job.Kind, dueAt: Date)] {
        lock.withLock { state.jobs.values.map { ($0.job.kind, $0.job.dueAt) } }
    }

    public func claimSchedule(owner: String, now: Date, lease: Double) throws -> ScheduledStart? {
        lock.withLock {
            let free = state.schedule.indices.filter {
                state.schedule[$0].start.dueAt <= now
                    && (state.schedule[$0].lockOwner == nil || (state.schedule[$0].lockExpiresAt ?? .distantPast) < now)
            }
            guard let index = free.min(by: { state.schedule[$0].start.dueAt < state.schedule[$1].start.dueAt }) else {
                return nil
            }
            state.schedule[index].lockOwner = owner
            state.schedule[index].lockExpiresAt = now.addingTimeInterval(lease)
            return state.schedule[index].start
        }
    }

    public func nextScheduleTime() throws -> Date? {
        lock.withLock { state.schedule.map { max($0.start.dueAt, $0.lockExpiresAt ?? .distantPast) }.min() }
    }

    public func claimNotification(owner: String, now: Date, lease: Double, instance: String? = nil) throws
        -> StoredNotification?
    {
        lock.withLock {
            let due = state.outbox.values.filter {
                $0.stored.status == .pending && $0.stored.dueAt <= now
                    && ($0.lockOwner == nil || ($0.lockExpiresAt ?? .distantPast) < now)
                    && (instance == nil || $0.stored.outgoing.instance == instance)
            }
            guard let row = due.min(by: { ($0.stored.dueAt, $0.stored.id) < ($1.stored.dueAt, $1.stored.id) }) else {
                return nil
            }
            state.outbox[row.stored.id]?.lockOwner = owner
            state.outbox[row.stored.id]?.lockExpiresAt = now.addingTimeInterval(lease)
            return row.stored
        }
    }

    public func recordNotificationTry(
        _ id: Int64, owner: String, status: StoredNotification.Status, channel: String?, done: Set<String>,
        attempts: Int, dueAt: Date,
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
            state.outbox.values.filter {
                $0.stored.status == .pending && (instance == nil || $0.stored.outgoing.instance == instance)
            }
            .map { max($0.stored.dueAt, $0.lockExpiresAt ?? .distantPast) }.min()
        }
    }

    public func storedNotifications(user: String? = nil, instance: String? = nil) throws -> [StoredNotification] {
        lock.withLock {
            state.outbox.values.map(\.stored)
                .filter {
                    (user == nil || $0.outgoing.user == user) && (instance == nil || $0.outgoing.instance == instance)
                }
                .sorted { $0.id < $1.id }
        }
    }
}

/// What a `MemoryStore` holds.
struct MemoryState {
    struct DefinitionRow {
        var stored: StoredDefinition
        /// The process the definition's instances run (the SQLite store reads it from the XML).
        var process: ProcessDefinition
    }

    struct InstanceRow {
        var stored: StoredInstance
        /// The status column: the instance's, or `terminated` after `forceTerminate`.
        var status: String
        /// The order instances were started in.
        var sequence: Int
        var businessKey: String? = nil
        /// Who completed its tasks.
        var participants: Set<String> = []
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

    struct ScheduleRow {
        var start: ScheduledStart
        var processID: String
        var lockOwner: String?
        var lockExpiresAt: Date?
    }

    /// Few: a run deploys a file's processes, a test a handful.
    var definitions: [Int64: DefinitionRow] = [:]
    var instances: [String: InstanceRow] = [:]
    var tasks: [String: [TaskRow]] = [:]
    var jobs: [Int64: JobRow] = [:]
    /// By instance: the (kind, name) pairs it waits for.
    var subscriptions: [String: [(kind: String, name: String)]] = [:]
    var outbox: [Int64: OutboxRow] = [:]
    /// Timer start events of deployed processes.
    var schedule: [ScheduleRow] = []
    var lastID: Int64 = 0

    mutating func nextID() -> Int64 {
        lastID += 1
        return lastID
    }

    /// A row as it was before a transaction changed it (nil: there was none), to put back if
    /// the transaction fails.
    enum Change {
        case definition(Int64, DefinitionRow?)
        case instance(String, InstanceRow?)
        case tasks(String, [TaskRow]?)
        case job(Int64, JobRow?)
        case subscriptions(String, [(kind: String, name: String)]?)
        case outbox(Int64, OutboxRow?)
        case lastID(Int64)
        case schedule([ScheduleRow])
    }

    mutating func undo(_ change: Change) {
        switch change {
        case .definition(let key, let row): definitions[key] = row
        case .instance(let key, let row): instances[key] = row
        case .tasks(let key, let row): tasks[key] = row
        case .job(let key, let row): jobs[key] = row
        case .subscriptions(let key, let row): subscriptions[key] = row
        case .outbox(let key, let row): outbox[key] = row
        case .lastID(let id): lastID = id
        case .schedule(let rows): schedule = rows
        }
    }

    /// The due job (of one instance, or of all) that passes `filter` and fell due first.
    func firstDueJob(now: Date, instance: String?, _ filter: (JobRow) -> Bool) -> JobRow? {
        var first: JobRow?
        for row in jobs.values
        where row.job.dueAt <= now && (instance == nil || row.job.instanceID == instance) && filter(row) {
            if let best = first, (best.job.dueAt, best.job.id) <= (row.job.dueAt, row.job.id) { continue }
            first = row
        }
        return first
    }
}

/// A transaction of a `MemoryStore`, valid while the store's lock is held: it changes the
/// store's tables in place and remembers how to undo each change.
public final class MemoryTransaction: StoreTransaction {
    private let store: MemoryStore
    private let writing: Bool

    fileprivate init(store: MemoryStore, writing: Bool) {
        self.store = store
        self.writing = writing
    }

    private func checkWriting() throws {
        guard writing else {
            throw StoreError.unavailable(
                store: store.path, reason: .readOnly(detail: "a read transaction cannot write"))
        }
    }

    // Each setter changes one row of a table (nil: removes it) and logs the row it replaces.

    private func setDefinition(_ id: Int64, _ row: MemoryState.DefinitionRow) throws {
        try checkWriting()
        store.undo.append(.definition(id, store.state.definitions.updateValue(row, forKey: id)))
    }

    private func setInstance(_ id: String, _ row: MemoryState.InstanceRow) throws {
        try checkWriting()
        store.undo.append(.instance(id, store.state.instances.updateValue(row, forKey: id)))
    }

    private func setTasks(_ instance: String, _ rows: [MemoryState.TaskRow]?) throws {
        try checkWriting()
        let old =
            if let rows { store.state.tasks.updateValue(rows, forKey: instance) } else {
                store.state.tasks.removeValue(forKey: instance)
            }
        store.undo.append(.tasks(instance, old))
    }

    private func setJob(_ id: Int64, _ row: MemoryState.JobRow?) throws {
        try checkWriting()
        let old =
            if let row { store.state.jobs.updateValue(row, forKey: id) } else {
                store.state.jobs.removeValue(forKey: id)
            }
        store.undo.append(.job(id, old))
    }

    private func setSubscriptions(_ instance: String, _ list: [(kind: String, name: String)]?) throws {
        try checkWriting()
        let old =
            if let list { store.state.subscriptions.updateValue(list, forKey: instance) } else {
                store.state.subscriptions.removeValue(forKey: instance)
            }
        store.undo.append(.subscriptions(instance, old))
    }

    private func setOutbox(_ id: Int64, _ row: MemoryState.OutboxRow) throws {
        try checkWriting()
        store.undo.append(.outbox(id, store.state.outbox.updateValue(row, forKey: id)))
    }

    private func newID() throws -> Int64 {
        try checkWriting()
        store.undo.append(.lastID(store.state.lastID))
        return store.state.nextID()
    }

    public func deploy(file: String, xml: [UInt8], process: ProcessDefinition, now: Date) throws -> StoredDefinition {
        // The same process from the same bytes is the same definition; else its next version.
        var version = 1
        for row in store.state.definitions.values where row.stored.processID == process.id {
            if row.stored.xml == xml {
                var known = row.stored
                known.file = file
                known.isNew = false
                return known
            }
            version = max(version, row.stored.version + 1)
        }
        var definition = StoredDefinition(
            id: try newID(), processID: process.id, version: version, file: file, xml: xml)
        try setDefinition(definition.id, MemoryState.DefinitionRow(stored: definition, process: process))
        definition.isNew = true
        return definition
    }

    public func definition(id: Int64) throws -> StoredDefinition? {
        store.state.definitions[id]?.stored
    }

    public func replaceSchedule(processID: String, with starts: [ScheduledStart]) throws {
        try checkWriting()
        store.undo.append(.schedule(store.state.schedule))
        store.state.schedule.removeAll { $0.processID == processID }
        store.state.schedule += starts.map { MemoryState.ScheduleRow(start: $0, processID: processID) }
    }

    public func advanceSchedule(definitionID: Int64, node: String, owner: String, next: (firing: Int, dueAt: Date)?)
        throws -> Bool
    {
        try checkWriting()
        guard
            let index = store.state.schedule.firstIndex(where: {
                $0.start.definitionID == definitionID && $0.start.node == node && $0.lockOwner == owner
            })
        else { return false }
        store.undo.append(.schedule(store.state.schedule))
        if let next {
            store.state.schedule[index].start.firing = next.firing
            store.state.schedule[index].start.dueAt = next.dueAt
            store.state.schedule[index].lockOwner = nil
            store.state.schedule[index].lockExpiresAt = nil
        } else {
            store.state.schedule.remove(at: index)
        }
        return true
    }

    public func process(of definitionID: Int64) throws -> ProcessDefinition {
        guard let process = store.state.definitions[definitionID]?.process else {
            throw StoreError.definitionMissing(definition: definitionID)
        }
        return process
    }

    public func load(_ id: String) throws -> StoredInstance? {
        // Read in place: `instances[id]?.stored` would copy the whole row first.
        guard let index = store.state.instances.index(forKey: id) else { return nil }
        return store.state.instances.values[index].stored
    }

    public func definitionID(ofInstance id: String) throws -> Int64? {
        store.state.instances[id]?.stored.definitionID
    }

    public func insert(_ new: consuming NewInstance, codec: StateCodec, now: Date) throws {
        let id = new.instance.id
        guard store.state.instances[id] == nil else { throw StoreError.instanceChangedMeanwhile(instance: id) }
        try checkWriting()
        // Moved in, not copied: an instance row is wide, and each copy of one retains every field.
        let status = new.instance.status.rawValue
        let stored = StoredInstance(
            instance: new.instance, definitionID: new.definitionID, answers: new.answers, directory: new.directory,
            simulated: new.simulated,
            version: 0, maxSteps: new.maxSteps)
        store.state.instances[id] = MemoryState.InstanceRow(
            stored: consume stored, status: status, sequence: store.state.instances.count,
            businessKey: new.businessKey)
        store.undo.append(.instance(id, nil))
    }

    public func update(_ instance: Instance, codec: StateCodec, expectedVersion: Int64, now: Date) throws {
        guard var row = store.state.instances[instance.id], row.stored.version == expectedVersion else {
            throw StoreError.instanceChangedMeanwhile(instance: instance.id)
        }
        row.stored.instance = instance
        row.stored.version += 1
        row.status = instance.status.rawValue
        try setInstance(instance.id, row)
    }

    public func forceTerminate(_ id: String, now: Date) throws -> String? {
        guard var row = store.state.instances[id] else { return nil }
        let status = row.status
        guard status != InstanceStatus.completed.rawValue && status != InstanceStatus.terminated.rawValue else {
            return status
        }
        row.status = InstanceStatus.terminated.rawValue
        row.stored.version += 1
        try setInstance(id, row)
        try deleteTasks(instance: id)
        try deleteJobs(instance: id)
        try setSubscriptions(id, nil)
        return status
    }

    public func openTasks(instance: String) throws -> [OpenTask] {
        (store.state.tasks[instance] ?? []).sorted { ($0.createdAt, $0.task.token) < ($1.createdAt, $1.task.token) }
            .map(\.task)
    }

    public func insertTask(_ task: OpenTask, now: Date) throws {
        var rows = store.state.tasks[task.instanceID] ?? []
        rows.removeAll { $0.task.token == task.token }
        rows.append(MemoryState.TaskRow(task: task, createdAt: now))
        try setTasks(task.instanceID, rows)
    }

    public func deleteTask(instance: String, token: Int, nodeID: String) throws -> Bool {
        guard var rows = store.state.tasks[instance],
            let index = rows.firstIndex(where: { $0.task.token == token && $0.task.nodeID == nodeID })
        else {
            return false
        }
        rows.remove(at: index)
        try setTasks(instance, rows)
        return true
    }

    public func closeTasks(instance: String, keeping tokens: [Int]) throws {
        guard let rows = store.state.tasks[instance] else { return }
        let kept = rows.filter { tokens.contains($0.task.token) }
        if kept.count != rows.count { try setTasks(instance, kept) }
    }

    public func deleteTasks(instance: String) throws {
        if store.state.tasks[instance] != nil { try setTasks(instance, nil) }
    }

    public func assignTask(instance: String, token: Int, to user: String?) throws -> Bool {
        guard var rows = store.state.tasks[instance], let index = rows.firstIndex(where: { $0.task.token == token })
        else { return false }
        rows[index].task.assignee = user
        try setTasks(instance, rows)
        return true
    }

    public func addParticipant(instance: String, user: String) throws {
        guard var row = store.state.instances[instance], !row.participants.contains(user) else { return }
        row.participants.insert(user)
        try setInstance(instance, row)
    }

    public func insertJob(_ job: NewJob, now: Date) throws {
        let id = try newID()
        try setJob(
            id,
            MemoryState.JobRow(
                job: Job(
                    id: id, instanceID: job.instanceID, token: job.token, kind: job.kind, dueAt: job.dueAt,
                    attempt: job.attempt,
                    idempotencyKey: job.idempotencyKey, request: job.request),
                lease: job.lease, lockOwner: job.lockedBy,
                lockExpiresAt: job.lockedBy == nil ? nil : now.addingTimeInterval(job.lease)))
    }

    public func deleteJob(id: Int64) throws -> Bool {
        guard store.state.jobs[id] != nil else { return false }
        try setJob(id, nil)
        return true
    }

    public func releaseJob(id: Int64, owner: String) throws {
        guard var row = store.state.jobs[id], row.lockOwner == owner else { return }
        row.lockOwner = nil
        row.lockExpiresAt = nil
        try setJob(id, row)
    }

    public func hasDueJob(instance: String, now: Date) throws -> Bool {
        store.state.jobs.values.contains { $0.job.instanceID == instance && $0.job.dueAt <= now }
    }

    public func deleteJobs(instance: String) throws {
        let ids = store.state.jobs.compactMap { $0.value.job.instanceID == instance ? $0.key : nil }
        for id in ids { try setJob(id, nil) }
    }

    public func closeJobs(instance: String, keepingTokens tokens: [Int], timers: [Int]) throws {
        let ids = store.state.jobs.compactMap { id, row in
            row.job.instanceID == instance && !(row.job.kind == .timer ? timers : tokens).contains(row.job.token)
                ? id : nil
        }
        for id in ids { try setJob(id, nil) }
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
        if list.isEmpty && store.state.subscriptions[instanceID] == nil { return }
        try setSubscriptions(instanceID, list.isEmpty ? nil : list)
    }

    public func subscribers(kind: String, name: String, except instanceID: String) throws -> [String] {
        store.state.subscriptions.filter {
            $0.key != instanceID && $0.value.contains { $0.kind == kind && $0.name == name }
        }.keys
            .sorted { (store.state.instances[$0]?.sequence ?? .max) < (store.state.instances[$1]?.sequence ?? .max) }
    }

    public func insertNotification(_ notification: OutgoingNotification, now: Date) throws {
        let id = try newID()
        var outgoing = notification
        outgoing.createdAt = now
        try setOutbox(
            id,
            MemoryState.OutboxRow(
                stored: StoredNotification(
                    id: id, outgoing: outgoing, status: .pending, channel: nil, done: [], attempts: 0, dueAt: now,
                    lastError: nil, sentAt: nil)))
    }
}
