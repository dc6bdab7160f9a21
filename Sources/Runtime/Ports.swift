import Engine
import Foundation
import ProcessModel
import Values

// The ports the runtime carries the engine's effects out through. An adapter implements them
// over one kind of storage: `MemoryStore` (dictionaries under a lock) and the SQLite
// `InstanceStore` today; a store shared by several processes on several machines (PostgreSQL)
// fits the same contract, because nothing here relies on a single writer:
//
// - Every change of an instance is a compare-and-set on its `version`: `update` saves the next
//   state only if the stored version is still the one the step read, else it throws
//   `StoreError.instanceChangedMeanwhile` and the transaction changes nothing.
// - Rows that two commands may race for (an open task, a job) are removed with a delete that
//   reports whether this transaction removed them: of two commands completing one task, one
//   deletes the row and goes on, the other sees `false` and reports a conflict.
// - Jobs and notifications are claimed with a lock owner and a lock expiry in one atomic
//   operation (`claimJob`, `claimNotification`): two workers never hold the same one, and one
//   whose worker died is claimable again once its lock expires.
// - A message or signal changes the receiving instance inside the sender's transaction, through
//   the same versioned `update`: of two senders that reach one waiting instance at once, one
//   commits and the other's whole transaction fails with a conflict, to be retried.
//
// On PostgreSQL: `write` is a transaction at READ COMMITTED or stronger, `update` an `UPDATE …
// WHERE id = $1 AND version = $2` that checks its row count, the deletes likewise, and a claim an
// `UPDATE … WHERE id = (SELECT id … FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING …`.
//
// The clock is the engine's `Scheduler` (a `ManualScheduler` in tests); integrations are the
// engine's `JobHandler`s (one per integration job type) and `NotificationChannel`s.

/// A deployed definition: a process of a file, by content.
public struct StoredDefinition: Sendable {
    public var id: Int64
    public var processID: String
    public var version: Int
    public var file: String
    public var xml: [UInt8]
    /// Deployed by the call that returned it (not an earlier deployment of the same bytes).
    public var isNew: Bool

    public init(id: Int64, processID: String, version: Int, file: String, xml: [UInt8], isNew: Bool = false) {
        self.id = id
        self.processID = processID
        self.version = version
        self.file = file
        self.xml = xml
        self.isNew = isNew
    }
}

/// A timer start event of a deployed process and its next firing (the `schedule` of the store).
public struct ScheduledStart: Sendable, Equatable {
    public var definitionID: Int64
    /// The start event's element id.
    public var node: String
    /// Which firing is next, from 1.
    public var firing: Int
    /// When the timer began (the deployment): cycles count their firings from it.
    public var startedAt: Date
    public var dueAt: Date

    public init(definitionID: Int64, node: String, firing: Int, startedAt: Date, dueAt: Date) {
        self.definitionID = definitionID
        self.node = node
        self.firing = firing
        self.startedAt = startedAt
        self.dueAt = dueAt
    }
}

/// A new instance row: its first state and what it carries besides.
public struct NewInstance {
    public var instance: Instance
    public var definitionID: Int64
    public var answers: JSONValue?
    public var directory: JSONValue?
    public var simulated: Bool
    public var maxSteps: Int?
    /// The caller's key for the instance (an order number), for look-ups; nil: none.
    public var businessKey: String? = nil
}

/// A job to schedule (`Job` is one read back).
public struct NewJob: Sendable {
    public var instanceID: String
    public var token: Int
    public var kind: Job.Kind
    public var dueAt: Date
    public var attempt: Int
    public var idempotencyKey: String?
    /// An integration or retry job: what the handler fixed when the node was entered (a
    /// webhook's request snapshot).
    public var request: Data?
    /// How long a worker may hold the job before others may take it over.
    public var lease: Double
    /// A job due now that the runtime that made it runs next is created already claimed by it
    /// (its lock expires after `lease`, and then any worker takes it).
    public var lockedBy: String?

