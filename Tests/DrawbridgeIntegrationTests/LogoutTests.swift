import DrawbridgeCore
import DrawbridgeServer
import Foundation
import Testing

/// Single logout over real HTTP: `/logout` (GET shows a page, POST signs out), RP-initiated logout with
/// `id_token_hint` and `post_logout_redirect_uri`, token revocation, and back-channel logout tokens
/// delivered to a relying party's endpoint (Tests/e2e/relying_party.py, which records what it receives).
@Suite struct LogoutTests {
    static let redirect = "https://app.example.com/callback"
    static let signedOut = "https://app.example.com/signed-out"

    /// Registers a confidential client with a back-channel logout URI and a post-logout redirect; signs
    /// alice in and runs the code flow; hands the test the tokens.
    func withSignedInClient(
        _ body: @Sendable (Browser, AppDependencies, ContractServer, _ access: String, _ idToken: String) async throws -> Void
    ) async throws {
        let relyingParty = try ContractServer(script: "../e2e/relying_party.py")
        defer { relyingParty.stop() }
        try await OAuthTestSupport.withGateway { browser, dependencies, _ in
            let secret = ClientSecret.newSecret()
            try await dependencies.oauth.clients.insert(OAuthClient(
                clientID: "rp-client", name: "Team Wiki", secretHash: ClientSecret.hash(secret), redirectURIs: [Self.redirect], isTrusted: true,
                backchannelLogoutURI: relyingParty.url + "/backchannel_logout", postLogoutRedirectURIs: [Self.signedOut]
            ))
            let path = "/oauth/authorize?response_type=code&client_id=rp-client&redirect_uri=\(RedirectURIBuilder.percentEncode(Self.redirect))&scope=openid%20profile&nonce=n-1"
            let answer = try await OAuthTestSupport.signInAndAuthorize(browser, path: path, username: "alice", password: PlatformFixture.password)
            let code = try #require(answer.location.flatMap { OAuthTestSupport.goQueryGet($0, "code") }, "\(answer.status) \(answer.body.prefix(300))")
            let tokens = OAuthTestSupport.json(try await OAuthTestSupport.tokenRequest(
                browser, ["grant_type": "authorization_code", "code": code, "redirect_uri": Self.redirect], basic: ("rp-client", secret)))
            try await body(browser, dependencies, relyingParty, try #require(tokens["access_token"] as? String), try #require(tokens["id_token"] as? String))
        }
    }

    @Test func getShowsAPageAndSignsNobodyOutButTheButtonEndsEverything() async throws {
        try await withSignedInClient { browser, dependencies, relyingParty, access, idToken in
            let sessionCookie = try #require(browser.sessionToken)
            // A GET alone (an <img src=…/logout> on any page) must not sign anyone out.
            let page = try await browser.get("/logout")
            #expect(page.status == 200)
            #expect(page.body.contains("Sign out?") && page.body.contains("alice"))
            #expect(try await browser.get("/").status == 200, "still signed in")
            #expect(try await browser.get("/api/v4/user", headers: [("Authorization", "Bearer \(access)")]).status == 200)

            // A forged POST without the page's CSRF token is refused.
            let forged = try await browser.post("/logout", form: ["csrf": "forged"])
            #expect(forged.status == 403)
            #expect(try await browser.get("/").status == 200)

            let csrf = try #require(page.hiddenField("csrf"))
            let out = try await browser.post("/logout", form: ["csrf": csrf])
            #expect(out.status == 303)
            #expect(out.location == "https://sso.example.com/login")
            let cleared = try #require(out.setCookie(named: "drawbridge_session"))
            #expect(cleared.isExpired && cleared.attributes["domain"] == "example.com", "cleared on the shared domain")
            // The session is gone server-side: putting the old cookie back does not help.
            browser.setCookie("drawbridge_session", sessionCookie)
            #expect(try await browser.get("/").status == 303)
            // Tokens issued in the session are revoked.
            #expect(try await browser.get("/api/v4/user", headers: [("Authorization", "Bearer \(access)")]).status == 401)

            // The relying party was told, with a logout token it can verify (Back-Channel Logout 1.0 §2.4).
            let received = try await Self.waitForLogoutTokens(relyingParty)
            #expect(received.count == 1)
            let request = try #require(received.first)
            #expect(request["path"] as? String == "/backchannel_logout")
            #expect((request["content_type"] as? String)?.hasPrefix("application/x-www-form-urlencoded") == true)
            let logoutToken = try #require((request["form"] as? [String: String])?["logout_token"])
            let header = try #require(Self.jsonPart(logoutToken, 0))
            #expect(header["typ"] as? String == "logout+jwt")
            let claims = try #require(Self.jsonPart(logoutToken, 1))
            let idClaims = try await dependencies.oauth.keys.signer().verify(idToken)
            #expect(claims["iss"] as? String == "https://sso.example.com")
            #expect(claims["aud"] as? String == "rp-client")
            #expect(claims["sub"] as? String == idClaims.sub)
            #expect(claims["sid"] as? String == idClaims.sid, "the session the id_token named")
            #expect(claims["nonce"] == nil, "a logout token never has a nonce")
            #expect((claims["events"] as? [String: Any])?["http://schemas.openid.net/event/backchannel-logout"] != nil)
            #expect(claims["jti"] is String && claims["iat"] is NSNumber && claims["exp"] is NSNumber)
        }
    }

    @Test func rpInitiatedLogoutWithTheSessionsOwnIDTokenGoesBackToTheRegisteredURI() async throws {
        try await withSignedInClient { browser, _, relyingParty, _, idToken in
            let hint = RedirectURIBuilder.percentEncode(idToken)
            // An unregistered post_logout_redirect_uri is refused, without redirecting anywhere.
            let evil = try await browser.get("/logout?id_token_hint=\(hint)&post_logout_redirect_uri=\(RedirectURIBuilder.percentEncode("https://evil.example/"))")
            #expect(evil.status == 400 && evil.location == nil)
            #expect(evil.body.contains("not registered for this client"))
            #expect(try await browser.get("/").status == 200, "and nobody was signed out")
            // A hint we did not sign is refused.
            let forgedHint = try await browser.get("/logout?id_token_hint=eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.&post_logout_redirect_uri=\(RedirectURIBuilder.percentEncode(Self.signedOut))")
            #expect(forgedHint.status == 400)

            // The session's own id_token proves the relying party speaks for this session: signed out at once.
            let out = try await browser.get("/logout?id_token_hint=\(hint)&post_logout_redirect_uri=\(RedirectURIBuilder.percentEncode(Self.signedOut))&state=s-42")
            #expect(out.status == 303)
            #expect(out.location == Self.signedOut + "?state=s-42")
            #expect(try await browser.get("/").status == 303, "signed out")
            #expect(try await Self.waitForLogoutTokens(relyingParty).count == 1)
            // Asked again (a second tab), there is nothing left to end: straight back, nothing sent twice.
            let again = try await browser.get("/logout?id_token_hint=\(hint)&post_logout_redirect_uri=\(RedirectURIBuilder.percentEncode(Self.signedOut))")
            #expect(again.location == Self.signedOut)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await Self.received(relyingParty).count == 1)
        }
    }

    @Test func adminsListAndRevokeSessionsFromTheCommandLine() async throws {
        let relyingParty = try ContractServer(script: "../e2e/relying_party.py")
        defer { relyingParty.stop() }
        try await OAuthTestSupport.withGateway { browser, dependencies, databases in
            try await dependencies.oauth.clients.insert(OAuthClient(
                clientID: "rp-client", name: "Team Wiki", secretHash: ClientSecret.hash("s"), redirectURIs: [Self.redirect], isTrusted: true,
                backchannelLogoutURI: relyingParty.url + "/backchannel_logout"
            ))
            let path = "/oauth/authorize?response_type=code&client_id=rp-client&redirect_uri=\(RedirectURIBuilder.percentEncode(Self.redirect))&scope=openid"
            let answer = try await OAuthTestSupport.signInAndAuthorize(browser, path: path, username: "alice", password: PlatformFixture.password)
            let code = try #require(answer.location.flatMap { OAuthTestSupport.goQueryGet($0, "code") })
            // Only a client that got tokens in the session has a session of its own to end.
            #expect(try await OAuthTestSupport.tokenRequest(browser, ["grant_type": "authorization_code", "code": code, "redirect_uri": Self.redirect],
                                                            basic: ("rp-client", "s")).status == 200)
            let other = Browser(port: browser.port, publicURL: browser.publicURL)
            #expect(try await other.signIn(username: "erin", password: PlatformFixture.password).status == 303)
            let config = try CommandRunner.writeConfig(databases)

            let listed = try CommandRunner.run(["sessions", "list", "--json", "--config", config])
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], "\(listed.stderr)")
            #expect(Set(rows.compactMap { $0["login"] as? String }) == ["alice", "erin"])
            #expect(rows.allSatisfy { ($0["sid"] as? String)?.count == 22 })
            let table = try CommandRunner.run(["sessions", "list", "--user", "ALICE@example.com", "--config", config])
            #expect(table.stdout.contains("alice") && !table.stdout.contains("erin"), "\(table.stdout)")

