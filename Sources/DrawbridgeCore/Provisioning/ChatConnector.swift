/// A platform user as a chat server should see them (derived by the connector's documented rules).
public struct ChatUser: Sendable, Equatable {
    public var platformID: String
    /// The GitLab-style id the OAuth surface hands out (Mattermost's `auth_data`).
    public var numericID: Int64
    /// The OIDC `sub` (Synapse's `external_id`).
    public var subject: String
    public var username: String
    public var email: String?
    public var name: String
    public var firstName: String
    public var lastName: String?
    public var isActive: Bool

    public init(profile: UserProfile, isActive: Bool) {
        self.platformID = profile.platformID
        self.numericID = profile.numericID
        self.subject = profile.subject
        self.username = profile.username
        self.email = profile.email
        self.name = profile.name
        self.firstName = profile.givenName
        self.lastName = profile.familyName
        self.isActive = isActive
    }
}

/// The link Drawbridge keeps between a platform user and their account on one chat server.
public struct ChatAccount: Sendable, Equatable {
    public var connector: String
    public var platformUserID: String
    public var chatUserID: String
    public var username: String
    public var email: String?
    public var name: String?
    public var active: Bool
    /// Deactivated by an admin's `drawbridge deprovision`: sign-ins and sync leave it so until `provision user`.
    public var held: Bool

    public init(connector: String, platformUserID: String, chatUserID: String, username: String, email: String?, name: String?, active: Bool, held: Bool = false) {
        self.connector = connector
        self.platformUserID = platformUserID
        self.chatUserID = chatUserID
        self.username = username
        self.email = email
        self.name = name
        self.active = active
        self.held = held
    }
}

extension ChatAccount {
    /// The link for an account a connector has just created or adopted for `user` (active).
    public init(connector: String, user: ChatUser, chatUserID: String) {
        self.init(connector: connector, platformUserID: user.platformID, chatUserID: chatUserID, username: user.username,
                  email: user.email, name: user.name, active: true)
    }
}

/// One chat server's admin API. Every operation is idempotent: a job may run again after a crash.
public protocol ChatConnector: Sendable {
    var name: String { get }
    /// One cheap call that needs the admin's rights, so a wrong URL or token is one clear error before a sync
    /// of 50,000 users, not 50,000 failures after it. Returns what was found, for the CLI.
    func checkAccess() async throws(ConnectorError) -> String
    /// The Drawbridge OAuth client the chat server signs users in with, when configured (`oauth_client`).
    var oauthClientID: String? { get }
    /// Creates (or adopts, when it is provably this user's) the chat account, joins default teams; returns the link.
    func provision(_ user: ChatUser, existing: ChatAccount?) async throws(ConnectorError) -> ChatAccount
    /// Brings email and profile in step where the chat server allows it.
    func update(_ user: ChatUser, account: ChatAccount) async throws(ConnectorError) -> ChatAccount
    func deactivate(_ account: ChatAccount) async throws(ConnectorError)
    func revokeSessions(_ account: ChatAccount) async throws(ConnectorError)
}

extension ChatConnector {
    public var oauthClientID: String? { nil }
}

public enum ConnectorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Worth retrying: the server is down, slow or answered 5xx.
    case unavailable(String)
    /// Retrying will not help until someone acts (a clash with a foreign account, a bad token): the job fails, visibly.
    case rejected(String)

    public var description: String {
        switch self {
        case .unavailable(let reason): "chat server unavailable: \(reason)"
        case .rejected(let reason): reason
        }
    }
}
