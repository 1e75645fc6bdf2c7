import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Codes, tokens, consents and numeric ids in Drawbridge's schema (`migrations/0002_oauth.sql`).
/// The common paths are one statement each: redeem a code, issue a token pair, look a token up.
public final class PostgresGrantStore: GrantStore {
    let client: PostgresClient
    let schema: String
    let logger: Logger
    /// Platform id → numeric id never changes once assigned, so it is cached for good (bounded).
    private let numericIDs = Mutex<[String: Int64]>([:])

    public init(client: PostgresClient, schema: String, logger: Logger) {
        self.client = client
        self.schema = SQLIdentifier.quote(schema)
        self.logger = logger
    }

    private var codes: String { schema + ".authorization_codes" }
    private var tokens: String { schema + ".oauth_tokens" }
    private var consents: String { schema + ".oauth_consents" }
    private var numeric: String { schema + ".user_numeric_ids" }

    public func storeCode(_ code: SecretToken, grant: AuthorizationCodeGrant, lifetime: Duration) async throws {
        try await client.query(
            """
            INSERT INTO \(unescaped: codes) (code_hash, client_id, user_id, user_login, redirect_uri, scope, nonce, code_challenge,
                code_challenge_method, session_hash, auth_time, expires_at)
            VALUES (\(Data(code.digest)), \(grant.clientID), \(grant.userID), \(grant.userLogin), \(grant.redirectURI), \(grant.scope.description),
                \(grant.nonce), \(grant.codeChallenge), \(grant.codeChallengeMethod?.rawValue), \(grant.sessionHash.map { Data($0) }), \(grant.authTime),
                now() + make_interval(secs => \(Double(lifetime.wholeSeconds))))
            """,
            logger: logger
        )
    }

    public func redeemCode(_ code: SecretToken) async throws -> CodeRedemption {
        let hash = Data(code.digest)
        let rows = try await client.query(
            """
            UPDATE \(unescaped: codes) SET used_at = now() WHERE code_hash = \(hash) AND used_at IS NULL
            RETURNING client_id, user_id, user_login, redirect_uri, scope, nonce, code_challenge, code_challenge_method, session_hash, auth_time, expires_at <= now()
            """,
            logger: logger
        )
        for try await (clientID, userID, login, redirect, scope, nonce, challenge, method, session, authTime, expired) in rows.decode(
            (String, String, String, String, String, String?, String?, String?, Data?, Date, Bool).self
        ) {
            let grant = AuthorizationCodeGrant(
                clientID: clientID, userID: userID, userLogin: login, redirectURI: redirect, scope: Scope(scope), nonce: nonce,
                codeChallenge: challenge, codeChallengeMethod: method.flatMap(PKCE.Method.init(rawValue:)),
                sessionHash: session.map(Array.init), authTime: authTime
            )
            return .redeemed(grant, codeHash: Array(hash), expired: expired)
        }
        // Not redeemable: a replay if the code exists (used before), else unknown.
        let family = TokenFamily.forCode(hash: Array(hash))
        let replayed = try await client.query(
            """
            WITH code AS (SELECT 1 FROM \(unescaped: codes) WHERE code_hash = \(hash)),
                 revoked AS (UPDATE \(unescaped: tokens) SET revoked_at = now() WHERE family_id = \(family) AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM code))
            SELECT 1 FROM code
            """,
            logger: logger
        ).collect()
        return replayed.isEmpty ? .unknown : .replayed
    }

    public func issueTokens(
        familyID: UUID, clientID: String, userID: String?, userLogin: String?, scope: Scope,
        sessionHash: [UInt8]?, authTime: Date?, accessLifetime: Duration, refreshLifetime: Duration?
    ) async throws -> IssuedTokens {
        let access = SecretToken()
        let refresh = refreshLifetime.map { _ in SecretToken() }
        let session = sessionHash.map { Data($0) }
        // One statement for both rows; the refresh row is simply absent when the client may not refresh.
        let rows = try await client.query(
            """
            INSERT INTO \(unescaped: tokens) (token_hash, kind, family_id, client_id, user_id, user_login, scope, session_hash, auth_time, expires_at)
            SELECT t.hash, t.kind, \(familyID), \(clientID), \(userID), \(userLogin), \(scope.description), \(session), \(authTime),
                   now() + make_interval(secs => t.lifetime)
            FROM (VALUES (\(Data(access.digest)), 'access', \(Double(accessLifetime.wholeSeconds))),
                         (\(refresh.map { Data($0.digest) }), 'refresh', \(Double(refreshLifetime?.wholeSeconds ?? 0)))) AS t(hash, kind, lifetime)
            WHERE t.hash IS NOT NULL
            RETURNING kind, created_at, expires_at
            """,
            logger: logger
        )
        var created = Date()
        var expires = Date()
        for try await (kind, createdAt, expiresAt) in rows.decode((String, Date, Date).self) where kind == "access" {
            created = createdAt
            expires = expiresAt
        }
        let grant = TokenGrant(kind: .access, familyID: familyID, clientID: clientID, userID: userID, userLogin: userLogin, scope: scope,
                               sessionHash: sessionHash, authTime: authTime, createdAt: created, expiresAt: expires)
        return IssuedTokens(accessToken: access, refreshToken: refresh, grant: grant)
    }

