import ArgumentParser
import DrawbridgeCore
import Foundation
import Logging
import PostgresNIO

/// Validates everything `serve` would (the same `StartupChecks`, read-only), without serving; reports the
/// password formats in the platform table and warns about look-ups that have no index.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the config, reach both databases, check the directory mapping and census its password formats.",
        discussion: """
            Runs the same start-up checks as serve (directory mapping, platform-session query, migrations, \
            keys.encryption_key against the stored signing keys) and changes nothing. Warns, without failing, when the \
            platform table has no index on lower(column) for a directory.login_by column. Calls each chat connector \
            once with its admin token: a refused token is a problem, a server that does not answer a warning (serve \
            starts, and provisioning waits for it). Exit status 1 on any problem.
            """
    )

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Do not call the chat connectors (where they are not reachable from here, or not started yet).")
    var skipConnectors = false

    @Flag(help: "Print JSON (keys: ok, problems, warnings, pending_migrations, users, password_formats, unverifiable_users, connectors).")
    var json = false

    struct Report: Encodable {
        var ok: Bool
        var problems: [String]
        /// Worth fixing, but `serve` would start: `ok` stays true.
        var warnings: [String]
        var pendingMigrations: [String]
        var users: Int?
        var passwordFormats: [Format]
        var unverifiableUsers: Int?
        var connectors: [Connector] = []
        /// For the text output only (not in CodingKeys): what `StartupChecks` found, the index check, and
        /// whether the census was skipped because a lookup_query cannot list users.
        var findings = StartupChecks.Findings()
        var censusSkipped = false

        struct Connector: Encodable {
            var name: String
            var ok: Bool
            /// What answered (`ok`), or what is wrong.
            var detail: String
        }

        struct Format: Encodable {
            var format: String
            var count: Int
            var verifiable: Bool
        }

        enum CodingKeys: String, CodingKey {
            case ok, problems, warnings, users, connectors
            case pendingMigrations = "pending_migrations"
            case passwordFormats = "password_formats"
            case unverifiableUsers = "unverifiable_users"
        }
    }

    func run() async throws {
        let configuration = try await options.load()
        let logger = Logger.quiet("drawbridge.check")
        var report = Report(ok: true, problems: [], warnings: [], pendingMigrations: [], passwordFormats: [])

        let findings = await StartupChecks(configuration: configuration, logger: logger).inspect(applyMigrations: false)
        report.findings = findings
        report.problems = findings.problems
        report.pendingMigrations = findings.pendingMigrations.map(\.numberedName)
        report.warnings = findings.warnings
        if findings.directoryProblems.isEmpty {
            await census(configuration: configuration, logger: logger, into: &report)
        }
        if !skipConnectors { await checkConnectors(configuration, into: &report) }
        report.ok = report.problems.isEmpty
        if json {
            try CommandOutput.json(report)
        } else {
            printText(report, configuration: configuration)
        }
        if !report.ok { throw ExitCode.failure }
    }

    /// One admin call per connector (`ChatConnector.checkAccess`), all at once.
    private func checkConnectors(_ configuration: DrawbridgeConfiguration, into report: inout Report) async {
        let results = await withTaskGroup(of: (String, Result<String, ConnectorError>).self) { group in
            for connector in configuration.provisioning.connectors.map(\.connector) {
                group.addTask {
                    do throws(ConnectorError) {
                        return (connector.name, .success(try await connector.checkAccess()))
                    } catch {
                        return (connector.name, .failure(error))
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }.sorted { $0.0 < $1.0 }
        }
        for (name, result) in results {
            switch result {
            case .success(let found):
                report.connectors.append(.init(name: name, ok: true, detail: found))
            case .failure(.rejected(let reason)):
                report.connectors.append(.init(name: name, ok: false, detail: reason))
                report.problems.append("connector \(name): \(reason)")
            case .failure(let error):
                report.connectors.append(.init(name: name, ok: false, detail: error.description))
                report.warnings.append("connector \(name): \(error); serve starts, and provisioning waits until it answers")
            }
        }
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
            report.censusSkipped = true
        } catch {
            report.problems.append("directory: cannot list users: \(PostgresErrorText.describe(error))")
        }
    }

    private func printText(_ report: Report, configuration: DrawbridgeConfiguration) {
        print("config     ok   \(options.path ?? "(environment only)")")
        for problem in report.problems { print("problem    ✗    \(problem)") }
        if report.findings.databaseProblems.isEmpty {
            print("database   ok   \(configuration.database.url) schema \(configuration.database.schema)")
        }
        if report.findings.directoryProblems.isEmpty {
            print("directory  ok   \(configuration.directory.url)")
        }
        switch report.findings.indexes {
        case .checked(let table, let indexed, _) where !indexed.isEmpty:
            print("indexes    ok   \(indexed.joined(separator: ", ")) on \(table)")
        case .skippedForLookupQuery:
            print("indexes         skipped: directory.lookup_query is your own SQL; check its plan with EXPLAIN")
        default:
            break
        }
        for connector in report.connectors where connector.ok { print("connector  ok   \(connector.name): \(connector.detail)") }
        for warning in report.warnings { print("warning    !    \(warning)") }
        if !report.pendingMigrations.isEmpty {
            print("migrations      \(report.pendingMigrations.count) pending (\(report.pendingMigrations.joined(separator: ", "))): run `drawbridge migrate`")
        }
        guard let users = report.users else {
            if report.censusSkipped {
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
