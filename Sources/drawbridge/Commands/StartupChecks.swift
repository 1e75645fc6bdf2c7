import Foundation
import DrawbridgeCore
import Logging
import PostgresNIO

/// What must hold before serving: both databases answer, the directory mapping fits, the key-encryption key
/// opens the stored signing keys, the schema is current. `serve` refuses to start on any of it and `check`
/// reports the same findings, so both run `inspect`; only `serve --migrate` writes anything.
struct StartupChecks {
    let configuration: DrawbridgeConfiguration
    let logger: Logger

    struct Findings {
        /// The platform database and the directory mapping (and the platform-session query), one line each.
        var directoryProblems: [String] = []
        /// Drawbridge's own database, its migrations and the signing keys, one line each.
        var databaseProblems: [String] = []
        /// Left for `serve` to refuse (or `--migrate` to apply) and for `check` to list; empty when unknown.
        var pendingMigrations: [Migration] = []
        /// The sign-in look-up's indexes, when the directory mapping is sound (nil otherwise).
        var indexes: LookupIndexInspector.Report?
        /// Worth fixing but no reason to refuse: `check` lists them, `serve` logs them and starts.
        var warnings: [String] = []

        /// Each of these stops `serve`.
        var problems: [String] { directoryProblems + databaseProblems }
    }

    /// Problems as one-line messages; empty when the gateway may start.
    func run(applyMigrations: Bool) async -> [String] {
        let findings = await inspect(applyMigrations: applyMigrations)
        for warning in findings.warnings { logger.warning("\(warning)") }
        var problems = findings.problems
        if !findings.pendingMigrations.isEmpty {
            problems.append("database: \(findings.pendingMigrations.count) migration(s) pending; run `drawbridge migrate --config …` or start with --migrate")
        }
        return problems
    }

    /// Everything `serve` checks before it starts. Read-only unless `applyMigrations`.
    func inspect(applyMigrations: Bool) async -> Findings {
        var findings = Findings()
        findings.directoryProblems = await DirectoryInspector(settings: configuration.directory, platformSession: configuration.platformSession, logger: logger)
            .problems().map(\.description)
        if findings.directoryProblems.isEmpty {
            // A missing index is a warning: sign-in works, only slower as the table grows.
            do {
                let indexes = try await LookupIndexInspector(settings: configuration.directory, logger: logger).inspect()
                if case .checked(_, _, let missing) = indexes { findings.warnings += missing.map(\.description) }
                findings.indexes = indexes
            } catch {
                findings.warnings.append("directory: cannot read the table's indexes: \(PostgresErrorText.describe(error))")
            }
        }
        do {
            findings.pendingMigrations = try await pendingMigrations(applyingFirst: applyMigrations)
            findings.databaseProblems += await signingKeyProblems(readingStoredKeys: true)
        } catch {
            findings.databaseProblems.append("database.url: \(error)")
            findings.databaseProblems += await signingKeyProblems(readingStoredKeys: false)
        }
        return findings
    }

    /// The key-encryption key must be set, and must open the signing keys already stored. Those are read
    /// only when Drawbridge's database answered, and only once their table exists (before the first
    /// migration there is nothing to open).
    private func signingKeyProblems(readingStoredKeys: Bool) async -> [String] {
        let kek: KeyEncryptionKey
        do {
            kek = try configuration.keys.keyEncryptionKey()
        } catch {
            return [error.description]
        }
        guard readingStoredKeys else { return [] }
        let configuration = self.configuration
        do {
            try await DatabaseAccess.with(configuration.database.url, readOnly: true) { client, logger in
                let table = SQLIdentifier.quote(configuration.database.schema) + ".signing_keys"
                let rows = try await client.query("SELECT to_regclass(\(table)) IS NOT NULL", logger: logger)
                var exists = false
                for try await found in rows.decode(Bool.self) { exists = found }
                guard exists else { return }
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
