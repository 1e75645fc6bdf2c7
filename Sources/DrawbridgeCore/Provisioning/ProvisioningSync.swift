import Foundation
import Logging
import Synchronization

/// `drawbridge provision sync`: walks every platform user, page by page in id order, and brings each
/// configured connector in step — create the missing, update the changed, deactivate the inactive — with
/// bounded concurrency. Memory is one page, however many users there are. After each page the run's
/// cursor and counts are saved, so an interrupted run resumes at the page it was in (connector calls are
/// idempotent, so redoing part of a page is harmless).
public struct ProvisioningSync: Sendable {
    public struct Options: Sendable {
        /// Connector names to sync (all configured ones when empty).
        public var connectors: [String]
        /// Only users whose link was last brought in step before this (or who have none).
        public var since: Date?
        /// `since` as the admin wrote it: an interrupted run is matched by this, so `--since 24h` run again
        /// tomorrow resumes it instead of starting a new run for a new instant.
        public var sinceLabel: String?
        public var dryRun: Bool
        public var concurrency: Int
        public var pageSize: Int
        /// Start over instead of resuming an interrupted run with the same scope.
        public var restart: Bool
        /// Call chat for every linked user too, instead of trusting Drawbridge's records: repairs what was changed
        /// in chat (an account deactivated, deleted or edited there, a default team added since). Slower.
        public var recheck: Bool
        /// Deactivate the accounts of users gone from the platform's table even when they are many (more than 10 and
        /// more than 5 % of a connector's active accounts): otherwise that many is taken for a mistake (a wrong table or
        /// list_query) and only reported.
        public var allowMassDeactivation: Bool

        public init(connectors: [String] = [], since: Date? = nil, sinceLabel: String? = nil, dryRun: Bool = false, concurrency: Int = 16, pageSize: Int = 500, restart: Bool = false, recheck: Bool = false, allowMassDeactivation: Bool = false) {
            self.recheck = recheck
            self.allowMassDeactivation = allowMassDeactivation
            self.connectors = connectors
            self.since = since
            self.sinceLabel = sinceLabel
            self.dryRun = dryRun
            self.concurrency = concurrency
            self.pageSize = pageSize
            self.restart = restart
        }
    }

    /// A snapshot for progress displays.
    public struct Progress: Sendable {
        public var seen: Int
        public var total: Int
        public var counts: [String: SyncCounts]
        public var elapsed: Duration
        public var resumedFrom: Int
    }

    public struct Report: Sendable {
        public var run: SyncRun?
        public var counts: [String: SyncCounts]
        public var failures: [SyncFailure]
        public var seen: Int
        public var total: Int
        public var elapsed: Duration
        public var dryRun: Bool
        /// By connector: accounts whose platform user is gone that were NOT deactivated, being too many (see
        /// `Options.allowMassDeactivation`).
        public var departedHeldBack: [String: Int] = [:]
    }

    let provisioner: Provisioner
    let directory: any UserDirectory
    let syncStore: SyncStore
    let logger: Logger

    public init(provisioner: Provisioner, directory: any UserDirectory, syncStore: SyncStore, logger: Logger) {
        self.provisioner = provisioner
        self.directory = directory
        self.syncStore = syncStore
        self.logger = logger
    }

    /// What a user needs on one connector, judged from Drawbridge's own link (no chat call).
    enum Decision: Equatable {
        /// `recheck`: Drawbridge's records say the account is in step; chat is asked, and repaired where it is not.
        case create, update, reactivate, deactivate, recheck, none

        var outcome: SyncOutcome {
            switch self {
            case .create: .created
            case .update, .reactivate: .updated
            case .deactivate: .deactivated
            case .recheck, .none: .unchanged
            }
        }
    }

    static func decide(_ user: PlatformUser, profile: UserProfile, existing: ChatAccount?, recheck: Bool = false) -> Decision {
        guard user.isActive else {
            guard let existing else { return .none }
            return existing.active ? .deactivate : recheck && !existing.held ? .recheck : .none
        }
        guard let existing else { return .create }
        if existing.held { return .none }
        if recheck && existing.active { return .recheck }
        if !existing.active { return .reactivate }
        let same = existing.username == profile.username && existing.email == profile.email && existing.name == profile.name
        return same ? .none : .update
    }

