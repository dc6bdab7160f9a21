import Foundation
import Synchronization

/// An instance's history: append-only, cheap to copy, and cheap to append to after a copy.
///
/// A store that keeps the state before a step (to undo a failed transaction) and the engine
/// that appends to the state after it hold two copies of one history. With an array, the first
/// append would copy every entry, so a run of n steps would cost n² copies. Here copies share one
/// buffer: a copy whose end is the buffer's end appends in place, and the others do not see
/// what is past their own end. A copy that is behind (another copy appended first) copies its
/// entries once, to a buffer of its own.
public struct History: RandomAccessCollection, Sendable {
    final class Buffer: Sendable {
        let entries: Mutex<[HistoryEntry]>

        init(_ entries: [HistoryEntry]) {
            self.entries = Mutex(entries)
        }
    }

    private var buffer: Buffer
    public private(set) var endIndex: Int
    public var startIndex: Int { 0 }

    public init() {
        self.init([])
    }

    public init(_ entries: [HistoryEntry]) {
        buffer = Buffer(entries)
        endIndex = entries.count
    }

    public subscript(position: Int) -> HistoryEntry {
        precondition(position >= 0 && position < endIndex, "history index \(position) out of range 0..<\(endIndex)")
        return buffer.entries.withLock { $0[position] }
    }

    /// The entries, read under the lock once (iteration reads no entry under the lock again).
    public var entries: ArraySlice<HistoryEntry> {
        let end = endIndex
        return buffer.entries.withLock { $0[..<end] }
    }

    public func makeIterator() -> ArraySlice<HistoryEntry>.Iterator {
        entries.makeIterator()
    }

    public mutating func append(_ entry: HistoryEntry) {
        let end = endIndex
        let appended = buffer.entries.withLock { entries -> Bool in
            guard entries.count == end else { return false }
            entries.append(entry)
            return true
        }
        if !appended {
            var own = Array(entries)
            own.append(entry)
            buffer = Buffer(own)
        }
        endIndex += 1
    }
}
