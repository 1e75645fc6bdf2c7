import DrawbridgeCore
import DrawbridgeServer
import Foundation
import Testing

/// What an attacker tries against the provider, and what they must get.
@Suite struct OAuthAttackTests {
    static let redirect = "https://app.example.com/callback"

    static func authorizePath(client: String, redirect: String = redirect, extra: String = "") -> String {
        "/oauth/authorize?response_type=code&client_id=\(client)&redirect_uri=\(RedirectURIBuilder.percentEncode(redirect))&state=s1\(extra)"
    }

    /// Signs in and returns a code for `client` (trusted, so no consent page).
    static func code(_ browser: Browser, client: String, extra: String = "") async throws -> String {
        let path = authorizePath(client: client, extra: extra)
        let answer = browser.sessionToken == nil
            ? try await OAuthTestSupport.signInAndAuthorize(browser, path: path, username: "alice", password: PlatformFixture.password)
            : try await browser.get(path)
        return try #require(answer.location.flatMap { OAuthTestSupport.goQueryGet($0, "code") }, "no code: \(answer.status) \(answer.location ?? "")")
    }

    static func exchange(_ browser: Browser, client: String, secret: String?, code: String, verifier: String? = nil) async throws -> WebResponse {
        var form = ["client_id": client, "code": code, "grant_type": "authorization_code", "redirect_uri": redirect]
        if let secret { form["client_secret"] = secret }
        if let verifier { form["code_verifier"] = verifier }
        return try await OAuthTestSupport.tokenRequest(browser, form)
    }

    static func error(_ response: WebResponse) -> String? { OAuthTestSupport.json(response)["error"] as? String }

