import ArgumentParser
import DrawbridgeCore
import Foundation
import Logging
import PostgresNIO

/// `drawbridge provision …` and `drawbridge deprovision`: chat accounts on demand, and the outbox's state.
struct ProvisionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provision",
        abstract: "Create chat accounts ahead of time and look after the provisioning queue.",
        subcommands: [User.self, Sync.self, Drift.self, Status.self, Retry.self]
    )

    /// The pieces a command needs, over short-lived clients for both databases.
    struct Context: Sendable {
        let configuration: DrawbridgeConfiguration
        let store: ProvisioningStore
        let provisioner: Provisioner
        let directory: PostgresUserDirectory
        let syncStore: SyncStore
        let logger: Logger
    }

    static func withContext<T: Sendable>(_ options: ConfigOptions, _ body: @escaping @Sendable (Context) async throws -> T) async throws -> T {
        let configuration = try await options.load()
        guard !configuration.provisioning.connectors.isEmpty else {
            CommandOutput.error("no connectors are configured (add a connectors: section, see deploy/drawbridge.example.yaml)")
            throw ExitCode(2)
        }
        return try await DatabaseAccess.withBoth(configuration, timeout: .seconds(600)) { platform, database, logger in
            let directory = PostgresUserDirectory(client: platform, settings: configuration.directory, logger: logger)
            let store = ProvisioningStore(client: database, schema: configuration.database.schema, logger: logger)
            let provisioner = Provisioner(
                connectors: configuration.provisioning.connectors.map(\.connector), store: store, directory: directory,
                grants: PostgresGrantStore(client: database, schema: configuration.database.schema, logger: logger), logger: logger
            )
            let syncStore = SyncStore(client: database, schema: configuration.database.schema, logger: logger)
            return try await body(Context(configuration: configuration, store: store, provisioner: provisioner, directory: directory, syncStore: syncStore, logger: logger))
        }
    }

    /// Queues `action` for the user on the chosen connectors, works the queue here until those jobs are
    /// settled (a running `serve` may take some of them: fine), and prints each outcome.
    static func runNow(_ context: Context, login: String, connector: String?, actions: [ProvisioningJob.Action]) async throws -> Bool {
        let names = context.provisioner.connectors.keys.sorted()
        if let connector, !names.contains(connector) {
            CommandOutput.error("no connector named '\(connector)' (configured: \(names.joined(separator: ", ")))")
            throw ExitCode(2)
        }
        guard let user = try await context.directory.user(matching: login) else {
            CommandOutput.unknownUser(login, context.configuration.directory)
            throw ExitCode.failure
        }
        var jobs: [Int64] = []
        for name in names where connector == nil || connector == name {
            for action in actions {
                jobs.append(try await context.store.enqueue(connector: name, action: action, platformUserID: user.id, login: user.login, maxAttempts: 1))
            }
        }
        let worker = ProvisioningWorker(provisioner: context.provisioner, settings: context.configuration.provisioning.settings, logger: Logger.quiet("drawbridge.provision"))
        let deadline = ContinuousClock.now + .seconds(120)
        var settled: [ProvisioningJob] = []
        while settled.count < jobs.count, ContinuousClock.now < deadline {
            await worker.runDueJobs()
            settled = []
            for id in jobs { if let job = try await context.store.job(id: id), job.state != .pending { settled.append(job) } }
            if settled.count < jobs.count { try await Task.sleep(for: .milliseconds(100)) }
        }
        var ok = settled.count == jobs.count
        for job in settled {
            if job.state == .done {
                print("\(job.connector): \(job.result ?? job.action.rawValue)")
            } else {
                ok = false
                CommandOutput.error("\(job.connector): \(job.action.rawValue) for \(user.login) failed: \(job.lastError ?? "unknown error")")
            }
        }
        if settled.count < jobs.count { CommandOutput.error("timed out waiting for the chat server; the jobs stay queued (see `drawbridge provision status`)") }
        return ok
    }

    struct User: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Provision one platform user now and print what was done.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "A user name or email, matched as the sign-in form does.") var login: String
        @Option(help: "Only this connector.") var connector: String?

        func run() async throws {
            let (login, connector) = (self.login, self.connector)
            let ok = try await ProvisionCommand.withContext(options) { context in
                try await ProvisionCommand.runNow(context, login: login, connector: connector, actions: [.provision])
            }
            if !ok { throw ExitCode.failure }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The provisioning queue by connector and state, and recent failures.")
        @OptionGroup var options: ConfigOptions
        @Flag(help: "Print JSON.") var json = false

        struct Row: Encodable {
            var connector: String
            var state: String
            var count: Int
            var oldestPending: Date?

            enum CodingKeys: String, CodingKey {
                case connector, state, count
                case oldestPending = "oldest_pending"
            }
        }

        struct Failure: Encodable {
            var id: Int64
            var connector: String
            var action: String
            var user: String
            var attempts: Int
            var lastError: String?

            enum CodingKeys: String, CodingKey {
                case id, connector, action, user, attempts
                case lastError = "last_error"
            }
        }

        struct Report: Encodable {
            var queue: [Row]
            var failures: [Failure]
        }

        func run() async throws {
            let report = try await ProvisionCommand.withContext(options) { context in
                Report(
                    queue: try await context.store.summary().map { Row(connector: $0.connector, state: $0.state, count: $0.count, oldestPending: $0.oldest) },
                    failures: try await context.store.jobs(state: .failed, limit: 50).map {
                        Failure(id: $0.id, connector: $0.connector, action: $0.action.rawValue, user: $0.userLogin, attempts: $0.attempts, lastError: $0.lastError)
                    }
                )
            }
            if json { return try CommandOutput.json(report) }
            if report.queue.isEmpty { print("the provisioning queue is empty") }
            for row in report.queue {
                let age = row.oldestPending.map { " (oldest queued \(Int(-$0.timeIntervalSinceNow))s ago)" } ?? ""
                print("\(row.connector.padding(toLength: 14, withPad: " ", startingAt: 0)) \(row.state.padding(toLength: 8, withPad: " ", startingAt: 0)) \(String(row.count).leftPadded(to: 7))\(age)")
            }
            if !report.failures.isEmpty {
                print("\nfailed jobs (retry with `drawbridge provision retry --failed`):")
                for failure in report.failures {
                    print("  #\(failure.id) \(failure.connector) \(failure.action) \(failure.user) after \(failure.attempts) attempt(s): \(failure.lastError ?? "-")")
                }
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Queue failed jobs again (their attempts start over).")
        @OptionGroup var options: ConfigOptions
        @Flag(help: "Retry the failed jobs (the default, and the only kind that needs it).") var failed = false
        @Option(help: "Only this connector.") var connector: String?

        func run() async throws {
            let connector = self.connector
            let count = try await ProvisionCommand.withContext(options) { try await $0.store.retryFailed(connector: connector) }
            print(count == 0 ? "no failed jobs to retry" : "\(count) failed job(s) queued again; `drawbridge serve` will work them")
        }
    }
}

struct DeprovisionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deprovision", abstract: "Deactivate a user's chat accounts everywhere and end their chat sessions.")
    @OptionGroup var options: ConfigOptions
    @Argument(help: "A user name or email.") var login: String

    func run() async throws {
        let login = self.login
        let ok = try await ProvisionCommand.withContext(options) { context in
            try await ProvisionCommand.runNow(context, login: login, connector: nil, actions: [.revokeSessions, .deactivate])
        }
        if !ok { throw ExitCode.failure }
    }
}
