import DrawbridgeCore
import ArgumentParser
import Logging
import PostgresNIO

/// A pooled client for one command's work: started, used, and shut down. Fails instead of waiting
/// forever when the server is down (PostgresClient alone would retry indefinitely).
enum DatabaseAccess {
    /// `timeout` bounds the whole command; nil is for commands that may rightly run for hours (a sync of
    /// 50,000 users against a slow chat server): those only have to reach the database within 30 s at the start.
    static func with<T: Sendable>(
        _ url: PostgresURL, readOnly: Bool = false, timeout: Duration? = .seconds(30),
        _ body: @escaping @Sendable (PostgresClient, Logger) async throws -> T
    ) async throws -> T {
        let logger = Logger.quiet("drawbridge.database")
        let client = PostgresClient(configuration: commandConfiguration(url, readOnly: readOnly), backgroundLogger: logger)
        return try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            guard let timeout else {
                try await withTimeout(.seconds(30)) { try await client.query("SELECT 1", logger: logger) }
                return try await body(client, logger)
            }
            return try await withTimeout(timeout) { try await body(client, logger) }
        }
    }

    /// Two connections, opened at the start and kept until the command ends: no keep-alive and no idle timeout.
    /// Those are timers the pool starts each time a connection goes idle and cancels when it is leased again, and a
    /// cancelled `Task.sleep` keeps its task and dispatch timer (about 300 bytes) until the deadline it was given
    /// (30 s keep-alive, 60 s idle). `provision sync` makes two queries per user, so the default pool held the last
    /// minute's timers: 13–22 MB of heap, peak RSS 59 → 88 MB from 10,000 to 50,000 users (46 MB with this).
    /// A command's pool lives for seconds or minutes, so neither timer has anything to do.
    static func commandConfiguration(_ url: PostgresURL, readOnly: Bool) -> PostgresClient.Configuration {
        var configuration = url.clientConfiguration(maxConnections: 2, readOnly: readOnly)
        configuration.options.minimumConnections = configuration.options.maximumConnections
        configuration.options.keepAliveBehavior = nil
        return configuration
    }

    /// Both databases — the platform's read-only, Drawbridge's own — for a command that needs them together.
    /// A database failure becomes one line on stderr and exit 1; an `ExitCode` from `body` passes through.
    static func withBoth<T: Sendable>(
        _ configuration: DrawbridgeConfiguration, timeout: Duration?,
        _ body: @escaping @Sendable (_ platform: PostgresClient, _ database: PostgresClient, Logger) async throws -> T
    ) async throws -> T {
        do {
            return try await with(configuration.directory.url, readOnly: true, timeout: timeout) { platform, logger in
                try await with(configuration.database.url, timeout: timeout) { database, _ in
                    try await body(platform, database, logger)
                }
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            CommandOutput.error("\(PostgresErrorText.describe(error))")
            throw ExitCode.failure
        }
    }
}
