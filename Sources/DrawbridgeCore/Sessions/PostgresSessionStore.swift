import Foundation
import Logging
import PostgresNIO

/// Sessions in Drawbridge's own schema (`migrations/0001_sessions.sql`).
public struct PostgresSessionStore: SessionStore {
    let client: PostgresClient
    let table: String
    let idleTimeout: Int64
    let absoluteTimeout: Int64
    let logger: Logger

    public init(client: PostgresClient, schema: String, settings: SessionSettings, logger: Logger) {
        self.client = client
        self.table = SQLIdentifier.quote(schema) + ".sessions"
        self.idleTimeout = settings.idleTimeout.wholeSeconds
        self.absoluteTimeout = settings.absoluteTimeout.wholeSeconds
        self.logger = logger
    }

    public func create(userID: String, login: String, clientAddress: String?, userAgent: String?, platformSessionHash: [UInt8]?) async throws -> (SecretToken, Session) {
        let token = SecretToken()
        let agent = userAgent.map { String($0.prefix(512)) }
        let platform = platformSessionHash.map { Data($0) }
        let rows = try await client.query(
            """
            INSERT INTO \(unescaped: table) (id_hash, user_id, login, client_address, user_agent, expires_at, platform_session_hash, platform_checked_at)
            VALUES (\(Data(token.digest)), \(userID), \(login), \(clientAddress), \(agent), now() + make_interval(secs => \(Double(absoluteTimeout))),
                    \(platform), CASE WHEN \(platform)::bytea IS NULL THEN NULL ELSE now() END)
            RETURNING created_at, last_seen_at, expires_at, platform_checked_at
            """,
            logger: logger
        )
        for try await (created, lastSeen, expires, checked) in rows.decode((Date, Date, Date, Date?).self) {
            return (token, Session(userID: userID, login: login, createdAt: created, lastSeenAt: lastSeen, expiresAt: expires,
                                   platformSessionHash: platformSessionHash, platformCheckedAt: checked))
        }
        throw PostgresSessionStoreError.insertReturnedNothing
    }

    public func session(for token: SecretToken) async throws -> Session? {
        let digest = Data(token.digest)
        let rows = try await client.query(
            """
            SELECT user_id, login, created_at, last_seen_at, expires_at, last_seen_at < now() - interval '60 seconds',
                   platform_session_hash, platform_checked_at
            FROM \(unescaped: table)
            WHERE id_hash = \(digest) AND expires_at > now() AND last_seen_at > now() - make_interval(secs => \(Double(idleTimeout)))
            """,
            logger: logger
        )
        for try await (userID, login, created, lastSeen, expires, stale, platform, checked) in rows.decode((String, String, Date, Date, Date, Bool, Data?, Date?).self) {
            if stale {
                try await client.query("UPDATE \(unescaped: table) SET last_seen_at = now() WHERE id_hash = \(digest)", logger: logger)
            }
            return Session(userID: userID, login: login, createdAt: created, lastSeenAt: lastSeen, expiresAt: expires,
                           platformSessionHash: platform.map(Array.init), platformCheckedAt: checked)
        }
        return nil
    }

    public func delete(_ token: SecretToken) async throws {
        try await client.query("DELETE FROM \(unescaped: table) WHERE id_hash = \(Data(token.digest))", logger: logger)
    }

    public func end(digest: [UInt8]) async throws -> Session? {
        let rows = try await client.query(
            "DELETE FROM \(unescaped: table) WHERE id_hash = \(Data(digest)) RETURNING user_id, login, created_at, last_seen_at, expires_at",
            logger: logger
        )
        for try await (userID, login, created, lastSeen, expires) in rows.decode((String, String, Date, Date, Date).self) {
            return Session(userID: userID, login: login, createdAt: created, lastSeenAt: lastSeen, expiresAt: expires)
        }
        return nil
    }

    public func list(userID: String?, limit: Int) async throws -> [SessionRecord] {
        let rows = try await client.query(
            """
            SELECT id_hash, user_id, login, created_at, last_seen_at, expires_at, client_address, user_agent FROM \(unescaped: table)
            WHERE (\(userID)::text IS NULL OR user_id = \(userID))
              AND expires_at > now() AND last_seen_at > now() - make_interval(secs => \(Double(idleTimeout)))
            ORDER BY created_at DESC LIMIT \(limit)
            """,
            logger: logger
        )
        return try await Self.records(rows)
    }