    public init(
        instanceID: String, token: Int, kind: Job.Kind, dueAt: Date, attempt: Int = 0, idempotencyKey: String? = nil,
        request: Data? = nil,
        lease: Double = 30, lockedBy: String? = nil
    ) {
        self.instanceID = instanceID
        self.token = token
        self.kind = kind
        self.dueAt = dueAt
        self.attempt = attempt
        self.idempotencyKey = idempotencyKey
        self.request = request
        self.lease = lease
        self.lockedBy = lockedBy
    }
}

/// The unit of work: what one step reads and writes, all of it committed together or none of it.
/// Only valid inside the `write`/`read` call that handed it out.
public protocol StoreTransaction {
    // MARK: Repository: definitions and instances

    /// Deploys a file's process by content: the same bytes deploy once, changed bytes deploy a
    /// new version. `process` is the loaded process (the adapter may keep it to read states with).
    func deploy(file: String, xml: [UInt8], process: ProcessDefinition, now: Date) throws -> StoredDefinition
    func definition(id: Int64) throws -> StoredDefinition?
    /// The process of a deployed definition, which reads and writes its instances' states.
    func process(of definitionID: Int64) throws -> ProcessDefinition
    /// An instance with its version; nil when there is none. A state that cannot be read throws.
    func load(_ id: String) throws -> StoredInstance?
    /// The definition of an instance, without reading its state.
    func definitionID(ofInstance id: String) throws -> Int64?
    /// Inserts a new instance at version 0. `codec`: its definition's, which writes the state.
    func insert(_ new: consuming NewInstance, codec: StateCodec, now: Date) throws
    /// Saves the next state of an instance read at `expectedVersion` and raises the version;
    /// throws `StoreError.instanceChangedMeanwhile` when the stored version is another.
    func update(_ instance: Instance, codec: StateCodec, expectedVersion: Int64, now: Date) throws
    /// `cancel --force`: marks the instance terminated without reading its state (raising its
    /// version) and removes its tasks, jobs and subscriptions. Returns the status it had, nil
    /// when there is no such instance (then nothing changes).
    func forceTerminate(_ id: String, now: Date) throws -> String?

    // MARK: Open user tasks

    func openTasks(instance: String) throws -> [OpenTask]
    /// Opens a task (replacing one of the same instance and token).
    func insertTask(_ task: OpenTask, now: Date) throws
    /// Removes an open task; false when it was not there (another command completed it).
    func deleteTask(instance: String, token: Int, nodeID: String) throws -> Bool
    /// Removes the instance's open tasks whose token is not in `tokens`.
    func closeTasks(instance: String, keeping tokens: [Int]) throws
    func deleteTasks(instance: String) throws
    /// Sets (or, with nil, clears) who an open task is claimed by; false when the task is not open.
    func assignTask(instance: String, token: Int, to user: String?) throws -> Bool

    /// Records that a person took part in an instance (completed one of its tasks), so that
    /// they may see it later.
    func addParticipant(instance: String, user: String) throws

    // MARK: Jobs

    func insertJob(_ job: NewJob, now: Date) throws
    /// Removes a job; false when it was not there (another command removed it first).
    func deleteJob(id: Int64) throws -> Bool
    func deleteJobs(instance: String) throws
    /// Unlocks a job this owner holds, so that any worker may take it at once (one this owner
    /// cannot run); nothing when another owner holds it.
    func releaseJob(id: Int64, owner: String) throws
    /// Whether the instance has a job due at `now` or earlier (locked or not): work that came
    /// before whatever this transaction would do at once.
    func hasDueJob(instance: String, now: Date) throws -> Bool
    /// Removes the instance's jobs that no longer have anything to act on: timer jobs whose
    /// timer is not in `timers` (cancelled with the activity it was on), and other jobs whose
    /// token is not in `tokens` (interrupted, or the instance ended).
    func closeJobs(instance: String, keepingTokens tokens: [Int], timers: [Int]) throws

