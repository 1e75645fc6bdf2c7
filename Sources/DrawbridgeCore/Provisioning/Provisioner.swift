import Foundation
import Logging

/// Carries out one job against its connector, reading the platform user afresh (a job may run long after
/// it was queued) and keeping the account link up to date.
public struct Provisioner: Sendable {
    public let connectors: [String: any ChatConnector]
    public let store: ProvisioningStore
    public let directory: any UserDirectory
    public let grants: any GrantStore
    let logger: Logger

    public init(connectors: [any ChatConnector], store: ProvisioningStore, directory: any UserDirectory, grants: any GrantStore, logger: Logger) {
        self.connectors = Dictionary(connectors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.store = store
        self.directory = directory
        self.grants = grants
        self.logger = logger
    }

    /// What was done, in a line for logs and the CLI.
    public func run(_ job: ProvisioningJob) async throws -> String {
        guard let connector = connectors[job.connector] else { throw ConnectorError.rejected("no connector named '\(job.connector)' is configured") }
        let existing = try await store.account(connector: job.connector, platformUserID: job.platformUserID)
        switch job.action {
        case .deactivate, .revokeSessions:
            guard let existing else { return "no \(job.connector) account to \(job.action == .deactivate ? "deactivate" : "sign out")" }
            if job.action == .deactivate {
                try await deactivate(existing, on: connector)
                return "deactivated \(job.connector) account \(existing.username)"
            }
            try await connector.revokeSessions(existing)
            return "signed \(existing.username) out of \(job.connector)"
        case .provision, .update:
            if job.action == .update, let existing, existing.held {
                return "\(job.connector) account \(existing.username) was deprovisioned by an admin: left deactivated"
            }
            guard let user = try await directory.user(id: job.platformUserID, login: job.userLogin) else {
                throw ConnectorError.rejected("platform user \(job.platformUserID) no longer exists")
            }
            return try await bringInStep(user, on: connector, existing: existing, updateOnly: job.action == .update)
        }
    }

    /// Creates, updates, reactivates or deactivates the user's account on one connector, as the platform user
    /// now is, and keeps the link. Shared by the outbox's jobs and `provision sync` (which has read the user already).
    /// `recheck` trusts the link less: an inactive user's account is deactivated even if the link says it is.
    public func bringInStep(_ user: PlatformUser, on connector: any ChatConnector, existing: ChatAccount?, updateOnly: Bool = false, recheck: Bool = false) async throws -> String {
        let chatUser = ChatUser(profile: UserProfile(user: user, numericID: try await grants.numericID(forPlatformID: user.id)), isActive: user.isActive)
        guard user.isActive else {
            // Deactivated on the platform: do not (re)create; make sure chat follows.
            if let existing, existing.active || recheck {
                try await deactivate(existing, on: connector)
                return "user is inactive on the platform: deactivated \(connector.name) account \(existing.username)"
            }
            return "user is inactive on the platform: nothing to provision"
        }
        let account: ChatAccount
        if let existing, updateOnly {
            account = try await connector.update(chatUser, account: existing)
        } else {
            account = try await connector.provision(chatUser, existing: existing)
        }
        try await store.save(account)
        return existing == nil ? "created \(connector.name) account \(account.username) (\(account.chatUserID))" : "\(connector.name) account \(account.username) is up to date"
    }

    /// Deactivates the account in chat and records it in the link (also for accounts whose platform user is gone
    /// from the platform's table, which `provision sync` finds).
    public func deactivate(_ account: ChatAccount, on connector: any ChatConnector) async throws {
        try await connector.deactivate(account)
        var deactivated = account
        deactivated.active = false
        try await store.save(deactivated)
    }
}