    private static func records(_ rows: PostgresRowSequence) async throws -> [SessionRecord] {
        var result: [SessionRecord] = []
        for try await (digest, user, login, created, lastSeen, expires, address, agent) in rows.decode((Data, String, String, Date, Date, Date, String?, String?).self) {
            result.append(SessionRecord(digest: Array(digest), session: Session(userID: user, login: login, createdAt: created, lastSeenAt: lastSeen, expiresAt: expires),
                                        clientAddress: address, userAgent: agent))
        }
        return result
    }

    /// The live session whose `sid` this is (the sid is the digest's first 16 bytes, so this is an index range scan).
    public func record(sid: String) async throws -> SessionRecord? {
        guard let prefix = Base64URL.decode(sid), prefix.count == 16 else { return nil }
        let low = Data(prefix + [UInt8](repeating: 0, count: 16)), high = Data(prefix + [UInt8](repeating: 0xFF, count: 16))
        let rows = try await client.query(
            """
            SELECT id_hash, user_id, login, created_at, last_seen_at, expires_at, client_address, user_agent FROM \(unescaped: table)
            WHERE id_hash BETWEEN \(low) AND \(high) AND expires_at > now()
            """,
            logger: logger
        )
        return try await Self.records(rows).first
    }

    public func session(platformSessionHash: [UInt8]) async throws -> (digest: [UInt8], session: Session)? {
        let rows = try await client.query(
            """
            SELECT id_hash, user_id, login, created_at, last_seen_at, expires_at, platform_checked_at FROM \(unescaped: table)
            WHERE platform_session_hash = \(Data(platformSessionHash))
              AND expires_at > now() AND last_seen_at > now() - make_interval(secs => \(Double(idleTimeout)))
            ORDER BY created_at DESC LIMIT 1
            """,
            logger: logger
        )
        for try await (digest, userID, login, created, lastSeen, expires, checked) in rows.decode((Data, String, String, Date, Date, Date, Date?).self) {
            return (Array(digest), Session(userID: userID, login: login, createdAt: created, lastSeenAt: lastSeen, expiresAt: expires,
                                           platformSessionHash: platformSessionHash, platformCheckedAt: checked))
        }
        return nil
    }

    public func claimPlatformRechecks(olderThan: Duration, lease: Duration, limit: Int) async throws -> [(digest: [UInt8], session: Session)] {
        let rows = try await client.query(
            """
            UPDATE \(unescaped: table) SET platform_claimed_until = now() + make_interval(secs => \(lease.fractionalSeconds))
            WHERE id_hash IN (
                SELECT id_hash FROM \(unescaped: table)
                WHERE platform_session_hash IS NOT NULL
                  AND platform_checked_at <= now() - make_interval(secs => \(olderThan.fractionalSeconds))
                  AND (platform_claimed_until IS NULL OR platform_claimed_until < now())
                  AND expires_at > now() AND last_seen_at > now() - make_interval(secs => \(Double(idleTimeout)))
                ORDER BY platform_checked_at LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            )
            RETURNING id_hash, user_id, login, created_at, last_seen_at, expires_at, platform_session_hash, platform_checked_at
            """,
            logger: logger
        )
        var claimed: [(digest: [UInt8], session: Session)] = []
        for try await (digest, userID, login, created, lastSeen, expires, platform, confirmed) in rows.decode((Data, String, String, Date, Date, Date, Data, Date).self) {
            claimed.append((Array(digest), Session(userID: userID, login: login, createdAt: created, lastSeenAt: lastSeen, expiresAt: expires,
                                                   platformSessionHash: Array(platform), platformCheckedAt: confirmed)))
        }
        return claimed
    }

    public func platformUnanswered(digest: [UInt8], retryAfter: Duration) async throws {
        try await client.query(
            "UPDATE \(unescaped: table) SET platform_claimed_until = now() + make_interval(secs => \(retryAfter.fractionalSeconds)) WHERE id_hash = \(Data(digest))",
            logger: logger
        )
    }

    public func platformConfirmed(digest: [UInt8]) async throws {
        try await client.query("UPDATE \(unescaped: table) SET platform_checked_at = now(), platform_claimed_until = NULL WHERE id_hash = \(Data(digest))", logger: logger)
    }

    public func deleteExpired() async throws -> Int {
        let rows = try await client.query(
            """
            WITH gone AS (
                DELETE FROM \(unescaped: table)
                WHERE expires_at <= now() OR last_seen_at <= now() - make_interval(secs => \(Double(idleTimeout)))
                RETURNING 1
            ) SELECT count(*) FROM gone
            """,
            logger: logger
        )
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }
}

enum PostgresSessionStoreError: Error {
    case insertReturnedNothing
}
