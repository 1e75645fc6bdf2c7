import Foundation
import ArgumentParser
import DrawbridgeCore
import Logging

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or update Drawbridge's own schema (never touches the platform's tables)."
    )

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Only list pending migrations; change nothing.")
    var status = false

    func run() async throws {
        let configuration = try await options.load()
        var logger = Logger(label: "drawbridge.migrate")
        logger.logLevel = .warning
        let checks = StartupChecks(configuration: configuration, logger: logger)
        do {
            let migrator = try checks.makeMigrator()
            if status {
                let pending = try await migrator.pending()
                print(pending.isEmpty ? "schema \(configuration.database.schema) is up to date" : "pending: " + pending.map { "\($0.version)_\($0.name)" }.joined(separator: ", "))
                return
            }
            let applied = try await migrator.migrate()
            for migration in applied { print("applied \(String(format: "%04d", migration.version))_\(migration.name)") }
            print(applied.isEmpty ? "schema \(configuration.database.schema) is up to date" : "schema \(configuration.database.schema) migrated (\(applied.count) applied)")
        } catch {
            CommandOutput.error("\(error)")
            throw ExitCode.failure
        }
    }
}