    private static let tokenColumns = "kind, family_id, client_id, user_id, user_login, scope, session_hash, auth_time, created_at, expires_at, rotated_at, revoked_at"

    public func token(_ token: SecretToken) async throws -> TokenGrant? {
        let rows = try await client.query(
            "SELECT \(unescaped: Self.tokenColumns) FROM \(unescaped: tokens) WHERE token_hash = \(Data(token.digest))", logger: logger
        )
        return try await Self.decodeGrants(rows).first
    }

    public func rotateRefreshToken(
        _ token: SecretToken, clientID: String, scope: Scope?, reuseGrace: Duration, accessLifetime: Duration, refreshLifetime: Duration
    ) async throws -> RefreshRotation {
        let access = SecretToken(), refresh = SecretToken()
        let rows = try await client.execute(RotateRefreshTokenStatement(
            requestedScope: scope?.description, tokenHash: Data(token.digest), clientID: clientID,
            graceSeconds: Double(reuseGrace.wholeSeconds), accessHash: Data(access.digest), accessLifetime: Double(accessLifetime.wholeSeconds),
            refreshHash: Data(refresh.digest), refreshLifetime: Double(refreshLifetime.wholeSeconds)
        ), logger: logger)
        for try await row in rows {
            let cells = Array(row)
            guard try cells[0].decode(Bool.self) else { return .scopeTooWide }
            guard try cells[1].decode(String?.self) != nil else { return .invalid }
            let old = try Self.decodeGrant(row, from: 1)
            guard try !cells[13].decode(Bool.self) else {
                try await revokeFamily(old.familyID)
                logger.warning("refresh token reused after rotation; token family revoked", metadata: ["client_id": "\(clientID)"])
                return .reuseDetected
            }
            let grant = TokenGrant(
                kind: .access, familyID: old.familyID, clientID: old.clientID, userID: old.userID, userLogin: old.userLogin,
                scope: Scope(try cells[14].decode(String.self)), sessionHash: old.sessionHash, authTime: old.authTime,
                createdAt: try cells[15].decode(Date.self), expiresAt: try cells[16].decode(Date.self)
            )
            return .rotated(IssuedTokens(accessToken: access, refreshToken: refresh, grant: grant))
        }
        return .invalid
    }

    public func revoke(_ token: SecretToken, clientID: String) async throws -> Bool {
        guard let grant = try await self.token(token), grant.clientID == clientID else { return false }
        if grant.kind == .refresh {
            try await revokeFamily(grant.familyID)
        } else {
            try await client.query("UPDATE \(unescaped: tokens) SET revoked_at = now() WHERE token_hash = \(Data(token.digest)) AND revoked_at IS NULL", logger: logger)
        }
        return true
    }

    public func revokeFamily(_ familyID: UUID) async throws {
        try await client.query("UPDATE \(unescaped: tokens) SET revoked_at = now() WHERE family_id = \(familyID) AND revoked_at IS NULL", logger: logger)
    }

    public func revokeAll(userID: String) async throws -> Int {
        let rows = try await client.query("UPDATE \(unescaped: tokens) SET revoked_at = now() WHERE user_id = \(userID) AND revoked_at IS NULL RETURNING 1", logger: logger)
        return try await rows.collect().count
    }

