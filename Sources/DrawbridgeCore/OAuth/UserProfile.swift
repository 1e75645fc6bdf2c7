import Foundation

/// How OAuth clients see a platform user: one source for `/api/v4/user`, `/oauth/userinfo` and id_tokens.
public struct UserProfile: Sendable, Equatable {
    /// Non-zero, stable forever, never reused: Mattermost's only join key (`AuthData`).
    public var numericID: Int64
    public var platformID: String
    public var username: String
    public var name: String
    public var email: String?
    public var firstSeen: Date

    public init(user: PlatformUser, numericID: Int64, firstSeen: Date = Date()) {
        self.numericID = numericID
        self.platformID = user.id
        self.username = ChatUsername.derive(login: user.login, numericID: numericID)
        let trimmed = user.name?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        self.name = trimmed.isEmpty ? user.login : trimmed
        self.email = user.email?.lowercased()
        self.firstSeen = firstSeen
    }

    /// The OIDC `sub`: the numeric id as text, the same value Mattermost stores, so every chat server agrees.
    public var subject: String { String(numericID) }

    /// Split as Mattermost splits names: the first word, and the rest.
    public var givenName: String { name.split(separator: " ", maxSplits: 1).first.map(String.init) ?? name }
    public var familyName: String? {
        let parts = name.split(separator: " ", maxSplits: 1)
        return parts.count == 2 ? String(parts[1]) : nil
    }
}
