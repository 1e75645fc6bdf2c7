import Foundation
import PostgresNIO

/// The refresh grant's one statement, as a named prepared statement: the refresh endpoint is the hottest
/// writer, and a prepared statement skips parsing and planning this CTE on every call. Static SQL cannot
/// name the configured schema, so the table is found through the connections' `search_path`, which
/// `PostgresURL.clientConfiguration(schema:)` sets.
///
/// `o` locks the old row and remembers whether (and when) it was rotated before; `r` marks it rotated;
/// `n` inserts its successors unless this is a reuse past the grace window. One row comes back when the
/// token exists: `scope_ok`, the old grant's `tokenColumns` (null when not usable), `past_grace`, and the
/// new access token's scope, created_at and expires_at.
struct RotateRefreshTokenStatement: PostgresPreparedStatement {
    typealias Row = PostgresRow

    static let sql = """
        WITH o AS (
            SELECT token_hash, rotated_at AS previous,
                   $1::text IS NULL OR string_to_array($1::text, ' ') <@ string_to_array(scope, ' ') AS scope_ok
            FROM oauth_tokens WHERE token_hash = $2::bytea AND kind = 'refresh' FOR UPDATE
        ), r AS (
            UPDATE oauth_tokens AS t SET rotated_at = COALESCE(t.rotated_at, now())
            FROM o WHERE t.token_hash = o.token_hash AND o.scope_ok AND t.client_id = $3::text AND t.revoked_at IS NULL AND t.expires_at > now()
            RETURNING t.*, o.previous IS NOT NULL AND o.previous < now() - make_interval(secs => $4::float8) AS past_grace
        ), n AS (
            INSERT INTO oauth_tokens (token_hash, kind, family_id, client_id, user_id, user_login, scope, session_hash, auth_time, expires_at)
            SELECT v.hash, v.kind, r.family_id, r.client_id, r.user_id, r.user_login, COALESCE($1::text, r.scope), r.session_hash, r.auth_time,
                   now() + make_interval(secs => v.lifetime)
            FROM r, (VALUES ($5::bytea, 'access', $6::float8), ($7::bytea, 'refresh', $8::float8)) AS v(hash, kind, lifetime)
            WHERE NOT r.past_grace
            RETURNING kind, scope, created_at, expires_at
        )
        SELECT o.scope_ok, r.kind, r.family_id, r.client_id, r.user_id, r.user_login, r.scope, r.session_hash, r.auth_time, r.created_at,
               r.expires_at, r.rotated_at, r.revoked_at, r.past_grace, n.scope, n.created_at, n.expires_at
        FROM o LEFT JOIN r ON true LEFT JOIN n ON n.kind = 'access'
        """

    var requestedScope: String?
    var tokenHash: Data
    var clientID: String
    var graceSeconds: Double
    var accessHash: Data
    var accessLifetime: Double
    var refreshHash: Data
    var refreshLifetime: Double

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 8)
        bindings.append(requestedScope)
        try bindings.append(tokenHash)
        bindings.append(clientID)
        bindings.append(graceSeconds)
        try bindings.append(accessHash)
        bindings.append(accessLifetime)
        try bindings.append(refreshHash)
        bindings.append(refreshLifetime)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}
