import Foundation
import NIOHTTP1
import Synchronization

/// Mattermost over its REST API v4, as `contracts/chat-servers.md` §1.10–1.12 and §3 describe it.
///
/// Accounts are created as SSO users (`auth_service` gitlab or openid, `auth_data` = the integer id that
/// `/api/v4/user` returns), so Mattermost's own first OAuth login finds them instead of creating a second
/// one. Usernames follow `ChatUsername` (a fixed point of Mattermost's CleanUsername). An existing account
/// is adopted only when it provably belongs to this user; anything else is a clash, reported, never resolved
/// onto someone else's account.
public struct MattermostConnector: ChatConnector {
    public struct Settings: Sendable, BrowserFacingSettings {
        public var url: String
        public var token: String
        /// `gitlab` for Team Edition's GitLab SSO, `openid` for Professional's OpenID Connect.
        public var authService: String
        /// Link a password account that owns the email (`PUT /users/{id}/auth`) instead of reporting the clash.
        public var linkExistingByEmail: Bool
        /// Team names new users join, and `team:channel` pairs.
        public var teams: [String]
        public var channels: [String]
        public var timeout: Duration
        /// Where browsers reach Mattermost, when not at `url` (which may be an internal address).
        public var publicURL: String?
        /// The team whose invite id goes on launch links, so a new user lands in it; default the first of `teams`.
        public var launchTeam: String?
        /// The Drawbridge OAuth client this chat server signs in with. A user an admin deprovisioned gets no code
        /// for it (the chat server's own SSO login would otherwise reactivate the account).
        public var oauthClientID: String?

        public init(url: String, token: String, authService: String = "gitlab", linkExistingByEmail: Bool = false, teams: [String] = [], channels: [String] = [], timeout: Duration = .seconds(10)) {
            self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
            self.token = token
            self.authService = authService
            self.linkExistingByEmail = linkExistingByEmail
            self.teams = teams
            self.channels = channels
            self.timeout = timeout
        }
    }

    public let name: String
    let settings: Settings
    let http: ConnectorHTTP
    /// Team name → (id, invite id), fetched once.
    private let teamCache = TeamCache()

    public init(name: String = "mattermost", settings: Settings) {
        self.name = name
        self.settings = settings
        self.http = ConnectorHTTP(baseURL: settings.url + "/api/v4", headers: [("Authorization", "Bearer \(settings.token)")], timeout: settings.timeout)
    }

    public func provision(_ user: ChatUser, existing: ChatAccount?) async throws(ConnectorError) -> ChatAccount {
        var account: ChatAccount
        if let existing, let found = try await get("/users/\(existing.chatUserID)") {
            account = try await update(user, account: existing, current: found)
        } else {
            account = try await adoptOrCreate(user)
        }
        try await joinDefaultTeams(account.chatUserID)
        account.active = true
        return account
    }

    public func update(_ user: ChatUser, account: ChatAccount) async throws(ConnectorError) -> ChatAccount {
        guard let current = try await get("/users/\(account.chatUserID)") else {
            throw .rejected("the \(name) account \(account.chatUserID) of \(user.username) no longer exists; run `drawbridge provision user` to recreate it")
        }
        return try await update(user, account: account, current: current)
    }

    /// Email through the API; username and names reach Mattermost at the user's next SSO login (§1.11: the
    /// API refuses them for SSO users). A deactivated account is reactivated, since the platform user is active.
    private func update(_ user: ChatUser, account: ChatAccount, current: [String: Any]) async throws(ConnectorError) -> ChatAccount {
        var updated = account
        if let email = user.email, (current["email"] as? String) != email {
            let reply = try await http.send(.PUT, "/users/\(account.chatUserID)/patch", body: ["email": email])
            guard reply.status == 200 else { throw .rejected("could not change the email of \(user.username): \(reply.errorID ?? reply.raw)") }
            updated.email = email
        }
        if let deleted = current["delete_at"] as? Int, deleted > 0 {
            let reply = try await http.send(.PUT, "/users/\(account.chatUserID)/active", body: ["active": true])
            guard reply.status == 200 else { throw .rejected("could not reactivate \(user.username): \(reply.errorID ?? reply.raw)") }
        }
        updated.active = true
        updated.name = user.name
        // Mattermost takes the new username from the next SSO login; the link records what it will be.
        updated.username = user.username
        return updated
    }

