import ArgumentParser
import DrawbridgeCore
import Logging
import PostgresNIO

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Look at platform users as Drawbridge sees them.",
        subcommands: [Show.self]
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show what Drawbridge reads for a user (never the hash itself).")

        @OptionGroup var options: ConfigOptions

        @Argument(help: "A user name or email, matched as the sign-in form does.")
        var login: String

        @Flag(help: "Print JSON.")
        var json = false

        struct Output: Encodable {
            var id: String
            var login: String
            var email: String?
            var name: String?
            var active: Bool
            var passwordFormat: String
            var canSignIn: Bool

            enum CodingKeys: String, CodingKey {
                case id, login, email, name, active
                case passwordFormat = "password_format"
                case canSignIn = "can_sign_in"
            }
        }

        func run() async throws {
            let configuration = try await options.load()
            let user: PlatformUser?
            let login = self.login
            do {
                user = try await DatabaseAccess.with(configuration.directory.url, readOnly: true, timeout: .seconds(10)) { client, logger in
                    try await PostgresUserDirectory(client: client, settings: configuration.directory, logger: logger).user(matching: login)
                }
            } catch {
                CommandOutput.error("cannot read the directory at \(configuration.directory.url): \(PostgresErrorText.describe(error))")
                throw ExitCode.failure
            }
            guard let user else {
                CommandOutput.unknownUser(login, configuration.directory)
                throw ExitCode.failure
            }
            let verifier = PasswordHashVerifier()
            let format: String
            if let hash = user.passwordHash, !hash.isEmpty {
                format = verifier.identify(hash)?.displayName ?? "unrecognised"
            } else {
                format = "none"
            }
            let output = Output(
                id: user.id, login: user.login, email: user.email, name: user.name, active: user.isActive,
                passwordFormat: format, canSignIn: user.isActive && format != "none" && format != "unrecognised"
            )
            if json {
                try CommandOutput.json(output)
            } else {
                print("id:              \(output.id)")
                print("login:           \(output.login)")
                print("email:           \(output.email ?? "-")")
                print("name:            \(output.name ?? "-")")
                print("active:          \(output.active ? "yes" : "no")")
                print("password format: \(output.passwordFormat)")
                print("can sign in:     \(output.canSignIn ? "yes" : "no")")
            }
        }
    }
}
