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
    private let wake = Mutex<[CheckedContinuation<Void, Never>]>([])

    public init(maxBody: Int, directory: JSONValue?, authenticator: Authenticator) {
        self.maxBody = maxBody
        self.directory = directory
        self.authenticator = authenticator
    }

    /// Tells the in-process workers that a step may have made work (a webhook to send), so
    /// that they look now rather than at their next poll.
    func wakeWorkers() {
        let waiting = wake.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Waits until `wakeWorkers` or at most `seconds`.
    func waitForWork(seconds: Double) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    self.wake.withLock { $0.append(continuation) }
                }
            }
            group.addTask { try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9)) }
            await group.next()
            // The other child: a sleep ends by cancellation; a continuation by the next wake,
            // which the worker's next wait would miss, so resume them all now.
            group.cancelAll()
            self.wakeWorkers()
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

    func run() async throws {
        guard count > 0 else {
            try await gracefulShutdown()
            return
        }
        let stopping = StopFlag()
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for number in 0..<count {
                    group.addTask {
                        let runner = try makeRunner()
                        runner.onSkippedJob = { job, error in
                            logger.warning(
                                "job skipped", metadata: ["instance": "\(job.instanceID)", "error": "\(error.message)"])
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
                            await settings.waitForWork(seconds: wait)
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
        let requests = try configuration.makeRunner()
        requests.runsOwnJobs = false
        let host = RuntimeHost(runner: requests)
        let router = Router(context: ServerContext.self)
        // Who asks is known before the request is logged; errors become answers inside the log.
        router.add(middleware: AuthMiddleware(authenticator: authenticator))
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: MethodNotAllowedMiddleware(document: OpenAPI.document))
        router.get("health") { _, _ in
            let store = host.store
            _ = try await host.run { _ in try store.countInstances(status: "running") }
            return Reply.json(["status": .string("ok")])
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
                count: configuration.workers, settings: settings, makeRunner: configuration.makeRunner, logger: logger))
        try await app.runService()
    }
}
