import DrawbridgeCore
import Foundation
import Hummingbird

/// The resource endpoints: GitLab's `/api/v4/user`, OIDC's `/oauth/userinfo`, and `/oauth/token/info`.
/// A Content-Type on these GETs (Mattermost sends one) is ignored.
struct UserController: Sendable {
    let oauth: OAuthService
    let publicURL: PublicURL

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/api/v4/user", use: gitLabUser)
        router.get("/oauth/userinfo", use: userInfo)
        router.post("/oauth/userinfo", use: userInfo)
        router.get("/oauth/token/info", use: tokenInfo)
    }

    /// The token's grant and user, or the 401 to answer with.
    private func authorized(_ request: Request) async throws -> Result<(TokenGrant, PlatformUser?), HTTPResponseFailure> {
        guard let bearer = OAuthHTTP.bearerToken(request), let found = try await oauth.authorize(bearer: bearer) else {
            return .failure(HTTPResponseFailure(response: OAuthHTTP.invalidToken()))
        }
        return .success(found)
    }

    struct GitLabUser: Encodable {
        var id: Int64
        var username: String
        var login: String
        var name: String
        var email: String?
        var state = "active"
        var avatarURL: String?
        var webURL: String
        var createdAt: String

        enum CodingKeys: String, CodingKey {
            case id, username, login, name, email, state
            case avatarURL = "avatar_url"
            case webURL = "web_url"
            case createdAt = "created_at"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(username, forKey: .username)
            try container.encode(login, forKey: .login)
            try container.encode(name, forKey: .name)
            try container.encode(email, forKey: .email)
            try container.encode(state, forKey: .state)
            try container.encode(avatarURL, forKey: .avatarURL)
            try container.encode(webURL, forKey: .webURL)
            try container.encode(createdAt, forKey: .createdAt)
        }
    }

    @Sendable func gitLabUser(request: Request, context: AppRequestContext) async throws -> Response {
        switch try await authorized(request) {
        case .failure(let failure): return failure.response
        case .success((_, nil)): return OAuthHTTP.invalidToken("this token acts for a client, not a user")
        case .success((_, let user?)):
            let profile = try await oauth.profile(of: user)
            return try OAuthHTTP.json(GitLabUser(
                id: profile.numericID, username: profile.username, login: profile.username, name: profile.name, email: profile.email,
                avatarURL: nil, webURL: publicURL.url("/"), createdAt: profile.firstSeen.formatted(.iso8601)
            ))
        }
    }

    struct UserInfo: Encodable {
        var sub: String
        var preferredUsername: String?
        var name: String?
        var givenName: String?
        var familyName: String?
        var email: String?
        var emailVerified: Bool?

        enum CodingKeys: String, CodingKey {
            case sub, name, email
            case preferredUsername = "preferred_username"
            case givenName = "given_name"
            case familyName = "family_name"
            case emailVerified = "email_verified"
        }
    }

    /// OIDC Core §5.3: `sub` always; profile claims with `profile` (or GitLab's `read_user`), email with `email` (or `read_user`).
    @Sendable func userInfo(request: Request, context: AppRequestContext) async throws -> Response {
        switch try await authorized(request) {
        case .failure(let failure): return failure.response
        case .success((_, nil)): return OAuthHTTP.invalidToken("this token acts for a client, not a user")
        case .success((let grant, let user?)):
            let profile = try await oauth.profile(of: user)
            let showProfile = grant.scope.contains("profile") || grant.scope.contains("read_user")
            let showEmail = grant.scope.contains("email") || grant.scope.contains("read_user")
            return try OAuthHTTP.json(UserInfo(
                sub: profile.subject,
                preferredUsername: showProfile ? profile.username : nil,
                name: showProfile ? profile.name : nil,
                givenName: showProfile ? profile.givenName : nil,
                familyName: showProfile ? profile.familyName : nil,
                email: showEmail ? profile.email : nil,
                emailVerified: showEmail && profile.email != nil ? true : nil
            ))
        }
    }

    struct TokenInfo: Encodable {
        var resourceOwnerID: Int64?
        var scope: [String]
        var expiresIn: Int
        var expiresInSeconds: Int
        var application: Application
        var createdAt: Int64

        struct Application: Encodable {
            var uid: String
        }

        enum CodingKeys: String, CodingKey {
            case scope, application
            case resourceOwnerID = "resource_owner_id"
            case expiresIn = "expires_in"
            case expiresInSeconds = "expires_in_seconds"
            case createdAt = "created_at"
        }
    }

    /// GitLab's (Doorkeeper's) token info.
    @Sendable func tokenInfo(request: Request, context: AppRequestContext) async throws -> Response {
        switch try await authorized(request) {
        case .failure(let failure): return failure.response
        case .success((let grant, let user)):
            let remaining = max(0, Int(grant.expiresAt.timeIntervalSinceNow))
            var owner: Int64?
            if let user { owner = try await oauth.profile(of: user).numericID }
            return try OAuthHTTP.json(TokenInfo(
                resourceOwnerID: owner,
                scope: grant.scope.values, expiresIn: remaining, expiresInSeconds: remaining,
                application: .init(uid: grant.clientID), createdAt: Int64(grant.createdAt.timeIntervalSince1970)
            ))
        }
    }
}

/// A ready response used as a `Result` failure.
struct HTTPResponseFailure: Error {
    let response: Response
}