            let unknown = try CommandRunner.run(["sessions", "revoke", "--user", "nobody", "--config", config])
            #expect(unknown.status == 1 && unknown.stderr.contains("no platform user matches 'nobody'"), "\(unknown.stderr)")
            let ambiguous = try CommandRunner.run(["sessions", "revoke", "--config", config])
            #expect(ambiguous.status != 0 && ambiguous.stderr.contains("exactly one of --user LOGIN, --sid SID or --all"), "\(ambiguous.stderr)")

            let revoked = try CommandRunner.run(["sessions", "revoke", "--user", "alice", "--config", config])
            #expect(revoked.status == 0, "\(revoked.stderr)")
            #expect(revoked.stdout.contains("ended 1 session(s); back-channel logout sent to rp-client"), "\(revoked.stdout)")
            try await Task.sleep(for: .milliseconds(1100))  // the gateway's session cache lives a second
            #expect(try await browser.get("/").status == 303, "alice is signed out in her browser")
            #expect(try await other.get("/").status == 200, "erin is not")
            #expect(try await Self.received(relyingParty).count == 1)

            let erinSID = try #require(rows.first { $0["login"] as? String == "erin" }?["sid"] as? String)
            let bySID = try CommandRunner.run(["sessions", "revoke", "--sid", erinSID, "--config", config])
            #expect(bySID.stdout.contains("ended 1 session(s)"), "\(bySID.stdout)\(bySID.stderr)")
            let none = try CommandRunner.run(["sessions", "list", "--config", config])
            #expect(none.stdout.contains("no live sessions"), "\(none.stdout)")
        }
    }

    @Test func discoveryAdvertisesBackchannelLogout() async throws {
        try await OAuthTestSupport.withGateway { browser, _, _ in
            let metadata = OAuthTestSupport.json(try await browser.get("/.well-known/openid-configuration"))
            #expect(metadata["end_session_endpoint"] as? String == "https://sso.example.com/logout")
            #expect(metadata["backchannel_logout_supported"] as? Bool == true)
            #expect(metadata["backchannel_logout_session_supported"] as? Bool == true)
        }
    }

    static func received(_ relyingParty: ContractServer) async throws -> [[String: Any]] {
        try await relyingParty.state()["requests"] as? [[String: Any]] ?? []
    }

    /// Back-channel notices go out after the browser's answer; wait (bounded) for the first to arrive.
    static func waitForLogoutTokens(_ relyingParty: ContractServer) async throws -> [[String: Any]] {
        for _ in 0..<100 {
            let requests = try await received(relyingParty)
            if !requests.isEmpty { return requests }
            try await Task.sleep(for: .milliseconds(50))
        }
        return []
    }

    static func jsonPart(_ jwt: String, _ index: Int) -> [String: Any]? {
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let bytes = Base64URL.decode(String(parts[index])) else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
    }
}
