import BPMNLoader
import Engine
import Foundation
import ProcessModel
import Synchronization
import Values

/// "host:pid:random" of this process, in the lock owners of its runtimes (looked up once: the
/// host name may cost a resolver call, a UUID a read of the random device).
private let processOwner = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8))"
/// Numbers the runtimes of this process.
private let runtimeCount = Atomic<Int>(0)

/// The runtime: drives instances through the ports of a store (`RuntimeStore`). Each step loads
/// the instance, applies one event through the pure engine (and the simulated answers to the
/// tasks it opens, see `answerAtOnce`), and commits the new state together with the work it asks
/// for (open tasks, jobs, subscriptions, notifications) in one transaction. The tries of
/// integration nodes' jobs (webhooks, e-mails, …) happen between transactions, by the handler
/// registered for their type: so they are done at least once, always under the same
/// idempotency key, and completed steps never run again.
///
/// One runtime, several adapters: `MemoryStore` keeps everything in memory, the SQLite
/// `InstanceStore` in a file (`DurableRunner` is this runtime on it).
public final class ProcessRuntime<Store: RuntimeStore> {
    public typealias Transaction = Store.Transaction
    public let store: Store
    /// The handlers of integration jobs, by type.
    public private(set) var handlers: [String: any JobHandler]
    let scheduler: any Scheduler
    /// Identifies this worker in job locks.
    public let owner: String
    private var engines: [Int64: Engine] = [:]
    /// For each definition: the other runnable processes of its file, which messages and signals may start.
    private var partnerEngines: [Int64: [Engine]] = [:]
    /// The step budget per event of the instances this runner starts (`--max-steps`); stored
    /// with each, so every later event of the instance has it. nil: `Engine.defaultMaxSteps`.
    public var maxSteps: Int?
    /// The step budget an instance's simulated answers carry on (see `StepBudget`) when they
    /// wait for answer jobs (see `answerAtOnce`): such a job completes a task without time
    /// passing, so a cycle through a task answered so must stop like a cycle that never waits.
    /// Kept only while the last event opened a task; a timer, a retry or a command starts a
    /// fresh budget.
    private var carried: [String: StepBudget] = [:]
    /// Where notifications go (`--notify-url`, `--smtp-url`); with none, they stay in the
    /// outbox, pending, for a worker that has one.
    public var channels: [any NotificationChannel] = []
    /// Tries per notification, and the delay before the second; each later delay doubles.
    public var notificationTries = 5
    public var notificationRetryDelay: Double = 1
    /// For `DateTime()` in notification templates.
    public lazy var timeZone: TimeZone = .current
    /// Jobs this runner could not run because their instance cannot be read, with the error; it
    /// goes on with the others (`worker` reports them and exits 6 at the end).
    public private(set) var skippedJobs: [Int64: (instance: String, error: StoreError)] = [:]
    /// Called for each job skipped so.
    public var onSkippedJob: ((Job, StoreError) -> Void)?
    /// Integration jobs this runtime leaves for another worker, as the handler of their type
    /// cannot work here (`JobHandler.unavailableReason`: an e-mail without an SMTP server), with
    /// the reason. They stay pending in the store, unlocked: another worker may take them at once.
    public private(set) var leftJobs: [Int64: (instance: String, reason: String)] = [:]
    /// At most this many jobs per `runDueJobs` (nil: until none is due): `procrun test` bounds a
    /// process that loops through timers or mocked jobs without time passing.
    public var maxJobsPerPass: Int?
    /// Jobs run so far by this runtime.
    public private(set) var jobsRun = 0
    /// Called for each job left so (once per job).
    public var onLeftJob: ((Job, String) -> Void)?
    private var announcedLeftJobs: Set<String> = []
    /// The jobs this runtime does not run: skipped and left.
    var excludedJobs: Set<Int64> {
        // Usually none: no set to build.
        if skippedJobs.isEmpty && leftJobs.isEmpty { return [] }
        return Set(skippedJobs.keys).union(leftJobs.keys)
    }
    /// Builds the engine of a deployed process with a step budget: `Engine(process:maxSteps:)`,
    /// unless the caller runs scripts another way (the conformance harness).
    public var makeEngine: (ProcessDefinition, Int) throws -> Engine = { try Engine(process: $0, maxSteps: $1) }
    /// How a definition's file is read again when a message or signal starts another of its processes.
    public var loadOptions = LoadOptions()
    /// Called after each transaction this runtime commits: a live trace reads what changed.
    public var onCommit: (() -> Void)?
    /// Called when a channel could not deliver a notification, with the reason (`run` warns;
    /// a worker tries again later).
    public var onNotificationFailure: ((OutgoingNotification, _ channel: String, _ reason: String) -> Void)?
    /// Whether to list in `started` the instances this runtime starts (`run`, the tests): a
    /// worker or server that runs for long keeps no such list.
    public var recordsStarted = false
    /// The directory kept with instances this runtime starts without one (timer start events;
    /// a server's `--directory`), so that their tasks' lanes and groups resolve to people.
    public var defaultDirectory: JSONValue?
    /// Called after each try of an integration job, with how it ended (a server's logs and metrics).
    public var onJobTried: (@Sendable (JobTryReport) -> Void)?
    /// Whether this runtime runs the jobs its steps make due now (a command, a worker): it then
    /// holds them from the start. A server's request runtime does not (its workers do): the
    /// jobs it makes are free for any worker at once.
    public var runsOwnJobs = true
    /// With `recordsStarted`: the instances this runtime started, by `start` and by the messages
    /// and signals of their steps, in the order started.
    public private(set) var started: [String] = []
    /// With `recordsStarted`: at most this many instances in `started`; past it, messages and
    /// signals start no more (processes that start each other by signals could otherwise start
    /// instances forever).
    public var instanceLimit: Int?
    /// The simulated people of the instances this runtime steps (their answers and directory,
    /// read once per instance, not once per step).
    private var people: [String: SimulatedPeople] = [:]

    /// A runtime whose integration jobs go to `handlers` (one per type; a later one of a type
    /// replaces an earlier). A job of a type no handler serves fails, with a message naming it.
    public init(store: Store, handlers: [any JobHandler], scheduler: any Scheduler = SystemScheduler()) {
        self.store = store
        self.handlers = Dictionary(handlers.map { ($0.type, $0) }, uniquingKeysWith: { $1 })
        self.scheduler = scheduler
        self.owner = "\(processOwner):\(runtimeCount.add(1, ordering: .relaxed).newValue)"
    }

    /// The deployed process of a stored definition (loaded once per runner).
    public func process(of definitionID: Int64) throws -> ProcessDefinition {
        try engine(for: definitionID).process
    }

