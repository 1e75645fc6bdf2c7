import DrawbridgeCore
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
        var loads = 0
        for _ in 0..<3 { _ = await cache.value(for: "q") { loads += 1; return 9 } }
        #expect(loads == 1)
        let disabled = ExpiringCache<String, Int>(lifetime: .zero)
        disabled.store(1, for: "a")
        #expect(disabled.value(for: "a") == nil)
    }
}
