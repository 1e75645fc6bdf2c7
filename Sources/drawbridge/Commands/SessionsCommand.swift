import ArgumentParser
import DrawbridgeCore
import Foundation
import Logging

/// `drawbridge sessions list|revoke`: who is signed in, and single logout on an admin's word.
struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "List browser sessions, or end them (with their tokens, back-channel notices and chat sessions).",
        subcommands: [List.self, Revoke.self]
    )

    struct Context: Sendable {
        let configuration: DrawbridgeConfiguration
        let sessions: PostgresSessionStore
        let directory: PostgresUserDirectory
        let logout: SingleLogout
    }

    static func withContext<T: Sendable>(_ options: ConfigOptions, _ body: @escaping @Sendable (Context) async throws -> T) async throws -> T {
        let configuration = try await options.load()
        return try await DatabaseAccess.withBoth(configuration, timeout: .seconds(300)) { platform, database, logger in
            let schema = configuration.database.schema
            let sessions = PostgresSessionStore(client: database, schema: schema, settings: configuration.session, logger: logger)
            let grants = PostgresGrantStore(client: database, schema: schema, logger: logger)
            let keys = try SigningKeyRing.configured(configuration, client: database, logger: logger)
            let connectors = configuration.provisioning.connectors.map(\.name)
            let logout = SingleLogout(
                sessions: sessions, grants: grants, clients: PostgresClientStore(client: database, schema: schema, logger: logger),
                backchannel: BackchannelLogoutSender(issuer: configuration.publicURL.description, keys: keys, logger: logger, retryDelays: [.seconds(1)]),
                provisioning: connectors.isEmpty ? nil : (ProvisioningStore(client: database, schema: schema, logger: logger), connectors, configuration.provisioning.settings.maxAttempts),
                logger: logger
            )
            let directory = PostgresUserDirectory(client: platform, settings: configuration.directory, logger: logger)
            return try await body(Context(configuration: configuration, sessions: sessions, directory: directory, logout: logout))
        }
    }

    /// The platform id behind a typed login, or a one-line error and exit 1.
    static func userID(_ context: Context, login: String) async throws -> String {
        guard let user = try await context.directory.user(matching: login) else {
            CommandOutput.unknownUser(login, context.configuration.directory)
            throw ExitCode.failure
        }
        return user.id
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Live browser sessions, newest first.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Only this user's sessions (user name or email).") var user: String?
        @Option(help: "At most this many.") var limit = 200
        @Flag(help: "Print JSON.") var json = false

        struct Row: Encodable {
            var sid: String
            var userID: String
            var login: String
            var createdAt: Date
            var lastSeenAt: Date
            var expiresAt: Date
            var clientAddress: String?
            var userAgent: String?

            enum CodingKeys: String, CodingKey {
                case sid, login
                case userID = "user_id"
                case createdAt = "created_at"
                case lastSeenAt = "last_seen_at"
                case expiresAt = "expires_at"
                case clientAddress = "client_address"
                case userAgent = "user_agent"
            }
        }

        func run() async throws {
            let (user, limit) = (self.user, self.limit)
            let rows = try await SessionsCommand.withContext(options) { context in
                let userID = try await user.asyncMap { try await SessionsCommand.userID(context, login: $0) }
                return try await context.sessions.list(userID: userID, limit: limit).map {
                    Row(sid: $0.sid, userID: $0.session.userID, login: $0.session.login, createdAt: $0.session.createdAt, lastSeenAt: $0.session.lastSeenAt,
                        expiresAt: $0.session.expiresAt, clientAddress: $0.clientAddress, userAgent: $0.userAgent)
                }
            }
            if json { return try CommandOutput.json(rows) }
            if rows.isEmpty { return print(user.map { "\($0) has no live session" } ?? "no live sessions") }
            var table = TextTable(header: ["sid", "user", "signed in", "last seen", "from"])
            let format = Date.ISO8601FormatStyle().year().month().day().time(includingFractionalSeconds: false)
            for row in rows {
                table.rows.append([row.sid, row.login, row.createdAt.formatted(format), row.lastSeenAt.formatted(format), row.clientAddress ?? "-"])
            }
            print(table.rendered)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "End sessions: the browser is signed out, its tokens revoked, relying parties and chat servers told.",
            discussion: "Other replicas refuse a revoked session within a second (their caches live that long)."
        )
        @OptionGroup var options: ConfigOptions
        @Option(help: "Every session of this user (user name or email).") var user: String?
        @Option(help: "The one session with this sid (from `drawbridge sessions list`).") var sid: String?
        @Flag(help: "Every session of every user.") var all = false

        func validate() throws {
            let chosen = [user != nil, sid != nil, all].filter { $0 }.count
            guard chosen == 1 else { throw ValidationError("say which sessions: exactly one of --user LOGIN, --sid SID or --all") }
        }

        func run() async throws {
            let (user, sid, all) = (self.user, self.sid, self.all)
            let outcomes = try await SessionsCommand.withContext(options) { context -> [SingleLogout.Outcome] in
                if let sid {
                    guard let record = try await context.sessions.record(sid: sid) else {
                        CommandOutput.error("no live session has sid '\(sid)' (see `drawbridge sessions list`)")
                        throw ExitCode.failure
                    }
                    return try await context.logout.end(digest: record.digest, waitForNotices: true).map { [$0] } ?? []
                }
                let userID = try await user.asyncMap { try await SessionsCommand.userID(context, login: $0) }
                precondition(all || userID != nil)
                return try await context.logout.endAll(userID: userID)
            }
            let chat = outcomes.map(\.chatJobs).reduce(0, +)
            let notified = Set(outcomes.flatMap(\.notifiedClients))
            print("ended \(outcomes.count) session(s)"
                  + (notified.isEmpty ? "" : "; back-channel logout sent to \(notified.sorted().joined(separator: ", "))")
                  + (chat == 0 ? "" : "; \(chat) chat sign-out job(s) queued (`drawbridge serve` works them)"))
        }
    }
}

extension Optional {
    func asyncMap<U>(_ transform: (Wrapped) async throws -> U) async rethrows -> U? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