    // MARK: Message and signal subscriptions

    /// Records what the instance waits for now, replacing what it waited for before.
    func subscribe(_ instanceID: String, to triggers: [EventTrigger]) throws
    /// The instances (other than `except`) waiting for a message or signal (`kind`: "message",
    /// "signal"), in the order they were started.
    func subscribers(kind: String, name: String, except instanceID: String) throws -> [String]

    // MARK: Notification outbox

    /// Writes a notification, pending and due now, with the step that notifies.
    func insertNotification(_ notification: OutgoingNotification, now: Date) throws

    // MARK: Timer start events

    /// The timer start events of a newly deployed version of `processID`: they replace the
    /// schedule of its earlier versions (a new version's timers take over, as in Camunda).
    func replaceSchedule(processID: String, with starts: [ScheduledStart]) throws
    /// Records that a claimed firing happened: the next one (or none: the row goes), if this
    /// owner still holds the row; false when another worker took it over meanwhile.
    func advanceSchedule(definitionID: Int64, node: String, owner: String, next: (firing: Int, dueAt: Date)?)
        throws -> Bool
}

/// A store the runtime runs instances on. Each method not taking a transaction is atomic by itself.
public protocol RuntimeStore: AnyObject, Sendable {
    associatedtype Transaction: StoreTransaction

    /// Names the store in errors (a file path, `memory`).
    var path: String { get }

    /// Runs `body` in one transaction: everything it wrote is kept if it returns, nothing if it
    /// throws. Concurrent transactions may run at once (on a shared store, on several machines):
    /// the versions and deletes above decide which of two racing ones wins.
    func write<T>(_ body: (Transaction) throws -> T) throws -> T
    /// Runs `body` on a consistent view, writing nothing.
    func read<T>(_ body: (Transaction) throws -> T) throws -> T

    /// The next due job this owner already holds the lock of, with its lock good for a whole
    /// lease from `now` (renewed if it had less left), so that no other worker can take it while
    /// it runs; nil if the lock expired meanwhile.
    func ownJob(owner: String, now: Date, instance: String?, excluding: Set<Int64>) throws -> Job?
    /// Claims the next due job that nobody holds (or whose lock expired), oldest due first:
    /// sets its lock owner and expiry (now + its lease) in one atomic operation.
    func claimJob(owner: String, now: Date, instance: String?, excluding: Set<Int64>) throws -> Job?
    /// When the next job falls due or its lock expires; nil when none is left.
    func nextJobTime(instance: String?, excluding: Set<Int64>) throws -> Date?

    /// Claims the timer start event due first (by now), as `claimJob` claims a job.
    func claimSchedule(owner: String, now: Date, lease: Double) throws -> ScheduledStart?
    /// When the next timer start event falls due (or its lock expires); nil when none is scheduled.
    func nextScheduleTime() throws -> Date?

    /// Claims the next pending notification that is due, as `claimJob` claims a job.
    func claimNotification(owner: String, now: Date, lease: Double, instance: String?) throws -> StoredNotification?
    /// Records a try of a claimed notification, if this owner still holds it, and releases it.
    func recordNotificationTry(
        _ id: Int64, owner: String, status: StoredNotification.Status, channel: String?, done: Set<String>,
        attempts: Int, dueAt: Date,
        lastError: String?, sentAt: Date?) throws
    /// When the next pending notification falls due or its lock expires; nil when none is pending.
    func nextNotificationTime(instance: String?) throws -> Date?
    /// The outbox, oldest first: of one person, or of one instance, or all.
    func storedNotifications(user: String?, instance: String?) throws -> [StoredNotification]
}

extension RuntimeStore {
    public func instance(_ id: String) throws -> StoredInstance? {
        try read { try $0.load(id) }
    }
}
