import DrawbridgeCore
import Hummingbird
import Logging

/// `POST /oauth/token` (RFC 6749 §3.2): authorization_code, refresh_token, password, client_credentials.
struct TokenController: Sendable {
    let oauth: OAuthService
    let clientAuthentication: ClientAuthentication
    /// The password grant guesses passwords as well as the sign-in form does, so it is throttled the same way.
    let throttle: SignInThrottle

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/oauth/token", use: token)
    }

    @Sendable func token(request: Request, context: AppRequestContext) async throws -> Response {
        do {
            let form = try await OAuthHTTP.form(request, context: context)
            let grantType = try FormPairs.single(form, "grant_type")
            // Public clients may redeem codes (with PKCE) and refresh; everything else needs a secret.
            let allowPublic = grantType == "authorization_code" || grantType == "refresh_token"
            let client = try await clientAuthentication.authenticate(request, form: form, allowPublic: allowPublic)
            let response: TokenResponse
            switch grantType {
            case "authorization_code":
                response = try await oauth.exchangeCode(
                    try FormPairs.single(form, "code"), redirectURI: try FormPairs.single(form, "redirect_uri"),
                    codeVerifier: try FormPairs.single(form, "code_verifier"), client: client
                )
            case "refresh_token":
                response = try await oauth.refresh(try FormPairs.single(form, "refresh_token"), requestedScope: try FormPairs.single(form, "scope"), client: client)
            case "password":
                let username = try FormPairs.single(form, "username") ?? ""
                if let wait = throttle.retryAfter(user: username, address: context.clientAddress) {
                    var refused = OAuthHTTP.error(OAuthError(.invalidGrant, "too many failed sign-ins; try again later"))
                    refused.status = .tooManyRequests
                    refused.headers[.retryAfter] = "\(max(1, wait.components.seconds))"
                    return refused
                }
                do {
                    response = try await oauth.passwordGrant(
                        username: try FormPairs.single(form, "username"), password: try FormPairs.single(form, "password"),
                        requestedScope: try FormPairs.single(form, "scope"), client: client
                    )
                    throttle.recordSuccess(user: username)
                } catch let error as OAuthError where error.code == .invalidGrant {
                    throttle.recordFailure(user: username, address: context.clientAddress)
                    throw error
                }
            case "client_credentials":
                response = try await oauth.clientCredentials(requestedScope: try FormPairs.single(form, "scope"), client: client)
            case nil:
                throw OAuthError(.invalidRequest, "grant_type is missing")
            default:
                throw OAuthError(.unsupportedGrantType, "grant_type must be authorization_code, refresh_token, password or client_credentials")
            }
            context.logger.info("tokens issued", metadata: ["client_id": "\(client.clientID)", "grant_type": "\(grantType ?? "")"])
            return try OAuthHTTP.json(response, headers: [.pragma: "no-cache"])
        } catch let error as OAuthError {
            context.logger.info("token request refused", metadata: ["error": "\(error.code.rawValue)", "reason": "\(error.description)"])
            return OAuthHTTP.error(error)
        } catch HashingPoolError.overloaded {
            var response = OAuthHTTP.error(OAuthError(.temporarilyUnavailable, "busy; retry shortly"))
            response.headers[.retryAfter] = "1"
            return response
        }
    }
}
