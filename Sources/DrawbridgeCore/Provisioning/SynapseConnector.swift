import Foundation
import NIOHTTP1

/// Matrix Synapse over its admin API (`contracts/chat-servers.md` §5.3), with an admin's access token.
///
/// The account is created with `external_ids: [{auth_provider: "oidc-<idp_id>", external_id: <sub>}]`, which
/// is exactly the mapping Synapse's own OIDC login looks up (§5.1: the idp id is stored with an `oidc-`
/// prefix), so the first SSO login lands on it. The localpart is `ChatUsername`'s username, already a fixed
/// point of Synapse's `map_username_to_mxid_localpart` (lower-case `[a-z0-9._-]`), except where Synapse
/// reserves it (see `localpart(for:)`).
public struct SynapseConnector: ChatConnector {
    public struct Settings: Sendable, BrowserFacingSettings {
        /// Where the admin API answers (the homeserver's client URL).
        public var url: String
        public var token: String
        /// The `server_name`: user ids are `@localpart:server_name`.
        public var serverName: String
        /// The `idp_id` of Drawbridge's entry in Synapse's `oidc_providers`.
        public var idpID: String
        public var timeout: Duration
        /// Where browsers reach the homeserver, when not at `url`.
        public var publicURL: String?
        /// The Matrix client (Element, say) Synapse hands the login to after SSO; launch links need it.
        public var clientURL: String?
        /// The Drawbridge OAuth client this chat server signs in with. A user an admin deprovisioned gets no code
        /// for it (the chat server's own SSO login would otherwise reactivate the account).
        public var oauthClientID: String?

        public init(url: String, token: String, serverName: String, idpID: String = "drawbridge", timeout: Duration = .seconds(10)) {
            self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
            self.token = token
            self.serverName = serverName
            self.idpID = idpID
            self.timeout = timeout
        }

        /// The `auth_provider` Synapse records for this idp (`oidc-<idp_id>`; the legacy `oidc` stays as it is).
        public var authProvider: String { idpID == "oidc" || idpID.hasPrefix("oidc-") ? idpID : "oidc-" + idpID }
    }

    public let name: String
    let settings: Settings
    let http: ConnectorHTTP

    public init(name: String = "synapse", settings: Settings) {
        self.name = name
        self.settings = settings
        self.http = ConnectorHTTP(baseURL: settings.url + "/_synapse/admin", headers: [("Authorization", "Bearer \(settings.token)")], timeout: settings.timeout)
    }

    public func userID(for user: ChatUser) -> String { "@\(Self.localpart(for: user.username)):\(settings.serverName)" }

    /// The shared username, unless Synapse's `check_username` reserves it: all digits (guest ids) or a leading
    /// `_` (application-service namespaces) get the prefix `u-`, so `10042` is `@u-10042`. Idempotent (the result
    /// is never reserved) and stable; the account is still found by its external id, never by this name.
    public static func localpart(for username: String) -> String {
        let reserved = username.first == "_" || (!username.isEmpty && username.allSatisfy { $0.isASCII && $0.isNumber })
        return reserved ? "u-" + username : username
    }

    /// The user as Synapse sees them: with the localpart as username, so the link and drift use it too.
    private static func onSynapse(_ user: ChatUser) -> ChatUser {
        var user = user
        user.username = localpart(for: user.username)
        return user
    }

    /// Listing users is admin-only (a non-admin's token gets 403 M_FORBIDDEN "You are not a server admin").
    public var oauthClientID: String? { settings.oauthClientID }

    public func checkAccess() async throws(ConnectorError) -> String {
        let reply = try await http.send(.GET, "/v2/users?limit=1")
        guard reply.status == 200, (reply.json as? [String: Any])?["users"] != nil else {
            throw .rejected("\(name) at \(settings.url) did not answer the admin API's user list as Synapse does (\(reply.status) \(Self.message(reply)))")
        }
        return "Synapse at \(settings.url) (server name \(settings.serverName)), admin token accepted"
    }