    public func run(_ options: Options, progress: @escaping @Sendable (Progress) -> Void) async throws -> Report {
        let all = provisioner.connectors.values.sorted { $0.name < $1.name }
        let unknown = options.connectors.filter { provisioner.connectors[$0] == nil }
        guard unknown.isEmpty else { throw ConnectorError.rejected("no connector named '\(unknown.joined(separator: "', '"))' (configured: \(all.map(\.name).joined(separator: ", ")))") }
        let connectors = options.connectors.isEmpty ? all : all.filter { options.connectors.contains($0.name) }
        // A wrong URL or token is one error now, not a failure per user after an hour.
        for connector in connectors {
            do {
                let found = try await connector.checkAccess()
                logger.info("connector checked", metadata: ["connector": "\(connector.name)", "found": "\(found)"])
            } catch {
                throw ConnectorError.rejected("\(connector.name): \(error); nothing was synced")
            }
        }
        let total = try await directory.userCount()
        let scope = "connectors=\(connectors.map(\.name).joined(separator: ","));since=\(options.sinceLabel ?? options.since.map { String(Int($0.timeIntervalSince1970)) } ?? "-")\(options.recheck ? ";recheck" : "")"
        var run = options.dryRun
            ? SyncRun(id: 0, scope: scope, cursor: nil, total: total, seen: 0, counts: [:], startedAt: Date(), resumed: false)
            : try await syncStore.open(scope: scope, total: total, restart: options.restart)
        run.total = total
        let resumedFrom = run.seen
        let started = ContinuousClock.now
        let state = SyncTally(seen: run.seen, counts: run.counts)
        let runID = run.id
        var seenInDryRun: Set<String> = []
        let report = { @Sendable in
            let snapshot = state.withLock { $0 }
            progress(Progress(seen: snapshot.seen, total: total, counts: snapshot.counts, elapsed: ContinuousClock.now - started, resumedFrom: resumedFrom))
        }
        report()
        while true {
            try Task.checkCancellation()
            let page = try await directory.users(after: run.cursor, limit: options.pageSize)
            guard let last = page.last else { break }
            let links = try await provisioner.store.accounts(platformUserIDs: page.map(\.id))
            try await withThrowingTaskGroup(of: Void.self) { group in
                var inFlight = 0
                for user in page {
                    for connector in connectors {
                        let existing = links[connector.name]?[user.id]
                        if let since = options.since, let updatedAt = existing?.updatedAt, updatedAt >= since {
                            state.withLock { $0.counts[connector.name, default: SyncCounts()].add(.unchanged) }
                            continue
                        }
                        if inFlight >= options.concurrency {
                            try await group.next()
                            inFlight -= 1
                        }
                        inFlight += 1
                        group.addTask {
                            let outcome = try await self.sync(user, on: connector, existing: existing?.account, run: runID, options: options, tally: state)
                            state.withLock { $0.counts[connector.name, default: SyncCounts()].add(outcome) }
                        }
                    }
                    state.withLock { $0.seen += 1 }
                }
                try await group.waitForAll()
            }
            run.cursor = last.id
            (run.seen, run.counts) = state.withLock { ($0.seen, $0.counts) }
            if options.dryRun {
                seenInDryRun.formUnion(page.map(\.id))
            } else {
                try await syncStore.markSeen(run: run.id, platformUserIDs: page.map(\.id))
                try await syncStore.checkpoint(run)
            }
            report()
            if page.count < options.pageSize { break }
        }
        var heldBack: [String: Int] = [:]
        for connector in connectors {
            let departed = options.dryRun
                ? try await provisioner.store.activeLinks(connector: connector.name, linkedBefore: run.startedAt).filter { !seenInDryRun.contains($0.platformUserID) }
                : try await syncStore.departed(run: run, connector: connector.name)
            guard !departed.isEmpty else { continue }
            let limit = max(10, try await provisioner.store.activeAccountCount(connector: connector.name) / 20)
            guard departed.count <= limit || options.allowMassDeactivation else {
                heldBack[connector.name] = departed.count
                logger.warning("accounts of users gone from the platform left active: too many", metadata: ["connector": "\(connector.name)", "count": "\(departed.count)"])
                continue
            }
            try await deactivateDeparted(departed, on: connector, run: runID, options: options, tally: state)
        }
        report()
        (run.seen, run.counts) = state.withLock { ($0.seen, $0.counts) }
        var failures: [SyncFailure] = []
        if !options.dryRun {
            try await syncStore.checkpoint(run)
            try await syncStore.finish(run)
            failures = try await syncStore.failures(run: run.id)
        }
        report()
        return Report(run: options.dryRun ? nil : run, counts: run.counts, failures: failures, seen: run.seen, total: total,
                      elapsed: ContinuousClock.now - started, dryRun: options.dryRun, departedHeldBack: heldBack)
    }

