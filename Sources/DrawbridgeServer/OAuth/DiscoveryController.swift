import DrawbridgeCore
import Hummingbird

/// OpenID Connect Discovery and the JWKS (at GitLab's path and the conventional one).
struct DiscoveryController: Sendable {
    let oauth: OAuthService
    let publicURL: PublicURL

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/.well-known/openid-configuration", use: configuration)
        router.get("/oauth/discovery/keys", use: jwks)
        router.get("/.well-known/jwks.json", use: jwks)
    }

    struct Metadata: Encodable {
        var issuer: String
        var authorizationEndpoint: String
        var tokenEndpoint: String
        var userinfoEndpoint: String
        var jwksURI: String
        var revocationEndpoint: String
        var introspectionEndpoint: String
        var endSessionEndpoint: String
        var scopesSupported: [String]
        var responseTypesSupported = ["code", "token"]
        var responseModesSupported = ["query", "fragment"]
        var grantTypesSupported = ["authorization_code", "refresh_token", "implicit", "password", "client_credentials"]
        var subjectTypesSupported = ["public"]
        var idTokenSigningAlgValuesSupported = ["RS256", "ES256"]
        var tokenEndpointAuthMethodsSupported = ["client_secret_post", "client_secret_basic", "none"]
        var revocationEndpointAuthMethodsSupported = ["client_secret_post", "client_secret_basic", "none"]
        var introspectionEndpointAuthMethodsSupported = ["client_secret_post", "client_secret_basic"]
        var codeChallengeMethodsSupported = ["S256"]
        var claimsSupported = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "name", "given_name", "family_name", "preferred_username", "email", "email_verified"]
        var promptValuesSupported = ["none", "login", "consent"]
        /// Back-Channel Logout 1.0 §2.1: logout tokens are sent, and they carry `sid` (as id_tokens do).
        var backchannelLogoutSupported = true
        var backchannelLogoutSessionSupported = true

        enum CodingKeys: String, CodingKey {
            case issuer
            case authorizationEndpoint = "authorization_endpoint"
            case tokenEndpoint = "token_endpoint"
            case userinfoEndpoint = "userinfo_endpoint"
            case jwksURI = "jwks_uri"
            case revocationEndpoint = "revocation_endpoint"
            case introspectionEndpoint = "introspection_endpoint"
            case endSessionEndpoint = "end_session_endpoint"
            case scopesSupported = "scopes_supported"
            case responseTypesSupported = "response_types_supported"
            case responseModesSupported = "response_modes_supported"
            case grantTypesSupported = "grant_types_supported"
            case subjectTypesSupported = "subject_types_supported"
            case idTokenSigningAlgValuesSupported = "id_token_signing_alg_values_supported"
            case tokenEndpointAuthMethodsSupported = "token_endpoint_auth_methods_supported"
            case revocationEndpointAuthMethodsSupported = "revocation_endpoint_auth_methods_supported"
            case introspectionEndpointAuthMethodsSupported = "introspection_endpoint_auth_methods_supported"
            case codeChallengeMethodsSupported = "code_challenge_methods_supported"
            case claimsSupported = "claims_supported"
            case promptValuesSupported = "prompt_values_supported"
            case backchannelLogoutSupported = "backchannel_logout_supported"
            case backchannelLogoutSessionSupported = "backchannel_logout_session_supported"
        }
    }

    @Sendable func configuration(request: Request, context: AppRequestContext) async throws -> Response {
        var response = try OAuthHTTP.json(Metadata(
            issuer: oauth.issuer,
            authorizationEndpoint: publicURL.url("/oauth/authorize"),
            tokenEndpoint: publicURL.url("/oauth/token"),
            userinfoEndpoint: publicURL.url("/oauth/userinfo"),
            jwksURI: publicURL.url("/oauth/discovery/keys"),
            revocationEndpoint: publicURL.url("/oauth/revoke"),
            introspectionEndpoint: publicURL.url("/oauth/introspect"),
            endSessionEndpoint: publicURL.url("/logout"),
            scopesSupported: oauth.settings.supportedScopes
        ))
        response.headers[.cacheControl] = "public, max-age=300"
        return response
    }

    @Sendable func jwks(request: Request, context: AppRequestContext) async throws -> Response {
        let signer = try await oauth.keys.signer()
        return Response(
            status: .ok,
            headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
            body: .init(byteBuffer: ByteBuffer(string: signer.jwksJSON()))
        )
    }
}
