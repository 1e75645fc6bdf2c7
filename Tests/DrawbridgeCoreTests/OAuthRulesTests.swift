import DrawbridgeCore
import Testing

@Suite struct OAuthRulesTests {
    static let client = OAuthClient(clientID: "client-one", name: "One", secretHash: ClientSecret.hash("s"), redirectURIs: ["https://app.example.com/cb?tenant=7"])
    let validator = AuthorizationRequestValidator(settings: OAuthSettings())

    @Test func stateIsEncodedSoGoReadsItBackExactly() {
        let state = "ab+/cd=="
        let url = RedirectURIBuilder.build("https://chat.example.com/signup/gitlab/complete", parameters: [("code", "c"), ("state", state)])
        #expect(url == "https://chat.example.com/signup/gitlab/complete?code=c&state=ab%2B%2Fcd%3D%3D")
        // A registered query string is kept; nil parameters are left out.
        #expect(RedirectURIBuilder.build("https://a.example/cb?x=1", parameters: [("code", "c"), ("state", nil)]) == "https://a.example/cb?x=1&code=c")
        #expect(RedirectURIBuilder.build("https://a.example/cb", parameters: [("access_token", "t")], inFragment: true) == "https://a.example/cb#access_token=t")
    }

    @Test func clientAndRedirectProblemsAreNeverRedirected() {
        #expect(throws: AuthorizationRequestError.notRedirectable("The request names no client (client_id is missing).")) {
            try validator.validate([("response_type", "code")], client: nil)
        }
        #expect(throws: AuthorizationRequestError.self) { try validator.validate([("client_id", "client-one")], client: nil) }
        for redirect in ["https://app.example.com/cb", "https://app.example.com/cb?tenant=8", "https://app.example.com/cb?tenant=7&x=1"] {
            do {
                _ = try validator.validate([("client_id", "client-one"), ("redirect_uri", redirect), ("response_type", "code")], client: Self.client)
                Issue.record("accepted \(redirect)")
            } catch {
                guard case .notRedirectable = error else { Issue.record("\(redirect) would be redirected to"); continue }
            }
        }
        // Two redirect_uri parameters: never guess which one to trust.
        #expect(throws: AuthorizationRequestError.self) {
            try validator.validate([("client_id", "client-one"), ("redirect_uri", "https://app.example.com/cb?tenant=7"), ("redirect_uri", "https://evil.test/")], client: Self.client)
        }
    }

    @Test func otherProblemsGoBackToTheRedirectURI() throws {
        func error(_ pairs: [(String, String)]) -> OAuthError.Code? {
            do {
                _ = try validator.validate([("client_id", "client-one")] + pairs, client: Self.client)
                return nil
            } catch {
                guard case .redirectable(let oauthError, _) = error else { return nil }
                return oauthError.code
            }
        }
        #expect(error([]) == .invalidRequest)
        #expect(error([("response_type", "id_token")]) == .unsupportedResponseType)
        #expect(error([("response_type", "token")]) == .unauthorizedClient)
        #expect(error([("response_type", "code"), ("scope", "openid admin")]) == .invalidScope)
        #expect(error([("response_type", "code"), ("code_challenge_method", "S256")]) == .invalidRequest)
        #expect(error([("response_type", "code"), ("code_challenge", String(repeating: "a", count: 43)), ("code_challenge_method", "plain")]) == .invalidRequest)
        #expect(error([("response_type", "code"), ("prompt", "none login")]) == .invalidRequest)
        #expect(error([("response_type", "code"), ("state", "a"), ("state", "b")]) == .invalidRequest)
        let request = try validator.validate([("client_id", "client-one"), ("response_type", "code"), ("state", "xyz")], client: Self.client)
        #expect(request.redirectURI == "https://app.example.com/cb?tenant=7", "the only registered URI is used when none is given")
        #expect(request.scope.description == "read_user")
        #expect(request.errorRedirect(OAuthError(.accessDenied, "no")) == "https://app.example.com/cb?tenant=7&error=access_denied&error_description=no&state=xyz")
    }

    @Test func pkceS256MatchesRFC7636AppendixB() {
        #expect(PKCE.challenge(for: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        #expect(PKCE.verify(verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", method: .s256))
        #expect(!PKCE.verify(verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl", challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", method: .s256))
        #expect(!PKCE.verify(verifier: "short", challenge: "short", method: .plain))
    }

    @Test(arguments: [
        ("alice", "alice"), ("Alice.Smith", "alice.smith"), ("bob smith", "bob-smith"), ("józef", "j-zef"), ("--x--", "x"),
        ("admin", "user-42"), ("@@@", "user-42"), ("a@example.com", "a-example.com"), (String(repeating: "x", count: 70), String(repeating: "x", count: 64)),
    ])
    func chatUsernamesAreStableAndClean(_ login: String, _ expected: String) {
        let derived = ChatUsername.derive(login: login, numericID: 42)
        #expect(derived == expected)
        #expect(ChatUsername.derive(login: derived, numericID: 42) == derived, "idempotent")
    }

    @Test func redirectURIRegistrationRules() {
        #expect(ClientSecret.validateRedirectURI("https://chat.example.com/signup/gitlab/complete") == nil)
        #expect(ClientSecret.validateRedirectURI("http://127.0.0.1:9000/cb") == nil)
        #expect(ClientSecret.validateRedirectURI("http://chat.example.com/cb") != nil)
        #expect(ClientSecret.validateRedirectURI("https://chat.example.com/cb#frag") != nil)
        #expect(ClientSecret.validateRedirectURI("/relative") != nil)
        #expect(ClientSecret.isValidClientID(ClientSecret.newClientID()))
        #expect(!ClientSecret.isValidClientID("has space"))
    }
}
