import Foundation
import ArgumentParser
import DrawbridgeCore
import Logging

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or update Drawbridge's own schema (never touches the platform's tables).",
        discussion: """
            With --json, prints {"schema": "drawbridge", "applied": [...], "pending": [...]}: the migrations this \
            run applied (always empty with --status) and those still pending, named like "0001_sessions".
            """
    )

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Only list pending migrations; change nothing.")
    var status = false

    @Flag(help: "Print JSON (keys: schema, applied, pending).")
    var json = false

    struct Output: Encodable {
        var schema: String
        var applied: [String]
        var pending: [String]
    }

    func run() async throws {
        let configuration = try await options.load()
        var logger = Logger(label: "drawbridge.migrate")
        logger.logLevel = .warning
        let schema = configuration.database.schema
        let checks = StartupChecks(configuration: configuration, logger: logger)
        let output: Output
        do {
            let migrator = try checks.makeMigrator()
            if status {
                output = Output(schema: schema, applied: [], pending: try await migrator.pending().map(\.numberedName))
            } else {
                output = Output(schema: schema, applied: try await migrator.migrate().map(\.numberedName), pending: [])
            }
        } catch {
            CommandOutput.error("\(error)")
            throw ExitCode.failure
        }
        if json {
            try CommandOutput.json(output)
        } else if status {
            print(output.pending.isEmpty ? "schema \(schema) is up to date" : "pending: " + output.pending.joined(separator: ", "))
        } else {
            for name in output.applied { print("applied \(name)") }
            print(output.applied.isEmpty ? "schema \(schema) is up to date" : "schema \(schema) migrated (\(output.applied.count) applied)")
        }
    }
}
