import Foundation
import Logging

/// Signing out, everywhere it reaches: the Drawbridge session ends, the tokens issued in it are revoked, the
/// relying parties that hold a back-channel logout URI are told (OIDC Back-Channel Logout), and each chat
/// connector is asked, through the outbox, to end the user's chat sessions. Shared by `/logout`,
/// RP-initiated logout, the platform-session bridge and `drawbridge sessions revoke`.
public struct SingleLogout: Sendable {
    public struct Outcome: Sendable, Equatable {
        public var session: Session
        public var revokedClients: [String]
        /// Clients that accepted the back-channel notice; without `waitForNotices`, those it is being sent to.
        public var notifiedClients: [String]
        public var chatJobs: Int
    }

    let sessions: any SessionStore
    let grants: any GrantStore
    let clients: any ClientStore
    let backchannel: BackchannelLogoutSender
    /// The outbox and its connectors' names; nil when no chat connector is configured.
    let provisioning: (store: ProvisioningStore, connectors: [String], maxAttempts: Int)?
    let logger: Logger
    /// Called once tokens were revoked, so caches in front of the token store forget them.
    let onTokensRevoked: @Sendable () -> Void
    /// Called with the digest of each session ended, so caches in front of the session store forget it.
    let onSessionEnded: @Sendable ([UInt8]) -> Void

    public init(sessions: any SessionStore, grants: any GrantStore, clients: any ClientStore, backchannel: BackchannelLogoutSender,
                provisioning: (store: ProvisioningStore, connectors: [String], maxAttempts: Int)?, logger: Logger,
                onTokensRevoked: @escaping @Sendable () -> Void = {}, onSessionEnded: @escaping @Sendable ([UInt8]) -> Void = { _ in }) {
        self.onTokensRevoked = onTokensRevoked
        self.onSessionEnded = onSessionEnded
        self.sessions = sessions
        self.grants = grants
        self.clients = clients
        self.backchannel = backchannel
        self.provisioning = provisioning
        self.logger = logger
    }

    /// Ends the session with this digest. Nil when it had already ended (a second click, another replica).
    /// Back-channel notices are sent before this returns when `waitForNotices`; otherwise in the background,
    /// so a browser is not kept waiting on a slow relying party.
    public func end(digest: [UInt8], waitForNotices: Bool = false) async throws -> Outcome? {
        guard let session = try await sessions.end(digest: digest) else { return nil }
        onSessionEnded(digest)
        let clientIDs = try await grants.revokeSession(digest: digest)
        if !clientIDs.isEmpty { onTokensRevoked() }
        let chatJobs = try await revokeChatSessions(userID: session.userID, login: session.login)
        let toNotify = try await clientsWithBackchannel(clientIDs)
        let subject = try await grants.numericID(forPlatformID: session.userID)
        let sid = SessionID.sid(digest: digest)
        let sender = backchannel
        let notify: @Sendable () async -> [String] = {
            await withTaskGroup(of: (String, Bool).self) { group in
                for client in toNotify {
                    group.addTask { (client.clientID, await sender.notify(client, subject: String(subject), sid: sid)) }
                }
                return await group.reduce(into: []) { if $1.1 { $0.append($1.0) } }
            }
        }
        var notified: [String] = []
        if waitForNotices {
            notified = await notify()
        } else if !toNotify.isEmpty {
            Task { _ = await notify() }
            notified = toNotify.map(\.clientID)
        }
        logger.info("signed out", metadata: [
            "user_id": "\(session.userID)", "revoked_clients": "\(clientIDs.count)", "backchannel": "\(toNotify.count)", "chat_jobs": "\(chatJobs)",
        ])
        return Outcome(session: session, revokedClients: clientIDs.sorted(), notifiedClients: notified.sorted(), chatJobs: chatJobs)
    }

    private func clientsWithBackchannel(_ ids: [String]) async throws -> [OAuthClient] {
        var result: [OAuthClient] = []
        for id in ids {
            if let client = try await clients.client(id: id), client.backchannelLogoutURI != nil { result.append(client) }
        }
        return result
    }

    /// Queues the end of the user's sessions on every chat server they have an account on; returns how many.
    func revokeChatSessions(userID: String, login: String) async throws -> Int {
        guard let provisioning else { return 0 }
        var chatJobs = 0
        let links = try await provisioning.store.accounts(platformUserIDs: [userID])
        for connector in provisioning.connectors where links[connector]?[userID] != nil {
            try await provisioning.store.enqueue(connector: connector, action: .revokeSessions, platformUserID: userID,
                                                 login: login, maxAttempts: provisioning.maxAttempts)
            chatJobs += 1
        }
        return chatJobs
    }

    /// The platform says the user signed out: every Drawbridge session of theirs ends, and their chat sessions
    /// are revoked even when Drawbridge held none any more (chat's own sessions outlive Drawbridge's).
    public func signOut(userID: String, login: String) async throws -> (sessions: [Outcome], chatJobs: Int) {
        let outcomes = try await endAll(userID: userID)
        let chatJobs = outcomes.map(\.chatJobs).reduce(0, +)
        return (outcomes, chatJobs > 0 ? chatJobs : try await revokeChatSessions(userID: userID, login: login))
    }

    /// Ends every live session of one user (or of everyone); returns what each did.
    public func endAll(userID: String?) async throws -> [Outcome] {
        var outcomes: [Outcome] = []
        while true {
            let batch = try await sessions.list(userID: userID, limit: 500)
            guard !batch.isEmpty else { break }
            for record in batch {
                if let outcome = try await end(digest: record.digest, waitForNotices: true) { outcomes.append(outcome) }
            }
        }
        return outcomes
    }
}
