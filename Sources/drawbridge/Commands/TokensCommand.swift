import ArgumentParser
import DrawbridgeCore
import Foundation

/// `drawbridge tokens add|list|revoke`: the service tokens the platform's backend uses for the hand-off API.
struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Service tokens for the platform's backend (POST /api/v1/handoff).",
        subcommands: [Add.self, List.self, Revoke.self]
    )

    /// Runs `body` with the token store; a database failure is one line and exit 1.
    static func withStore<T: Sendable>(_ options: ConfigOptions, _ body: @escaping @Sendable (any ServiceTokenStore) async throws -> T) async throws -> T {
        let configuration = try await options.load()
        do {
            return try await DatabaseAccess.with(configuration.database.url) { client, logger in
                try await body(PostgresServiceTokenStore(client: client, schema: configuration.database.schema, logger: logger))
            }
        } catch let error as ExitCode {
            throw error
        } catch let error as ServiceTokenError {
            CommandOutput.error(error.description)
            throw ExitCode.failure
        } catch {
            CommandOutput.error("cannot use Drawbridge's database at \(configuration.database.url): \(PostgresErrorText.describe(error)) (did you run `drawbridge migrate`?)")
            throw ExitCode.failure
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a token; prints it once (Drawbridge keeps only its hash).")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Who uses it, e.g. platform (lowercase letters, digits, . _ -).") var name: String
        @Flag(help: "Print {\"name\": …, \"token\": …}.") var json = false

        func validate() throws {
            guard ServiceToken.isValidName(name) else { throw ValidationError(ServiceTokenError.invalidName(name).description) }
        }

        struct Created: Encodable {
            var name: String
            var token: String
        }

        func run() async throws {
            let name = self.name
            let token = try await TokensCommand.withStore(options) { try await $0.add(name: name) }
            if json { return try CommandOutput.json(Created(name: name, token: token.value)) }
            print("name:  \(name)")
            print("token: \(token.value)")
            print("The token is shown only now; Drawbridge keeps just its hash. Send it as Authorization: Bearer <token>.")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every token, live and revoked (never the token itself).")
        @OptionGroup var options: ConfigOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let records = try await TokensCommand.withStore(options) { try await $0.list() }
            if json { return try CommandOutput.json(records) }
            guard !records.isEmpty else { return print("No service tokens. Make one with: drawbridge tokens add --name platform") }
            let stamp = { (date: Date?) in date.map { $0.formatted(.iso8601) } ?? "-" }
            var table = TextTable(header: ["name", "state", "created", "last used"])
            table.rows = records.map { [$0.name, $0.revokedAt == nil ? "live" : "revoked \(stamp($0.revokedAt))", stamp($0.createdAt), stamp($0.lastUsedAt)] }
            print(table.rendered)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token at once; links it already made stay valid for their minute.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "The token's name.") var name: String

        func run() async throws {
            let name = self.name
            guard try await TokensCommand.withStore(options, { try await $0.revoke(name: name) }) else {
                CommandOutput.error("no live token named '\(name)' (see `drawbridge tokens list`)")
                throw ExitCode.failure
            }
            print("revoked: \(name)")
        }
    }
}
