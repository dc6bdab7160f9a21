import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Store
import Synchronization
import Values

/// What every handler of one server shares.
public final class ServerSettings: Sendable {
    /// Bodies larger than this are refused with 413.
    let maxBody: Int
    /// The directory (`--directory`) kept with every instance the server starts.
    let directory: JSONValue?
    let authenticator: Authenticator
    /// One per in-process worker.
    private let wakes = Mutex<[Wake]>([])

    public init(maxBody: Int, directory: JSONValue?, authenticator: Authenticator) {
        self.maxBody = maxBody
        self.directory = directory
        self.authenticator = authenticator
    }

    /// Tells the in-process workers that a step may have made work (a webhook to send), so
    /// that they look now rather than at their next poll.
    func wakeWorkers() {
        for wake in wakes.withLock({ $0 }) { wake.signal() }
    }

    func register(_ wake: Wake) {
        wakes.withLock { $0.append(wake) }
    }
}

/// A worker's wake-up: `signal` ends the current `wait`, or the next one at once when nobody
/// waits (a signal is never lost; at worst a worker looks once more for nothing).
final class Wake: Sendable {
    private let state = Mutex<(pending: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Until `signal`, or `seconds` pass.
    func wait(seconds: Double) async {
        let timer = Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9))
            if !Task.isCancelled { self?.signal() }
        }
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.pending {
                    state.pending = false
                    return true
                }
                state.waiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
        timer.cancel()
    }
}

/// A thread of its own that runs the tasks preferring it: a worker's store calls (SQLite,
/// which may wait up to its busy timeout for another process's lock) then never hold one of
/// Swift's few cooperative threads, nor NIO's event loops.
final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    init(name: String) {
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// The in-process job workers: each its own runner (own lock owner), running due jobs, timers
/// and notifications until the server shuts down; a pass in flight finishes first.
struct WorkerService: Service {
    let count: Int
    let settings: ServerSettings
    let makeRunner: @Sendable () throws -> DurableRunner
    let logger: Logger
    let metrics: Metrics

    func run() async throws {
        guard count > 0 else {
            try await gracefulShutdown()
            return
        }
        let stopping = StopFlag()
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for number in 0..<count {
                    let wake = Wake()
                    settings.register(wake)
                    // The executor lives as long as the process (its thread waits for work).
                    let executor = ThreadExecutor(name: "procrun worker \(number)")
                    group.addTask(executorPreference: executor) {
                        let runner = try makeRunner()
                        // A pass stops after this many jobs, so that shutdown waits for little.
                        runner.maxJobsPerPass = 50
                        runner.defaultDirectory = settings.directory
                        runner.onSkippedJob = { job, error in
                            logger.warning(
                                "job skipped", metadata: ["instance": "\(job.instanceID)", "error": "\(error.message)"])
                        }
                        // One log line and one count per try, with the instance and element.
                        runner.onJobTried = { [logger, metrics] report in
                            let type = Metrics.label(report.type)
                            metrics.increment(
                                "procrun_job_tries_total", "type=\"\(type)\",result=\"\(report.result)\"")
                            metrics.observe("procrun_job_duration_seconds", "type=\"\(type)\"", seconds: report.seconds)
                            logger.info(
                                "job try",
                                metadata: [
                                    "instance": "\(report.instanceID)", "element": "\(report.nodeID)",
                                    "type": "\(report.type)", "attempt": "\(report.attempt)",
                                    "result": "\(report.result)",
                                    "ms": "\(String(format: "%.1f", report.seconds * 1000))",
                                ])
                        }
                        logger.info("worker started", metadata: ["worker": "\(number)", "owner": "\(runner.owner)"])
                        while !stopping.isSet {
                            do {
                                try await runner.runDueSchedules()
                                try await runner.runDueJobs()
                            } catch {
                                logger.error("worker pass failed", metadata: ["error": "\(error)"])
                            }
                            let next = (try? runner.nextWorkTime()).flatMap { $0 }
                            let wait = next.map { max(0.005, min(1, $0.timeIntervalSinceNow)) } ?? 1
                            await wake.wait(seconds: wait)
                        }
                    }
                }
                try await group.waitForAll()
            }
        } onGracefulShutdown: {
            stopping.set()
            settings.wakeWorkers()
        }
    }
}

