import Engine
import Foundation
import Testing

/// `History`: copies share a buffer, yet each behaves as a value.
@Suite struct HistoryTests {
    func entry(_ node: Int) -> HistoryEntry {
        HistoryEntry(
            time: Date(timeIntervalSince1970: 0), event: .left, node: node, flows: [], performer: nil, note: nil)
    }

    @Test func copiesAreValuesWhoeverAppendsFirst() {
        var original = History([entry(0), entry(1)])
        let kept = original
        original.append(entry(2))
        // The copy made before does not see the entry appended past its end.
        #expect(kept.map(\.node) == [0, 1])
        #expect(original.map(\.node) == [0, 1, 2])
        // A copy that is behind appends to entries of its own.
        var behind = kept
        behind.append(entry(9))
        #expect(behind.map(\.node) == [0, 1, 9])
        #expect(original.map(\.node) == [0, 1, 2])
        original.append(entry(3))
        #expect(
            original.map(\.node) == [0, 1, 2, 3] && behind.map(\.node) == [0, 1, 9] && kept.map(\.node) == [0, 1])
        #expect(original[3].node == 3 && original.last?.node == 3 && behind.count == 3)
        #expect(Array(original[1...]).map(\.node) == [1, 2, 3])
    }

    @Test func copiesOnManyThreadsStayValues() async {
        let base = History([entry(0)])
        let results = await withTaskGroup(of: [Int].self) { group in
            for worker in 1...8 {
                group.addTask {
                    var mine = base
                    for i in 0..<500 { mine.append(entry(worker * 1000 + i)) }
                    return mine.map(\.node)
                }
            }
            var all: [[Int]] = []
            for await nodes in group { all.append(nodes) }
            return all
        }
        #expect(results.count == 8)
        for nodes in results {
            let worker = nodes[1] / 1000
            #expect(nodes == [0] + (0..<500).map { worker * 1000 + $0 })
        }
        #expect(base.map(\.node) == [0])
    }
}
