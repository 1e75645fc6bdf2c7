import DrawbridgeCore
import Synchronization
import Testing

@Suite struct ExpiringCacheTests {
    @Test func entriesExpireAndCanBeDropped() async throws {
        let clock = ManualClock()
        let cache = ExpiringCache<String, Int>(lifetime: .milliseconds(200), capacity: 3, now: clock.now)
        cache.store(1, for: "a")
        #expect(cache.value(for: "a") == 1)
        cache.store(2, for: "b", notAfter: clock.now())
        #expect(cache.value(for: "b") == nil, "a deadline earlier than the lifetime wins")
        clock.advance(by: .milliseconds(250))
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

    /// Under steady traffic a hot entry is reloaded behind the requests' backs: nobody waits for the routine
    /// reload, and the value is still never older than the lifetime. (Time is moved by hand: a test that slept
    /// would depend on how late a busy machine wakes it.)
    @Test func anEntryNearTheEndOfItsLifeIsServedWhileOneBackgroundLoadRefreshesIt() async throws {
        let clock = ManualClock()
        let cache = ExpiringCache<String, Int>(lifetime: .seconds(10), now: clock.now)
        cache.store(1, for: "hot")
        let gate = Gate()
        let loads = LoadCounter()
        let heldLoad: @Sendable () async throws -> Int = { loads.add(); await gate.passage(); return 2 }
        clock.advance(by: .seconds(7))
        #expect(try await cache.value(for: "hot", load: heldLoad) == 1, "not due yet")
        #expect(loads.count == 0)
        clock.advance(by: .seconds(2))  // 9 s of 10: due
        for _ in 0..<5 {
            // Had a read waited for the reload, it could only return once the gate opens, and with 2.
            #expect(try await cache.value(for: "hot", load: heldLoad) == 1, "the current value, at once")
        }
        gate.open()
        #expect(try await eventually { cache.value(for: "hot") == 2 }, "the background load stored its value")
        #expect(loads.count == 1, "five reads of a due entry started one reload")
        clock.advance(by: .seconds(5))
        #expect(cache.value(for: "hot") == 2, "the reloaded entry lives a lifetime from its reload")
    }

    /// A value read from the source before a removal (another replica's sign-out) is not kept after it.
    @Test func aBackgroundLoadThatBeganBeforeARemovalDoesNotStoreItsValue() async throws {
        let clock = ManualClock()
        let cache = ExpiringCache<String, Int>(lifetime: .seconds(10), now: clock.now)
        cache.store(1, for: "k")
        clock.advance(by: .seconds(9))
        let gate = Gate()
        let finished = LoadCounter()
        #expect(try await cache.value(for: "k") { await gate.passage(); finished.add(); return 2 } == 1)
        cache.remove("k")
        gate.open()
        #expect(try await eventually { finished.count == 1 })
        try await Task.sleep(for: .milliseconds(50))
        #expect(cache.value(for: "k") == nil)
    }
}

/// A clock the test moves forward by hand.
final class ManualClock: Sendable {
    private let offset = Mutex(Duration.zero)
    private let start = ContinuousClock.now
    var now: @Sendable () -> ContinuousClock.Instant { { [self] in start + offset.withLock { $0 } } }
    func advance(by duration: Duration) { offset.withLock { $0 += duration } }
}

/// Holds loads until the test lets them through (at most 10 s, so a broken test ends).
final class Gate: Sendable {
    private let isOpen = Mutex(false)
    func open() { isOpen.withLock { $0 = true } }
    func passage() async {
        var waits = 0
        while !isOpen.withLock({ $0 }), waits < 2_000 {
            try? await Task.sleep(for: .milliseconds(5))
            waits += 1
        }
    }
}

/// Polls `condition` for up to 5 s.
func eventually(_ condition: () -> Bool) async throws -> Bool {
    for _ in 0..<500 {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// Counts loads from concurrent tasks.
final class LoadCounter: Sendable {
    private let value = Mutex(0)
    func add() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}
