import DrawbridgeCore
import Testing

@Suite struct SignInThrottleTests {
    let start = ContinuousClock.now

    @Test func aUserNameIsRefusedAfterItsFailuresUntilTheWindowEnds() {
        let throttle = SignInThrottle(settings: .init(userFailures: 3, addressFailures: 0, window: .seconds(60)))
        for _ in 0..<3 {
            #expect(throttle.retryAfter(user: "alice", address: "192.0.2.1", now: start) == nil)
            throttle.recordFailure(user: "alice", address: "192.0.2.1", now: start)
        }
        #expect(throttle.retryAfter(user: "Alice ", address: "198.51.100.9", now: start + .seconds(10)) == .seconds(50), "case and spaces do not dodge it, nor another address")
        #expect(throttle.retryAfter(user: "bob", address: "192.0.2.1", now: start + .seconds(10)) == nil, "other names are not affected")
        #expect(throttle.retryAfter(user: "alice", address: nil, now: start + .seconds(60)) == nil, "the window ends by itself")
    }

    @Test func anAddressIsRefusedAfterItsFailuresWhateverTheName() {
        let throttle = SignInThrottle(settings: .init(userFailures: 0, addressFailures: 4, window: .seconds(60)))
        for name in ["a", "b", "c", "d"] { throttle.recordFailure(user: name, address: "192.0.2.1", now: start) }
        #expect(throttle.retryAfter(user: "e", address: "192.0.2.1", now: start + .seconds(1)) == .seconds(59))
        #expect(throttle.retryAfter(user: "e", address: "192.0.2.2", now: start + .seconds(1)) == nil)
    }

    @Test func aSuccessClearsTheNameButNotTheAddress() {
        let throttle = SignInThrottle(settings: .init(userFailures: 2, addressFailures: 3, window: .seconds(60)))
        throttle.recordFailure(user: "alice", address: "192.0.2.1", now: start)
        throttle.recordFailure(user: "alice", address: "192.0.2.1", now: start)
        throttle.recordSuccess(user: "alice")
        #expect(throttle.retryAfter(user: "alice", address: "192.0.2.1", now: start) == nil)
        throttle.recordFailure(user: "mallory", address: "192.0.2.1", now: start)
        #expect(throttle.retryAfter(user: "alice", address: "192.0.2.1", now: start) != nil, "three failures from the address, one success does not reset them")
    }

    @Test func zeroTurnsAChecksOffAndMemoryStaysBounded() {
        let off = SignInThrottle(settings: .init(userFailures: 0, addressFailures: 0, window: .seconds(60)))
        for _ in 0..<100 { off.recordFailure(user: "alice", address: "192.0.2.1", now: start) }
        #expect(off.retryAfter(user: "alice", address: "192.0.2.1", now: start) == nil)
        let small = SignInThrottle(settings: .init(userFailures: 1, addressFailures: 0, window: .seconds(60)), capacity: 10)
        for index in 0..<25 { small.recordFailure(user: "user\(index)", address: nil, now: start) }
        #expect(small.retryAfter(user: "user24", address: nil, now: start) != nil, "the newest count is kept when old ones are dropped")
    }
}
