import Testing

@testable import Runtime

/// Whether a step removed a token or timer (then its jobs are closed): one merge pass over ids in
/// ascending order, a set comparison otherwise.
@Suite struct RemovedIDsTests {
    func removesAny(_ before: [Int], keeping after: [Int]) -> Bool {
        ProcessRuntime<MemoryStore>.removesAny(before, keeping: after)
    }

    @Test func idsInOrder() {
        #expect(!removesAny([], keeping: []))
        #expect(!removesAny([], keeping: [1]))
        #expect(!removesAny([1, 2, 3], keeping: [1, 2, 3]))
        #expect(!removesAny([1, 2], keeping: [1, 2, 5]))
        #expect(removesAny([1, 2, 3], keeping: [1, 3]))
        #expect(removesAny([2], keeping: []))
        #expect(removesAny([1, 9], keeping: [1, 2, 3]))
    }

    @Test func idsOutOfOrder() {
        #expect(!removesAny([3, 1], keeping: [1, 3]))
        #expect(!removesAny([1, 3], keeping: [3, 1]))
        #expect(removesAny([1, 4], keeping: [3, 1]))
        #expect(removesAny([4, 1], keeping: [1, 3]))
    }
}
