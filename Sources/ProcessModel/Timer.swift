import Expressions
import Foundation
import Values

/// A timer event definition: `timeDuration`, `timeDate` or `timeCycle` (ISO 8601).
public struct TimerDefinition: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Fires once, this many seconds after the timer starts.
        case duration(Double)
        /// Fires once, at this moment (or at once if it has passed).
        case date(Date)
        /// Fires every `interval` seconds, `repetitions` times (nil: without end).
        case cycle(repetitions: Int?, interval: Double)
    }

    public var kind: Kind
    public var source: String

    /// Parses `PT10S`, `2026-12-01T10:00:00Z`, `R3/PT10S` or `R/PT1H`; nil when it is none of them.
    public init?(duration: String?, date: String?, cycle: String?) {
        if let text = duration?.trimmingWhitespace(), !text.isEmpty {
            guard let seconds = parseDuration(text) else { return nil }
            kind = .duration(seconds)
            source = text
        } else if let text = date?.trimmingWhitespace(), !text.isEmpty {
            guard let moment = Timestamp.parse(text) else { return nil }
            kind = .date(moment)
            source = text
        } else if let text = cycle?.trimmingWhitespace(), !text.isEmpty {
            let parts = text.split(separator: "/")
            guard parts.count == 2, parts[0].hasPrefix("R"), let interval = parseDuration(String(parts[1])),
                interval > 0
            else { return nil }
            let count = parts[0].dropFirst()
            if count.isEmpty {
                kind = .cycle(repetitions: nil, interval: interval)
            } else {
                guard let repetitions = Int(count), repetitions > 0 else { return nil }
                kind = .cycle(repetitions: repetitions, interval: interval)
            }
            source = text
        } else {
            return nil
        }
    }

    /// A duration of `seconds`.
    public init(seconds: Double) {
        kind = .duration(seconds)
        source = "PT\(seconds)S"
    }

    /// When the `firing`-th firing (from 1) is due, for a timer started at `start`; nil when a
    /// cycle has no more repetitions.
    public func due(firing: Int, startedAt start: Date) -> Date? {
        switch kind {
        case .duration(let seconds): return firing == 1 ? start.addingTimeInterval(seconds) : nil
        case .date(let date): return firing == 1 ? date : nil
        case .cycle(let repetitions, let interval):
            if let repetitions, firing > repetitions { return nil }
            return start.addingTimeInterval(interval * Double(firing))
        }
    }
}
