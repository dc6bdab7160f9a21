import Dispatch
import Foundation
import Store

/// The runtime the server's requests go through. SQLite calls block, so they run on this
/// host's own serial queue, never on Swift's cooperative pool or NIO's event loops; one runner
/// per host keeps the runner's caches (engines, people) single-threaded. Several hosts (several
/// `serve` processes) on one store coordinate through it, as several commands do.
public final class RuntimeHost: @unchecked Sendable {
    private let runner: DurableRunner
    private let queue = DispatchQueue(label: "procrun.server.runtime")

    public init(runner: DurableRunner) {
        self.runner = runner
    }

    public var store: InstanceStore { runner.store }

    /// Runs `body` with the runner on the host's queue.
    public func run<T: Sendable>(_ body: @escaping @Sendable (DurableRunner) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body(self.runner) })
            }
        }
    }
}