    func engine(for definitionID: Int64, in db: Transaction? = nil) throws -> Engine {
        if let engine = engines[definitionID] { return engine }
        // The process the store reads the definition's states with (loaded once).
        let process = try db.map { try $0.process(of: definitionID) } ?? store.read { try $0.process(of: definitionID) }
        let engine = try makeEngine(process, maxSteps ?? Engine.defaultMaxSteps)
        engines[definitionID] = engine
        return engine
    }

    /// Registers the handler of a job type, in place of the one registered for it before.
    public func register(_ handler: any JobHandler) {
        handlers[handler.type] = handler
    }

    /// A runtime whose only integration jobs are webhooks, tried by `performer`.
    public convenience init(store: Store, performer: any WebhookPerformer, scheduler: any Scheduler = SystemScheduler())
    {
        self.init(store: store, handlers: [WebhookJobHandler(performer)], scheduler: scheduler)
    }

    // MARK: Commands

    /// Deploys the process, creates an instance and commits its first step.
    /// With `simulatePeople`, every task completes by itself as in `procrun run`; otherwise only
    /// the tasks named in `answers` do.
    /// `engine`: the process prepared to run, when the caller has it and this runtime has none
    /// for the definition yet (else `makeEngine` builds it); `partners`: the file's other processes that messages and signals may start, when the
    /// caller has them (else they are read from the file when first needed); `id`: the
    /// instance's id (default: a new UUID).
    public func start(
        file: String, xml: [UInt8], process: ProcessDefinition, context: JSONObject, answers: JSONValue?,
        directory: JSONValue?,
        initiator: String, simulatePeople: Bool = false, id: String? = nil, engine prepared: Engine? = nil,
        partners: [Engine]? = nil, businessKey: String? = nil
    ) throws -> String {
        let now = scheduler.now
        let id = id ?? UUID().uuidString.lowercased()
        let (budget, effects) = try transact { db in
            let definition = try deploy(file: file, xml: xml, process: process, now: now, in: db)
            let cached: Engine
            if let known = engines[definition.id] {
                cached = known
            } else {
                cached = try prepared ?? makeEngine(process, Engine.defaultMaxSteps)
                engines[definition.id] = cached
            }
            if let partners, partnerEngines[definition.id] == nil { partnerEngines[definition.id] = partners }
            if recordsStarted { started.append(id) }
            let engine = Self.engine(cached, maxSteps: maxSteps)
            var budget = StepBudget(limit: engine.maxSteps)
            var (instance, effects) = engine.start(
                id: id, context: context, initiator: initiator, now: now, budget: &budget)
            effects = try commit(
                &instance, effects: effects, engine: engine, answers: answers, directory: directory,
                simulated: simulatePeople,
                maxSteps: maxSteps, now: now, budget: &budget, insert: definition.id, businessKey: businessKey,
                in: db)
            return (budget, effects)
        }
        carry(budget, of: id, after: effects)
        return id
    }

    /// Applies an event to a stored instance in one transaction. `decide` sees the instance as
    /// this transaction read it (its version is checked when the step is saved) and returns the
    /// event to apply, or throws to change nothing (a conflict: the task is no longer open, the
    /// job is gone).
    /// `carryBudget`: the event is a simulated answer, which goes on with the step budget of
    /// the event before it; any other event starts a fresh budget.
    /// `requests`: what the handlers fixed (`Job.request`) for the integration jobs the event
    /// goes on with, by token: a retry it schedules, or the try it asks for, carries it on.
    @discardableResult
    public func apply(
        to typedID: String, carryBudget: Bool = false, requests: [Int: Data] = [:],
        _ decide: (StoredInstance, Engine, Transaction) throws -> EngineEvent
    ) throws -> Instance {
        try step(to: typedID, carryBudget: carryBudget, requests: requests, decide)
    }

    /// `apply`, where `decide` may also find that there is nothing to apply (nil): then only
    /// what it wrote itself is committed (a job it deleted).
    @discardableResult
    func step(
        to typedID: String, carryBudget: Bool = false, requests: [Int: Data] = [:],
        _ decide: (StoredInstance, Engine, Transaction) throws -> EngineEvent?
    ) throws -> Instance {
        let now = scheduler.now
        let (instance, budget, effects) = try transact { db -> (Instance, StepBudget?, [Effect]) in
            guard let stored = try db.load(typedID) else {
                throw StoreError.noSuchInstance(id: typedID, store: store.path)
            }
            let engine = Self.engine(try engine(for: stored.definitionID, in: db), maxSteps: stored.maxSteps)
            var instance = stored.instance
            guard let event = try decide(stored, engine, db) else { return (instance, nil, []) }
            var budget = (carryBudget ? carried[instance.id] : nil) ?? StepBudget(limit: engine.maxSteps)
            let handled = engine.handle(event, in: &instance, now: now, budget: &budget)
            let effects = try commit(
                &instance, effects: handled, engine: engine, answers: stored.answers, directory: stored.directory,
                simulated: stored.simulated,
                expectedVersion: stored.version, previous: stored.instance, now: now, budget: &budget,
                requests: requests, in: db)
            // A message or signal it sent may have come back to it in this transaction (another
            // instance answered at once): return the instance as stored, not as this step left it.
            if effects.contains(where: {
                if case .throwSignal = $0 { true } else if case .sendMessage = $0 { true } else { false }
            }),
                let stored = try db.load(instance.id)
            {
                instance = stored.instance
            }
            return (instance, budget, effects)
        }
        if let budget { carry(budget, of: instance.id, after: effects) }
        return instance
    }

    /// A store transaction that also undoes what it taught the runner's caches when it fails: a
    /// definition it deployed is rolled back, and its id may be given to the next one deployed.
    private func transact<T>(_ body: (Transaction) throws -> T) throws -> T {
        let (knownEngines, knownPartners, knownStarted) = (engines, partnerEngines, started.count)
        let result: T
        do {
            result = try store.write(body)
        } catch {
            (engines, partnerEngines) = (knownEngines, knownPartners)
            // An instance it inserted is gone, and its id may come again with other answers.
            people.removeAll()
            started.removeSubrange(knownStarted...)
            throw error
        }
        onCommit?()
        return result
    }

    /// `engine` with the step budget an instance was started with.
    static func engine(_ engine: Engine, maxSteps: Int?) -> Engine {
        guard let maxSteps, maxSteps != engine.maxSteps else { return engine }
        var copy = engine
        copy.maxSteps = maxSteps
        return copy
    }

    /// Keeps an instance's budget for the simulated answers its event asked for (only those
    /// carry it on), or forgets it.
    private func carry(_ budget: StepBudget, of id: String, after effects: [Effect]) {
        let opensTask = effects.contains { if case .openTask = $0 { true } else { false } }
        carried[id] = opensTask ? budget : nil
    }

    /// Applies an event to a stored instance in one transaction.
    @discardableResult
    public func apply(_ event: EngineEvent, to id: String) throws -> Instance {
        try apply(to: id) { _, _, _ in event }
    }

