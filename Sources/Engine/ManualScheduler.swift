import Foundation

/// A virtual clock: `sleep` moves time forward at once and records the delay instead of waiting.
/// Tests use it to check retry delays without spending them; simulations can use it to run
/// days of timers in milliseconds.
public final class ManualScheduler: Scheduler, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    private var recorded: [Double] = []

    public init(start: Date = Date(timeIntervalSince1970: 1_767_261_600)) {
        current = start
    }

    public var now: Date { lock.withLock { current } }

    /// Every delay slept so far, in order.
    public var sleeps: [Double] { lock.withLock { recorded } }

    public func sleep(seconds: Double) async {
        lock.withLock {
            recorded.append(seconds)
            current += max(0, seconds)
        }
    }
}
