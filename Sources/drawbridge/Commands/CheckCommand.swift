import ArgumentParser
import DrawbridgeCore
import Foundation
import Logging
import PostgresNIO

/// Validates everything `serve` would, without serving, and reports the password formats in the platform table.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the config, reach both databases, check the directory mapping and census its password formats."
    )

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Print JSON.")
    var json = false

    struct Report: Encodable {
        var ok: Bool
        var problems: [String]
        var pendingMigrations: [String]
        var users: Int?
        var passwordFormats: [Format]
        var unverifiableUsers: Int?

        struct Format: Encodable {
            var format: String
            var count: Int
            var verifiable: Bool
        }

        enum CodingKeys: String, CodingKey {
            case ok, problems, users
            case pendingMigrations = "pending_migrations"
            case passwordFormats = "password_formats"
            case unverifiableUsers = "unverifiable_users"
        }
    }

    func run() async throws {
        let configuration = try await options.load()
        let logger = Logger.quiet("drawbridge.check")
        let checks = StartupChecks(configuration: configuration, logger: logger)
        var report = Report(ok: true, problems: [], pendingMigrations: [], passwordFormats: [])

        report.problems += await DirectoryInspector(settings: configuration.directory, platformSession: configuration.platformSession, logger: logger).problems().map(\.description)
        do {
            report.pendingMigrations = try await checks.pendingMigrations(applyingFirst: false).map { "\(String(format: "%04d", $0.version))_\($0.name)" }
        } catch {
            report.problems.append("database.url: \(error)")
        }
        if report.problems.isEmpty {
            await census(configuration: configuration, logger: logger, into: &report)
        }
        report.ok = report.problems.isEmpty
        if json {
            try CommandOutput.json(report)
        } else {
            printText(report, configuration: configuration)
        }
        if !report.ok { throw ExitCode.failure }
    }

    private func census(configuration: DrawbridgeConfiguration, logger: Logger, into report: inout Report) async {
        do {
            let users = try await DatabaseAccess.with(configuration.directory.url, readOnly: true, timeout: .seconds(120)) { client, logger in
                try await PostgresUserDirectory(client: client, settings: configuration.directory, logger: logger).allUsers()
            }
            let census = PasswordCensus(users: users)
            report.users = census.total
            report.unverifiableUsers = census.unverifiableCount
            report.passwordFormats = census.entries.map { .init(format: $0.format, count: $0.count, verifiable: $0.verifiable) }
        } catch DirectoryError.listingUnavailable {
            // A lookup_query alone cannot list users; the report says so instead of failing.
        } catch {
            report.problems.append("directory: cannot list users: \(PostgresErrorText.describe(error))")
        }
    }

    private func printText(_ report: Report, configuration: DrawbridgeConfiguration) {
        print("config     ok   \(options.path ?? "(environment only)")")
        for problem in report.problems { print("problem    ✗    \(problem)") }
        if report.problems.isEmpty {
            print("database   ok   \(configuration.database.url) schema \(configuration.database.schema)")
            print("directory  ok   \(configuration.directory.url)")
        }
        if !report.pendingMigrations.isEmpty {
            print("migrations      \(report.pendingMigrations.count) pending (\(report.pendingMigrations.joined(separator: ", "))): run `drawbridge migrate`")
        }
        guard let users = report.users else {
            if report.problems.isEmpty {
                print("census          skipped: a lookup_query cannot list users (add directory.list_query to get one)")
            }
            return
        }
        print("")
        print("password formats among \(users) platform users:")
        let width = max(24, report.passwordFormats.map(\.format.count).max() ?? 0)
        for entry in report.passwordFormats {
            let padded = entry.format.padding(toLength: width, withPad: " ", startingAt: 0)
            print("  \(padded) \(String(entry.count).leftPadded(to: 8))\(entry.verifiable ? "" : "   ✗ cannot be verified: these users cannot sign in")")
        }
        if let unverifiable = report.unverifiableUsers, unverifiable > 0 {
            print("\(unverifiable) user(s) cannot sign in with a password (see ✗ above).")
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
