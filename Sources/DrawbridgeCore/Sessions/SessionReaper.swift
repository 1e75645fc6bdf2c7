import Logging
import ServiceLifecycle

/// Deletes expired sessions now and then, so the table holds only live ones. Safe on every replica at once.
public struct SessionReaper: Service {
    let store: any SessionStore
    let interval: Duration
    let logger: Logger

    public init(store: any SessionStore, interval: Duration = .seconds(600), logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let removed = try await store.deleteExpired()
                if removed > 0 { logger.info("removed expired sessions", metadata: ["count": "\(removed)"]) }
            } catch {
                logger.warning("could not remove expired sessions", metadata: ["error": "\(PostgresErrorText.describe(error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