final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}

/// `procrun serve`.
public struct ServerConfiguration: Sendable {
    public var bind: String
    public var port: Int
    public var workers: Int
    public var maxBody: Int
    public var directory: JSONValue?
    public var usersPath: String
    /// A runner over the store, with the integration handlers and notification channels.
    public var makeRunner: @Sendable () throws -> DurableRunner
    /// Called once the server listens, with its address (`http://127.0.0.1:8080`).
    public var onListening: @Sendable (String) -> Void

    public init(
        bind: String, port: Int, workers: Int, maxBody: Int, directory: JSONValue?, usersPath: String,
        makeRunner: @escaping @Sendable () throws -> DurableRunner, onListening: @escaping @Sendable (String) -> Void
    ) {
        self.bind = bind
        self.port = port
        self.workers = workers
        self.maxBody = maxBody
        self.directory = directory
        self.usersPath = usersPath
        self.makeRunner = makeRunner
        self.onListening = onListening
    }
}

public enum ProcrunServer {
    /// Serves until SIGTERM or SIGINT: then it stops accepting, lets requests and worker passes
    /// in flight finish (their steps commit), and returns.
    public static func run(_ configuration: ServerConfiguration) async throws {
        // Logs go to stderr, one line per request and per worker event; stdout says where it listens.
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "procrun.serve")
        logger.logLevel = .info
        let authenticator = try Authenticator(usersPath: configuration.usersPath)
        let settings = ServerSettings(
            maxBody: configuration.maxBody, directory: configuration.directory, authenticator: authenticator)
        let metrics = Metrics()
        let requests = try configuration.makeRunner()
        requests.runsOwnJobs = false
        requests.defaultDirectory = configuration.directory
        let host = RuntimeHost(runner: requests, metrics: metrics)
        let router = Router(context: ServerContext.self)
        // Who asks is known before the request is logged; errors become answers inside the log.
        router.add(middleware: AuthMiddleware(authenticator: authenticator))
        router.add(middleware: RequestLogMiddleware(metrics: metrics))
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: MethodNotAllowedMiddleware(document: OpenAPI.document))
        router.get("health") { _, _ in
            let store = host.store
            _ = try await host.run { _ in try store.countInstances(status: "running") }
            return Reply.json(["status": .string("ok")])
        }
        // Prometheus' text format; no credentials (counts only, no names or data).
        router.get("metrics") { _, _ in
            let store = host.store
            let (instances, jobs, due) = try await host.run { _ in try store.gauges(now: Date()) }
            let text = metrics.render(gauges: [
                (
                    "procrun_instances", "Instances in the store, by status.",
                    Dictionary(
                        uniqueKeysWithValues: ["running", "waiting", "incident", "completed", "terminated"].map {
                            ("status=\"\($0)\"", Double(instances[$0] ?? 0))
                        })
                ),
                (
                    "procrun_jobs_queued", "Jobs in the store (tries, retries, timers), due or later.",
                    ["": Double(jobs)]
                ),
                ("procrun_jobs_due", "Jobs due now and not yet run: the workers' backlog.", ["": Double(due)]),
            ])
            return Reply.text(text, type: "text/plain; version=0.0.4; charset=utf-8")
        }
        API(host: host, settings: settings).register(on: router)
        Pages(host: host, settings: settings, api: API(host: host, settings: settings)).register(on: router)
        let onListening = configuration.onListening
        let bind = configuration.bind
        var app = Application(
            router: router,
            configuration: .init(address: .hostname(bind, port: configuration.port), serverName: "procrun"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                onListening("http://\(bind.contains(":") ? "[\(bind)]" : bind):\(port)")
            },
            logger: logger)
        app.addServices(
            WorkerService(
                count: configuration.workers, settings: settings, makeRunner: configuration.makeRunner, logger: logger,
                metrics: metrics))
        try await app.runService()
    }
}