    public func revokeSession(digest: [UInt8]) async throws -> [String] {
        let session = Data(digest)
        try await client.query("UPDATE \(unescaped: codes) SET used_at = now() WHERE session_hash = \(session) AND used_at IS NULL", logger: logger)
        let rows = try await client.query(
            """
            WITH revoked AS (
                UPDATE \(unescaped: tokens) SET revoked_at = now() WHERE session_hash = \(session) AND revoked_at IS NULL RETURNING client_id
            )
            SELECT client_id FROM revoked UNION SELECT client_id FROM \(unescaped: tokens) WHERE session_hash = \(session)
            """,
            logger: logger
        )
        var clients: [String] = []
        for try await id in rows.decode(String.self) { clients.append(id) }
        return clients
    }

    public func deleteExpired() async throws -> Int {
        let rows = try await client.query(
            """
            WITH codes AS (DELETE FROM \(unescaped: codes) WHERE expires_at < now() RETURNING 1),
                 tokens AS (DELETE FROM \(unescaped: tokens) WHERE expires_at < now() RETURNING 1)
            SELECT (SELECT count(*) FROM codes) + (SELECT count(*) FROM tokens)
            """,
            logger: logger
        )
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    public func hasConsent(userID: String, clientID: String, scope: Scope) async throws -> Bool {
        let rows = try await client.query("SELECT scopes FROM \(unescaped: consents) WHERE user_id = \(userID) AND client_id = \(clientID)", logger: logger)
        for try await scopes in rows.decode([String].self) {
            return scope.values.allSatisfy(scopes.contains)
        }
        return false
    }

    public func recordConsent(userID: String, clientID: String, scope: Scope) async throws {
        try await client.query(
            """
            INSERT INTO \(unescaped: consents) (user_id, client_id, scopes) VALUES (\(userID), \(clientID), \(scope.values))
            ON CONFLICT (user_id, client_id) DO UPDATE
            SET scopes = ARRAY(SELECT DISTINCT unnest(\(unescaped: consents).scopes || EXCLUDED.scopes)), granted_at = now()
            """,
            logger: logger
        )
    }

    public func numericID(forPlatformID platformID: String) async throws -> Int64 {
        // Positive integer platform ids are used as they are (no leading zeros, so the text round-trips).
        if let direct = Int64(platformID), direct > 0, String(direct) == platformID { return direct }
        if let cached = numericIDs.withLock({ $0[platformID] }) { return cached }
        let rows = try await client.query(
            """
            WITH inserted AS (
                INSERT INTO \(unescaped: numeric) (platform_id) VALUES (\(platformID)) ON CONFLICT (platform_id) DO NOTHING RETURNING numeric_id
            )
            SELECT numeric_id FROM inserted UNION ALL SELECT numeric_id FROM \(unescaped: numeric) WHERE platform_id = \(platformID) LIMIT 1
            """,
            logger: logger
        )
        for try await id in rows.decode(Int64.self) {
            numericIDs.withLock { cache in
                if cache.count > 100_000 { cache.removeAll(keepingCapacity: true) }
                cache[platformID] = id
            }
            return id
        }
        throw OAuthError(.serverError, "could not assign a numeric id")
    }

    private static func decodeGrants(_ rows: PostgresRowSequence) async throws -> [TokenGrant] {
        var grants: [TokenGrant] = []
        for try await row in rows { grants.append(try decodeGrant(row)) }
        return grants
    }

    /// Decodes `tokenColumns`, found in the row from column `first` on.
    private static func decodeGrant(_ row: PostgresRow, from first: Int = 0) throws -> TokenGrant {
        let cells = Array(Array(row).dropFirst(first))
        let kind = try cells[0].decode(String.self), family = try cells[1].decode(UUID.self), clientID = try cells[2].decode(String.self)
        let userID = try cells[3].decode(String?.self), login = try cells[4].decode(String?.self), scope = try cells[5].decode(String.self)
        let session = try cells[6].decode(Data?.self), authTime = try cells[7].decode(Date?.self), created = try cells[8].decode(Date.self)
        let expires = try cells[9].decode(Date.self), rotated = try cells[10].decode(Date?.self), revoked = try cells[11].decode(Date?.self)
        return TokenGrant(
            kind: TokenGrant.Kind(rawValue: kind) ?? .access, familyID: family, clientID: clientID, userID: userID, userLogin: login,
            scope: Scope(scope), sessionHash: session.map(Array.init), authTime: authTime, createdAt: created, expiresAt: expires,
            rotatedAt: rotated, revokedAt: revoked
        )
    }
}
