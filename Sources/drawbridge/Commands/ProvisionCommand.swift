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

    /// `timeout` bounds the whole command; nil for `sync` and `drift`, whose length grows with the user count.
    static func withContext<T: Sendable>(
        _ options: ConfigOptions, timeout: Duration? = .seconds(600), _ body: @escaping @Sendable (Context) async throws -> T
    ) async throws -> T {
        let configuration = try await options.load()
        guard !configuration.provisioning.connectors.isEmpty else {
            CommandOutput.error("no connectors are configured (add a connectors: section, see deploy/drawbridge.example.yaml)")
            throw ExitCode(2)
        }
        return try await DatabaseAccess.withBoth(configuration, timeout: timeout) { platform, database, logger in
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

    /// Queues `actions` for the user on the chosen connectors and runs them here, now (a running `serve` may
    /// hold one: then its outcome is waited for), printing each outcome. A connector whose token is refused
    /// gets nothing queued; one that cannot be reached keeps its jobs queued for `serve` to land once it answers.
    /// `hold` sets (deprovision) or lifts (provision) the admin's hold on the user's accounts first, so a sign-in
    /// or sync in between cannot undo the command.
    static func runNow(_ context: Context, login: String, connector: String?, actions: [ProvisioningJob.Action], hold: Bool) async throws -> Bool {
        let names = context.provisioner.connectors.keys.sorted()
        if let connector, !names.contains(connector) {
            CommandOutput.error("no connector named '\(connector)' (configured: \(names.joined(separator: ", ")))")
            throw ExitCode(2)
        }
        guard let user = try await context.directory.user(matching: login) else {
            CommandOutput.unknownUser(login, context.configuration.directory)
            throw ExitCode.failure
        }
        let held = try await context.store.hold(platformUserID: user.id, connector: connector, hold)
        if hold, held > 0 { print("\(user.login): held deactivated until `drawbridge provision user \(user.login)`") }
        var ok = true
        var jobs: [Int64] = []
        for name in names where connector == nil || connector == name {
            var reachable = true
            do {
                _ = try await context.provisioner.connectors[name]?.checkAccess()
            } catch .rejected(let reason) {
                CommandOutput.error("\(name): \(reason); nothing was queued for \(user.login)")
                ok = false
                continue
            } catch {
                CommandOutput.error("\(name): \(error); queued for \(user.login): `drawbridge serve` does it once the server answers (see `drawbridge provision status`)")
                (ok, reachable) = (false, false)
            }
            for action in actions {
                let id = try await context.store.enqueue(connector: name, action: action, platformUserID: user.id, login: user.login,
                                                         maxAttempts: context.configuration.provisioning.settings.maxAttempts)
                if reachable { jobs.append(id) }
            }
        }
        guard !jobs.isEmpty else { return ok }
        let worker = ProvisioningWorker(provisioner: context.provisioner, settings: context.configuration.provisioning.settings, logger: Logger.quiet("drawbridge.provision"))
        try await worker.runNow(jobIDs: jobs)
        // A job `serve` held when we came is waited for; any other is settled or back in the queue by now.
        let deadline = ContinuousClock.now + .seconds(120)
        var outcomes: [ProvisioningJob] = []
        repeat {
            outcomes = []
            for id in jobs { if let job = try await context.store.job(id: id) { outcomes.append(job) } }
            if outcomes.allSatisfy({ $0.state != .pending || $0.lastError != nil }) { break }
            try await Task.sleep(for: .milliseconds(200))
        } while ContinuousClock.now < deadline
        for job in outcomes {
            switch job.state {
            case .done:
                print("\(job.connector): \(job.result ?? job.action.rawValue)")
            case .failed:
                ok = false
                CommandOutput.error("\(job.connector): \(job.action.rawValue) for \(user.login) failed: \(job.lastError ?? "unknown error")")
            case .pending:
                ok = false
                let why = job.lastError.map { "did not go through (\($0))" } ?? "is still running in `drawbridge serve`"
                CommandOutput.error("\(job.connector): \(job.action.rawValue) for \(user.login) \(why); it stays queued and is retried (see `drawbridge provision status`)")
            }
        }
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
                try await ProvisionCommand.runNow(context, login: login, connector: connector, actions: [.provision], hold: false)
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
            var nextAttempt: Date?

            enum CodingKeys: String, CodingKey {
                case id, connector, action, user, attempts
                case lastError = "last_error"
                case nextAttempt = "next_attempt"
            }

            init(_ job: ProvisioningJob) {
                (id, connector, action, user, attempts, lastError) = (job.id, job.connector, job.action.rawValue, job.userLogin, job.attempts, job.lastError)
                nextAttempt = job.state == .pending ? job.nextAttemptAt : nil
            }
        }

        struct Report: Encodable {
            var queue: [Row]
            var failures: [Failure]
            /// Pending jobs that failed at least once and wait for their next attempt (what to look at during an outage).
            var retrying: [Failure]
        }

        func run() async throws {
            let report = try await ProvisionCommand.withContext(options) { context in
                Report(
                    queue: try await context.store.summary().map { Row(connector: $0.connector, state: $0.state, count: $0.count, oldestPending: $0.oldest) },
                    failures: try await context.store.jobs(state: .failed, limit: 50).map(Failure.init),
                    retrying: try await context.store.waitingJobs(limit: 20).map(Failure.init)
                )
            }
            if json { return try CommandOutput.json(report) }
            if report.queue.isEmpty { print("the provisioning queue is empty") }
            for row in report.queue {
                let age = row.oldestPending.map { " (oldest queued \(Int(-$0.timeIntervalSinceNow))s ago)" } ?? ""
                print("\(row.connector.padding(toLength: 14, withPad: " ", startingAt: 0)) \(row.state.padding(toLength: 8, withPad: " ", startingAt: 0)) \(String(row.count).leftPadded(to: 7))\(age)")
            }
            if !report.retrying.isEmpty {
                print("\nretrying after an error (run them now with `drawbridge provision retry --waiting`):")
                for job in report.retrying {
                    let next = job.nextAttempt.map { max(0, Int($0.timeIntervalSinceNow)) }.map { ", next try in \($0)s" } ?? ""
                    print("  #\(job.id) \(job.connector) \(job.action) \(job.user) after \(job.attempts) attempt(s)\(next): \(job.lastError ?? "-")")
                }
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
        static let configuration = CommandConfiguration(
            abstract: "Queue failed jobs again, and run jobs waiting out a back-off now.",
            discussion: "With neither flag, both. `drawbridge serve` works them; a failed job's attempts start over."
        )
        @OptionGroup var options: ConfigOptions
        @Flag(help: "Only the failed jobs (they stopped after their last attempt or a refusal).") var failed = false
        @Flag(help: "Only the pending jobs waiting for their next attempt after an error (say, once chat is back).") var waiting = false
        @Option(help: "Only this connector.") var connector: String?

        func run() async throws {
            let (connector, all) = (self.connector, failed == waiting)
            let (requeueFailed, hurryWaiting) = (failed || all, waiting || all)
            let counts = try await ProvisionCommand.withContext(options) { context -> (Int, Int) in
                if let connector, context.provisioner.connectors[connector] == nil {
                    CommandOutput.error("no connector named '\(connector)' (configured: \(context.provisioner.connectors.keys.sorted().joined(separator: ", ")))")
                    throw ExitCode(2)
                }
                return (
                    requeueFailed ? try await context.store.retryFailed(connector: connector) : 0,
                    hurryWaiting ? try await context.store.retryWaiting(connector: connector) : 0
                )
            }
            var said: [String] = []
            if requeueFailed { said.append(counts.0 == 0 ? "no failed jobs to retry" : "\(counts.0) failed job(s) queued again") }
            if hurryWaiting { said.append(counts.1 == 0 ? "no jobs waiting for a retry" : "\(counts.1) waiting job(s) due now") }
            print(said.joined(separator: "; ") + (counts.0 + counts.1 > 0 ? "; `drawbridge serve` works them" : ""))
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
            try await ProvisionCommand.runNow(context, login: login, connector: nil, actions: [.revokeSessions, .deactivate], hold: true)
        }
        if !ok { throw ExitCode.failure }
    }
}
