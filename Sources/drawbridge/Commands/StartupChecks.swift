import Foundation
import DrawbridgeCore
import Logging

/// What must hold before serving: both databases answer, the directory mapping fits, the schema is current.
struct StartupChecks {
    let configuration: DrawbridgeConfiguration
    let logger: Logger

    /// Problems as one-line messages; empty when the gateway may start.
    func run(applyMigrations: Bool) async -> [String] {
        var problems = await DirectoryInspector(settings: configuration.directory, platformSession: configuration.platformSession, logger: logger).problems().map(\.description)
        do {
            let pending = try await pendingMigrations(applyingFirst: applyMigrations)
            if !pending.isEmpty {
                problems.append("database: \(pending.count) migration(s) pending; run `drawbridge migrate --config …` or start with --migrate")
            }
        } catch {
            problems.append("database.url: \(error)")
            return problems
        }
        problems += await signingKeyProblems()
        return problems
    }

    /// The key-encryption key must be there, and must open the signing keys already stored.
    func signingKeyProblems() async -> [String] {
        let kek: KeyEncryptionKey
        do {
            kek = try configuration.keys.keyEncryptionKey()
        } catch {
            return [error.description]
        }
        let configuration = self.configuration
        do {
            try await DatabaseAccess.with(configuration.database.url) { client, logger in
                let keys = try await PostgresSigningKeyStore(client: client, schema: configuration.database.schema, logger: logger).all()
                if !keys.isEmpty { _ = try await TokenSigner(keys: keys, kek: kek) }
            }
            return []
        } catch let error as SigningKeyError {
            return ["keys.encryption_key: \(error) (was the key changed? restore the old one, or reseal the keys)"]
        } catch {
            return ["database.url: cannot read the signing keys: \(PostgresErrorText.describe(error))"]
        }
    }

    /// Migrations not yet applied, after applying them when asked.
    func pendingMigrations(applyingFirst apply: Bool) async throws(MigrationError) -> [Migration] {
        let migrator = try makeMigrator()
        if apply { try await migrator.migrate() }
        return try await migrator.pending()
    }

    func makeMigrator() throws(MigrationError) -> DatabaseMigrator {
        guard let directory = Migration.defaultDirectory() else { throw .notFound }
        let migrations: [Migration]
        do {
            migrations = try Migration.load(from: directory)
        } catch let error as MigrationError {
            throw error
        } catch {
            throw .directoryUnreadable(directory.path)
        }
        return DatabaseMigrator(url: configuration.database.url, schema: configuration.database.schema, migrations: migrations, logger: logger)
    }
}
