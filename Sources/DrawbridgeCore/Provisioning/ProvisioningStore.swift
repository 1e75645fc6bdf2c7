import Foundation
import Logging
import PostgresNIO

/// The outbox and the account links, in Drawbridge's schema (`migrations/0003_provisioning.sql`).
/// Jobs are claimed with a lease under `FOR UPDATE SKIP LOCKED`, so any number of replicas share the queue
/// and a job whose worker died is taken up again when its lease runs out.
public struct ProvisioningStore: Sendable {
    let client: PostgresClient
    let schema: String
    let logger: Logger

    public init(client: PostgresClient, schema: String, logger: Logger) {
        self.client = client
        self.schema = SQLIdentifier.quote(schema)
        self.logger = logger
    }

    private var jobs: String { schema + ".provisioning_jobs" }
    private var accounts: String { schema + ".chat_accounts" }
    private static let jobColumns = "id, connector, action, platform_user_id, user_login, state, attempts, max_attempts, next_attempt_at, last_error, result, created_at"

    /// Adds a pending job (or returns the one already pending for the same user, connector and action).
    @discardableResult
    public func enqueue(connector: String, action: ProvisioningJob.Action, platformUserID: String, login: String, maxAttempts: Int) async throws -> Int64 {
        let rows = try await client.query(
            """
            WITH inserted AS (
                INSERT INTO \(unescaped: jobs) (connector, action, platform_user_id, user_login, max_attempts)
                VALUES (\(connector), \(action.rawValue), \(platformUserID), \(login), \(maxAttempts))
                ON CONFLICT (connector, platform_user_id, action) WHERE state = 'pending' DO NOTHING RETURNING id
            )
            SELECT id FROM inserted
            UNION ALL SELECT id FROM \(unescaped: jobs) WHERE connector = \(connector) AND platform_user_id = \(platformUserID) AND action = \(action.rawValue) AND state = 'pending'
            LIMIT 1
            """,
            logger: logger
        )
        for try await id in rows.decode(Int64.self) { return id }
        throw ProvisioningStoreError.enqueueFailed
    }

    /// Takes up to `limit` due jobs for this worker, leasing them for `lease`.
    public func claim(limit: Int, lease: Duration) async throws -> [ProvisioningJob] {
        let rows = try await client.query(
            """
            UPDATE \(unescaped: jobs) SET locked_until = now() + make_interval(secs => \(lease.fractionalSeconds)), attempts = attempts + 1, updated_at = now()
            WHERE id IN (
                SELECT id FROM \(unescaped: jobs)
                WHERE state = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
                ORDER BY next_attempt_at, id LIMIT \(limit) FOR UPDATE SKIP LOCKED
            )
            RETURNING \(unescaped: Self.jobColumns)
            """,
            logger: logger
        )
        return try await Self.decodeJobs(rows)
    }

    /// Takes these jobs now if they are pending and nobody holds them, due or not (an admin's `provision user`
    /// does not wait out a back-off).
    public func claim(ids: [Int64], lease: Duration) async throws -> [ProvisioningJob] {
        let rows = try await client.query(
            """
            UPDATE \(unescaped: jobs) SET locked_until = now() + make_interval(secs => \(lease.fractionalSeconds)), attempts = attempts + 1, updated_at = now()
            WHERE id IN (
                SELECT id FROM \(unescaped: jobs)
                WHERE id = ANY(\(ids)) AND state = 'pending' AND (locked_until IS NULL OR locked_until < now())
                FOR UPDATE SKIP LOCKED
            )
            RETURNING \(unescaped: Self.jobColumns)
            """,
            logger: logger
        )
        return try await Self.decodeJobs(rows)
    }