    private func adoptOrCreate(_ user: ChatUser) async throws(ConnectorError) -> ChatAccount {
        guard let email = user.email else { throw .rejected("platform user \(user.platformID) has no email; Mattermost requires one") }
        // An account with this email: ours if it is the SSO account for this id; a password account only by configured linking.
        if let byEmail = try await get("/users/email/\(ConnectorHTTP.escape(email))") {
            let service = byEmail["auth_service"] as? String ?? ""
            let id = byEmail["id"] as? String ?? ""
            if service == settings.authService, (byEmail["username"] as? String) == user.username {
                // Same email, service and username: this user's. Mattermost blanks auth_data in answers (§3), so it is
                // set rather than trusted, or an account from an earlier provider would make the SSO login fail.
                let reply = try await http.send(.PUT, "/users/\(id)/auth", body: ["auth_data": String(user.numericID), "auth_service": settings.authService])
                guard reply.status == 200 else {
                    throw .rejected("could not link the \(name) account \(user.username) to its SSO id \(user.numericID): \(reply.errorID ?? reply.raw)")
                }
                return ChatAccount(connector: name, user: user, chatUserID: id)
            }
            if service.isEmpty {
                guard settings.linkExistingByEmail else {
                    throw .rejected("the email \(email) belongs to an existing \(name) password account (\(byEmail["username"] as? String ?? id)); set link_existing: email to link it, or change one of the emails")
                }
                let reply = try await http.send(.PUT, "/users/\(id)/auth", body: ["auth_data": String(user.numericID), "auth_service": settings.authService])
                guard reply.status == 200 else { throw .rejected("could not link \(email) to SSO: \(reply.errorID ?? reply.raw)") }
                return ChatAccount(connector: name, user: user, chatUserID: id)
            }
            throw .rejected("the email \(email) belongs to another \(name) account signed in through \(service); not taken over")
        }
        // No look-up by username first: a taken username is a refused create (one call fewer per new user, which
        // `provision sync` over 50,000 users feels), and only then is the owner looked up for the message.
        var body: [String: Any] = [
            "username": user.username, "email": email, "auth_service": settings.authService, "auth_data": String(user.numericID),
            "first_name": String(user.firstName.prefix(64)), "email_verified": true, "disable_welcome_email": true,
        ]
        if let last = user.lastName { body["last_name"] = String(last.prefix(64)) }
        let reply = try await http.send(.POST, "/users", body: body)
        switch reply.status {
        case 201, 200:
            guard let id = (reply.json as? [String: Any])?["id"] as? String else { throw .unavailable("created user without an id") }
            return ChatAccount(connector: name, user: user, chatUserID: id)
        case 500 where reply.errorID == "app.user.save.app_error":
            throw .rejected("\(name) already has an account with auth_data \(user.numericID) that Drawbridge does not know; link it by hand")
        case 400 where reply.errorID?.hasSuffix("username_exists.app_error") == true:
            let owner = try await get("/users/username/\(ConnectorHTTP.escape(user.username))")
            throw .rejected("the \(name) username \(user.username) belongs to another account (\(owner?["email"] as? String ?? "?")); not taken over")
        default:
            throw .rejected("\(name) refused to create \(user.username): \(reply.errorID ?? reply.raw)")
        }
    }

    public var oauthClientID: String? { settings.oauthClientID }

    public func checkAccess() async throws(ConnectorError) -> String {
        let reply = try await http.send(.GET, "/users/me")
        guard reply.status == 200, let me = reply.json as? [String: Any] else {
            throw .rejected("\(name) at \(settings.url) did not answer GET /api/v4/users/me as Mattermost does (\(reply.status) \(reply.errorID ?? reply.raw))")
        }
        let roles = (me["roles"] as? String ?? "").split(separator: " ")
        guard roles.contains("system_admin") else {
            throw .rejected("the \(name) token belongs to \(me["username"] as? String ?? "a user") without the system_admin role; provisioning needs a system admin's token")
        }
        return "Mattermost at \(settings.url), token of system admin \(me["username"] as? String ?? "?")"
    }

    public func deactivate(_ account: ChatAccount) async throws(ConnectorError) {
        let reply = try await http.send(.DELETE, "/users/\(account.chatUserID)")
        guard reply.status == 200 || reply.status == 404 else { throw .rejected("could not deactivate \(account.username): \(reply.errorID ?? reply.raw)") }
    }

    public func revokeSessions(_ account: ChatAccount) async throws(ConnectorError) {
        let reply = try await http.send(.POST, "/users/\(account.chatUserID)/sessions/revoke/all")
        guard reply.status == 200 || reply.status == 404 else { throw .rejected("could not sign \(account.username) out: \(reply.errorID ?? reply.raw)") }
    }

