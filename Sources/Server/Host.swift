import Dispatch
import Foundation
import Store
import Values

/// The runtime the server's requests go through. SQLite calls block, so they run on this
/// host's own serial queue, never on Swift's cooperative pool or NIO's event loops; one runner
/// per host keeps the runner's caches (engines, people) single-threaded. Several hosts (several
/// `serve` processes) on one store coordinate through it, as several commands do.
public final class RuntimeHost: @unchecked Sendable {
    private let runner: DurableRunner
    private let queue = DispatchQueue(label: "procrun.server.runtime")
    let metrics: Metrics

    init(runner: DurableRunner, metrics: Metrics) {
        self.runner = runner
        self.metrics = metrics
    }

    public var store: InstanceStore { runner.store }

    /// Runs a step that commits (`operation`: start, complete, …), counted and timed for `/metrics`.
    func step<T: Sendable>(_ operation: String, _ body: @escaping @Sendable (DurableRunner) throws -> T) async throws
        -> T
    {
        let metrics = metrics
        return try await run { runner in
            let started = ContinuousClock.now
            defer {
                let elapsed = ContinuousClock.now - started
                let seconds = elapsed.inSeconds
                metrics.increment("procrun_steps_total", "operation=\"\(operation)\"")
                metrics.observe("procrun_step_duration_seconds", "operation=\"\(operation)\"", seconds: seconds)
            }
            return try body(runner)
        }
    }

    /// Runs `body` with the runner on the host's queue.
    public func run<T: Sendable>(_ body: @escaping @Sendable (DurableRunner) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body(self.runner) })
            }
        }
    }
}
