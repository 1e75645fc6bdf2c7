import DrawbridgeCore
import DrawbridgeServer
import Foundation
import Testing

/// The grants and endpoints beyond the plain code flow.
@Suite struct OAuthGrantTests {
    static let redirect = "https://app.example.com/callback"

    @Test func implicitGrantPutsTheTokenInTheFragmentOnlyWhenEnabled() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, _ in
            try await OAuthTestSupport.register(dependencies, id: "spa-client", redirectURIs: [Self.redirect], grants: [.implicit])
            let path = "/oauth/authorize?response_type=token&client_id=spa-client&redirect_uri=\(RedirectURIBuilder.percentEncode(Self.redirect))&state=st"
            let answer = try await OAuthTestSupport.signInAndAuthorize(browser, path: path, username: "alice", password: PlatformFixture.password)
            let location = try #require(answer.location)
            let fragment = try #require(location.split(separator: "#", maxSplits: 1).last.map(String.init))
            let values = Dictionary(FormPairsForTests.parse(fragment), uniquingKeysWith: { $1 })
            #expect(values["token_type"] == "Bearer")
            #expect(values["state"] == "st")
            #expect(values["refresh_token"] == nil)
            #expect(!location.contains("?access_token"), "never in the query")
            let token = try #require(values["access_token"])
            #expect(try await browser.get("/api/v4/user", headers: [("Authorization", "Bearer \(token)")]).status == 200)
            // A code client may not ask for tokens.
            try await OAuthTestSupport.register(dependencies, id: "code-only", redirectURIs: [Self.redirect])
            let refused = try await browser.get(path.replacingOccurrences(of: "spa-client", with: "code-only"))
            #expect(refused.location.flatMap { OAuthTestSupport.goQueryGet($0.replacingOccurrences(of: "#", with: "?"), "error") } == "unauthorized_client")
        }
    }

    @Test func passwordAndClientCredentialsGrantsWhenEnabled() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, _ in
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: "first-party", redirectURIs: [], grants: [.password, .clientCredentials, .refreshToken]))
            let basic = ("first-party", secret)
            let password = try await OAuthTestSupport.tokenRequest(browser, ["grant_type": "password", "username": "ALICE", "password": PlatformFixture.password], basic: basic)
            #expect(password.status == 200)
            #expect(OAuthTestSupport.json(password)["refresh_token"] is String)
            let wrong = try await OAuthTestSupport.tokenRequest(browser, ["grant_type": "password", "username": "alice", "password": "nope"], basic: basic)
            #expect(OAuthTestSupport.json(wrong)["error"] as? String == "invalid_grant")
            let inactive = try await OAuthTestSupport.tokenRequest(browser, ["grant_type": "password", "username": "frank", "password": PlatformFixture.password], basic: basic)
            #expect(OAuthTestSupport.json(inactive)["error"] as? String == "invalid_grant")

            let machine = OAuthTestSupport.json(try await OAuthTestSupport.tokenRequest(browser, ["grant_type": "client_credentials"], basic: basic))
            let machineToken = try #require(machine["access_token"] as? String)
            #expect(machine["refresh_token"] == nil)
            #expect(try await browser.get("/api/v4/user", headers: [("Authorization", "Bearer \(machineToken)")]).status == 401, "no user behind it")
            let info = OAuthTestSupport.json(try await browser.get("/oauth/token/info", headers: [("Authorization", "Bearer \(machineToken)")]))
            #expect((info["application"] as? [String: Any])?["uid"] as? String == "first-party")
            let introspected = OAuthTestSupport.json(try await browser.post("/oauth/introspect", form: ["token": machineToken, "client_id": "first-party", "client_secret": secret]))
            #expect(introspected["active"] as? Bool == true)
            #expect(introspected["client_id"] as? String == "first-party")
        }
    }

    @Test func tokenInfoIntrospectionAndOpenIDForAUser() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, _ in
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: "oidc-client", redirectURIs: [Self.redirect]))
            let path = "/oauth/authorize?response_type=code&client_id=oidc-client&redirect_uri=\(RedirectURIBuilder.percentEncode(Self.redirect))&scope=openid%20profile%20email&nonce=n-1"
            let answer = try await OAuthTestSupport.signInAndAuthorize(browser, path: path, username: "erin", password: PlatformFixture.password)
            let code = try #require(answer.location.flatMap { OAuthTestSupport.goQueryGet($0, "code") })
            let tokens = OAuthTestSupport.json(try await OAuthTestSupport.tokenRequest(
                browser, ["grant_type": "authorization_code", "code": code, "redirect_uri": Self.redirect], basic: ("oidc-client", secret)))
            let access = try #require(tokens["access_token"] as? String)
            let idToken = try #require(tokens["id_token"] as? String)
            let claims = try await dependencies.oauth.keys.signer().verify(idToken)
            #expect(claims.aud == "oidc-client")
            #expect(claims.iss == "https://sso.example.com")
            #expect(claims.nonce == "n-1")
            #expect(claims.atHash == OIDCHashes.leftHalfHash(of: access, algorithm: .rs256))
            #expect(claims.email == "erin@example.com")
            #expect(claims.sid != nil && claims.authTime != nil)

            let user = OAuthTestSupport.json(try await browser.get("/api/v4/user", headers: [("Authorization", "Bearer \(access)")]))
            let info = OAuthTestSupport.json(try await browser.get("/oauth/token/info", headers: [("Authorization", "Bearer \(access)")]))
            #expect((info["resource_owner_id"] as? NSNumber)?.int64Value == (user["id"] as? NSNumber)?.int64Value)
            #expect(info["scope"] as? [String] == ["openid", "profile", "email"])
            #expect(claims.sub == (user["id"] as? NSNumber)?.stringValue, "one identity: sub is the GitLab id")
            let introspected = OAuthTestSupport.json(try await browser.post("/oauth/introspect", form: ["token": access], headers: [
                ("Authorization", "Basic " + Data("oidc-client:\(secret)".utf8).base64EncodedString()),
            ]))
            #expect(introspected["active"] as? Bool == true)
            #expect(introspected["username"] as? String == "erin")
            #expect(introspected["sub"] as? String == claims.sub)
            let discovery = OAuthTestSupport.json(try await browser.get("/.well-known/openid-configuration"))
            #expect(discovery["issuer"] as? String == "https://sso.example.com")
            #expect(discovery["jwks_uri"] as? String == "https://sso.example.com/oauth/discovery/keys")
            #expect(discovery["code_challenge_methods_supported"] as? [String] == ["S256"])
        }
    }

    @Test func promptLoginShowsTheFormEvenWithASession() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, _ in
            try await OAuthTestSupport.register(dependencies, id: "reauth-client", redirectURIs: [Self.redirect])
            let base = "/oauth/authorize?response_type=code&client_id=reauth-client&redirect_uri=\(RedirectURIBuilder.percentEncode(Self.redirect))"
            _ = try await OAuthTestSupport.signInAndAuthorize(browser, path: base, username: "alice", password: PlatformFixture.password)
            #expect(try await browser.get(base).status == 302, "silent with a session")
            let forced = try await OAuthTestSupport.signInAndAuthorize(browser, path: base + "&prompt=login", username: "alice", password: PlatformFixture.password)
            #expect(forced.status == 302)
            #expect(forced.location.flatMap { OAuthTestSupport.goQueryGet($0, "code") } != nil)
        }
    }

    @Test func rotatedKeysStayPublishedAndOldTokensStillVerify() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, databases in
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: "rotation-client", redirectURIs: [Self.redirect]))
            func idToken() async throws -> String {
                let path = "/oauth/authorize?response_type=code&client_id=rotation-client&redirect_uri=\(RedirectURIBuilder.percentEncode(Self.redirect))&scope=openid"
                let answer = browser.sessionToken == nil
                    ? try await OAuthTestSupport.signInAndAuthorize(browser, path: path, username: "alice", password: PlatformFixture.password)
                    : try await browser.get(path)
                let code = try #require(answer.location.flatMap { OAuthTestSupport.goQueryGet($0, "code") })
                let tokens = OAuthTestSupport.json(try await OAuthTestSupport.tokenRequest(
                    browser, ["grant_type": "authorization_code", "code": code, "redirect_uri": Self.redirect], basic: ("rotation-client", secret)))
                return try #require(tokens["id_token"] as? String)
            }
            let before = try await idToken()
            let oldKID = try await dependencies.oauth.keys.signer().activeKeyID
            // `drawbridge keys rotate`, as an operator runs it against the same database.
            let config = try CommandRunner.writeConfig(databases)
            #expect(try CommandRunner.run(["keys", "rotate", "--config", config]).status == 0)
            let listed = try CommandRunner.run(["keys", "list", "--config", config])
            #expect(listed.stdout.contains("\(oldKID)  RS256  retired"))
            try await dependencies.oauth.keys.reload()
            let after = try await idToken()
            let signer = try await dependencies.oauth.keys.signer()
            #expect(signer.activeKeyID != oldKID)
            #expect(try await signer.verify(before).sub == (try await signer.verify(after)).sub)
            let jwks = OAuthTestSupport.json(try await browser.get("/oauth/discovery/keys"))
            let kids = (jwks["keys"] as? [[String: Any]] ?? []).compactMap { $0["kid"] as? String }
            #expect(Set(kids) == [oldKID, signer.activeKeyID])
        }
    }
}

/// Fragment parsing for the implicit-grant test (same rules as a query).
enum FormPairsForTests {
    static func parse(_ text: String) -> [(String, String)] {
        text.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]).removingPercentEncoding ?? "", parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? "") : "")
        }
    }
}
