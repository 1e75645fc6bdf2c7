import Foundation
import NIOHTTP1

/// Rocket.Chat over its REST API (`contracts/chat-servers.md` §4.3), with an admin's `X-Auth-Token`/`X-User-Id`.
///
/// `users.create` cannot set an OAuth service id, so the account is created with a random password nobody
/// knows, and Rocket.Chat's Custom OAuth links it at the first SSO login by merging on `key_field` (§4.2:
/// `merge_users: true`, and `merge_users_distinct_services: true` on versions that have it). The username
/// rule is `ChatUsername`'s (lower-case `[a-z0-9._-]`), a subset of Rocket.Chat's default
/// `UTF8_User_Names_Validation` (`[0-9a-zA-Z-_.]+`), so the SSO login's username matches the created one.
public struct RocketChatConnector: ChatConnector {
    public struct Settings: Sendable, BrowserFacingSettings {
        public var url: String
        public var token: String
        public var userID: String
        /// Roles for new accounts (Rocket.Chat's default is `user`).
        public var roles: [String]
        public var timeout: Duration
        /// Where browsers reach Rocket.Chat, when not at `url`.
        public var publicURL: String?
        /// The Drawbridge OAuth client this chat server signs in with. A user an admin deprovisioned gets no code
        /// for it (the chat server's own SSO login would otherwise reactivate the account).
        public var oauthClientID: String?

        public init(url: String, token: String, userID: String, roles: [String] = ["user"], timeout: Duration = .seconds(10)) {
            self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
            self.token = token
            self.userID = userID
            self.roles = roles
            self.timeout = timeout
        }
    }

    public let name: String
    let settings: Settings
    let http: ConnectorHTTP

    public init(name: String = "rocketchat", settings: Settings) {
        self.name = name
        self.settings = settings
        self.http = ConnectorHTTP(
            baseURL: settings.url + "/api/v1",
            headers: [("X-Auth-Token", settings.token), ("X-User-Id", settings.userID)],
            timeout: settings.timeout
        )
    }

    public var oauthClientID: String? { settings.oauthClientID }

    public func checkAccess() async throws(ConnectorError) -> String {
        let reply = try await http.send(.GET, "/me")
        guard reply.status == 200, let me = reply.json as? [String: Any] else {
            throw .rejected("\(name) at \(settings.url) did not answer GET /api/v1/me as Rocket.Chat does (\(reply.status) \(reply.errorID ?? reply.raw))")
        }
        guard (me["roles"] as? [String] ?? []).contains("admin") else {
            throw .rejected("the \(name) token belongs to \(me["username"] as? String ?? "a user") without the admin role; provisioning needs an admin's token")
        }
        return "Rocket.Chat at \(settings.url), token of admin \(me["username"] as? String ?? "?")"
    }

    public func provision(_ user: ChatUser, existing: ChatAccount?) async throws(ConnectorError) -> ChatAccount {
        if let existing, let current = try await info(userID: existing.chatUserID) {
            return try await update(user, account: existing, current: current)
        }
        guard let email = user.email else { throw .rejected("platform user \(user.platformID) has no email; Rocket.Chat requires one") }
        if let current = try await info(username: user.username) {
            // Adopted only when it is provably this user's: same username and same email (what the SSO merge keys on).
            guard Self.emails(of: current).contains(email.lowercased()), let id = current["_id"] as? String else {
                throw .rejected("the \(name) username \(user.username) belongs to another account (\(Self.emails(of: current).first ?? "no email")); not taken over")
            }
            return try await update(user, account: ChatAccount(connector: name, user: user, chatUserID: id), current: current)
        }
        let body: [String: Any] = [
            "username": user.username, "email": email, "name": user.name, "password": SecretToken().value,
            "verified": true, "active": true, "roles": settings.roles, "joinDefaultChannels": true,
            "requirePasswordChange": false, "sendWelcomeEmail": false,
        ]
        let reply = try await http.send(.POST, "/users.create", body: body)
        guard reply.status == 200, let created = (reply.json as? [String: Any])?["user"] as? [String: Any], let id = created["_id"] as? String else {
            if reply.raw.contains("already in use") {
                throw .rejected("the email \(email) belongs to another \(name) account; not taken over (\(Self.message(reply)))")
            }
            throw .rejected("\(name) refused to create \(user.username): \(Self.message(reply))")
        }
        return ChatAccount(connector: name, user: user, chatUserID: id)
    }

    public func update(_ user: ChatUser, account: ChatAccount) async throws(ConnectorError) -> ChatAccount {
        guard let current = try await info(userID: account.chatUserID) else {
            throw .rejected("the \(name) account \(account.chatUserID) of \(user.username) no longer exists; run `drawbridge provision user` to recreate it")
        }
        return try await update(user, account: account, current: current)
    }

