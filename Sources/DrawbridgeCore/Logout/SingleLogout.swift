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

    public init(sessions: any SessionStore, grants: any GrantStore, clients: any ClientStore, backchannel: BackchannelLogoutSender,
                provisioning: (store: ProvisioningStore, connectors: [String], maxAttempts: Int)?, logger: Logger,
                onTokensRevoked: @escaping @Sendable () -> Void = {}) {
        self.onTokensRevoked = onTokensRevoked
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
        let clientIDs = try await grants.revokeSession(digest: digest)
        if !clientIDs.isEmpty { onTokensRevoked() }
        var chatJobs = 0
        if let provisioning {
            let links = try await provisioning.store.accounts(platformUserIDs: [session.userID])
            for connector in provisioning.connectors where links[connector]?[session.userID] != nil {
                try await provisioning.store.enqueue(connector: connector, action: .revokeSessions, platformUserID: session.userID,
                                                     login: session.login, maxAttempts: provisioning.maxAttempts)
                chatJobs += 1
            }
        }
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