    public func provision(_ user: ChatUser, existing: ChatAccount?) async throws(ConnectorError) -> ChatAccount {
        let user = Self.onSynapse(user)
        if let existing, let current = try await get(existing.chatUserID) {
            return try await update(user, account: existing, current: current)
        }
        // The account Synapse's OIDC login would pick for this sub, if there is one, is this user's by definition.
        let mapped = try await http.send(.GET, "/v1/auth_providers/\(ConnectorHTTP.escape(settings.authProvider))/users/\(ConnectorHTTP.escape(user.subject))")
        if mapped.status == 200, let mxid = (mapped.json as? [String: Any])?["user_id"] as? String, let current = try await get(mxid) {
            return try await update(user, account: ChatAccount(connector: name, user: user, chatUserID: mxid), current: current)
        }
        let mxid = userID(for: user)
        if let current = try await get(mxid) {
            guard Self.externalIDs(of: current).contains(where: { $0 == (settings.authProvider, user.subject) }) else {
                throw .rejected("the Matrix user \(mxid) exists and is not linked to this platform user (no \(settings.authProvider) external id \(user.subject)); not taken over")
            }
            return try await update(user, account: ChatAccount(connector: name, user: user, chatUserID: mxid), current: current)
        }
        var body: [String: Any] = [
            "displayname": user.name,
            "external_ids": [["auth_provider": settings.authProvider, "external_id": user.subject]],
        ]
        if let email = user.email { body["threepids"] = [["medium": "email", "address": email]] }
        let reply = try await http.send(.PUT, "/v2/users/\(ConnectorHTTP.escape(mxid))", body: body)
        if reply.status == 409 {
            return try await recoverFromExternalIDConflict(user, halfMade: mxid, reply: reply)
        }
        guard reply.status == 201 || reply.status == 200 else {
            throw .rejected("Synapse refused to create \(mxid): \(Self.message(reply))")
        }
        return ChatAccount(connector: name, user: user, chatUserID: mxid)
    }

    /// Synapse registers the user before it records `external_ids`, so a 409 "External id is already in use"
    /// (another account took this sub between the look-up and the PUT) leaves a new account behind without the
    /// link. That account did not exist a moment ago and nobody can sign in to it: it is deactivated, and the
    /// account that holds the sub — this user's by definition — is the one linked.
    private func recoverFromExternalIDConflict(_ user: ChatUser, halfMade mxid: String, reply: ConnectorHTTP.Reply) async throws(ConnectorError) -> ChatAccount {
        let mapped = try await http.send(.GET, "/v1/auth_providers/\(ConnectorHTTP.escape(settings.authProvider))/users/\(ConnectorHTTP.escape(user.subject))")
        guard mapped.status == 200, let owner = (mapped.json as? [String: Any])?["user_id"] as? String, owner != mxid,
              let current = try await get(owner) else {
            throw .rejected("Synapse refused the external id of \(mxid) (\(Self.message(reply))) and no account holds it; check the homeserver's user_external_ids")
        }
        if try await get(mxid) != nil {
            try await deactivate(ChatAccount(connector: name, user: user, chatUserID: mxid))
        }
        return try await update(user, account: ChatAccount(connector: name, user: user, chatUserID: owner), current: current)
    }

    public func update(_ user: ChatUser, account: ChatAccount) async throws(ConnectorError) -> ChatAccount {
        let user = Self.onSynapse(user)
        guard let current = try await get(account.chatUserID) else {
            throw .rejected("the Matrix user \(account.chatUserID) no longer exists; run `drawbridge provision user` to recreate it")
        }
        return try await update(user, account: account, current: current)
    }

    /// Display name and email (threepids replace the list), and reactivation; the localpart never changes in Matrix.
    private func update(_ user: ChatUser, account: ChatAccount, current: [String: Any]) async throws(ConnectorError) -> ChatAccount {
        var body: [String: Any] = [:]
        if (current["displayname"] as? String) != user.name { body["displayname"] = user.name }
        let emails = (current["threepids"] as? [[String: Any]] ?? []).filter { $0["medium"] as? String == "email" }.compactMap { $0["address"] as? String }
        if let email = user.email, emails.map({ $0.lowercased() }) != [email.lowercased()] {
            body["threepids"] = [["medium": "email", "address": email]]
        }
        if (current["deactivated"] as? Bool) == true || (current["deactivated"] as? Int) == 1 { body["deactivated"] = false }
        if !Self.externalIDs(of: current).contains(where: { $0 == (settings.authProvider, user.subject) }) {
            body["external_ids"] = Self.externalIDs(of: current).map { ["auth_provider": $0.0, "external_id": $0.1] }
                + [["auth_provider": settings.authProvider, "external_id": user.subject]]
        }
        if !body.isEmpty {
            let reply = try await http.send(.PUT, "/v2/users/\(ConnectorHTTP.escape(account.chatUserID))", body: body)
            guard reply.status == 200 || reply.status == 201 else {
                throw .rejected("could not update \(account.chatUserID): \(Self.message(reply))")
            }
        }
        var updated = account
        updated.email = user.email
        updated.name = user.name
        updated.active = true
        return updated
    }