    /// Keeps a long job's lease: returns false when the job is no longer this claim's (its lease ran out and
    /// another worker took it up, which `attempts` tells: every claim counts one).
    public func extendLease(_ job: ProvisioningJob, by lease: Duration) async throws -> Bool {
        let rows = try await client.query(
            """
            UPDATE \(unescaped: jobs) SET locked_until = now() + make_interval(secs => \(lease.fractionalSeconds))
            WHERE id = \(job.id) AND attempts = \(job.attempts) AND state = 'pending' RETURNING 1
            """,
            logger: logger
        )
        return try await rows.collect().count == 1
    }

    /// Records success. Only this claim's outcome counts: if the lease ran out and another worker took the job
    /// up, that worker records it (returns false), so a late first worker never overwrites the second's result.
    @discardableResult
    public func complete(_ job: ProvisioningJob, result: String) async throws -> Bool {
        let rows = try await client.query(
            """
            UPDATE \(unescaped: jobs) SET state = 'done', result = \(result), last_error = NULL, locked_until = NULL, done_at = now(), updated_at = now()
            WHERE id = \(job.id) AND attempts = \(job.attempts) AND state = 'pending' RETURNING 1
            """,
            logger: logger
        )
        return try await rows.collect().count == 1
    }

    /// Records a failure: retried after `retryAfter`, or failed for good (`retryAfter` nil, or attempts used up).
    /// Like `complete`, only for the claim that still holds the job.
    @discardableResult
    public func fail(_ job: ProvisioningJob, error: String, retryAfter: Duration?) async throws -> Bool {
        let final = job.failsForGood(retryAfter: retryAfter)
        let delay = retryAfter?.fractionalSeconds ?? 0
        let rows = try await client.query(
            """
            UPDATE \(unescaped: jobs) SET last_error = \(String(error.prefix(2000))), locked_until = NULL, updated_at = now(),
                state = \(final ? "failed" : "pending"), next_attempt_at = now() + make_interval(secs => \(delay))
            WHERE id = \(job.id) AND attempts = \(job.attempts) AND state = 'pending' RETURNING 1
            """,
            logger: logger
        )
        return try await rows.collect().count == 1
    }

    public func job(id: Int64) async throws -> ProvisioningJob? {
        try await Self.decodeJobs(try await client.query("SELECT \(unescaped: Self.jobColumns) FROM \(unescaped: jobs) WHERE id = \(id)", logger: logger)).first
    }

    public func jobs(state: ProvisioningJob.State?, limit: Int = 100) async throws -> [ProvisioningJob] {
        let filter = state.map { "WHERE state = '\($0.rawValue)'" } ?? ""
        return try await Self.decodeJobs(try await client.query(
            "SELECT \(unescaped: Self.jobColumns) FROM \(unescaped: jobs) \(unescaped: filter) ORDER BY id DESC LIMIT \(limit)", logger: logger))
    }

    /// Counts by connector and state, and the oldest pending job's age; only `states` when given (the metrics
    /// every 15 s need pending and failed, which the state index finds without reading the done jobs kept for weeks).
    public func summary(states: [String]? = nil) async throws -> [(connector: String, state: String, count: Int, oldest: Date?)] {
        let rows = try await client.query(
            """
            SELECT connector, state, count(*)::int, min(created_at) FILTER (WHERE state = 'pending') FROM \(unescaped: jobs)
            WHERE \(states)::text[] IS NULL OR state = ANY(\(states)) GROUP BY 1, 2 ORDER BY 1, 2
            """,
            logger: logger
        )
        var result: [(String, String, Int, Date?)] = []
        for try await row in rows.decode((String, String, Int, Date?).self) { result.append(row) }
        return result
    }

    /// Pending jobs waiting out a back-off (they failed at least once) become due now; returns how many.
    public func retryWaiting(connector: String? = nil) async throws -> Int {
        let rows = try await client.query(
            """
            UPDATE \(unescaped: jobs) SET next_attempt_at = now(), updated_at = now()
            WHERE state = 'pending' AND next_attempt_at > now() AND (\(connector)::text IS NULL OR connector = \(connector))
            RETURNING 1
            """,
            logger: logger
        )
        return try await rows.collect().count
    }

