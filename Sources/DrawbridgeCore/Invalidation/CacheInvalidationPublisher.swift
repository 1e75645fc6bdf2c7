import Logging
import PostgresNIO

/// Sends a `CacheInvalidation` to every replica, for changes no trigger sees (a deactivation on the platform,
/// noticed here). Best effort: the receivers' cache lifetime bounds what a lost notice costs.
public protocol CacheInvalidationPublisher: Sendable {
    func publish(_ invalidation: CacheInvalidation) async
}

public struct PostgresCacheInvalidationPublisher: CacheInvalidationPublisher {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func publish(_ invalidation: CacheInvalidation) async {
        do {
            try await client.query("SELECT pg_notify(\(CacheInvalidation.channel), \(invalidation.payload))", logger: logger)
        } catch {
            logger.warning("could not send a cache invalidation", metadata: ["error": "\(PostgresErrorText.describe(error))"])
        }
    }
}