    /// Name, email and username through `users.update` (Rocket.Chat lets an admin change all three), and reactivation.
    private func update(_ user: ChatUser, account: ChatAccount, current: [String: Any]) async throws(ConnectorError) -> ChatAccount {
        var data: [String: Any] = [:]
        if (current["name"] as? String) != user.name { data["name"] = user.name }
        if (current["username"] as? String) != user.username { data["username"] = user.username }
        if let email = user.email, !Self.emails(of: current).contains(email.lowercased()) {
            data["email"] = email
            data["verified"] = true
        }
        if (current["active"] as? Bool) == false { data["active"] = true }
        if !data.isEmpty {
            let reply = try await http.send(.POST, "/users.update", body: ["userId": account.chatUserID, "data": data])
            guard reply.status == 200 else { throw .rejected("could not update \(user.username) on \(name): \(Self.message(reply))") }
        }
        var updated = account
        updated.username = user.username
        updated.email = user.email
        updated.name = user.name
        updated.active = true
        return updated
    }

    public func deactivate(_ account: ChatAccount) async throws(ConnectorError) {
        let reply = try await http.send(.POST, "/users.setActiveStatus", body: ["userId": account.chatUserID, "activeStatus": false])
        guard reply.status == 200 || Self.isUnknownUser(reply) else { throw .rejected("could not deactivate \(account.username): \(Self.message(reply))") }
    }

    public func revokeSessions(_ account: ChatAccount) async throws(ConnectorError) {
        let reply = try await http.send(.POST, "/users.logout", body: ["userId": account.chatUserID])
        guard reply.status == 200 || Self.isUnknownUser(reply) else { throw .rejected("could not sign \(account.username) out: \(Self.message(reply))") }
    }

    private func info(userID: String) async throws(ConnectorError) -> [String: Any]? {
        try await info(query: "userId=\(ConnectorHTTP.escape(userID))")
    }

    private func info(username: String) async throws(ConnectorError) -> [String: Any]? {
        try await info(query: "username=\(ConnectorHTTP.escape(username))")
    }

    /// `users.info`, nil when Rocket.Chat says the user does not exist (a 400 `error-invalid-user`, not a 404).
    private func info(query: String) async throws(ConnectorError) -> [String: Any]? {
        let reply = try await http.send(.GET, "/users.info?\(query)")
        if Self.isUnknownUser(reply) { return nil }
        guard reply.status == 200, let user = (reply.json as? [String: Any])?["user"] as? [String: Any] else {
            throw .unavailable("GET /users.info answered \(reply.status) \(Self.message(reply))")
        }
        return user
    }

    private static func isUnknownUser(_ reply: ConnectorHTTP.Reply) -> Bool {
        reply.status == 404 || (reply.status == 400 && (reply.json as? [String: Any])?["errorType"] as? String == "error-invalid-user")
    }

    private static func emails(of user: [String: Any]) -> [String] {
        (user["emails"] as? [[String: Any]] ?? []).compactMap { ($0["address"] as? String)?.lowercased() }
    }

    /// Rocket.Chat's `{"success": false, "error": "…", "errorType": "…"}`, as one line.
    private static func message(_ reply: ConnectorHTTP.Reply) -> String {
        let object = reply.json as? [String: Any]
        return object?["error"] as? String ?? object?["errorType"] as? String ?? "HTTP \(reply.status) \(reply.raw)"
    }
}

extension RocketChatConnector: ChatAccountListing {
    /// `users.list` (admin), 100 at a time (Rocket.Chat's default `API_Upper_Count_Limit`); the cursor is the offset.
    public func listAccounts(after cursor: String?) async throws(ConnectorError) -> (accounts: [ListedChatAccount], next: String?) {
        let offset = Int(cursor ?? "0") ?? 0
        let reply = try await http.send(.GET, "/users.list?count=100&offset=\(offset)")
        guard reply.status == 200, let object = reply.json as? [String: Any], let users = object["users"] as? [[String: Any]] else {
            throw .unavailable("GET /users.list answered \(reply.status) \(Self.message(reply))")
        }
        let accounts = users.compactMap { user -> ListedChatAccount? in
            guard let id = user["_id"] as? String, let username = user["username"] as? String else { return nil }
            return ListedChatAccount(chatUserID: id, username: username, email: Self.emails(of: user).first, name: user["name"] as? String,
                                     active: user["active"] as? Bool ?? true)
        }
        let total = object["total"] as? Int ?? 0
        let next = offset + users.count
        return (accounts, users.isEmpty || next >= total ? nil : String(next))
    }
}