    /// Where a message from outside went.
    public enum MessageOutcome: Sendable, Equatable {
        /// To this stored instance, which waited for it.
        case correlated(String)
        /// It started this instance.
        case started(String)
    }

    /// A message from outside (`procrun message`), in one transaction: to the oldest stored
    /// instance (by start) that waits for it, else it starts an instance of the first of `definitions`
    /// whose process has a message start event for it; its variables go along. With a
    /// `correlationKey`, only an instance whose key for the message is that one gets it: the
    /// key its message's `zeebe:subscription correlationKey` computes from its variables, else
    /// its id. `directory`: kept with an instance it starts. nil: nobody waits for it and nothing
    /// starts with it.
    public func correlate(
        message name: String, correlationKey: String?, variables: JSONObject, initiator: String,
        directory: JSONValue? = nil, definitions: [Int64]
    ) throws -> MessageOutcome? {
        let now = scheduler.now
        return try transact { db -> MessageOutcome? in
            for id in try db.subscribers(kind: "message", name: name, except: "") {
                guard let stored = try db.load(id) else { continue }
                if let correlationKey {
                    let process = try engine(for: stored.definitionID, in: db).process
                    guard Self.key(of: name, in: process, instance: stored.instance) == correlationKey else { continue }
                }
                try deliver(.message(name: name, variables: variables), to: id, now: now, in: db, depth: 0)
                return .correlated(id)
            }
            for definitionID in definitions {
                // A definition that no longer loads starts nothing, and keeps no other from starting.
                guard let prepared = try? engine(for: definitionID, in: db) else { continue }
                let engine = Self.engine(prepared, maxSteps: maxSteps)
                guard let start = engine.startEvent(for: .message(name)) else { continue }
                let id = UUID().uuidString.lowercased()
                var budget = StepBudget(limit: engine.maxSteps)
                var (instance, effects) = engine.start(
                    id: id, context: variables, initiator: initiator, now: now, at: start, budget: &budget)
                try commit(
                    &instance, effects: effects, engine: engine, answers: nil, directory: directory, simulated: false,
                    maxSteps: maxSteps, now: now, budget: &budget, insert: definitionID, in: db)
                return .started(id)
            }
            return nil
        }
    }