    public func deactivate(_ account: ChatAccount) async throws(ConnectorError) {
        let reply = try await http.send(.POST, "/v1/deactivate/\(ConnectorHTTP.escape(account.chatUserID))", body: ["erase": false])
        guard reply.status == 200 || reply.status == 404 else { throw .rejected("could not deactivate \(account.chatUserID): \(Self.message(reply))") }
    }

    /// Deleting every device ends every session (each access token belongs to a device).
    public func revokeSessions(_ account: ChatAccount) async throws(ConnectorError) {
        let path = "/v2/users/\(ConnectorHTTP.escape(account.chatUserID))/devices"
        let listed = try await http.send(.GET, path)
        if listed.status == 404 { return }
        guard listed.status == 200 else { throw .rejected("could not list the devices of \(account.chatUserID): \(Self.message(listed))") }
        let devices = ((listed.json as? [String: Any])?["devices"] as? [[String: Any]] ?? []).compactMap { $0["device_id"] as? String }
        guard !devices.isEmpty else { return }
        let reply = try await http.send(.POST, "/v2/users/\(ConnectorHTTP.escape(account.chatUserID))/delete_devices", body: ["devices": devices])
        guard reply.status == 200 else { throw .rejected("could not sign \(account.chatUserID) out: \(Self.message(reply))") }
    }

    private func get(_ mxid: String) async throws(ConnectorError) -> [String: Any]? {
        let reply = try await http.send(.GET, "/v2/users/\(ConnectorHTTP.escape(mxid))")
        if reply.status == 404 { return nil }
        guard reply.status == 200, let object = reply.json as? [String: Any] else {
            throw .unavailable("GET user \(mxid) answered \(reply.status) \(Self.message(reply))")
        }
        return object
    }

    private static func externalIDs(of user: [String: Any]) -> [(String, String)] {
        (user["external_ids"] as? [[String: Any]] ?? []).compactMap { entry in
            guard let provider = entry["auth_provider"] as? String, let id = entry["external_id"] as? String else { return nil }
            return (provider, id)
        }
    }

    /// Synapse's `{"errcode": "M_…", "error": "…"}`, as one line.
    private static func message(_ reply: ConnectorHTTP.Reply) -> String {
        let object = reply.json as? [String: Any]
        if let code = object?["errcode"] as? String { return "\(code): \(object?["error"] as? String ?? "")" }
        return "HTTP \(reply.status) \(reply.raw)"
    }
}

extension SynapseConnector: ChatAccountListing {
    public func expectedUsername(of user: ChatUser) -> String { Self.localpart(for: user.username) }

    /// `GET /_synapse/admin/v2/users` with deactivated users and without guests, 500 at a time. The list has
    /// no emails (threepids are only in the single-user answer), so emails are not compared for Synapse.
    public func listAccounts(after cursor: String?) async throws(ConnectorError) -> (accounts: [ListedChatAccount], next: String?) {
        let from = ConnectorHTTP.escape(cursor ?? "0")
        let reply = try await http.send(.GET, "/v2/users?from=\(from)&limit=500&deactivated=true&guests=false")
        guard reply.status == 200, let object = reply.json as? [String: Any], let users = object["users"] as? [[String: Any]] else {
            throw .unavailable("GET /v2/users answered \(reply.status) \(Self.message(reply))")
        }
        let accounts = users.compactMap { user -> ListedChatAccount? in
            guard let mxid = user["name"] as? String, mxid.hasPrefix("@") else { return nil }
            let localpart = String(mxid.dropFirst().prefix { $0 != ":" })
            let deactivated = (user["deactivated"] as? Bool) == true || (user["deactivated"] as? Int) == 1
            return ListedChatAccount(chatUserID: mxid, username: localpart, email: nil, name: user["displayname"] as? String, active: !deactivated)
        }
        let next = (object["next_token"] as? String) ?? (object["next_token"] as? Int).map(String.init)
        return (accounts, users.isEmpty ? nil : next)
    }
}