    @Test(arguments: [
        "https://app.example.com/callback/",
        "https://app.example.com/callback/../evil",
        "https://APP.example.com/callback",
        "https://app.example.com.evil.test/callback",
        "https://app.example.com/callback?x=1",
        "http://app.example.com/callback",
        "https://evil.test/callback",
    ])
    func unregisteredAndLookAlikeRedirectURIsGetAPageNotARedirect(_ candidate: String) async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, _ in
            try await OAuthTestSupport.register(dependencies, id: "attack-client", redirectURIs: [Self.redirect])
            let response = try await browser.get(Self.authorizePath(client: "attack-client", redirect: candidate))
            #expect(response.status == 400)
            #expect(response.location == nil)
        }
    }

    @Test func aCodeIsUselessToAnotherClient() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, _ in
            try await OAuthTestSupport.register(dependencies, id: "victim-client", redirectURIs: [Self.redirect])
            let attackerSecret = try await OAuthTestSupport.register(dependencies, id: "attacker-client", redirectURIs: [Self.redirect])
            let code = try await Self.code(browser, client: "victim-client")
            let stolen = try await Self.exchange(browser, client: "attacker-client", secret: attackerSecret, code: code)
            #expect(stolen.status == 400)
            #expect(Self.error(stolen) == "invalid_grant")
        }
    }

    @Test func pkceVerifierMustMatchAndPublicClientsMustUseIt() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, _ in
            try await OAuthTestSupport.register(dependencies, id: "public-app", redirectURIs: [Self.redirect], isPublic: true)
            // No challenge from a public client: refused at authorize (before any sign-in), back to the registered URI.
            let noChallenge = try await browser.get(Self.authorizePath(client: "public-app"))
            #expect(noChallenge.status == 302)
            #expect(noChallenge.location.flatMap { OAuthTestSupport.goQueryGet($0, "error") } == "invalid_request")
            #expect(noChallenge.location.flatMap { OAuthTestSupport.goQueryGet($0, "state") } == "s1")
            // plain is not allowed unless the client is configured for it.
            let plain = try await browser.get(Self.authorizePath(client: "public-app", extra: "&code_challenge=\(String(repeating: "a", count: 43))&code_challenge_method=plain"))
            #expect(plain.location.flatMap { OAuthTestSupport.goQueryGet($0, "error") } == "invalid_request")

            let verifier = SecretToken().value + "-verifier"
            let challenge = PKCE.challenge(for: verifier)
            let pkce = "&code_challenge=\(challenge)&code_challenge_method=S256"
            let missing = try await Self.exchange(browser, client: "public-app", secret: nil, code: try await Self.code(browser, client: "public-app", extra: pkce))
            #expect(Self.error(missing) == "invalid_grant")
            let wrong = try await Self.exchange(browser, client: "public-app", secret: nil, code: try await Self.code(browser, client: "public-app", extra: pkce), verifier: SecretToken().value)
            #expect(Self.error(wrong) == "invalid_grant")
            let right = try await Self.exchange(browser, client: "public-app", secret: nil, code: try await Self.code(browser, client: "public-app", extra: pkce), verifier: verifier)
            #expect(right.status == 200)
            // A public client cannot pose as confidential for other grants.
            let credentials = try await OAuthTestSupport.tokenRequest(browser, ["client_id": "public-app", "grant_type": "client_credentials"])
            #expect(credentials.status == 401)
        }
    }

    @Test func refreshReuseAfterTheGraceWindowRevokesTheFamily() async throws {
        try await OAuthTestSupport.withGateway(configure: { $0.oauth.refreshReuseGrace = .seconds(1) }) { browser, dependencies, _ in
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: "refresh-client", redirectURIs: [Self.redirect]))
            let first = OAuthTestSupport.json(try await Self.exchange(browser, client: "refresh-client", secret: secret, code: try await Self.code(browser, client: "refresh-client")))
            let original = try #require(first["refresh_token"] as? String)
            func refresh(_ token: String) async throws -> WebResponse {
                try await OAuthTestSupport.tokenRequest(browser, ["grant_type": "refresh_token", "refresh_token": token], basic: ("refresh-client", secret))
            }
            let rotated = OAuthTestSupport.json(try await refresh(original))
            let next = try #require(rotated["refresh_token"] as? String)
            #expect(next != original, "rotation on every use")
            // A second tab refreshing with the old token inside the grace window still gets tokens.
            #expect(try await refresh(original).status == 200)
            try await Task.sleep(for: .milliseconds(2100))
            let reuse = try await refresh(original)
            #expect(reuse.status == 400)
            #expect(Self.error(reuse) == "invalid_grant")
            // The whole family is gone: the newer refresh token and the access tokens too.
            #expect(try await refresh(next).status == 400)
            let access = try #require(rotated["access_token"] as? String)
            #expect(try await browser.get("/api/v4/user", headers: [("Authorization", "Bearer \(access)")]).status == 401)
        }
    }

    /// Chrome applies CSP form-action to the redirect after a form POST: the authorize page's sign-in form
    /// must allow the client's redirect_uri origin (and the cookie domain on any port), and nothing else.
    @Test func theAuthorizeFormMayLeadToTheClientAndNowhereElse() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, _ in
            try await OAuthTestSupport.register(dependencies, id: "csp-client", redirectURIs: ["https://chat.other.test:8443/cb"])
            let page = try await browser.get(Self.authorizePath(client: "csp-client", redirect: "https://chat.other.test:8443/cb"))
            #expect(page.status == 200)
            let policy = try #require(page.header("Content-Security-Policy"))
            let formAction = policy.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix("form-action") } ?? ""
            #expect(formAction.contains("https://chat.other.test:8443"), "\(formAction)")
            #expect(formAction.contains("https://*.example.com:*"), "\(formAction)")
            #expect(page.header("X-Drawbridge-Form-Target") == nil, "the internal header never leaves")
            let login = try await browser.get("/login")
            #expect(login.header("Content-Security-Policy")?.contains("chat.other.test") == false)
        }
    }

    @Test func aRefreshMayNarrowTheScopeButNeverWidenIt() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, _ in
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: "scope-client", redirectURIs: [Self.redirect]))
            let code = try await Self.code(browser, client: "scope-client", extra: "&scope=openid%20read_user%20email")
            let first = OAuthTestSupport.json(try await Self.exchange(browser, client: "scope-client", secret: secret, code: code))
            #expect(first["scope"] as? String == "email openid read_user" || first["scope"] as? String == "openid read_user email", "\(first)")
            var refreshToken = try #require(first["refresh_token"] as? String)
            func refresh(scope: String?) async throws -> WebResponse {
                var form = ["grant_type": "refresh_token", "refresh_token": refreshToken]
                form["scope"] = scope
                return try await OAuthTestSupport.tokenRequest(browser, form, basic: ("scope-client", secret))
            }
            // Wider than granted: invalid_scope, and the refresh token still works (nothing was rotated).
            let wider = try await refresh(scope: "openid read_user email profile")
            #expect(wider.status == 400)
            #expect(Self.error(wider) == "invalid_scope")
            let narrowed = try await refresh(scope: "read_user")
            #expect(narrowed.status == 200, "\(narrowed.body)")
            let body = OAuthTestSupport.json(narrowed)
            #expect(body["scope"] as? String == "read_user")
            #expect(body["id_token"] == nil, "no openid, no id_token")
            refreshToken = try #require(body["refresh_token"] as? String)
            // The narrowed grant is what the next refresh continues from: it cannot win email back.
            #expect(Self.error(try await refresh(scope: "read_user email")) == "invalid_scope")
            let access = try #require(body["access_token"] as? String)
            #expect(try await browser.get("/api/v4/user", headers: [("Authorization", "Bearer \(access)")]).status == 200)
        }
    }

    @Test func revokedAndExpiredTokensAreRefused() async throws {
        try await OAuthTestSupport.withGateway(configure: { $0.oauth.accessTokenLifetime = .seconds(1) }) { browser, dependencies, databases in
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: "token-client", redirectURIs: [Self.redirect]))
            let tokens = OAuthTestSupport.json(try await Self.exchange(browser, client: "token-client", secret: secret, code: try await Self.code(browser, client: "token-client")))
            let access = try #require(tokens["access_token"] as? String)
            // Query-string form works too (RFC 6750 §2.3), until it expires.
            #expect(try await browser.get("/api/v4/user?access_token=\(access)").status == 200)
            try await Task.sleep(for: .milliseconds(2100))
            let expired = try await browser.get("/api/v4/user", headers: [("Authorization", "Bearer \(access)")])
            #expect(expired.status == 401)
            // The reaper's clean-up removes the expired access token's row (the refresh token still lives).
            let tokenRows = "SELECT count(*)::text FROM drawbridge.oauth_tokens"
            let before = try await TestDatabases.strings(tokenRows, on: databases.drawbridgeURL)
            #expect(try await dependencies.oauth.grants.deleteExpired() == 1)
            #expect(try await TestDatabases.strings(tokenRows, on: databases.drawbridgeURL) == [String((Int(before.first ?? "0") ?? 0) - 1)])
            #expect(expired.header("WWW-Authenticate")?.contains(#"error="invalid_token""#) == true)

            let refreshed = OAuthTestSupport.json(try await OAuthTestSupport.tokenRequest(
                browser, ["grant_type": "refresh_token", "refresh_token": tokens["refresh_token"] as? String ?? ""], basic: ("token-client", secret)))
            let fresh = try #require(refreshed["access_token"] as? String)
            let revoke = try await browser.post("/oauth/revoke", form: ["token": fresh, "client_id": "token-client", "client_secret": secret])
            #expect(revoke.status == 200)
            #expect(try await browser.get("/oauth/userinfo", headers: [("Authorization", "Bearer \(fresh)")]).status == 401)
            // Revoking an unknown token is still 200 (RFC 7009 §2.2); without client credentials it is 401.
            #expect(try await browser.post("/oauth/revoke", form: ["token": "nonsense", "client_id": "token-client", "client_secret": secret]).status == 200)
            #expect(try await browser.post("/oauth/revoke", form: ["token": fresh]).status == 401)
            // Introspection says inactive.
            let introspection = try await browser.post("/oauth/introspect", form: ["token": fresh, "client_id": "token-client", "client_secret": secret])
            #expect(OAuthTestSupport.json(introspection)["active"] as? Bool == false)
        }
    }

    @Test func promptNoneWithoutSessionAndConsentWithoutCSRF() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, _ in
            try await OAuthTestSupport.register(dependencies, id: "third-party", redirectURIs: [Self.redirect], trusted: false)
            let silent = try await browser.get(Self.authorizePath(client: "third-party", extra: "&prompt=none"))
            #expect(silent.status == 302)
            #expect(silent.location.flatMap { OAuthTestSupport.goQueryGet($0, "error") } == "login_required")
            #expect(silent.location.flatMap { OAuthTestSupport.goQueryGet($0, "state") } == "s1")

            // Signed in, an untrusted client gets the consent page first.
            let consent = try await OAuthTestSupport.signInAndAuthorize(browser, path: Self.authorizePath(client: "third-party"), username: "alice", password: PlatformFixture.password)
            #expect(consent.status == 200)
            #expect(consent.body.contains("Allow"))
            let request = try #require(consent.hiddenField("request")).replacingOccurrences(of: "&amp;", with: "&")
            let forged = try await browser.post("/oauth/authorize", form: ["step": "consent", "request": request, "decision": "allow"])
            #expect(forged.status == 403)
            #expect(forged.location == nil)
            let silentConsent = try await browser.get(Self.authorizePath(client: "third-party", extra: "&prompt=none"))
            #expect(silentConsent.location.flatMap { OAuthTestSupport.goQueryGet($0, "error") } == "consent_required")
            // Deny → access_denied; allow → code, and the answer is remembered.
            let csrf = try #require(consent.hiddenField("csrf"))
            let denied = try await browser.post("/oauth/authorize", form: ["step": "consent", "request": request, "decision": "deny", "csrf": csrf])
            #expect(denied.location.flatMap { OAuthTestSupport.goQueryGet($0, "error") } == "access_denied")
            let allowed = try await browser.post("/oauth/authorize", form: ["step": "consent", "request": request, "decision": "allow", "csrf": csrf])
            #expect(allowed.location.flatMap { OAuthTestSupport.goQueryGet($0, "code") } != nil)
            let remembered = try await browser.get(Self.authorizePath(client: "third-party"))
            #expect(remembered.status == 302)
            #expect(remembered.location.flatMap { OAuthTestSupport.goQueryGet($0, "code") } != nil)
        }
    }

    @Test func clientAuthenticationFailuresAre401WithAChallenge() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, _ in
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: "basic-client", redirectURIs: [Self.redirect]))
            let code = try await Self.code(browser, client: "basic-client")
            let wrongBasic = try await OAuthTestSupport.tokenRequest(browser, ["grant_type": "authorization_code", "code": code, "redirect_uri": Self.redirect], basic: ("basic-client", "wrong"))
            #expect(wrongBasic.status == 401)
            #expect(Self.error(wrongBasic) == "invalid_client")
            #expect(wrongBasic.header("WWW-Authenticate")?.hasPrefix("Basic") == true)
            let both = try await OAuthTestSupport.tokenRequest(browser, ["grant_type": "authorization_code", "code": code, "redirect_uri": Self.redirect, "client_secret": secret], basic: ("basic-client", secret))
            #expect(Self.error(both) == "invalid_request")
            let unsupported = try await OAuthTestSupport.tokenRequest(browser, ["grant_type": "urn:made:up"], basic: ("basic-client", secret))
            #expect(Self.error(unsupported) == "unsupported_grant_type")
            let password = try await OAuthTestSupport.tokenRequest(browser, ["grant_type": "password", "username": "alice", "password": PlatformFixture.password], basic: ("basic-client", secret))
            #expect(Self.error(password) == "unauthorized_client", "the password grant is off unless enabled")
            // client_secret_basic works for a real exchange.
            let good = try await OAuthTestSupport.tokenRequest(browser, ["grant_type": "authorization_code", "code": try await Self.code(browser, client: "basic-client"), "redirect_uri": Self.redirect], basic: ("basic-client", secret))
            #expect(good.status == 200)
        }
    }
}
