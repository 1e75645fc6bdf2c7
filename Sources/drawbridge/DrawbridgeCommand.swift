import ArgumentParser

@main
struct DrawbridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drawbridge",
        abstract: "SSO bridge: sign chat users in with the platform's existing accounts.",
        subcommands: [
            ServeCommand.self, MigrateCommand.self, CheckCommand.self, ClientsCommand.self, KeysCommand.self, ProvisionCommand.self, DeprovisionCommand.self, SessionsCommand.self, TokensCommand.self, UsersCommand.self, PasswordCommand.self,
        ]
    )
}
