import ArgumentParser
import DrawbridgeCore
import Foundation

extension ProvisionCommand {
    /// `drawbridge provision sync`: every platform user, every connector, with progress, resume and a summary.
    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bring every platform user's chat accounts in step: create, update, deactivate.",
            discussion: """
                Walks the platform's users in id order, then deactivates the chat accounts of users no longer in the \
                platform's table. An interrupted run (Ctrl-C, a crash) resumes where it \
                stopped when run again with the same connectors and --since; --restart starts over. Users whose \
                chat account could not be brought in step are listed at the end, with why; the exit status is 1 \
                when there were any.
                """
        )
        @OptionGroup var options: ConfigOptions
        @Flag(help: "Every platform user (the default).") var all = false
        @Option(help: "Only users whose chat account was last brought in step before this time (ISO 8601, or e.g. 24h for 24 hours ago), and users without one.")
        var since: String?
        @Flag(help: "Report what would be done; change nothing.") var dryRun = false
        @Option(help: "Chat calls in flight at once.") var concurrency = 16
        @Option(help: "Only this connector (repeatable).") var connector: [String] = []
        @Flag(help: "Start over instead of resuming an interrupted run.") var restart = false
        @Flag(help: ArgumentHelp(
            "Ask chat about every linked user too, and repair what was changed there.",
            discussion: "Without it, sync goes by Drawbridge's own records and calls chat only for users that need a change. With it, accounts deactivated, deleted or edited in chat, and default teams added since, are put right; those users are counted as unchanged (in step now). One or more chat calls per user: slower."
        )) var recheck = false
        @Flag(help: ArgumentHelp(
            "Deactivate the accounts of users gone from the platform's table even when they are many.",
            discussion: "Accounts whose platform user is no longer in the table are deactivated at the end of a run. More than 10 of them, and more than 5 % of a connector's active accounts, looks like a wrong table or list_query, so they are only reported unless this is given."
        )) var allowMassDeactivation = false
        @Flag(help: "Print the summary as JSON.") var json = false

        func validate() throws {
            guard (1...256).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 256") }
            if all && since != nil { throw ValidationError("--all and --since cannot be used together") }
            if let since, Self.parseSince(since) == nil {
                throw ValidationError("--since '\(since)' is not a time: use ISO 8601 (2026-11-24T10:00:00Z) or an age like 24h, 7d, 30m")
            }
        }

        static func parseSince(_ text: String, now: Date = Date()) -> Date? {
            if let age = DurationParser.parse(text) { return now.addingTimeInterval(-TimeInterval(age.components.seconds)) }
            if let date = try? Date(text, strategy: .iso8601) { return date }
            return try? Date(text + "T00:00:00Z", strategy: .iso8601)
        }

        func run() async throws {
            let syncOptions = ProvisioningSync.Options(
                connectors: connector, since: since.flatMap { Self.parseSince($0) }, sinceLabel: since, dryRun: dryRun, concurrency: concurrency, restart: restart, recheck: recheck,
                allowMassDeactivation: allowMassDeactivation
            )
            let display = SyncProgressDisplay(interactive: isatty(STDERR_FILENO) == 1)
            let interrupt = InterruptNotice.install()
            defer { interrupt.cancel() }
            // A chat server that cannot be used (checked before the first user) or that stopped answering: one line, exit 2.
            let report = try await ProvisionCommand.withContext(options, timeout: nil) { context in
                let sync = ProvisioningSync(provisioner: context.provisioner, directory: context.directory, syncStore: context.syncStore, logger: context.logger)
                do {
                    return try await sync.run(syncOptions) { display.update($0) }
                } catch where error is ConnectorError || error is SyncStopped {
                    display.finish()
                    CommandOutput.error("\(error)")
                    throw ExitCode(2)
                }
            }
            display.finish()
            if json {
                try CommandOutput.json(SyncSummary(report))
            } else {
                print(SyncSummary(report).table)
            }
            if !report.failures.isEmpty || !report.departedHeldBack.isEmpty { throw ExitCode.failure }
        }
    }
}

/// The run's result, for the table and for `--json`.
struct SyncSummary: Encodable {
    var dryRun: Bool
    var users: Int
    var seconds: Double
    var connectors: [String: SyncCounts]
    var failures: [SyncFailure]
    /// By connector: accounts of users gone from the platform left active, being too many to be believed.
    var departedNotDeactivated: [String: Int]

    enum CodingKeys: String, CodingKey {
        case users, seconds, connectors, failures
        case dryRun = "dry_run"
        case departedNotDeactivated = "departed_not_deactivated"
    }

    init(_ report: ProvisioningSync.Report) {
        dryRun = report.dryRun
        users = report.seen
        seconds = report.elapsed.fractionalSeconds
        connectors = report.counts
        failures = report.failures
        departedNotDeactivated = report.departedHeldBack
    }

    var table: String {
        let verb = dryRun ? "would be " : ""
        var lines = [(dryRun ? "dry run: nothing was changed. " : "") + "\(users) platform users in \(String(format: "%.1f", seconds)) s"]
        var table = TextTable(header: ["connector", verb + "created", verb + "updated", verb + "deactivated", "unchanged", "failed"])
        for (name, counts) in connectors.sorted(by: { $0.key < $1.key }) {
            table.rows.append([name, "\(counts.created)", "\(counts.updated)", "\(counts.deactivated)", "\(counts.unchanged)", "\(counts.failed)"])
        }
        lines.append(table.rendered)
        for (name, count) in departedNotDeactivated.sorted(by: { $0.key < $1.key }) {
            lines.append("\n\(name): \(count) active accounts belong to users no longer in the platform's table and were left active: that many "
                + "(over 10, and over 5 % of its accounts) looks like a wrong directory table or list_query. Check `drawbridge provision drift`; "
                + "if they really left, run again with --allow-mass-deactivation.")
        }
        if !failures.isEmpty {
            lines.append("\n\(failures.count) user account(s) could not be brought in step (fix, then run `drawbridge provision sync` again):")
            for failure in failures.prefix(50) {
                lines.append("  \(failure.login) (id \(failure.platformUserID)) on \(failure.connector), \(failure.action): \(failure.error)")
            }
            if failures.count > 50 { lines.append("  … and \(failures.count - 50) more (--json lists them all)") }
        }
        return lines.joined(separator: "\n")
    }
}
