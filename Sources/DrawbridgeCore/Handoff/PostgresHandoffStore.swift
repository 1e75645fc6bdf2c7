import Foundation
import Logging
import PostgresNIO

/// One-time sign-in links in Drawbridge's schema (`migrations/0007_service_tokens_and_handoffs.sql`).
public struct PostgresHandoffStore: HandoffStore {
    let client: PostgresClient
    let table: String
    let logger: Logger

    public init(client: PostgresClient, schema: String, logger: Logger) {
        self.client = client
        self.table = SQLIdentifier.quote(schema) + ".handoffs"
        self.logger = logger
    }

    public func create(_ grant: HandoffGrant, lifetime: Duration) async throws -> (code: SecretToken, expiresAt: Date) {
        let code = SecretToken()
        let rows = try await client.query(
            """
            INSERT INTO \(unescaped: table) (code_hash, platform_user_id, login, redirect, token_name, expires_at)
            VALUES (\(Data(code.digest)), \(grant.platformUserID), \(grant.login), \(grant.redirect), \(grant.tokenName),
                    now() + make_interval(secs => \(Double(lifetime.wholeSeconds))))
            RETURNING expires_at
            """,
            logger: logger
        )
        for try await expiresAt in rows.decode(Date.self) { return (code, expiresAt) }
        throw HandoffStoreError.insertReturnedNothing
    }

    public func redeem(_ code: SecretToken) async throws -> HandoffRedemption {
        // One statement: the UPDATE takes the row lock, so a second concurrent visit sees used_at set.
        let rows = try await client.query(
            """
            WITH claimed AS (
                UPDATE \(unescaped: table) SET used_at = now()
                WHERE code_hash = \(Data(code.digest)) AND used_at IS NULL AND expires_at > now()
                RETURNING platform_user_id, login, redirect, token_name, true AS fresh, false AS expired
            )
            SELECT * FROM claimed
            UNION ALL
            SELECT platform_user_id, login, redirect, token_name, false, used_at IS NULL AND expires_at <= now()
            FROM \(unescaped: table) WHERE code_hash = \(Data(code.digest)) AND NOT EXISTS (SELECT 1 FROM claimed)
            """,
            logger: logger
        )
        for try await (userID, login, redirect, tokenName, fresh, expired) in rows.decode((String, String, String, String, Bool, Bool).self) {
            let grant = HandoffGrant(platformUserID: userID, login: login, redirect: redirect, tokenName: tokenName)
            if fresh { return .redeemed(grant) }
            return expired ? .expired : .alreadyUsed(grant)
        }
        return .unknown
    }

    public func deleteExpired() async throws -> Int {
        let rows = try await client.query(
            "WITH gone AS (DELETE FROM \(unescaped: table) WHERE expires_at < now() - interval '1 hour' RETURNING 1) SELECT count(*) FROM gone",
            logger: logger
        )
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }
}

enum HandoffStoreError: Error {
    case insertReturnedNothing
}
