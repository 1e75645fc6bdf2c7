/// A validated `/oauth/authorize` request.
public struct AuthorizationRequest: Sendable, Equatable {
    public enum ResponseType: String, Sendable {
        case code
        case token
    }

    public var client: OAuthClient
    public var redirectURI: String
    public var responseType: ResponseType
    public var scope: Scope
    public var state: String?
    public var nonce: String?
    public var codeChallenge: String?
    public var codeChallengeMethod: PKCE.Method?
    /// OIDC `prompt` values: none, login, consent, select_account.
    public var prompt: Set<String>
    public var loginHint: String?

    /// Where errors go once the client and redirect URI are known good (query for code, fragment for token).
    public func errorRedirect(_ error: OAuthError) -> String {
        RedirectURIBuilder.build(
            redirectURI,
            parameters: [("error", error.code.rawValue), ("error_description", error.description), ("state", state)],
            inFragment: responseType == .token
        )
    }
}

/// Why an authorization request was refused, and so where the answer goes.
public enum AuthorizationRequestError: Error, Sendable, Equatable {
    /// The client or its redirect URI cannot be trusted: an error page, never a redirect (RFC 6749 §4.1.2.1).
    case notRedirectable(String)
    /// Anything else: back to the (verified) redirect URI with `error` and `state`.
    case redirectable(OAuthError, AuthorizationRequest)
}

/// Checks `/oauth/authorize` parameters in the order RFC 6749 §4.1.2.1 demands: client and redirect URI
/// first (never redirect to an unverified URI), then everything else as redirectable errors.
public struct AuthorizationRequestValidator: Sendable {
    public let settings: OAuthSettings

    public init(settings: OAuthSettings) {
        self.settings = settings
    }

    /// - Parameters:
    ///   - parameters: query parameters in order (a name may repeat; repeats are an error).
    ///   - client: the registered client named by `client_id`, if any.
    public func validate(_ parameters: [(String, String)], client: OAuthClient?) throws(AuthorizationRequestError) -> AuthorizationRequest {
        var values: [String: String] = [:]
        var repeated: Set<String> = []
        for (name, value) in parameters {
            if values[name] != nil { repeated.insert(name) }
            values[name] = value
        }
        guard let clientID = values["client_id"], !clientID.isEmpty else { throw .notRedirectable("The request names no client (client_id is missing).") }
        guard !repeated.contains("client_id") else { throw .notRedirectable("The request names more than one client.") }
        guard let client, client.clientID == clientID else { throw .notRedirectable("The application is not registered here (unknown client_id).") }
        guard !repeated.contains("redirect_uri") else { throw .notRedirectable("The request has more than one redirect_uri.") }
        let redirectURI: String
        if let given = values["redirect_uri"] {
            guard client.redirectURIs.contains(given) else {
                throw .notRedirectable("The redirect_uri is not registered for this application.")
            }
            redirectURI = given
        } else if client.redirectURIs.count == 1 {
            redirectURI = client.redirectURIs[0]
        } else {
            throw .notRedirectable("The request has no redirect_uri and the application registered several.")
        }
        let responseType = AuthorizationRequest.ResponseType(rawValue: values["response_type"] ?? "") ?? .code
        var request = AuthorizationRequest(
            client: client, redirectURI: redirectURI, responseType: responseType, scope: Scope(settings.defaultScope),
            state: values["state"], nonce: values["nonce"], codeChallenge: values["code_challenge"], codeChallengeMethod: nil,
            prompt: Set((values["prompt"] ?? "").split(separator: " ").map(String.init)), loginHint: values["login_hint"]
        )
        func fail(_ code: OAuthError.Code, _ message: String) -> AuthorizationRequestError {
            .redirectable(OAuthError(code, message), request)
        }
        if let name = repeated.sorted().first { throw fail(.invalidRequest, "parameter \(name) is repeated") }
        switch values["response_type"] {
        case nil, "": throw fail(.invalidRequest, "response_type is missing")
        case "code":
            guard client.allows(.authorizationCode) else { throw fail(.unauthorizedClient, "this client may not use the authorization code grant") }
        case "token":
            guard client.allows(.implicit) else { throw fail(.unauthorizedClient, "this client may not use the implicit grant") }
        default: throw fail(.unsupportedResponseType, "response_type must be code (or token where enabled)")
        }
        do {
            request.scope = try Scope.granted(requested: values["scope"], settings: settings)
        } catch {
            throw .redirectable(error, request)
        }
        if let method = values["code_challenge_method"], request.codeChallenge == nil {
            throw fail(.invalidRequest, "code_challenge_method \(method) without code_challenge")
        }
        if let challenge = request.codeChallenge {
            guard PKCE.isWellFormed(challenge) else { throw fail(.invalidRequest, "code_challenge must be 43-128 unreserved characters") }
            guard let method = PKCE.Method(rawValue: values["code_challenge_method"] ?? "plain") else {
                throw fail(.invalidRequest, "code_challenge_method must be S256")
            }
            guard method == .s256 || client.allowsPlainPKCE else { throw fail(.invalidRequest, "code_challenge_method must be S256") }
            request.codeChallengeMethod = method
        } else if client.isPublic && responseType == .code {
            throw fail(.invalidRequest, "PKCE (code_challenge with S256) is required for public clients")
        }
        let knownPrompts: Set = ["none", "login", "consent", "select_account"]
        if !request.prompt.isSubset(of: knownPrompts) { throw fail(.invalidRequest, "unknown prompt value") }
        if request.prompt.contains("none") && request.prompt.count > 1 { throw fail(.invalidRequest, "prompt=none cannot be combined") }
        return request
    }
}
