import DrawbridgeCore
import Foundation
import Logging
import PostgresNIO
import Testing

/// The listener's logic without a database: what a notice names, what it drops, and that caches are emptied
/// while no notice can arrive.
@Suite struct CacheInvalidationTests {
    static let digest = SecretToken.sha256("a session cookie")

    @Test func payloadsRoundTripAndUnknownOnesAreRefused() {
        let all: [CacheInvalidation] = [.session(digest: Self.digest), .token(digest: Self.digest), .client(id: "chat-client"), .user(id: "42")]
        for invalidation in all {
            #expect(CacheInvalidation(payload: invalidation.payload) == invalidation)
            #expect(invalidation.payload.utf8.count < 8000)
        }
        // What the trigger writes: encode(id_hash, 'hex').
        let hex = Self.digest.map { String(format: "%02x", $0) }.joined()
        #expect(CacheInvalidation(payload: "session:" + hex) == .session(digest: Self.digest))
        #expect(CacheInvalidation(payload: "session:" + hex.uppercased()) == .session(digest: Self.digest))
        #expect(CacheInvalidation(payload: "session:abc") == nil, "not a SHA-256")
        #expect(CacheInvalidation(payload: "session:" + String(repeating: "zz", count: 32)) == nil)
        #expect(CacheInvalidation(payload: "grant:1") == nil, "a newer release's kind is ignored")
        #expect(CacheInvalidation(payload: "nonsense") == nil)
        #expect(CacheInvalidation(payload: "client:" + String(repeating: "x", count: 9000)).map(\.payload.utf8.count) ?? 0 < 8000)
    }

    @Test func aNoticeDropsExactlyWhatItNames() async throws {
        let sessions = SessionCaches(lifetime: .seconds(3600))
        let clients = CachingClientStore(FixedClients(), lifetime: .seconds(3600))
        let listener = CacheInvalidationListener(targets: [sessions, clients], logger: Logger(label: "test")) { throw Unreachable() }
        let other = SecretToken.sha256("another cookie")
        let session = Session(userID: "1", login: "alice", createdAt: Date(), lastSeenAt: Date(), expiresAt: Date() + 3600)
        sessions.byDigest.store(session, for: Self.digest)
        sessions.byDigest.store(session, for: other)
        sessions.byPlatformSession.store((Self.digest, session), for: [1, 2, 3])
        _ = try await clients.client(id: "chat-client")
        #expect(FixedClients.loads.count == 1)

        listener.apply(payload: CacheInvalidation.session(digest: Self.digest).payload)
        #expect(sessions.byDigest.value(for: Self.digest) == nil)
        #expect(sessions.byPlatformSession.value(for: [1, 2, 3]) == nil, "found by the session it holds")
        #expect(sessions.byDigest.value(for: other) != nil, "other sessions stay")
        listener.apply(payload: "token:" + String(repeating: "00", count: 32))
        listener.apply(payload: "garbage")
        #expect(sessions.byDigest.value(for: other) != nil)
        _ = try await clients.client(id: "chat-client")
        #expect(FixedClients.loads.count == 1, "still cached")
        listener.apply(payload: "client:chat-client")
        _ = try await clients.client(id: "chat-client")
        #expect(FixedClients.loads.count == 2, "read again after the notice")
    }

    /// A value read before a removal must not be stored after it: otherwise a session read just before another
    /// replica ended it would be kept for a whole (long) lifetime after the notice.
    @Test func aLoadThatRacesANoticeIsNotKept() async throws {
        let cache = ExpiringCache<String, Int>(lifetime: .seconds(3600))
        let generation = cache.generation
        cache.remove("k")
        cache.store(1, for: "k", loadedSince: generation)
        #expect(cache.value(for: "k") == nil)
        cache.store(2, for: "k", loadedSince: cache.generation)
        #expect(cache.value(for: "k") == 2)

        let started = AsyncStream<Void>.makeStream()
        let slow = Task {
            try await cache.value(for: "slow") {
                started.continuation.yield()
                try await Task.sleep(for: .milliseconds(200))
                return 1
            }
        }
        for await _ in started.stream { break }
        cache.remove("slow")
        #expect(try await slow.value == 1, "the request that was under way gets its answer")
        #expect(cache.value(for: "slow") == nil, "but it is not kept")
        #expect(try await cache.value(for: "slow") { 2 } == 2, "the next request reads afresh")
    }

    /// Notices sent while nothing listens are lost: until LISTEN works, caches are emptied every `unsyncedLifetime`.
    @Test func cachesAreEmptiedWhileTheListenerCannotConnect() async throws {
        let sessions = SessionCaches(lifetime: .seconds(3600))
        var timing = CacheInvalidationListener.Timing()
        timing.unsyncedLifetime = .milliseconds(100)
        timing.initialBackoff = .milliseconds(10)
        timing.maximumBackoff = .milliseconds(50)
        let attempts = LoadCounter()
        let listener = CacheInvalidationListener(targets: [sessions], timing: timing, logger: Logger(label: "test")) {
            attempts.add()
            throw Unreachable()
        }
        let started = ContinuousClock.now
        let running = Task { try await listener.run() }
        defer { running.cancel() }
        // Deadlines, not fixed sleeps: on a loaded machine the listener's tasks may wait a while for a thread.
        try await Self.waitUntil { attempts.count >= 3 }
        let elapsed = ContinuousClock.now - started
        #expect(Double(attempts.count) <= elapsed / .milliseconds(10) + 1, "backing off, not a tight loop (\(attempts.count) attempts in \(elapsed))")
        let session = Session(userID: "1", login: "alice", createdAt: Date(), lastSeenAt: Date(), expiresAt: Date() + 3600)
        sessions.byDigest.store(session, for: Self.digest)
        try await Self.waitUntil { sessions.byDigest.value(for: Self.digest) == nil }
        #expect(!listener.status.isListening)
        running.cancel()
        _ = try? await running.value
    }
}

extension CacheInvalidationTests {
    /// Counts turns, not wall time: in the full run, tests that hash passwords can hold every thread of the
    /// pool for many seconds, and then neither this loop nor the listener has run at all.
    static func waitUntil(_ condition: () -> Bool) async throws {
        for _ in 0..<2000 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("the condition never held in 2000 turns of 10 ms")
    }
}

private struct Unreachable: Error {}

/// One client, counting reads.
private struct FixedClients: ClientStore {
    static let loads = LoadCounter()

    func client(id: String) async throws -> OAuthClient? {
        Self.loads.add()
        return nil
    }

    func all() async throws -> [OAuthClient] { [] }
    func insert(_ client: OAuthClient) async throws {}
    func update(_ client: OAuthClient) async throws -> Bool { false }
    func remove(id: String) async throws -> Bool { false }
}
