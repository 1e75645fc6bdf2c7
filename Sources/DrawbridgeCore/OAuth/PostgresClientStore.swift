import Foundation
import Logging
import PostgresNIO

public struct PostgresClientStore: ClientStore {
    let client: PostgresClient
    let table: String
    let tokens: String
    let logger: Logger

    public init(client: PostgresClient, schema: String, logger: Logger) {
        self.client = client
        self.table = SQLIdentifier.quote(schema) + ".oauth_clients"
        self.tokens = SQLIdentifier.quote(schema) + ".oauth_tokens"
        self.logger = logger
    }

    private static let columns = "client_id, name, secret_hash, redirect_uris, grant_types, trusted, public, allow_plain_pkce, backchannel_logout_uri, post_logout_redirect_uris, created_at"

    public func client(id: String) async throws -> OAuthClient? {
        guard ClientSecret.isValidClientID(id) else { return nil }
        return try await fetch("SELECT \(unescaped: Self.columns) FROM \(unescaped: table) WHERE client_id = \(id)").first
    }

    public func all() async throws -> [OAuthClient] {
        try await fetch("SELECT \(unescaped: Self.columns) FROM \(unescaped: table) ORDER BY created_at, client_id")
    }

    public func insert(_ oauthClient: OAuthClient) async throws {
        do {
            try await client.query(
                """
                INSERT INTO \(unescaped: table) (client_id, name, secret_hash, redirect_uris, grant_types, trusted, public, allow_plain_pkce, backchannel_logout_uri, post_logout_redirect_uris)
                VALUES (\(oauthClient.clientID), \(oauthClient.name), \(oauthClient.secretHash.map { Data($0) }), \(oauthClient.redirectURIs), \(oauthClient.grantTypes.map(\.rawValue).sorted()),
                        \(oauthClient.isTrusted), \(oauthClient.isPublic), \(oauthClient.allowsPlainPKCE), \(oauthClient.backchannelLogoutURI), \(oauthClient.postLogoutRedirectURIs))
                """,
                logger: logger
            )
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw ClientStoreError.duplicate(oauthClient.clientID)
        }
    }

    public func update(_ oauthClient: OAuthClient) async throws -> Bool {
        let rows = try await client.query(
            """
            UPDATE \(unescaped: table) SET name = \(oauthClient.name), secret_hash = \(oauthClient.secretHash.map { Data($0) }),
                redirect_uris = \(oauthClient.redirectURIs), grant_types = \(oauthClient.grantTypes.map(\.rawValue).sorted()),
                trusted = \(oauthClient.isTrusted), public = \(oauthClient.isPublic), allow_plain_pkce = \(oauthClient.allowsPlainPKCE),
                backchannel_logout_uri = \(oauthClient.backchannelLogoutURI), post_logout_redirect_uris = \(oauthClient.postLogoutRedirectURIs),
                updated_at = now()
            WHERE client_id = \(oauthClient.clientID) RETURNING 1
            """,
            logger: logger
        )
        return try await rows.collect().count == 1
    }

    public func remove(id: String) async throws -> Bool {
        // Tokens have no foreign key to their client (it slowed every token write), so they go here, together.
        let rows = try await client.query(
            """
            WITH tokens AS (DELETE FROM \(unescaped: tokens) WHERE client_id = \(id))
            DELETE FROM \(unescaped: table) WHERE client_id = \(id) RETURNING 1
            """,
            logger: logger
        )
        return try await rows.collect().count == 1
    }

    private func fetch(_ query: PostgresQuery) async throws -> [OAuthClient] {
        var clients: [OAuthClient] = []
        let rows = try await client.query(query, logger: logger)
        for try await (id, name, secret, redirects, grants, trusted, isPublic, plain, backchannel, postLogout, created) in rows.decode(
            (String, String, Data?, [String], [String], Bool, Bool, Bool, String?, [String], Date).self
        ) {
            clients.append(OAuthClient(
                clientID: id, name: name, secretHash: secret.map(Array.init), redirectURIs: redirects,
                grantTypes: Set(grants.compactMap(OAuthClient.GrantType.init(rawValue:))), isTrusted: trusted, isPublic: isPublic,
                allowsPlainPKCE: plain, backchannelLogoutURI: backchannel, postLogoutRedirectURIs: postLogout, createdAt: created
            ))
        }
        return clients
    }
}
