import Foundation
import Logging
import PostgresNIO

/// Signing keys in Drawbridge's schema; the private halves stay sealed here and are opened in memory only.
public struct PostgresSigningKeyStore: Sendable {
    let client: PostgresClient
    let table: String
    let logger: Logger

    public init(client: PostgresClient, schema: String, logger: Logger) {
        self.client = client
        self.table = SQLIdentifier.quote(schema) + ".signing_keys"
        self.logger = logger
    }

    public func all() async throws -> [StoredSigningKey] {
        let rows = try await client.query(
            "SELECT kid, algorithm, sealed_private_key, public_jwk, created_at, retired_at FROM \(unescaped: table) ORDER BY created_at",
            logger: logger
        )
        var keys: [StoredSigningKey] = []
        for try await (kid, algorithm, sealed, jwk, created, retired) in rows.decode((String, String, Data, String, Date, Date?).self) {
            guard let algorithm = SigningAlgorithm(rawValue: algorithm) else { continue }
            keys.append(StoredSigningKey(kid: kid, algorithm: algorithm, sealedPrivateKey: Array(sealed), publicJWK: jwk, createdAt: created, retiredAt: retired))
        }
        return keys
    }

    /// Adds `key` as the active one and retires the others, atomically; with `onlyIfNone`, does nothing
    /// when an active key already exists (several replicas starting at once make one key, not several).
    @discardableResult
    public func activate(_ key: StoredSigningKey, onlyIfNone: Bool) async throws -> Bool {
        let table = self.table
        return try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(table)))", logger: logger)
            if onlyIfNone {
                let active = try await connection.query("SELECT 1 FROM \(unescaped: table) WHERE retired_at IS NULL", logger: logger).collect()
                if !active.isEmpty { return false }
            }
            try await connection.query("UPDATE \(unescaped: table) SET retired_at = now() WHERE retired_at IS NULL", logger: logger)
            try await connection.query(
                """
                INSERT INTO \(unescaped: table) (kid, algorithm, sealed_private_key, public_jwk, created_at)
                VALUES (\(key.kid), \(key.algorithm.rawValue), \(Data(key.sealedPrivateKey)), \(key.publicJWK), \(key.createdAt))
                """,
                logger: logger
            )
            return true
        }
    }

    /// Deletes keys retired longer ago than anything they signed can live.
    public func deleteRetired(before cutoff: Date) async throws -> Int {
        let rows = try await client.query("DELETE FROM \(unescaped: table) WHERE retired_at < \(cutoff) RETURNING 1", logger: logger)
        return try await rows.collect().count
    }
}