    /// Pending jobs that have failed at least once and wait for their next attempt, newest first.
    public func waitingJobs(limit: Int) async throws -> [ProvisioningJob] {
        try await Self.decodeJobs(try await client.query(
            "SELECT \(unescaped: Self.jobColumns) FROM \(unescaped: jobs) WHERE state = 'pending' AND last_error IS NOT NULL ORDER BY id DESC LIMIT \(limit)",
            logger: logger))
    }

    /// Forgets done jobs and finished sync runs older than `age` (failed jobs stay until someone retries them);
    /// a batch at a time, so a first purge of a big table does not hold locks for long. Returns how many jobs.
    @discardableResult
    public func purge(olderThan age: Duration, batch: Int = 10_000) async throws -> Int {
        let seconds = age.fractionalSeconds
        let rows = try await client.query(
            """
            DELETE FROM \(unescaped: jobs) WHERE id IN (
                SELECT id FROM \(unescaped: jobs) WHERE state = 'done' AND done_at < now() - make_interval(secs => \(seconds)) LIMIT \(batch)
            ) RETURNING 1
            """,
            logger: logger
        )
        let purged = try await rows.collect().count
        try await client.query(
            "DELETE FROM \(unescaped: schema).provisioning_sync_runs WHERE finished_at < now() - make_interval(secs => \(seconds))",
            logger: logger
        )
        return purged
    }

    /// Failed jobs become pending again, with their attempts reset; returns how many.
    public func retryFailed(connector: String? = nil) async throws -> Int {
        let rows = try await client.query(
            """
            UPDATE \(unescaped: jobs) SET state = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now()
            WHERE state = 'failed' AND (\(connector)::text IS NULL OR connector = \(connector))
              AND NOT EXISTS (SELECT 1 FROM \(unescaped: jobs) p WHERE p.state = 'pending' AND p.connector = \(unescaped: jobs).connector
                              AND p.platform_user_id = \(unescaped: jobs).platform_user_id AND p.action = \(unescaped: jobs).action)
            RETURNING 1
            """,
            logger: logger
        )
        return try await rows.collect().count
    }

    public func account(connector: String, platformUserID: String) async throws -> ChatAccount? {
        let rows = try await client.query(
            "SELECT chat_user_id, username, email, name, active, held_since IS NOT NULL FROM \(unescaped: accounts) WHERE connector = \(connector) AND platform_user_id = \(platformUserID)",
            logger: logger
        )
        for try await (chatID, username, email, name, active, held) in rows.decode((String, String, String?, String?, Bool, Bool).self) {
            return ChatAccount(connector: connector, platformUserID: platformUserID, chatUserID: chatID, username: username, email: email, name: name, active: active, held: held)
        }
        return nil
    }

    /// The links of many users at once (a sync page), by connector and platform id, with when each was last saved.
    public func accounts(platformUserIDs: [String]) async throws -> [String: [String: (account: ChatAccount, updatedAt: Date)]] {
        let rows = try await client.query(
            """
            SELECT connector, platform_user_id, chat_user_id, username, email, name, active, updated_at, held_since IS NOT NULL FROM \(unescaped: accounts)
            WHERE platform_user_id = ANY(\(platformUserIDs))
            """,
            logger: logger
        )
        var result: [String: [String: (account: ChatAccount, updatedAt: Date)]] = [:]
        for try await (connector, userID, chatID, username, email, name, active, updated, held) in rows.decode((String, String, String, String, String?, String?, Bool, Date, Bool).self) {
            let account = ChatAccount(connector: connector, platformUserID: userID, chatUserID: chatID, username: username, email: email, name: name, active: active, held: held)
            result[connector, default: [:]][userID] = (account, updated)
        }
        return result
    }

    /// Every link of one connector, chat user id → platform user id (for drift: accounts whose platform user is gone).
    public func links(connector: String) async throws -> [String: String] {
        let rows = try await client.query(
            "SELECT chat_user_id, platform_user_id FROM \(unescaped: accounts) WHERE connector = \(connector)",
            logger: logger
        )
        var result: [String: String] = [:]
        for try await (chatID, platformID) in rows.decode((String, String).self) { result[chatID] = platformID }
        return result
    }

