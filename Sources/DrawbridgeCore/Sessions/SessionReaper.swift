import Logging
import ServiceLifecycle

/// Deletes expired sessions, codes and tokens now and then, so those tables hold only live rows.
/// Safe on every replica at once.
public struct SessionReaper: Service {
    let store: any SessionStore
    let grants: (any GrantStore)?
    let handoffs: (any HandoffStore)?
    let interval: Duration
    let logger: Logger

    public init(store: any SessionStore, grants: (any GrantStore)? = nil, handoffs: (any HandoffStore)? = nil, interval: Duration = .seconds(600), logger: Logger) {
        self.store = store
        self.grants = grants
        self.handoffs = handoffs
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let sessions = try await store.deleteExpired()
                let grantRows = try await grants?.deleteExpired() ?? 0
                _ = try await handoffs?.deleteExpired()
                if sessions + grantRows > 0 {
                    logger.info("removed expired state", metadata: ["sessions": "\(sessions)", "codes_and_tokens": "\(grantRows)"])
                }
            } catch {
                logger.warning("could not remove expired state", metadata: ["error": "\(PostgresErrorText.describe(error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
