import Foundation
import Logging
import ServiceLifecycle

/// Platform sign-outs reach chat without waiting for the browser. A user who signs out of the platform and
/// then opens chat finds chat's own session (Mattermost's cookie, a Matrix access token), not Drawbridge's:
/// left to the request path, Drawbridge would notice only when that browser next came by. This asks the
/// platform about every session opened from it, at most every `recheck_interval`, and ends the ones whose
/// platform session is gone with single logout — which revokes the chat sessions through the outbox.
///
/// It needs `platform_session.hash: sha256`: Drawbridge keeps only the platform cookie's SHA-256, never the
/// cookie, so only a query that takes that hash can be asked without the browser. Replicas share the work:
/// each claims due sessions with `FOR UPDATE SKIP LOCKED`.
public struct PlatformSignOutWatcher: Service {
    let bridge: PlatformSessionBridge
    let sessions: any SessionStore
    let logout: SingleLogout
    let batchSize: Int
    let logger: Logger

    public init(bridge: PlatformSessionBridge, sessions: any SessionStore, logout: SingleLogout, batchSize: Int = 200, logger: Logger) {
        self.bridge = bridge
        self.sessions = sessions
        self.logout = logout
        self.batchSize = batchSize
        self.logger = logger
    }

    /// Half the re-check interval (so no session goes more than 1.5 intervals unchecked), within 0.5–15 s.
    var pause: Duration {
        min(max(bridge.settings.recheckInterval / 2, .milliseconds(500)), .seconds(15))
    }

    public func run() async throws {
        guard bridge.canCheckWithoutCookie else { return }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                _ = try await sweep()
            } catch {
                logger.warning("could not re-check platform sessions", metadata: ["error": "\(PostgresErrorText.describe(error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
        }
    }

    public struct Sweep: Sendable, Equatable {
        public var confirmed = 0
        public var ended = 0
        /// The platform could not be asked: those sessions stay, and are asked again after the interval.
        public var unanswered = 0
    }

    /// Asks the platform about every due session once; ends those it no longer backs.
    public func sweep() async throws -> Sweep {
        var result = Sweep()
        while true {
            let due = try await sessions.claimPlatformRechecks(olderThan: bridge.settings.recheckInterval, lease: .seconds(60), limit: batchSize)
            var unansweredHere = 0
            for (digest, session) in due {
                switch await bridge.check(session) {
                case .signedIn:
                    result.confirmed += 1
                    try await sessions.platformConfirmed(digest: digest)
                case .unknown:
                    unansweredHere += 1
                    try await sessions.platformUnanswered(digest: digest, retryAfter: bridge.settings.recheckInterval)
                case .signedOut:
                    if try await logout.end(digest: digest) != nil {
                        result.ended += 1
                        logger.info("session ended: its platform session is gone", metadata: ["user_id": "\(session.userID)"])
                    }
                }
            }
            result.unanswered += unansweredHere
            // A platform that does not answer is asked again at the next pause, not in this loop.
            if due.count < batchSize || unansweredHere > 0 { break }
        }
        if result.unanswered > 0 {
            logger.warning("the platform could not be asked about some sessions; they stay until it can be", metadata: ["sessions": "\(result.unanswered)"])
        }
        return result
    }
}