    /// The team's invite id, for launch links (`/oauth/gitlab/login?id=…`) that land a new user in the team.
    public func inviteID(team: String) async throws(ConnectorError) -> String? {
        try await teamInfo(team)?.inviteID
    }

    private func joinDefaultTeams(_ userID: String) async throws(ConnectorError) {
        for team in settings.teams {
            guard let info = try await teamInfo(team) else { throw .rejected("\(name) has no team named '\(team)' (check connectors.\(name).teams)") }
            let reply = try await http.send(.POST, "/teams/\(info.id)/members", body: ["team_id": info.id, "user_id": userID])
            guard reply.status == 201 || reply.status == 200 else { throw .rejected("could not add the user to team \(team): \(reply.errorID ?? reply.raw)") }
        }
        for pair in settings.channels {
            let parts = pair.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let info = try await teamInfo(parts[0]) else { throw .rejected("channel '\(pair)' must be team:channel with a known team") }
            guard let channel = try await get("/teams/\(info.id)/channels/name/\(ConnectorHTTP.escape(parts[1]))"), let channelID = channel["id"] as? String else {
                throw .rejected("\(name) has no channel '\(parts[1])' in team \(parts[0])")
            }
            let reply = try await http.send(.POST, "/channels/\(channelID)/members", body: ["user_id": userID])
            guard reply.status == 201 || reply.status == 200 else { throw .rejected("could not add the user to channel \(pair): \(reply.errorID ?? reply.raw)") }
        }
    }

    private func teamInfo(_ team: String) async throws(ConnectorError) -> TeamCache.Team? {
        if let cached = teamCache.get(team) { return cached }
        guard let object = try await get("/teams/name/\(ConnectorHTTP.escape(team))"), let id = object["id"] as? String else { return nil }
        let info = TeamCache.Team(id: id, inviteID: object["invite_id"] as? String)
        teamCache.set(team, info)
        return info
    }

    /// GET returning the object, nil on 404.
    private func get(_ path: String) async throws(ConnectorError) -> [String: Any]? {
        let reply = try await http.send(.GET, path)
        if reply.status == 404 { return nil }
        guard reply.status == 200, let object = reply.json as? [String: Any] else { throw .unavailable("GET \(path) answered \(reply.status)") }
        return object
    }
}

extension MattermostConnector: ChatAccountListing {
    /// `GET /api/v4/users?page=&per_page=200`: every account, deactivated ones included (Mattermost lists
    /// them unless `active=true`), in username order; the cursor is the page number.
    public func listAccounts(after cursor: String?) async throws(ConnectorError) -> (accounts: [ListedChatAccount], next: String?) {
        let page = Int(cursor ?? "0") ?? 0
        let perPage = 200
        let reply = try await http.send(.GET, "/users?page=\(page)&per_page=\(perPage)")
        guard reply.status == 200, let users = reply.json as? [[String: Any]] else {
            throw .unavailable("GET /users answered \(reply.status) \(reply.errorID ?? reply.raw)")
        }
        let accounts = users.compactMap { user -> ListedChatAccount? in
            guard let id = user["id"] as? String, let username = user["username"] as? String else { return nil }
            let name = [user["first_name"] as? String ?? "", user["last_name"] as? String ?? ""].filter { !$0.isEmpty }.joined(separator: " ")
            let deleted = (user["delete_at"] as? Int ?? 0) > 0
            return ListedChatAccount(chatUserID: id, username: username, email: user["email"] as? String, name: name, active: !deleted)
        }
        return (accounts, users.count < perPage ? nil : String(page + 1))
    }

    /// First and last name, as `provision` writes them (each cut to Mattermost's 64 characters).
    public func expectedName(of user: ChatUser) -> String {
        [String(user.firstName.prefix(64)), user.lastName.map { String($0.prefix(64)) } ?? ""].filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// Mattermost's API refuses username and name changes for SSO users (§1.11); the next GitLab login applies them.
    public var fieldsAppliedAtSignIn: Set<ProfileField> { [.username, .name] }
}

final class TeamCache: Sendable {
    struct Team: Sendable {
        var id: String
        var inviteID: String?
    }

    private let teams = Mutex<[String: Team]>([:])
    func get(_ name: String) -> Team? { teams.withLock { $0[name] } }
    func set(_ name: String, _ team: Team) { teams.withLock { $0[name] = team } }
}