    /// Accounts whose platform user is gone from the platform's table: deactivated (never deleted), with the
    /// run's concurrency; a failure is recorded against the account's chat username, the login being gone too.
    private func deactivateDeparted(_ accounts: [ChatAccount], on connector: any ChatConnector, run: Int64, options: Options, tally: SyncTally) async throws {
        guard !options.dryRun else {
            tally.withLock { $0.counts[connector.name, default: SyncCounts()].deactivated += accounts.count }
            return
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for account in accounts {
                if inFlight >= options.concurrency {
                    try await group.next()
                    inFlight -= 1
                }
                inFlight += 1
                group.addTask {
                    do {
                        try await self.provisioner.deactivate(account, on: connector)
                        tally.withLock { $0.counts[connector.name, default: SyncCounts()].add(.deactivated) }
                    } catch let error as ConnectorError {
                        try await self.syncStore.recordFailure(run: run, SyncFailure(
                            connector: connector.name, platformUserID: account.platformUserID, login: account.username, action: "deactivate",
                            error: "gone from the platform: \(error)"
                        ))
                        tally.withLock { $0.counts[connector.name, default: SyncCounts()].add(.failed) }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// How many users in a row may find a connector unavailable (after their retries) before the run stops:
    /// past that the server is down, not unlucky, and going on would only fill the failure list.
    static let outageThreshold = 64

    /// One user on one connector. A chat failure is recorded against the run and counted, never thrown:
    /// one bad account must not stop 50,000 others. A brief outage (a 503, a timeout) is tried twice more with
    /// a growing pause; a lasting one stops the run, which resumes at its page when run again. Drawbridge's own
    /// database failing stops the run too.
    private func sync(_ user: PlatformUser, on connector: any ChatConnector, existing: ChatAccount?, run: Int64, options: Options, tally: SyncTally) async throws -> SyncOutcome {
        let profile = UserProfile(user: user, numericID: try await provisioner.grants.numericID(forPlatformID: user.id))
        let decision = Self.decide(user, profile: profile, existing: existing, recheck: options.recheck)
        guard decision != .none, !options.dryRun else { return decision.outcome }
        var attempt = 1
        while true {
            do {
                _ = try await provisioner.bringInStep(user, on: connector, existing: existing, updateOnly: decision == .update, recheck: decision == .recheck)
                tally.withLock { $0.outages[connector.name] = 0 }
                if run > 0 { try await syncStore.clearFailure(run: run, connector: connector.name, platformUserID: user.id) }
                return decision.outcome
            } catch ConnectorError.unavailable(let reason) where attempt < 3 {
                logger.debug("chat server unavailable; trying the user again", metadata: ["connector": "\(connector.name)", "user_id": "\(user.id)", "error": "\(reason)"])
                try await Task.sleep(for: .milliseconds(Int64.random(in: 250...500) * Int64(attempt * attempt * 2)))
                attempt += 1
            } catch let error as ConnectorError {
                let action = decision == .deactivate ? "deactivate" : decision == .create ? "provision" : "update"
                try await syncStore.recordFailure(run: run, SyncFailure(connector: connector.name, platformUserID: user.id, login: user.login, action: action, error: error.description))
                logger.debug("sync failed for a user", metadata: ["connector": "\(connector.name)", "user_id": "\(user.id)", "error": "\(error)"])
                guard case .unavailable = error else {
                    tally.withLock { $0.outages[connector.name] = 0 }
                    return .failed
                }
                let inARow = tally.withLock { state -> Int in
                    state.outages[connector.name, default: 0] += 1
                    return state.outages[connector.name, default: 0]
                }
                if inARow >= Self.outageThreshold {
                    throw SyncStopped.chatServerDown(connector: connector.name, users: inARow, lastError: error.description)
                }
                return .failed
            }
        }
    }
}

/// Why a sync stopped before its end (it resumes at the page it was in when run again).
public enum SyncStopped: Error, CustomStringConvertible {
    case chatServerDown(connector: String, users: Int, lastError: String)

    public var description: String {
        switch self {
        case .chatServerDown(let connector, let users, let lastError):
            "\(connector) did not answer for \(users) users in a row (\(lastError)); the sync stopped. Run the same command again once it is back: it resumes where it stopped"
        }
    }
}

/// The counters a sync's concurrent tasks share.
final class SyncTally: Sendable {
    struct State: Sendable {
        var seen: Int
        var counts: [String: SyncCounts]
        /// Users in a row, by connector, that found it unavailable.
        var outages: [String: Int] = [:]
    }

    private let state: Mutex<State>

    init(seen: Int, counts: [String: SyncCounts]) {
        state = Mutex(State(seen: seen, counts: counts))
    }

    func withLock<T: Sendable>(_ body: (inout State) -> T) -> T {
        state.withLock { body(&$0) }
    }
}
