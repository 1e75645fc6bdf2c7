import DrawbridgeCore
import Synchronization
import Testing

@Suite struct ExpiringCacheTests {
    @Test func entriesExpireAndCanBeDropped() async throws {
        let cache = ExpiringCache<String, Int>(lifetime: .milliseconds(200), capacity: 3)
        cache.store(1, for: "a")
        #expect(cache.value(for: "a") == 1)
        cache.store(2, for: "b", notAfter: .now)
        #expect(cache.value(for: "b") == nil, "a deadline earlier than the lifetime wins")
        try await Task.sleep(for: .milliseconds(250))
        #expect(cache.value(for: "a") == nil)
        cache.store(1, for: "a")
        cache.remove("a")
        #expect(cache.value(for: "a") == nil)
        for (index, key) in ["x", "y", "z", "w"].enumerated() { cache.store(index, for: key) }
        #expect(cache.value(for: "w") == 3, "over capacity, the newest entry is still kept")
        let loads = LoadCounter()
        for _ in 0..<3 { _ = try await cache.value(for: "q") { loads.add(); return 9 } }
        #expect(loads.count == 1)
        let disabled = ExpiringCache<String, Int>(lifetime: .zero)
        disabled.store(1, for: "a")
        #expect(disabled.value(for: "a") == nil)
    }

    /// A burst that misses together costs one load (forward auth's sessions and users under load).
    @Test func concurrentMissesShareOneLoadAndItsError() async throws {
        let cache = ExpiringCache<String, Int>(lifetime: .seconds(60))
        let loads = LoadCounter()
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    try await cache.value(for: "hot") {
                        loads.add()
                        try await Task.sleep(for: .milliseconds(100))
                        return 7
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(values == Array(repeating: 7, count: 50))
        #expect(loads.count == 1)

        struct Down: Error {}
        let failures = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<10 {
                group.addTask { (try? await cache.value(for: "cold") { try await Task.sleep(for: .milliseconds(50)); throw Down() }) == nil }
            }
            return await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(failures == 10, "every waiter gets the error")
        #expect(try await cache.value(for: "cold") { 3 } == 3, "a failed load is not kept")
    }
}

/// Counts loads from concurrent tasks.
final class LoadCounter: Sendable {
    private let value = Mutex(0)
    func add() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}
