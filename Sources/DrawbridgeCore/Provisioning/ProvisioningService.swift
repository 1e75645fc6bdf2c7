import Foundation
import Logging

/// What sign-ins and admin commands ask of provisioning. Sign-in never fails because of chat: problems
/// here are logged, the jobs stay queued, and the worker keeps trying.
public struct ProvisioningService: Sendable {
    public let store: ProvisioningStore
    public let worker: ProvisioningWorker
    public let provisioner: Provisioner
    public let settings: ProvisioningSettings
    let logger: Logger

    public init(store: ProvisioningStore, worker: ProvisioningWorker, provisioner: Provisioner, settings: ProvisioningSettings, logger: Logger) {
        self.store = store
        self.worker = worker
        self.provisioner = provisioner
        self.settings = settings
        self.logger = logger
    }

    public var connectorNames: [String] { provisioner.connectors.keys.sorted() }

    /// Queues a first provisioning (and waits for it, up to the budget, so the account is there when chat's
    /// OAuth callback arrives) or an update when the profile changed since the last sync.
    public func afterSignIn(_ user: PlatformUser) async {
        do {
            let profile = UserProfile(user: user, numericID: try await provisioner.grants.numericID(forPlatformID: user.id))
            var waitFor: [Int64] = []
            for name in connectorNames {
                if let account = try await store.account(connector: name, platformUserID: user.id) {
                    // Deprovisioned by an admin: stays deactivated until `provision user` lifts the hold.
                    if !account.held, account.email != profile.email || account.name != profile.name || account.username != profile.username || !account.active {
                        try await store.enqueue(connector: name, action: .update, platformUserID: user.id, login: user.login, maxAttempts: settings.maxAttempts)
                    }
                } else {
                    waitFor.append(try await store.enqueue(connector: name, action: .provision, platformUserID: user.id, login: user.login, maxAttempts: settings.maxAttempts))
                }
            }
            worker.nudge()
            if !waitFor.isEmpty { await wait(for: waitFor, budget: settings.waitBudget) }
        } catch {
            logger.error("could not queue chat provisioning at sign-in", metadata: ["user_id": "\(user.id)", "error": "\(PostgresErrorText.describe(error))"])
        }
    }

    /// The connector, if any, that signs in through `clientID` and on which an admin deprovisioned this user:
    /// then the user gets no code for that client, or the chat server's SSO login would reactivate the account.
    public func heldConnector(clientID: String, userID: String) async throws -> String? {
        for connector in provisioner.connectors.values where connector.oauthClientID == clientID {
            if try await store.account(connector: connector.name, platformUserID: userID)?.held == true { return connector.name }
        }
        return nil
    }

    /// A user found inactive on the platform: their chat accounts follow.
    public func deactivate(userID: String, login: String) async {
        do {
            for name in connectorNames where try await store.account(connector: name, platformUserID: userID)?.active == true {
                try await store.enqueue(connector: name, action: .deactivate, platformUserID: userID, login: login, maxAttempts: settings.maxAttempts)
            }
            worker.nudge()
        } catch {
            logger.error("could not queue chat deactivation", metadata: ["user_id": "\(userID)", "error": "\(PostgresErrorText.describe(error))"])
        }
    }

    /// Waits until the jobs are no longer pending, or the budget is spent.
    public func wait(for jobIDs: [Int64], budget: Duration) async {
        let deadline = ContinuousClock.now + budget
        var remaining = Set(jobIDs)
        while !remaining.isEmpty, ContinuousClock.now < deadline {
            for id in remaining {
                if let job = try? await store.job(id: id), job.state != .pending { remaining.remove(id) }
            }
            if !remaining.isEmpty { try? await Task.sleep(for: .milliseconds(50)) }
        }
    }
}
