import DrawbridgeCore
import Logging
import PostgresNIO

/// A pooled client for one command's work: started, used, and shut down. Fails instead of waiting
/// forever when the server is down (PostgresClient alone would retry indefinitely).
enum DatabaseAccess {
    static func with<T: Sendable>(
        _ url: PostgresURL, readOnly: Bool = false, timeout: Duration = .seconds(30),
        _ body: @escaping @Sendable (PostgresClient, Logger) async throws -> T
    ) async throws -> T {
        let logger = Logger.quiet("drawbridge.database")
        let client = PostgresClient(configuration: url.clientConfiguration(maxConnections: 2, readOnly: readOnly), backgroundLogger: logger)
        return try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await withTimeout(timeout) { try await body(client, logger) }
        }
    }
}
