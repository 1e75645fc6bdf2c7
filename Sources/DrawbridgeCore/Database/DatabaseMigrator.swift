import Foundation
import Logging
import PostgresNIO

/// Applies `migrations/` to Drawbridge's schema: in order, each in its own transaction, recorded in
/// `schema_migrations`, under an advisory lock so replicas starting together apply each file once.
/// Everything runs with `search_path` set to Drawbridge's schema alone; nothing outside it is touched.
public struct DatabaseMigrator: Sendable {
    public let url: PostgresURL
    public let schema: String
    public let migrations: [Migration]
    public let logger: Logger

    public init(url: PostgresURL, schema: String, migrations: [Migration], logger: Logger) {
        self.url = url
        self.schema = schema
        self.migrations = migrations
        self.logger = logger
    }

    /// Applies what is pending; returns the migrations applied by this call.
    @discardableResult
    public func migrate() async throws(MigrationError) -> [Migration] {
        try await withLockedConnection { connection in
            let applied = try await appliedChecksums(connection)
            try verify(applied: applied)
            var done: [Migration] = []
            for migration in migrations where applied[migration.version] == nil {
                do {
                    try await connection.query("BEGIN", logger: logger)
                    try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL search_path TO \(SQLIdentifier.quote(schema))"), logger: logger)
                    try await PostgresScript.run(migration.sql, on: connection, logger: logger)
                    try await connection.query(
                        "INSERT INTO \(unescaped: quotedTable) (version, name, checksum) VALUES (\(migration.version), \(migration.name), \(migration.checksum))",
                        logger: logger
                    )
                    try await connection.query("COMMIT", logger: logger)
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw MigrationError.failed(version: migration.version, name: migration.name, reason: PostgresErrorText.describe(error))
                }
                logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                done.append(migration)
            }
            return done
        }
    }

    /// Migrations not yet applied (and an error if an applied one was edited). Read-only and without the
    /// lock, so `check`, `migrate --status` and `serve` without `--migrate` change nothing: a schema or
    /// `schema_migrations` table that is not there yet simply means every migration is pending.
    public func pending() async throws(MigrationError) -> [Migration] {
        try await withConnection(readOnly: true) { connection in
            guard try await migrationsTableExists(connection) else { return migrations }
            let applied = try await appliedChecksums(connection)
            try verify(applied: applied)
            return migrations.filter { applied[$0.version] == nil }
        }
    }

    private var quotedTable: String { SQLIdentifier.quote(schema) + ".schema_migrations" }

    private func verify(applied: [Int: String]) throws(MigrationError) {
        for migration in migrations {
            if let checksum = applied[migration.version], checksum != migration.checksum {
                throw .checksumMismatch(version: migration.version, name: migration.name)
            }
        }
    }

    private func appliedChecksums(_ connection: PostgresConnection) async throws -> [Int: String] {
        var applied: [Int: String] = [:]
        let rows = try await connection.query("SELECT version, checksum FROM \(unescaped: quotedTable)", logger: logger)
        for try await (version, checksum) in rows.decode((Int, String).self) { applied[version] = checksum }
        return applied
    }

    private func migrationsTableExists(_ connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query("SELECT to_regclass(\(quotedTable)) IS NOT NULL", logger: logger)
        for try await exists in rows.decode(Bool.self) { return exists }
        return false
    }

    /// Runs `body` holding the advisory lock, with the schema and `schema_migrations` created first.
    private func withLockedConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws(MigrationError) -> T {
        let lockKey = "drawbridge.migrations.\(schema)"
        return try await withConnection(readOnly: false) { connection in
            try await connection.query("SELECT pg_advisory_lock(hashtext(\(lockKey)))", logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(SQLIdentifier.quote(schema))"), logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS \(unescaped: quotedTable) (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                logger: logger
            )
            let result = try await body(connection)
            _ = try? await connection.query("SELECT pg_advisory_unlock(hashtext(\(lockKey)))", logger: logger)
            return result
        }
    }

    /// One connection for `body`, closed afterwards (which also releases a session's advisory lock on failure).
    private func withConnection<T>(readOnly: Bool, _ body: (PostgresConnection) async throws -> T) async throws(MigrationError) -> T {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: url.connectionConfiguration(readOnly: readOnly), id: 1, logger: logger)
        } catch {
            throw .database("cannot connect to \(url): \(PostgresErrorText.describe(error))")
        }
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            if let error = error as? MigrationError { throw error }
            throw .database(PostgresErrorText.describe(error))
        }
    }
}
