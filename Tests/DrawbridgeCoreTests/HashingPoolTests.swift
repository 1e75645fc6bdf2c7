import DrawbridgeCore
import Foundation
import Synchronization
import Testing

@Suite struct HashingPoolTests {
    @Test func refusesWorkBeyondThreadsPlusQueue() async throws {
        let pool = HashingPool(settings: HashingSettings(threads: 1, queueLimit: 1))
        let release = Mutex(false)
        let started = Mutex(0)
        let blocker: @Sendable () -> Int = {
            started.withLock { $0 += 1 }
            while !release.withLock({ $0 }) { usleep(1000) }
            return 1
        }
        async let first = pool.run(blocker)
        async let second = pool.run(blocker)
        while started.withLock({ $0 }) < 1 || pool.load < 2 { try await Task.sleep(for: .milliseconds(5)) }
        await #expect(throws: HashingPoolError.overloaded) { try await pool.run { 0 } }
        release.withLock { $0 = true }
        #expect(try await first + second == 2)
        // Capacity comes back once the work is done.
        #expect(try await pool.run { 42 } == 42)
        try await pool.shutdown()
    }

    @Test func runsOffTheCallersThread() async throws {
        let pool = HashingPool(settings: HashingSettings(threads: 2, queueLimit: 0))
        let name = try await pool.run { Thread.current.name ?? "" }
        #expect(name.contains("TP"))
        try await pool.shutdown()
    }
}