    /// An instance's correlation key for a message: what its subscription's expression gives,
    /// as text, else the instance's id.
    static func key(of message: String, in process: ProcessDefinition, instance: Instance) -> String? {
        guard let expression = process.correlationKeys[message] else { return instance.id }
        guard let value = try? expression.evaluate(in: instance.context) else { return nil }
        switch value {
        case .string(let text): return text
        case .number(let number): return JSONWriter.number(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return nil
        default: return JSONWriter.string(value)
        }
    }

    /// A person completes an open task: by task id (node id) or name.
    ///
    /// The task is looked up in the transaction that completes it, so of two commands completing
    /// the same task at once exactly one succeeds; the other gets a conflict ("already
    /// completed") and changes nothing.
    ///
    /// `authorize` decides, in that transaction, whether `user` may complete the task found (it
    /// throws to refuse); the person is then recorded as having taken part in the instance.
    /// Of several open tasks of the node (a multi-instance user task), the first that `prefer`
    /// accepts (one the person may perform) is completed, else the first.
    public func complete(
        instance id: String, task: String, by user: String, variables: JSONObject,
        authorize: ((OpenTask) throws -> Void)? = nil, prefer: ((OpenTask) -> Bool)? = nil
    ) throws -> Instance {
        try apply(to: id) { stored, engine, db in
            let found = try openTask(task, of: stored, engine: engine, in: db, prefer: prefer)
            try authorize?(found)
            let instance = stored.instance
            guard try db.deleteTask(instance: id, token: found.token, nodeID: found.nodeID),
                instance.token(found.token)?.state == .waitingTask
            else {
                throw StoreError.taskCompletedMeanwhile(task: task, instance: id)
            }
            if authorize != nil { try db.addParticipant(instance: id, user: user) }
            return .taskCompleted(token: found.token, by: user, variables: variables)
        }
    }

    /// Claims an open task for `user` (nil: gives it back), in one transaction with the check
    /// `authorize` makes; a task someone else claimed meanwhile is a conflict.
    public func claim(
        instance id: String, task: String, for user: String?, authorize: ((OpenTask) throws -> Void)? = nil,
        prefer: ((OpenTask) -> Bool)? = nil
    ) throws -> OpenTask {
        try transact { db in
            guard let stored = try db.load(id) else { throw StoreError.noSuchInstance(id: id, store: store.path) }
            // The engine read in this transaction: a second read of the store inside its write
            // would not be allowed (GRDB is not reentrant).
            let found = try openTask(
                task, of: stored, engine: engine(for: stored.definitionID, in: db), in: db, prefer: prefer)
            try authorize?(found)
            if let user, let other = found.assignee, other != user {
                throw StoreError.taskClaimed(task: found.nodeID, instance: id, by: other)
            }
            guard try db.assignTask(instance: id, token: found.token, to: user) else {
                throw StoreError.taskCompletedMeanwhile(task: task, instance: id)
            }
            var claimed = found
            claimed.assignee = user
            return claimed
        }
    }

    /// The open task of an instance by node id or name, or the conflict that explains why there
    /// is none: no such task, completed already (by whom, when), or not open now.
    func openTask(
        _ task: String, of stored: StoredInstance, engine: Engine, in db: Transaction,
        prefer: ((OpenTask) -> Bool)? = nil
    ) throws -> OpenTask {
        let id = stored.instance.id
        let instance = stored.instance
        let open = try db.openTasks(instance: id)
        let matches = open.filter { $0.nodeID == task || $0.name == task }
        if let found = prefer.flatMap({ matches.first(where: $0) }) ?? matches.first { return found }
        let nodes = engine.process.nodes.indices.filter {
            engine.process.nodes[$0].id == task || engine.process.nodes[$0].name == task
        }
        guard !nodes.isEmpty else { throw StoreError.noSuchTask(task: task, instance: id) }
        if let done = instance.history.last(where: { $0.event == .left && nodes.contains($0.node) }) {
            throw StoreError.taskAlreadyCompleted(task: task, instance: id, by: done.performer, at: done.time)
        }
        throw StoreError.taskNotOpen(
            task: task, instance: id, status: instance.status, open: open.map { $0.name ?? $0.nodeID })
    }

    /// Cancels, retries or skips, as ELMA365's incident handling does. The instance's status is
    /// checked in the transaction that changes it: of two such commands at once, one wins and
    /// the other gets a conflict.
    /// `authorize` sees the instance as the transaction read it and throws to refuse.
    public func operate(
        _ event: EngineEvent, on id: String, authorize: ((StoredInstance) throws -> Void)? = nil
    ) throws -> Instance {
        try apply(to: id) { stored, _, db in
            try authorize?(stored)
            let instance = stored.instance
            switch event {
            case .cancel:
                guard instance.status != .completed && instance.status != .terminated else {
                    throw StoreError.instanceEnded(instance: id, status: instance.status.rawValue)
                }
                try db.deleteTasks(instance: id)
                try db.deleteJobs(instance: id)
            case .retryIncident, .skipIncident:
                guard instance.status == .incident, let incident = instance.incident else {
                    throw StoreError.notInIncident(instance: id, status: instance.status)
                }
                if case .skipIncident = event, let budget = incident.stepBudget {
                    throw StoreError.nothingToSkip(instance: id, budget: budget, node: incident.node)
                }
            default:
                break
            }
            return event
        }
    }

    /// `cancel --force`: terminates an instance whose state cannot be read (or any other), without
    /// decoding it: its open tasks, jobs and subscriptions go, its status becomes `terminated`.
    public func forceTerminate(_ id: String) throws {
        let now = scheduler.now
        try store.write { db in
            guard let status = try db.forceTerminate(id, now: now) else {
                throw StoreError.noSuchInstance(id: id, store: store.path)
            }
            guard status != InstanceStatus.completed.rawValue && status != InstanceStatus.terminated.rawValue else {
                throw StoreError.instanceEnded(instance: id, status: status)
            }
        }
    }

    // MARK: Jobs

    /// Runs one instance's jobs, waiting for its timers and retries, until it has none left.
    public func drain(instance id: String) async throws {
        while true {
            let ran = try await runDueJobs(instance: id)
            guard let next = try nextWorkTime(instance: id) else { return }
            await wait(until: next, ranNothing: ran == 0)
        }
    }

    /// `procrun run`: runs the jobs of every instance this runtime started (the first, and those
    /// its messages and signals started meanwhile), waiting for their timers and retries, until
    /// none is left or the next falls due after `horizon` (timed events past it stay pending: a
    /// cycle of timers without end would otherwise run forever).
    /// `everything`: the store holds only this run's instances (in memory), so every due job is
    /// this run's and runs in the order it fell due, whichever instance it belongs to.
    public func drainStarted(horizon: Date? = nil, everything: Bool = false) async throws {
        while true {
            // Whether the last pass ran nothing (the loop below always ends with such a pass).
            var ranNothing = true
            if everything {
                ranNothing = try await runDueJobs() == 0
            } else {
                // Until a pass finds nothing: an instance's job may make work for one before it.
                var ran = 1
                while ran > 0 {
                    ran = 0
                    for id in started { ran += try await runDueJobs(instance: id) }
                }
            }
            let next = try everything ? nextWorkTime() : started.compactMap { try nextWorkTime(instance: $0) }.min()
            guard let next else { return }
            if let horizon, next > horizon { return }
            await wait(until: next, ranNothing: ranNothing)
        }
    }

    /// Sleeps until `next`. A job whose lock expires exactly now is not free yet (another
    /// owner holds it until its expiry has passed): after a pass that ran nothing, a moment
    /// passes, so that the next pass does not spin.
    private func wait(until next: Date, ranNothing: Bool) async {
        let wait = next.timeIntervalSince(scheduler.now)
        if wait > 0 {
            await scheduler.sleep(seconds: wait)
        } else if ranNothing {
            await scheduler.sleep(seconds: 0.001)
        }
    }

    /// Runs every job that is due now (of one instance, or of all); returns how many ran.
    @discardableResult
    public func runDueJobs(instance: String? = nil) async throws -> Int {
        var count = 0
        defer { jobsRun += count }
        // Left jobs (of the instances this pass runs) are tried again once per pass: a handler
        // may have become able meanwhile, and a row id may have been given to another job.
        if !leftJobs.isEmpty { leftJobs = instance.map { id in leftJobs.filter { $0.value.instance != id } } ?? [:] }
        // Jobs this runner made and holds first (no claiming transaction), then any due job.
        while let job = try store.ownJob(
            owner: owner, now: scheduler.now, instance: instance, excluding: excludedJobs)
            ?? store.claimJob(owner: owner, now: scheduler.now, instance: instance, excluding: excludedJobs)
        {
            if let maxJobsPerPass, count >= maxJobsPerPass { break }
            do {
                try await run(job)
            } catch let left as JobLeft {
                // Another worker may take it at once.
                try store.write { try $0.releaseJob(id: job.id, owner: owner) }
                leftJobs[job.id] = (job.instanceID, left.reason)
                // Said once per job (a worker tries it again on every pass).
                if announcedLeftJobs.insert("\(job.id) \(job.idempotencyKey ?? "")").inserted {
                    onLeftJob?(job, left.reason)
                }
                continue
            } catch let error as StoreError where error.isAboutOneInstance {
                // One instance that cannot be read (a damaged state, a definition that no longer
                // loads) must not stop the work of all the others: its job is left for later (its
                // lock expires) and this runner goes on without it.
                skippedJobs[job.id] = (job.instanceID, error)
                onSkippedJob?(job, error)
                continue
            }
            count += 1
        }
        count += try await deliverDueNotifications(instance: instance)
        return count
    }

    /// When the next job or (with a channel) notification falls due.
    public func nextWorkTime(instance: String? = nil) throws -> Date? {
        let job = try store.nextJobTime(instance: instance, excluding: excludedJobs)
        let notification = channels.isEmpty ? nil : try store.nextNotificationTime(instance: instance)
        return [job, notification].compactMap { $0 }.min()
    }

    // MARK: Notifications

    /// Delivers every notification that is due through the channels; returns how many were tried.
    /// At least once: a notification is marked delivered only after a channel accepted it, so a
    /// worker killed in between leaves it pending, and the next worker sends it again with the
    /// same Idempotency-Key and Message-ID.
    @discardableResult
    public func deliverDueNotifications(instance: String? = nil) async throws -> Int {
        guard !channels.isEmpty else { return 0 }
        var count = 0
        let lease = channels.map(\.timeout).reduce(5, +)
        while let claimed = try store.claimNotification(
            owner: owner, now: scheduler.now, lease: lease, instance: instance)
        {
            try await deliver(claimed)
            count += 1
        }
        return count
    }

    func deliver(_ notification: StoredNotification) async throws {
        var notification = notification
        if notification.outgoing.process.isEmpty {
            // A row written before schema v5 kept no recipient: take it from the instance's directory.
            if let stored = try store.read({ try $0.load(notification.outgoing.instance) }) {
                let directory = try stored.directory.map { try Directory(json: $0, file: "directory") } ?? Directory()
                let person = directory.user(notification.outgoing.user)
                notification.outgoing.name = person?.name
                notification.outgoing.email = person?.email
                notification.outgoing.process =
                    (try? process(of: stored.definitionID).displayName) ?? stored.instance.processID
            }
        }
        var done = notification.done
        var sent = Set(notification.channel?.split(separator: ",").map(String.init) ?? [])
        var errors: [String] = []
        var undeliverable: [String] = []
        for channel in channels where !done.contains(channel.name) {
            switch await channel.send(notification.outgoing) {
            case .sent:
                done.insert(channel.name)
                sent.insert(channel.name)
            case .undeliverable(let reason):
                done.insert(channel.name)
                undeliverable.append("\(channel.name): \(reason)")
                onNotificationFailure?(notification.outgoing, channel.name, reason)
            case .failed(let reason):
                errors.append("\(channel.name): \(reason)")
                onNotificationFailure?(notification.outgoing, channel.name, reason)
            }
        }
        let attempts = notification.attempts + 1
        let now = scheduler.now
        let status: StoredNotification.Status
        var dueAt = notification.dueAt
        if errors.isEmpty {
            status = sent.isEmpty ? .failed : .delivered
        } else if attempts >= notificationTries {
            status = sent.isEmpty ? .failed : .delivered
        } else {
            status = .pending
            dueAt = now.addingTimeInterval(notificationRetryDelay * pow(2, Double(attempts - 1)))
        }
        let reasons = errors + undeliverable
        try store.recordNotificationTry(
            notification.id, owner: owner, status: status,
            channel: sent.isEmpty ? nil : sent.sorted().joined(separator: ","), done: done,
            attempts: attempts, dueAt: dueAt, lastError: reasons.isEmpty ? nil : reasons.joined(separator: "; "),
            sentAt: sent.isEmpty ? nil : (notification.sentAt ?? now))
    }

    /// `worker`: runs due jobs, sleeping (a scheduled wait, not a blocked thread) until the next
    /// one falls due, but at most `poll` seconds, so that jobs other processes add (a task
    /// completed elsewhere) are noticed. With `untilIdle`, returns once no job is left.
    /// `stop`: asked before each pass; true ends the loop (a server shutting down: the pass in
    /// flight finishes first, so every step it began commits).
    public func work(untilIdle: Bool, poll: Double = 1, stop: (@Sendable () -> Bool)? = nil) async throws {
        while stop?() != true {
            try await runDueSchedules()
            try await runDueJobs()
            // Timer starts due later do not keep `--until-idle` waiting.
            let next = [try nextWorkTime(), untilIdle ? nil : try store.nextScheduleTime()].compactMap { $0 }.min()
            if let next {
                let wait = max(0.01, next.timeIntervalSince(scheduler.now))
                await scheduler.sleep(seconds: min(wait, poll))
            } else if untilIdle {
                return
            } else {
                await scheduler.sleep(seconds: poll)
            }
        }
    }

    // MARK: Deployments and timer start events

    /// Deploys a file's process (by content: the same bytes deploy once) in one transaction.
    /// A new version's timer start events are scheduled, in place of the earlier versions'.
    @discardableResult
    public func deploy(file: String, xml: [UInt8], process: ProcessDefinition) throws -> StoredDefinition {
        let now = scheduler.now
        return try transact { db in try deploy(file: file, xml: xml, process: process, now: now, in: db) }
    }

    func deploy(file: String, xml: [UInt8], process: ProcessDefinition, now: Date, in db: Transaction) throws
        -> StoredDefinition
    {
        let definition = try db.deploy(file: file, xml: xml, process: process, now: now)
        if definition.isNew && process.isExecutable {
            try db.replaceSchedule(
                processID: process.id, with: Self.timerStarts(of: process, definition: definition.id, now: now))
        }
        return definition
    }

    /// A process's timer start events (of the process itself, not of its event sub-processes),
    /// each with its first firing, counted from `now`.
    static func timerStarts(of process: ProcessDefinition, definition: Int64, now: Date) -> [ScheduledStart] {
        process.nodes.compactMap { node in
            guard node.scope == nil, case .eventStart(let triggers, _) = node.kind else { return nil }
            for case .timer(let timer) in triggers {
                guard let due = timer.due(firing: 1, startedAt: now) else { return nil }
                return ScheduledStart(definitionID: definition, node: node.id, firing: 1, startedAt: now, dueAt: due)
            }
            return nil
        }
    }

    /// `worker`: starts an instance for every timer start event that is due, each firing once
    /// across all workers (claimed with a lock; the instance is inserted and the timer moved on
    /// to its next firing in one transaction that checks the lock); returns how many started.
    @discardableResult
    public func runDueSchedules() async throws -> Int {
        var count = 0
        while let claimed = try store.claimSchedule(owner: owner, now: scheduler.now, lease: 60) {
            let now = scheduler.now
            let id = UUID().uuidString.lowercased()
            let fired = try transact { db -> Bool in
                let engine = Self.engine(try engine(for: claimed.definitionID, in: db), maxSteps: maxSteps)
                let process = engine.process
                guard let start = process.nodeIndex(id: claimed.node),
                    case .eventStart(let triggers, _) = process.nodes[start].kind,
                    let timer = triggers.lazy.compactMap({ if case .timer(let t) = $0 { t } else { nil } }).first
                else {
                    // The definition no longer has the timer: the row goes.
                    _ = try db.advanceSchedule(
                        definitionID: claimed.definitionID, node: claimed.node, owner: owner, next: nil)
                    return false
                }
                let firing = claimed.firing + 1
                let next = timer.due(firing: firing, startedAt: claimed.startedAt).map { (firing, $0) }
                guard
                    try db.advanceSchedule(
                        definitionID: claimed.definitionID, node: claimed.node, owner: owner, next: next)
                else { return false }
                if recordsStarted { started.append(id) }
                var budget = StepBudget(limit: engine.maxSteps)
                var (instance, effects) = engine.start(
                    id: id, context: JSONObject(), initiator: "timer", now: now, at: start, budget: &budget)
                try commit(
                    &instance, effects: effects, engine: engine, answers: nil, directory: defaultDirectory,
                    simulated: false,
                    maxSteps: maxSteps, now: now, budget: &budget, insert: claimed.definitionID, in: db)
                return true
            }
            if fired { count += 1 }
        }
        return count
    }

    /// Runs a job. Its row is deleted in the transaction that applies its outcome; if it is
    /// gone by then (the instance was cancelled, another command moved it on), the outcome is
    /// dropped: a job never acts on a state it was not made for.
    func run(_ job: Job) async throws {
        do {
            try await runClaimed(job)
        } catch is JobGone {
            return
        }
    }

    private struct JobGone: Error {}

    /// The handler of a job's type cannot work here: the job is left for another worker.
    struct JobLeft: Error {
        var reason: String
    }

    private func runClaimed(_ job: Job) async throws {
        switch job.kind {
        case .retry:
            try apply(to: job.instanceID, requests: job.request.map { [job.token: $0] } ?? [:]) { _, _, db in
                try self.delete(job, in: db)
                return .retryDue(token: job.token)
            }
        case .timer:
            try apply(to: job.instanceID) { _, _, db in
                try self.delete(job, in: db)
                return .timerFired(timer: job.token)
            }
        case .answer:
            // Read, decided and applied in one transaction: a simulated person answers the task
            // the token waits at now (none: the job is only removed).
            try step(to: job.instanceID, carryBudget: true) { current, engine, db in
                try self.delete(job, in: db)
                guard let token = current.instance.token(job.token), token.state == .waitingTask else { return nil }
                let people = try self.people(
                    of: current.instance.id, answers: current.answers, directory: current.directory)
                let node = engine.process.nodes[token.node]
                let variables = people.answers.answer(for: node)?.variables ?? JSONObject()
                return .taskCompleted(
                    token: job.token, by: people.performer(for: node, instance: current.instance), variables: variables)
            }
        case .integration:
            guard let stored = try store.read({ try $0.load(job.instanceID) }),
                let token = stored.instance.token(job.token)
            else {
                try store.write { try delete(job, in: $0) }
                return
            }
            let engine = try engine(for: stored.definitionID)
            let node = engine.process.nodes[token.node]
            var requests = job.request.map { [job.token: $0] } ?? [:]
            let outcome: JobOutcome
            if let integration = node.integration {
                guard let handler = handlers[integration.type] else {
                    throw JobLeft(
                        reason: "no handler for jobs of type '\(integration.type)' is registered with this runtime")
                }
                if let reason = handler.unavailableReason { throw JobLeft(reason: reason) }
                let people = try self.people(
                    of: stored.instance.id, answers: stored.answers, directory: stored.directory)
                var call = JobCall(
                    instanceID: stored.instance.id, processName: engine.process.displayName, node: node,
                    integration: integration, context: stored.instance.context, attempt: job.attempt,
                    idempotencyKey: job.idempotencyKey ?? "", prepared: job.request.map { [UInt8]($0) },
                    directory: people.directory, currentUser: stored.instance.currentUser ?? stored.instance.initiator)
                if call.prepared == nil, let prepared = handler.prepare(call) {
                    // Nothing was fixed when the node was entered (a job of an older store, or
                    // made by a runtime without this handler): fixed now, and kept for the retries.
                    call.prepared = prepared
                    requests[job.token] = Data(prepared)
                }
                let started = ContinuousClock.now
                outcome = await handler.perform(call)
                if let onJobTried {
                    let elapsed = ContinuousClock.now - started
                    onJobTried(
                        JobTryReport(
                            instanceID: stored.instance.id, nodeID: node.id, type: integration.type,
                            attempt: job.attempt, outcome: outcome,
                            seconds: elapsed.inSeconds)
                    )
                }
            } else {
                // The definition no longer reads the node as an integration node (a reader of
                // the library user's that this runtime's load options lack).
                outcome = .failed(
                    status: nil,
                    message: "'\(node.id)' has a job, but this runtime does not read it as an integration node",
                    retryable: false)
            }
            try apply(to: job.instanceID, requests: requests) { current, _, db in
                try self.delete(job, in: db)
                guard current.instance.token(job.token)?.node == token.node else { throw JobGone() }
                return .jobFinished(token: job.token, outcome: outcome)
            }
        }
    }

    /// What the handler of an integration node's type fixes for the execution whose node the
    /// instance has just entered (nil when it fixes nothing).
    func prepare(
        node: Int, key: String, attempt: Int, of instance: Instance, engine: Engine, directory: Directory
    ) -> Data? {
        let flowNode = engine.process.nodes[node]
        guard let integration = flowNode.integration, let handler = handlers[integration.type] else { return nil }
        let call = JobCall(
            instanceID: instance.id, processName: engine.process.displayName, node: flowNode,
            integration: integration, context: instance.context, attempt: attempt, idempotencyKey: key,
            directory: directory, currentUser: instance.currentUser ?? instance.initiator)
        return handler.prepare(call).map { Data($0) }
    }

    /// Deletes a job's row; throws `JobGone` when another command removed it first.
    func delete(_ job: Job, in db: Transaction) throws {
        if try !db.deleteJob(id: job.id) { throw JobGone() }
    }

    /// The simulated people of an instance: its answers and directory, read once (an instance's
    /// answers and directory never change).
    func people(of instanceID: String, answers: JSONValue?, directory: JSONValue?) throws -> SimulatedPeople {
        // Nobody named: nothing to read or keep.
        if answers == nil && directory == nil { return SimulatedPeople() }
        if let known = people[instanceID] { return known }
        let read = try SimulatedPeople(answers: answers, directory: directory)
        // A worker steps many instances over its life: keep the recent ones.
        if people.count >= 1_024 { people.removeAll(keepingCapacity: true) }
        people[instanceID] = read
        return read
    }

    /// Applies a message or signal to another stored instance inside the caller's transaction.
    func deliver(_ event: EngineEvent, to id: String, now: Date, in db: Transaction, depth: Int) throws {
        guard depth < 8, let stored = try db.load(id) else { return }
        let engine = Self.engine(try engine(for: stored.definitionID, in: db), maxSteps: stored.maxSteps)
        var instance = stored.instance
        var budget = StepBudget(limit: engine.maxSteps)
        let effects = engine.handle(event, in: &instance, now: now, budget: &budget)
        try commit(
            &instance, effects: effects, engine: engine, answers: stored.answers, directory: stored.directory,
            simulated: stored.simulated,
            expectedVersion: stored.version, previous: stored.instance, now: now, budget: &budget, in: db,
            depth: depth + 1)
    }

    /// A message or signal starts instances of the other processes of the sending instance's
    /// file whose start event it names (a message: the first such process), in the same transaction.
    func startPartners(
        for trigger: EventTrigger, variables: JSONObject, from instanceID: String, initiator: String,
        answers: JSONValue?,
        directory: JSONValue?, simulated: Bool, now: Date, in db: Transaction, depth: Int
    ) throws {
        guard depth < 8,
            let definitionID = try db.definitionID(ofInstance: instanceID),
            let definition = try db.definition(id: definitionID)
        else { return }
        // The file's other runnable processes, loaded once per definition.
        let partners: [Engine]
        if let known = partnerEngines[definitionID] {
            partners = known
        } else {
            let processes =
                BPMNLoader.load(bytes: definition.xml, file: definition.file, options: loadOptions).definitions?
                .processes ?? []
            partners = processes.filter { $0.id != definition.processID && $0.isExecutable }.compactMap {
                try? makeEngine($0, maxSteps ?? Engine.defaultMaxSteps)
            }
            partnerEngines[definitionID] = partners
        }
        for partner in partners {
            let process = partner.process
            guard let start = partner.startEvent(for: trigger) else { continue }
            let deployed = try deploy(file: definition.file, xml: definition.xml, process: process, now: now, in: db)
            engines[deployed.id] = engines[deployed.id] ?? partner
            if recordsStarted, let instanceLimit, started.count >= instanceLimit { return }
            let id = UUID().uuidString.lowercased()
            if recordsStarted { started.append(id) }
            var budget = StepBudget(limit: partner.maxSteps)
            var (instance, effects) = partner.start(
                id: id, context: variables, initiator: initiator, now: now, at: start, budget: &budget)
            try commit(
                &instance, effects: effects, engine: partner, answers: answers, directory: directory,
                simulated: simulated, now: now,
                budget: &budget, insert: deployed.id, in: db, depth: depth + 1)
            if case .message = trigger { return }
        }
    }

    /// Saves the instance with the work its effects ask for, inside the caller's transaction
    /// (after simulated people answered what they answer at once: see `answerAtOnce`); returns
    /// the effects it carried out. `budget`: the steps the event may still take.
    @discardableResult
    func commit(
        _ instance: inout Instance, effects: [Effect], engine: Engine, answers: JSONValue?, directory: JSONValue?,
        simulated: Bool,
        maxSteps: Int? = nil, expectedVersion: Int64? = nil, previous: Instance? = nil, now: Date,
        budget: inout StepBudget,
        insert definitionID: Int64? = nil, businessKey: String? = nil, requests: [Int: Data] = [:],
        in db: Transaction, depth: Int = 0
    ) throws -> [Effect] {
        let simulation = try people(of: instance.id, answers: answers, directory: directory)
        let parsedAnswers = simulation.answers
        let parsedDirectory = simulation.directory
        // Only the instance this command or job steps: one a message or signal reached (depth > 0)
        // gets its answers from jobs, as any worker's.
        let effects =
            depth == 0 && (simulated || !parsedAnswers.entries.isEmpty)
            ? try answerAtOnce(
                effects, in: &instance, engine: engine, people: simulation, simulated: simulated, now: now,
                budget: &budget, in: db)
            : effects
        // The rows this step writes after its instance's own row, and the messages and signals
        // it sends to other instances, which go last: they may come back to this instance in this
        // transaction, and must find its jobs and tasks as this step left them.
        var rows: [Row] = []
        var deliveries: [Delivery] = []
        let instanceID = instance.id
        let initiator = instance.initiator
        for effect in effects {
            switch effect {
            // Jobs due now are held by this runner, which runs them next without a claiming
            // transaction; but not those of other instances a message or signal reached (depth > 0):
            // a command runs only its own instance's jobs, so any worker may take those at once.
            case .openTask(let token, let node):
                let flowNode = engine.process.nodes[node]
                if simulated || parsedAnswers.answer(for: flowNode) != nil {
                    rows.append(
                        .job(
                            NewJob(
                                instanceID: instanceID, token: token, kind: .answer, dueAt: now,
                                lockedBy: depth == 0 && runsOwnJobs ? owner : nil)))
                } else {
                    let task = OpenTask(
                        instanceID: instanceID, token: token, nodeID: flowNode.id, name: flowNode.name,
                        lane: flowNode.lane, candidates: Self.candidates(of: flowNode, in: parsedDirectory))
                    rows.append(.task(task))
                }
            case .runJob(let token, let node, let attempt, let key):
                // A worker that dies mid-try frees the job once the try must have ended.
                let lease = (engine.process.nodes[node].integration?.config.timeout ?? 30) + 5
                // A retry works from what its execution's first try did; the first try's is fixed
                // now, from the state this step leaves (as is a retry's whose job carried none: a
                // job of an older store, an operator's retry of an incident).
                let request =
                    (attempt > 1 ? requests[token] : nil)
                    ?? prepare(
                        node: node, key: key, attempt: attempt, of: instance, engine: engine,
                        directory: parsedDirectory)
                rows.append(
                    .job(
                        NewJob(
                            instanceID: instanceID, token: token, kind: .integration, dueAt: now, attempt: attempt,
                            idempotencyKey: key, request: request,
                            lease: lease, lockedBy: depth == 0 && runsOwnJobs ? owner : nil)))
            case .scheduleRetry(let token, _, let delay, let attempt):
                rows.append(
                    .job(
                        NewJob(
                            instanceID: instanceID, token: token, kind: .retry, dueAt: now.addingTimeInterval(delay),
                            attempt: attempt,
                            request: requests[token])))
            case .scheduleTimer(let timer, let due):
                rows.append(.job(NewJob(instanceID: instanceID, token: timer, kind: .timer, dueAt: due)))
            case .notify(let node, let recipients, let message, let error, let attempts, let context):
                for user in simulation.resolve(recipients) {
                    // What every try sends is fixed now, in the step's transaction, from the
                    // variables as they were at the node.
                    var outgoing = NotificationText.compose(
                        key: "\(instanceID)-notify-\(instance.notifications.count + 1)", process: engine.process,
                        node: engine.process.nodes[node],
                        instance: instance, context: context, user: user, directory: parsedDirectory, message: message,
                        error: error, attempts: attempts, now: now,
                        timeZone: timeZone)
                    // A notify node's message is its text.
                    if message.isEmpty { outgoing.message = outgoing.text }
                    _ = engine.recordNotifications(node: node, users: [user], message: outgoing.message, in: &instance)
                    rows.append(.notification(outgoing))
                }
            case .throwSignal(let name):
                // The instance has caught its own signal already: it reaches the other stored
                // instances that wait for it, and starts the file's processes whose start event names it.
                deliveries.append(.signal(name))
            case .sendMessage(let name, let variables):
                // To the stored instance that has waited longest for it, else a new instance.
                deliveries.append(.message(name, variables))
            }
        }
        if let definitionID {
            try db.insert(
                NewInstance(
                    instance: instance, definitionID: definitionID, answers: answers, directory: directory,
                    simulated: simulated, maxSteps: maxSteps, businessKey: businessKey),
                codec: engine.stateCodec, now: now)
        } else {
            try db.update(instance, codec: engine.stateCodec, expectedVersion: expectedVersion ?? -1, now: now)
        }
        try db.subscribe(instanceID, to: engine.subscriptions(of: instance))
        // Tasks whose token was interrupted (a timer, a terminate end event, a caught error) close,
        // before the rows run: a message or signal they send may come back to this instance in
        // this transaction and open a task this step's state does not know of.
        try db.closeTasks(instance: instanceID, keeping: instance.tokens.filter { $0.state == .waitingTask }.map(\.id))
        // Jobs of tokens this step removed and of timers it cancelled go with them (a boundary
        // timer of a task completed at once must not keep `run` waiting for a day).
        if let previous,
            Self.removesAny(previous.tokens.lazy.map(\.id), keeping: instance.tokens.lazy.map(\.id))
                || Self.removesAny(previous.timers.lazy.map(\.id), keeping: instance.timers.lazy.map(\.id))
        {
            try db.closeJobs(
                instance: instanceID, keepingTokens: instance.tokens.map(\.id), timers: instance.timers.map(\.id))
        }
        for row in rows {
            switch row {
            case .job(let job): try db.insertJob(job, now: now)
            case .task(let task): try db.insertTask(task, now: now)
            case .notification(let notification): try db.insertNotification(notification, now: now)
            }
        }
        for delivery in deliveries {
            switch delivery {
            case .signal(let name):
                for other in try db.subscribers(kind: "signal", name: name, except: instanceID) {
                    try deliver(.signal(name: name), to: other, now: now, in: db, depth: depth)
                }
                try startPartners(
                    for: .signal(name), variables: JSONObject(), from: instanceID, initiator: initiator,
                    answers: answers, directory: directory,
                    simulated: simulated, now: now, in: db, depth: depth)
            case .message(let name, let variables):
                if let other = try db.subscribers(kind: "message", name: name, except: instanceID).first {
                    try deliver(.message(name: name, variables: variables), to: other, now: now, in: db, depth: depth)
                } else {
                    try startPartners(
                        for: .message(name), variables: variables, from: instanceID, initiator: initiator,
                        answers: answers, directory: directory,
                        simulated: simulated, now: now, in: db, depth: depth)
                }
            }
        }
        return effects
    }

    /// Simulated people answer the tasks a step opened in the step itself, as the answer jobs
    /// they would otherwise get would do next: no answer job is written, claimed and deleted. Each
    /// answer goes on with the step budget the event that opened its task left (a cycle through
    /// answered tasks stops like a cycle that never waits). Not when something came first or is
    /// fixed by the state the step leaves: the instance has a job due already (it would run before
    /// the answers), or the step asks for a timer due now, a job try (what it sends is fixed when
    /// its node is entered), a notification, a message or a signal. From there on the answers wait
    /// for their jobs. Tasks and timers of tokens the answers moved on go with them.
    func answerAtOnce(
        _ effects: [Effect], in instance: inout Instance, engine: Engine, people: SimulatedPeople, simulated: Bool,
        now: Date,
        budget: inout StepBudget, in db: Transaction
    ) throws -> [Effect] {
        var effects = effects
        // The budget each answer's event left, by the tokens of the tasks that event opened (the
        // tasks of the step's own event have the step's).
        let stepBudget = budget
        var openedWith: [Int: StepBudget] = [:]
        var blocked = false
        func admit(_ new: [Effect], budget: StepBudget?) {
            for effect in new {
                switch effect {
                case .openTask(let token, _): if let budget { openedWith[token] = budget }
                case .scheduleTimer(_, let due): if due <= now { blocked = true }
                default: blocked = true
                }
            }
        }
        admit(effects, budget: nil)
        var answered = false
        var index = 0
        while !blocked, index < effects.count {
            guard case .openTask(let token, let node) = effects[index], instance.token(token)?.state == .waitingTask,
                simulated || people.answers.answer(for: engine.process.nodes[node]) != nil
            else {
                index += 1
                continue
            }
            if !answered, try db.hasDueJob(instance: instance.id, now: now) { break }
            effects.remove(at: index)
            let flowNode = engine.process.nodes[node]
            let event = EngineEvent.taskCompleted(
                token: token, by: people.performer(for: flowNode, instance: instance),
                variables: people.answers.answer(for: flowNode)?.variables ?? JSONObject())
            var left = openedWith[token] ?? stepBudget
            let more = engine.handle(event, in: &instance, now: now, budget: &left)
            admit(more, budget: left)
            effects += more
            budget = left
            answered = true
        }
        guard answered else { return effects }
        return effects.filter {
            switch $0 {
            case .openTask(let token, let node):
                instance.token(token).map { $0.node == node && $0.state == .waitingTask } ?? false
            case .scheduleTimer(let timer, _): instance.timers.contains { $0.id == timer }
            case .runJob(let token, let node, _, _), .scheduleRetry(let token, let node, _, _):
                instance.token(token)?.node == node
            default: true
            }
        }
    }

    /// A row a step writes after its instance's row.
    enum Row {
        case job(NewJob)
        case task(OpenTask)
        case notification(OutgoingNotification)
    }

    /// A message or signal a step sends to other instances.
    enum Delivery {
        case signal(String)
        case message(String, JSONObject)
    }

    /// Whether some id of `before` is not among `after` (ids of tokens or timers, usually few
    /// and in ascending order: then one merge pass, without a set).
    static func removesAny<Before: Collection<Int>, After: Collection<Int>>(_ before: Before, keeping after: After)
        -> Bool
    {
        if before.isEmpty { return false }
        var kept = after.makeIterator()
        var candidate = kept.next()
        var previous = Int.min
        for id in before {
            // Out of order: fall back to a set.
            guard id > previous else { return !Set(before).isSubset(of: Set(after)) }
            previous = id
            while let next = candidate, next < id { candidate = kept.next() }
            guard candidate == id else {
                // Not in `after`, unless `after` is out of order.
                return after.adjacentIsSorted ? true : !Set(before).isSubset(of: Set(after))
            }
        }
        return false
    }
}

extension Collection<Int> {
    /// Whether the ids ascend strictly.
    var adjacentIsSorted: Bool {
        var previous = Int.min
        for id in self {
            if id <= previous { return false }
            previous = id
        }
        return true
    }
}

/// One try of an integration job, as it ended.
public struct JobTryReport: Sendable {
    public var instanceID: String
    public var nodeID: String
    public var type: String
    public var attempt: Int
    public var outcome: JobOutcome
    public var seconds: Double

    /// `succeeded`, `failed` or `bpmnError`.
    public var result: String {
        switch outcome {
        case .succeeded: "succeeded"
        case .failed: "failed"
        case .bpmnError: "bpmnError"
        }
    }
}

extension ProcessRuntime {
    /// Who may perform a user task of this node: its assignee and candidate users, the members of
    /// its candidate groups and of the org unit (else group) named after its lane, once each.
    public static func candidates(of node: FlowNode, in directory: Directory) -> [String] {
        var candidates = node.candidateUsers
        if let assignee = node.assignee { candidates.insert(assignee, at: 0) }
        if let lane = node.lane {
            candidates += directory.orgUnit(lane) ?? directory.group(lane) ?? []
        }
        for group in node.candidateGroups { candidates += directory.group(group) ?? [] }
        var unique: [String] = []
        for candidate in candidates where !unique.contains(candidate) { unique.append(candidate) }
        return unique
    }
}
