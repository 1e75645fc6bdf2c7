import ArgumentParser
import DrawbridgeCore
import Foundation

/// `drawbridge clients …`: register and manage the applications that sign users in through Drawbridge.
struct ClientsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clients",
        abstract: "Register and manage OAuth / OpenID Connect clients (Mattermost, Synapse, Rocket.Chat, …).",
        subcommands: [Add.self, List.self, Show.self, Update.self, RotateSecret.self, Remove.self]
    )

    /// Runs `body` with the client store, turning failures into one-line errors.
    static func withStore<T: Sendable>(_ options: ConfigOptions, _ body: @escaping @Sendable (any ClientStore) async throws -> T) async throws -> T {
        let configuration = try await options.load()
        do {
            return try await DatabaseAccess.with(configuration.database.url) { client, logger in
                try await body(PostgresClientStore(client: client, schema: configuration.database.schema, logger: logger))
            }
        } catch let error as ExitCode {
            throw error
        } catch let error as ClientStoreError {
            throw error
        } catch {
            CommandOutput.error("cannot reach Drawbridge's database at \(configuration.database.url): \(PostgresErrorText.describe(error)) (did you run `drawbridge migrate`?)")
            throw ExitCode.failure
        }
    }

    static func validate(redirectURIs: [String]) throws {
        for uri in redirectURIs {
            if let problem = ClientSecret.validateRedirectURI(uri) {
                CommandOutput.error("--redirect-uri: \(problem)")
                throw ExitCode(2)
            }
        }
    }

    static func parseGrants(_ names: [String]) throws -> Set<OAuthClient.GrantType> {
        var grants: Set<OAuthClient.GrantType> = []
        for name in names {
            guard let grant = OAuthClient.GrantType(rawValue: name) else {
                CommandOutput.error("--grant: unknown grant '\(name)' (use \(OAuthClient.GrantType.allCases.map(\.rawValue).joined(separator: ", ")))")
                throw ExitCode(2)
            }
            grants.insert(grant)
        }
        return grants
    }

    static func notFound(_ id: String) -> ExitCode {
        CommandOutput.error("no client with id '\(id)' (see `drawbridge clients list`)")
        return ExitCode.failure
    }

    struct Credentials: Encodable {
        var clientID: String
        var clientSecret: String?

        enum CodingKeys: String, CodingKey {
            case clientID = "client_id"
            case clientSecret = "client_secret"
        }

        func print(json: Bool) throws {
            if json { return try CommandOutput.json(self) }
            Swift.print("client_id:     \(clientID)")
            if let clientSecret {
                Swift.print("client_secret: \(clientSecret)")
                Swift.print("The secret is shown only now; Drawbridge keeps just its hash.")
            } else {
                Swift.print("client_secret: none (public client: it must use PKCE)")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a client; prints its id and a generated secret, once.")

        @OptionGroup var options: ConfigOptions
        @Option(help: "A name users see on the consent page.") var name: String
        @Option(name: .customLong("redirect-uri"), help: "A redirect URI, matched exactly (repeat for several).") var redirectURIs: [String] = []
        @Flag(help: "Skip the consent page (first-party apps such as your chat server).") var trusted = false
        @Flag(name: .customLong("public"), help: "No secret (native or browser apps); PKCE is then required.") var isPublic = false
        @Option(name: .customLong("grant"), help: "Allowed grant (repeat): authorization_code, refresh_token, implicit, password, client_credentials.")
        var grants: [String] = ["authorization_code", "refresh_token"]
        @Option(name: .customLong("backchannel-logout-uri"), help: "OIDC back-channel logout endpoint.") var backchannelLogoutURI: String?
        @Option(name: .customLong("post-logout-redirect-uri"), help: "Allowed post_logout_redirect_uri (repeat for several).") var postLogoutRedirectURIs: [String] = []
        @Flag(name: .customLong("allow-plain-pkce"), help: "Accept code_challenge_method=plain (S256 is always accepted).") var allowPlainPKCE = false
        @Option(name: .customLong("client-id"), help: "Use this id instead of a generated one (8–128 of A-Z a-z 0-9 - _).") var clientID: String?
        @Flag(help: "Print {\"client_id\": …, \"client_secret\": …}.") var json = false

        func run() async throws {
            try ClientsCommand.validate(redirectURIs: redirectURIs + postLogoutRedirectURIs)
            let grantTypes = try ClientsCommand.parseGrants(grants)
            if grantTypes.contains(.authorizationCode) || grantTypes.contains(.implicit), redirectURIs.isEmpty {
                CommandOutput.error("--redirect-uri is required for the authorization_code and implicit grants (e.g. https://chat.example.com/signup/gitlab/complete)")
                throw ExitCode(2)
            }
            if let clientID, !ClientSecret.isValidClientID(clientID) {
                CommandOutput.error("--client-id must be 8–128 characters of A-Z a-z 0-9 - _ (Mattermost puts it into URLs unescaped)")
                throw ExitCode(2)
            }
            let secret = isPublic ? nil : ClientSecret.newSecret()
            let client = OAuthClient(
                clientID: clientID ?? ClientSecret.newClientID(), name: name, secretHash: secret.map(ClientSecret.hash),
                redirectURIs: redirectURIs, grantTypes: grantTypes, isTrusted: trusted, isPublic: isPublic, allowsPlainPKCE: allowPlainPKCE,
                backchannelLogoutURI: backchannelLogoutURI, postLogoutRedirectURIs: postLogoutRedirectURIs
            )
            do {
                try await ClientsCommand.withStore(options) { try await $0.insert(client) }
            } catch ClientStoreError.duplicate(let id) {
                CommandOutput.error("a client with id '\(id)' already exists (choose another --client-id, or `drawbridge clients rotate-secret \(id)`)")
                throw ExitCode.failure
            }
            try Credentials(clientID: client.clientID, clientSecret: secret).print(json: json)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered clients.")
        @OptionGroup var options: ConfigOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let clients = try await ClientsCommand.withStore(options) { try await $0.all() }
            if json { return try CommandOutput.json(clients.map(ClientView.init)) }
            if clients.isEmpty { return print("no clients registered (add one with `drawbridge clients add`)") }
            for client in clients {
                let flags = [client.isTrusted ? "trusted" : nil, client.isPublic ? "public" : nil].compactMap { $0 }.joined(separator: ",")
                print("\(client.clientID)  \(client.name)\(flags.isEmpty ? "" : "  [\(flags)]")  \(client.redirectURIs.joined(separator: " "))")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one client (never its secret).")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The client id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let id = self.id
            guard let client = try await ClientsCommand.withStore(options, { try await $0.client(id: id) }) else { throw ClientsCommand.notFound(id) }
            let view = ClientView(client)
            if json { return try CommandOutput.json(view) }
            print("client_id:                 \(view.clientID)")
            print("name:                      \(view.name)")
            print("redirect_uris:             \(view.redirectURIs.joined(separator: " "))")
            print("grant_types:               \(view.grantTypes.joined(separator: " "))")
            print("trusted:                   \(view.trusted ? "yes" : "no")")
            print("public:                    \(view.isPublic ? "yes (PKCE required)" : "no")")
            print("backchannel_logout_uri:    \(view.backchannelLogoutURI ?? "-")")
            print("post_logout_redirect_uris: \(view.postLogoutRedirectURIs.isEmpty ? "-" : view.postLogoutRedirectURIs.joined(separator: " "))")
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a client's settings (options given replace the old values).")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The client id.") var id: String
        @Option(help: "New name.") var name: String?
        @Option(name: .customLong("redirect-uri"), help: "Redirect URIs (replace the registered ones).") var redirectURIs: [String] = []
        @Option(help: "true or false.") var trusted: Bool?
        @Option(name: .customLong("grant"), help: "Allowed grants (replace the old set).") var grants: [String] = []
        @Option(name: .customLong("backchannel-logout-uri"), help: "Back-channel logout endpoint (empty to remove).") var backchannelLogoutURI: String?
        @Option(name: .customLong("post-logout-redirect-uri"), help: "Allowed post-logout redirect URIs (replace).") var postLogoutRedirectURIs: [String] = []

        func run() async throws {
            try ClientsCommand.validate(redirectURIs: redirectURIs + postLogoutRedirectURIs)
            let grantTypes = grants.isEmpty ? nil : try ClientsCommand.parseGrants(grants)
            let (id, name, redirects, trusted, backchannel, postLogout) = (self.id, self.name, redirectURIs, self.trusted, backchannelLogoutURI, postLogoutRedirectURIs)
            let updated = try await ClientsCommand.withStore(options) { store -> Bool in
                guard var client = try await store.client(id: id) else { return false }
                if let name { client.name = name }
                if !redirects.isEmpty { client.redirectURIs = redirects }
                if let trusted { client.isTrusted = trusted }
                if let grantTypes { client.grantTypes = grantTypes }
                if let backchannel { client.backchannelLogoutURI = backchannel.isEmpty ? nil : backchannel }
                if !postLogout.isEmpty { client.postLogoutRedirectURIs = postLogout }
                return try await store.update(client)
            }
            guard updated else { throw ClientsCommand.notFound(id) }
            print("client \(id) updated")
        }
    }

    struct RotateSecret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rotate-secret", abstract: "Replace a client's secret; the old one stops working at once.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The client id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let id = self.id
            let secret = ClientSecret.newSecret()
            let outcome = try await ClientsCommand.withStore(options) { store -> String? in
                guard var client = try await store.client(id: id) else { return "missing" }
                guard !client.isPublic else { return "public" }
                client.secretHash = ClientSecret.hash(secret)
                _ = try await store.update(client)
                return nil
            }
            switch outcome {
            case "missing": throw ClientsCommand.notFound(id)
            case "public":
                CommandOutput.error("client '\(id)' is public and has no secret")
                throw ExitCode.failure
            default: try Credentials(clientID: id, clientSecret: secret).print(json: json)
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a client with its codes, tokens and consents.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The client id.") var id: String

        func run() async throws {
            let id = self.id
            guard try await ClientsCommand.withStore(options, { try await $0.remove(id: id) }) else { throw ClientsCommand.notFound(id) }
            print("client \(id) removed; its tokens no longer work")
        }
    }
}

/// A client as shown to admins: everything but the secret hash.
struct ClientView: Encodable {
    var clientID: String
    var name: String
    var redirectURIs: [String]
    var grantTypes: [String]
    var trusted: Bool
    var isPublic: Bool
    var backchannelLogoutURI: String?
    var postLogoutRedirectURIs: [String]

    init(_ client: OAuthClient) {
        clientID = client.clientID
        name = client.name
        redirectURIs = client.redirectURIs
        grantTypes = client.grantTypes.map(\.rawValue).sorted()
        trusted = client.isTrusted
        isPublic = client.isPublic
        backchannelLogoutURI = client.backchannelLogoutURI
        postLogoutRedirectURIs = client.postLogoutRedirectURIs
    }

    enum CodingKeys: String, CodingKey {
        case name, trusted
        case clientID = "client_id"
        case redirectURIs = "redirect_uris"
        case grantTypes = "grant_types"
        case isPublic = "public"
        case backchannelLogoutURI = "backchannel_logout_uri"
        case postLogoutRedirectURIs = "post_logout_redirect_uris"
    }
}
