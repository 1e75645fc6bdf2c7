import DrawbridgeCore
import Foundation
import Hummingbird
import Logging

/// `POST /oauth/revoke` (RFC 7009, also GitLab's path) and `POST /oauth/introspect` (RFC 7662).
struct TokenManagementController: Sendable {
    let oauth: OAuthService
    let clientAuthentication: ClientAuthentication

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/oauth/revoke", use: revoke)
        router.post("/oauth/introspect", use: introspect)
    }

    /// 200 whether or not the token was known (RFC 7009 §2.2), so the endpoint tells nothing to guessers.
    @Sendable func revoke(request: Request, context: AppRequestContext) async throws -> Response {
        do {
            let form = try await OAuthHTTP.form(request, context: context)
            let client = try await clientAuthentication.authenticate(request, form: form, allowPublic: true)
            guard let value = try FormPairs.single(form, "token") else { throw OAuthError(.invalidRequest, "token is missing") }
            if let token = SecretToken(presented: value), try await oauth.revoke(token, clientID: client.clientID) {
                context.logger.info("token revoked", metadata: ["client_id": "\(client.clientID)"])
            }
            return try OAuthHTTP.json([String: String]())
        } catch let error as OAuthError {
            return OAuthHTTP.error(error)
        }
    }

    struct Introspection: Encodable {
        var active: Bool
        var scope: String?
        var clientID: String?
        var username: String?
        var tokenType: String?
        var exp: Int64?
        var iat: Int64?
        var sub: String?
        var aud: String?
        var iss: String?

        enum CodingKeys: String, CodingKey {
            case active, scope, username, exp, iat, sub, aud, iss
            case clientID = "client_id"
            case tokenType = "token_type"
        }
    }

    @Sendable func introspect(request: Request, context: AppRequestContext) async throws -> Response {
        do {
            let form = try await OAuthHTTP.form(request, context: context)
            _ = try await clientAuthentication.authenticate(request, form: form, allowPublic: false)
            guard let value = try FormPairs.single(form, "token") else { throw OAuthError(.invalidRequest, "token is missing") }
            guard let token = SecretToken(presented: value), let grant = try await oauth.grants.token(token), grant.isUsable(),
                grant.kind == .access || grant.rotatedAt == nil
            else {
                return try OAuthHTTP.json(Introspection(active: false))
            }
            var user: PlatformUser?
            if let userID = grant.userID, let login = grant.userLogin {
                user = try await oauth.activeUser(id: userID, login: login)
                if user == nil { return try OAuthHTTP.json(Introspection(active: false)) }
            }
            var profile: UserProfile?
            if let user { profile = try await oauth.profile(of: user) }
            return try OAuthHTTP.json(Introspection(
                active: true, scope: grant.scope.description, clientID: grant.clientID, username: profile?.username,
                tokenType: grant.kind == .access ? "Bearer" : "refresh_token", exp: Int64(grant.expiresAt.timeIntervalSince1970),
                iat: Int64(grant.createdAt.timeIntervalSince1970), sub: profile?.subject, aud: grant.clientID, iss: oauth.issuer
            ))
        } catch let error as OAuthError {
            return OAuthHTTP.error(error)
        }
    }
}
