import Foundation
import Logging
import PostgresNIO

/// Service tokens in Drawbridge's schema (`migrations/0007_service_tokens_and_handoffs.sql`).
public struct PostgresServiceTokenStore: ServiceTokenStore {
    let client: PostgresClient
    let table: String
    let logger: Logger

    public init(client: PostgresClient, schema: String, logger: Logger) {
        self.client = client
        self.table = SQLIdentifier.quote(schema) + ".service_tokens"
        self.logger = logger
    }

    public func add(name: String) async throws -> ServiceToken {
        guard ServiceToken.isValidName(name) else { throw ServiceTokenError.invalidName(name) }
        let token = ServiceToken()
        // A revoked token's name may be reused: the old row gives way to the new one.
        let rows = try await client.query(
            """
            INSERT INTO \(unescaped: table) (name, token_hash) VALUES (\(name), \(Data(token.digest)))
            ON CONFLICT (name) DO UPDATE SET token_hash = EXCLUDED.token_hash, created_at = now(), last_used_at = NULL, revoked_at = NULL
            WHERE \(unescaped: table).revoked_at IS NOT NULL
            RETURNING name
            """,
            logger: logger
        )
        for try await _ in rows.decode(String.self) { return token }
        throw ServiceTokenError.nameTaken(name)
    }

    public func list() async throws -> [ServiceTokenRecord] {
        let rows = try await client.query(
            "SELECT name, created_at, last_used_at, revoked_at FROM \(unescaped: table) ORDER BY name", logger: logger
        )
        var records: [ServiceTokenRecord] = []
        for try await (name, created, used, revoked) in rows.decode((String, Date, Date?, Date?).self) {
            records.append(ServiceTokenRecord(name: name, createdAt: created, lastUsedAt: used, revokedAt: revoked))
        }
        return records
    }

    public func revoke(name: String) async throws -> Bool {
        let rows = try await client.query(
            "UPDATE \(unescaped: table) SET revoked_at = now() WHERE name = \(name) AND revoked_at IS NULL RETURNING name", logger: logger
        )
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    public func authenticate(_ presented: ServiceToken) async throws -> String? {
        // The look-up is by the digest of a 256-bit secret: its timing says nothing about any token.
        // last_used_at is written at most once a minute per token, so a busy backend costs no writes.
        let rows = try await client.query(
            """
            WITH hit AS (
                SELECT name, last_used_at FROM \(unescaped: table) WHERE token_hash = \(Data(presented.digest)) AND revoked_at IS NULL
            ), touched AS (
                UPDATE \(unescaped: table) t SET last_used_at = now() FROM hit
                WHERE t.name = hit.name AND (hit.last_used_at IS NULL OR hit.last_used_at < now() - interval '60 seconds')
            )
            SELECT name FROM hit
            """,
            logger: logger
        )
        for try await name in rows.decode(String.self) { return name }
        return nil
    }
}
