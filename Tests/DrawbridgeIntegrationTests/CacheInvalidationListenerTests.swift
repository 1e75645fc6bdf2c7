import DrawbridgeCore
import Foundation
import Logging
import Synchronization
import Testing

/// The triggers of `migrations/0009` and the listener over a real Postgres: every writer's change arrives as
/// a notice naming it, and a lost connection is noticed, re-established, and costs the caches their contents.
@Suite struct CacheInvalidationListenerTests {
    @Test func triggersNotifyAndTheListenerSurvivesALostConnection() async throws {
        try await TestDatabases.withFresh { try await Self.run($0) }
    }

    private static func run(_ databases: TestDatabases) async throws {
        let directory = try #require(Migration.defaultDirectory())
        try await DatabaseMigrator(url: databases.drawbridgeURL, schema: "drawbridge", migrations: try Migration.load(from: directory), logger: Logger(label: "test")).migrate()
        let url = databases.drawbridgeURL
        let caches = SessionCaches(lifetime: .seconds(60))
        let seen = Recorder()
        var timing = CacheInvalidationListener.Timing()
        timing.ping = .milliseconds(200)
        let listener = CacheInvalidationListener(url: url, targets: [caches, seen], timing: timing, logger: Logger(label: "test"))
        let running = Task { try await listener.run() }
        defer { running.cancel() }
        try await waitUntil("the listener listens") { listener.status.isListening }

        // A session deleted (sign-out, `sessions revoke`, the reaper: all delete the row).
        let session = SecretToken.sha256("cookie"), hex = Self.hex(session)
        try await TestDatabases.execute("INSERT INTO drawbridge.sessions (id_hash, user_id, login, expires_at) VALUES ('\\x\(hex)', '1', 'alice', now() + interval '1 hour')", on: url)
        caches.byDigest.store(Session(userID: "1", login: "alice", createdAt: Date(), lastSeenAt: Date(), expiresAt: Date() + 3600), for: session)
        // How soon is ReplicaTests' to measure (serialized, across processes); here only that it comes.
        try await TestDatabases.execute("DELETE FROM drawbridge.sessions WHERE id_hash = '\\x\(hex)'", on: url)
        try await waitUntil("the session's notice") { seen.all.contains(.session(digest: session)) }
        #expect(caches.byDigest.value(for: session) == nil)

        // Tokens: revoked → a notice; rotated (the refresh hot path) → none; a live one deleted → a notice.
        let access = SecretToken.sha256("access"), refresh = SecretToken.sha256("refresh"), live = SecretToken.sha256("live")
        try await TestDatabases.execute("""
            INSERT INTO drawbridge.oauth_tokens (token_hash, kind, family_id, client_id, scope, expires_at) VALUES
              ('\\x\(Self.hex(access))', 'access', gen_random_uuid(), 'client-one', 'openid', now() + interval '1 hour'),
              ('\\x\(Self.hex(refresh))', 'refresh', gen_random_uuid(), 'client-one', 'openid', now() + interval '1 hour'),
              ('\\x\(Self.hex(live))', 'access', gen_random_uuid(), 'client-two', 'openid', now() + interval '1 hour');
            UPDATE drawbridge.oauth_tokens SET rotated_at = now() WHERE token_hash = '\\x\(Self.hex(refresh))';
            UPDATE drawbridge.oauth_tokens SET revoked_at = now() WHERE token_hash = '\\x\(Self.hex(access))';
            UPDATE drawbridge.oauth_tokens SET revoked_at = now() WHERE token_hash = '\\x\(Self.hex(access))';
            DELETE FROM drawbridge.oauth_tokens WHERE client_id = 'client-two';
            INSERT INTO drawbridge.oauth_clients (client_id, name, redirect_uris, grant_types, public) VALUES ('client-one', 'One', '{}', '{}', true);
            UPDATE drawbridge.oauth_clients SET name = 'Uno' WHERE client_id = 'client-one';
            SELECT pg_notify('drawbridge_invalidate', 'user:marker');
            """, on: url)
        try await waitUntil("the marker") { seen.all.contains(.user(id: "marker")) }
        #expect(seen.all.filter { if case .session = $0 { false } else { true } } == [
            .token(digest: access), .token(digest: live), .client(id: "client-one"), .user(id: "marker"),
        ], "one notice per change, none for the rotation or the second UPDATE")

        // The connection dies: the listener reconnects and, having maybe missed notices, empties the caches.
        caches.byDigest.store(nil, for: session)
        let emptiedBefore = seen.emptied
        try await TestDatabases.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'drawbridge-listener' AND datname = current_database()", on: url
        )
        // At least a second: on a loaded machine a slow ping may cost one more reconnection.
        try await waitUntil("a second LISTEN") { listener.status.listens >= 2 && listener.status.isListening }
        #expect(seen.emptied > emptiedBefore)
        #expect(caches.byDigest.value(for: session) == nil)
        try await TestDatabases.execute("SELECT pg_notify('drawbridge_invalidate', 'user:after')", on: url)
        try await waitUntil("a notice after reconnecting") { seen.all.contains(.user(id: "after")) }
        running.cancel()
        _ = try? await running.value
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// Counts turns, not wall time: other suites in the same run can hold every thread for seconds.
    private static func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
        for _ in 0..<2000 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestSetupError("waited 2000 turns of 10 ms for \(what)")
    }
}

/// Every invalidation it is given, in order.
private final class Recorder: CacheInvalidationTarget {
    private let state = Mutex((all: [CacheInvalidation](), emptied: 0))
    var all: [CacheInvalidation] { state.withLock { $0.all } }
    var emptied: Int { state.withLock { $0.emptied } }
    func invalidate(_ invalidation: CacheInvalidation) { state.withLock { $0.all.append(invalidation) } }
    func invalidateAll() { state.withLock { $0.emptied += 1 } }
}
