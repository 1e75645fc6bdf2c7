import Foundation
import Logging
import PostgresNIO

/// What one `provision sync` run has done so far, per connector.
public struct SyncCounts: Sendable, Equatable, Codable {
    public var created = 0
    public var updated = 0
    public var deactivated = 0
    public var unchanged = 0
    public var failed = 0

    public init() {}

    public var total: Int { created + updated + deactivated + unchanged + failed }

    mutating func add(_ outcome: SyncOutcome) {
        switch outcome {
        case .created: created += 1
        case .updated: updated += 1
        case .deactivated: deactivated += 1
        case .unchanged: unchanged += 1
        case .failed: failed += 1
        }
    }
}

public enum SyncOutcome: String, Sendable {
    case created, updated, deactivated, unchanged, failed
}

/// A sync run as stored: resumable from `cursor` (the last platform id of a finished page).
public struct SyncRun: Sendable {
    public var id: Int64
    public var scope: String
    public var cursor: String?
    public var total: Int
    public var seen: Int
    public var counts: [String: SyncCounts]
    public var startedAt: Date
    public var resumed: Bool
}

public struct SyncFailure: Sendable, Codable {
    public var connector: String
    public var platformUserID: String
    public var login: String
    public var action: String
    public var error: String

    enum CodingKeys: String, CodingKey {
        case connector, login, action, error
        case platformUserID = "platform_user_id"
    }
}

/// `provisioning_sync_runs` and `provisioning_sync_failures` (`migrations/0005_provisioning_sync.sql`).
public struct SyncStore: Sendable {
    let client: PostgresClient
    let runs: String
    let failures: String
    let seenUsers: String
    let accounts: String
    let logger: Logger

    public init(client: PostgresClient, schema: String, logger: Logger) {
        self.client = client
        self.runs = SQLIdentifier.quote(schema) + ".provisioning_sync_runs"
        self.failures = SQLIdentifier.quote(schema) + ".provisioning_sync_failures"
        self.seenUsers = SQLIdentifier.quote(schema) + ".provisioning_sync_seen"
        self.accounts = SQLIdentifier.quote(schema) + ".chat_accounts"
        self.logger = logger
    }

    /// The unfinished run with this scope (an interrupted one, to resume), or a new one.
    public func open(scope: String, total: Int, restart: Bool) async throws -> SyncRun {
        if restart {
            try await client.query("UPDATE \(unescaped: runs) SET finished_at = now() WHERE scope = \(scope) AND finished_at IS NULL", logger: logger)
        } else {
            let rows = try await client.query(
                "SELECT id, cursor, total, seen, counts::text, started_at FROM \(unescaped: runs) WHERE scope = \(scope) AND finished_at IS NULL ORDER BY id DESC LIMIT 1",
                logger: logger
            )
            for try await (id, cursor, total, seen, counts, started) in rows.decode((Int64, String?, Int, Int, String, Date).self) {
                return SyncRun(id: id, scope: scope, cursor: cursor, total: total, seen: seen, counts: Self.decode(counts), startedAt: started, resumed: true)
            }
        }
        let rows = try await client.query("INSERT INTO \(unescaped: runs) (scope, total) VALUES (\(scope), \(total)) RETURNING id, started_at", logger: logger)
        for try await (id, started) in rows.decode((Int64, Date).self) {
            return SyncRun(id: id, scope: scope, cursor: nil, total: total, seen: 0, counts: [:], startedAt: started, resumed: false)
        }
        throw SyncError.couldNotStart
    }

    /// Records a finished page: where to resume, and the counts so far.
    public func checkpoint(_ run: SyncRun) async throws {
        try await client.query(
            "UPDATE \(unescaped: runs) SET cursor = \(run.cursor), seen = \(run.seen), counts = \(Self.encode(run.counts))::jsonb, updated_at = now() WHERE id = \(run.id)",
            logger: logger
        )
    }

    public func finish(_ run: SyncRun) async throws {
        try await client.query("UPDATE \(unescaped: runs) SET finished_at = now(), updated_at = now() WHERE id = \(run.id)", logger: logger)
        try await client.query("DELETE FROM \(unescaped: seenUsers) WHERE run_id = \(run.id)", logger: logger)
    }

    /// Records that the run walked past these platform users (before the page's checkpoint, so a resume keeps them).
    public func markSeen(run: Int64, platformUserIDs: [String]) async throws {
        try await client.query(
            "INSERT INTO \(unescaped: seenUsers) (run_id, platform_user_id) SELECT \(run), unnest(\(platformUserIDs)::text[]) ON CONFLICT DO NOTHING",
            logger: logger
        )
    }

    /// Active, unheld accounts on `connector` whose platform user the run never saw: gone from the platform's table.
    /// Only links made before the run started count (a user who signed up and signed in during the run is not gone).
    /// A dry run, which records nothing, diffs `ProvisioningStore.activeLinks` with the ids it saw instead.
    public func departed(run: SyncRun, connector: String) async throws -> [ChatAccount] {
        try await ProvisioningStore.decodeLinks(client.query(
            """
            SELECT \(unescaped: ProvisioningStore.linkColumns) FROM \(unescaped: accounts) a
            WHERE connector = \(connector) AND active AND held_since IS NULL AND provisioned_at < \(run.startedAt)
              AND NOT EXISTS (SELECT 1 FROM \(unescaped: seenUsers) s WHERE s.run_id = \(run.id) AND s.platform_user_id = a.platform_user_id)
            ORDER BY platform_user_id
            """,
            logger: logger
        ))
    }

    public func recordFailure(run: Int64, _ failure: SyncFailure) async throws {
        try await client.query(
            """
            INSERT INTO \(unescaped: failures) (run_id, connector, platform_user_id, user_login, action, error)
            VALUES (\(run), \(failure.connector), \(failure.platformUserID), \(failure.login), \(failure.action), \(failure.error))
            ON CONFLICT (run_id, connector, platform_user_id) DO UPDATE SET action = EXCLUDED.action, error = EXCLUDED.error, failed_at = now()
            """,
            logger: logger
        )
    }

    /// A user redone after a resume who now succeeded is no longer a failure of the run.
    public func clearFailure(run: Int64, connector: String, platformUserID: String) async throws {
        try await client.query(
            "DELETE FROM \(unescaped: failures) WHERE run_id = \(run) AND connector = \(connector) AND platform_user_id = \(platformUserID)",
            logger: logger
        )
    }

    public func failures(run: Int64) async throws -> [SyncFailure] {
        let rows = try await client.query(
            "SELECT connector, platform_user_id, user_login, action, error FROM \(unescaped: failures) WHERE run_id = \(run) ORDER BY user_login, connector",
            logger: logger
        )
        var result: [SyncFailure] = []
        for try await (connector, id, login, action, error) in rows.decode((String, String, String, String, String).self) {
            result.append(SyncFailure(connector: connector, platformUserID: id, login: login, action: action, error: error))
        }
        return result
    }

    static func encode(_ counts: [String: SyncCounts]) -> String {
        (try? JSONEncoder().encode(counts)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    static func decode(_ text: String) -> [String: SyncCounts] {
        (try? JSONDecoder().decode([String: SyncCounts].self, from: Data(text.utf8))) ?? [:]
    }
}

public enum SyncError: Error, CustomStringConvertible {
    case couldNotStart

    public var description: String { "could not record the sync run in Drawbridge's database" }
}
