import ArgumentParser
import DrawbridgeCore
import Foundation

/// `drawbridge keys list|rotate`: the id_token signing keys.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "List and rotate the id_token signing keys.",
        subcommands: [List.self, Rotate.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List signing keys: the active one, and retired ones still published in the JWKS.")
        @OptionGroup var options: ConfigOptions
        @Flag(help: "Print JSON.") var json = false

        struct KeyView: Encodable {
            var kid: String
            var algorithm: String
            var createdAt: Date
            var retiredAt: Date?
            var state: String

            enum CodingKeys: String, CodingKey {
                case kid, algorithm, state
                case createdAt = "created_at"
                case retiredAt = "retired_at"
            }
        }

        func run() async throws {
            let configuration = try await options.load()
            let keys = try await DatabaseAccess.with(configuration.database.url) { client, logger in
                try await PostgresSigningKeyStore(client: client, schema: configuration.database.schema, logger: logger).all()
            }
            let views = keys.map { KeyView(kid: $0.kid, algorithm: $0.algorithm.rawValue, createdAt: $0.createdAt, retiredAt: $0.retiredAt, state: $0.retiredAt == nil ? "active" : "retired") }
            if json { return try CommandOutput.json(views) }
            if views.isEmpty { return print("no signing keys yet (`drawbridge serve` makes the first, or run `drawbridge keys rotate`)") }
            for view in views {
                print("\(view.kid)  \(view.algorithm)  \(view.state)  created \(view.createdAt.formatted(.iso8601))\(view.retiredAt.map { "  retired \($0.formatted(.iso8601))" } ?? "")")
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new signing key active; the old one stays in the JWKS until the tokens it signed have expired.",
            discussion: "Replicas pick up the new key within a minute."
        )
        @OptionGroup var options: ConfigOptions
        @Option(help: "RS256 or ES256 (default: keys.algorithm).") var algorithm: String?

        func run() async throws {
            let configuration = try await options.load()
            let kek: KeyEncryptionKey
            do {
                kek = try configuration.keys.keyEncryptionKey()
            } catch {
                CommandOutput.error("\(error)")
                throw ExitCode(2)
            }
            guard let chosen = SigningAlgorithm(rawValue: (algorithm ?? configuration.keys.algorithm).uppercased()) else {
                CommandOutput.error("--algorithm must be RS256 or ES256")
                throw ExitCode(2)
            }
            let key = try SigningKeyFactory.generate(chosen, kek: kek)
            try await DatabaseAccess.with(configuration.database.url) { client, logger in
                let store = PostgresSigningKeyStore(client: client, schema: configuration.database.schema, logger: logger)
                // Refuse to add a key next to ones this KEK cannot open: the JWKS would break.
                _ = try await TokenSigner(keys: try await store.all() + [key], kek: kek)
                try await store.activate(key, onlyIfNone: false)
            }
            print("new active signing key \(key.kid) (\(chosen.rawValue)); previous keys are retired and stay published until their tokens expire")
        }
    }
}