    /// Sets or clears the admin's hold on a user's accounts (all connectors when `connector` is nil); returns how many.
    @discardableResult
    public func hold(platformUserID: String, connector: String?, _ held: Bool) async throws -> Int {
        let rows = try await client.query(
            """
            UPDATE \(unescaped: accounts) SET held_since = CASE WHEN \(held) THEN coalesce(held_since, now()) END, updated_at = now()
            WHERE platform_user_id = \(platformUserID) AND (\(connector)::text IS NULL OR connector = \(connector)) RETURNING 1
            """,
            logger: logger
        )
        return try await rows.collect().count
    }

    /// The columns `decodeLinks` reads, for queries that return whole links (also `SyncStore.departed`).
    static let linkColumns = "connector, platform_user_id, chat_user_id, username, email, name, active, held_since IS NOT NULL"

    static func decodeLinks(_ rows: PostgresRowSequence) async throws -> [ChatAccount] {
        var result: [ChatAccount] = []
        for try await (connector, userID, chatID, username, email, name, active, held) in rows.decode((String, String, String, String, String?, String?, Bool, Bool).self) {
            result.append(ChatAccount(connector: connector, platformUserID: userID, chatUserID: chatID, username: username, email: email, name: name, active: active, held: held))
        }
        return result
    }

    /// Active, unheld links of `connector` made before `date` (what a sync may find departed).
    public func activeLinks(connector: String, linkedBefore date: Date) async throws -> [ChatAccount] {
        try await Self.decodeLinks(client.query(
            """
            SELECT \(unescaped: Self.linkColumns) FROM \(unescaped: accounts)
            WHERE connector = \(connector) AND active AND held_since IS NULL AND provisioned_at < \(date) ORDER BY platform_user_id
            """,
            logger: logger
        ))
    }

    /// How many active accounts a connector has, for sync's mass-deactivation guard.
    public func activeAccountCount(connector: String) async throws -> Int {
        for try await count in try await client.query(
            "SELECT count(*)::int FROM \(unescaped: accounts) WHERE connector = \(connector) AND active", logger: logger
        ).decode(Int.self) { return count }
        return 0
    }

    /// Saves the link as the connector left it; an admin's hold (`held_since`) is kept, whatever `account.held` says.
    public func save(_ account: ChatAccount) async throws {
        try await client.query(
            """
            INSERT INTO \(unescaped: accounts) (connector, platform_user_id, chat_user_id, username, email, name, active)
            VALUES (\(account.connector), \(account.platformUserID), \(account.chatUserID), \(account.username), \(account.email), \(account.name), \(account.active))
            ON CONFLICT (connector, platform_user_id) DO UPDATE SET chat_user_id = EXCLUDED.chat_user_id, username = EXCLUDED.username,
                email = EXCLUDED.email, name = EXCLUDED.name, active = EXCLUDED.active, updated_at = now()
            """,
            logger: logger
        )
    }

    private static func decodeJobs(_ rows: PostgresRowSequence) async throws -> [ProvisioningJob] {
        var result: [ProvisioningJob] = []
        for try await (id, connector, action, user, login, state, attempts, maxAttempts, next, error, outcome, created) in rows.decode(
            (Int64, String, String, String, String, String, Int, Int, Date, String?, String?, Date).self
        ) {
            result.append(ProvisioningJob(
                id: id, connector: connector, action: ProvisioningJob.Action(rawValue: action) ?? .provision, platformUserID: user,
                userLogin: login, state: ProvisioningJob.State(rawValue: state) ?? .pending, attempts: attempts, maxAttempts: maxAttempts,
                nextAttemptAt: next, lastError: error, result: outcome, createdAt: created
            ))
        }
        return result
    }
}

enum ProvisioningStoreError: Error {
    case enqueueFailed
}
