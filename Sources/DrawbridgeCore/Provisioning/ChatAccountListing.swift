/// A chat account as its server's admin listing shows it, in the terms Drawbridge compares with the platform.
public struct ListedChatAccount: Sendable, Equatable, Codable {
    public var chatUserID: String
    public var username: String
    /// Nil when the listing does not show emails (Synapse's user list): then the email is not compared.
    public var email: String?
    /// The name as the connector sets it (Mattermost: first and last name joined), nil when not listed.
    public var name: String?
    public var active: Bool

    public init(chatUserID: String, username: String, email: String?, name: String?, active: Bool) {
        self.chatUserID = chatUserID
        self.username = username
        self.email = email
        self.name = name
        self.active = active
    }
}

/// A connector whose chat server can list every account (for `drawbridge provision drift`). The webhook
/// connector cannot: whatever is behind it keeps its own books.
public protocol ChatAccountListing: ChatConnector {
    /// One page of accounts, deactivated ones included; `next` is nil after the last page.
    func listAccounts(after cursor: String?) async throws(ConnectorError) -> (accounts: [ListedChatAccount], next: String?)

    /// The name as this connector writes it for `user`, to compare with `ListedChatAccount.name`.
    func expectedName(of user: ChatUser) -> String

    /// The username this connector gives `user` (the shared rule's, unless the server reserves it).
    func expectedUsername(of user: ChatUser) -> String

    /// Profile fields that reach the chat server only at the user's next SSO sign-in (so a mismatch there is
    /// expected until then, and said so in the report).
    var fieldsAppliedAtSignIn: Set<ProfileField> { get }
}

extension ChatAccountListing {
    public func expectedName(of user: ChatUser) -> String { user.name }
    public func expectedUsername(of user: ChatUser) -> String { user.username }
    public var fieldsAppliedAtSignIn: Set<ProfileField> { [] }
}

public enum ProfileField: String, Sendable, Codable, Hashable, CaseIterable {
    case username, email, name
}
