import DrawbridgeCore
import Foundation
import NIOHTTP1
import Testing

/// Plays Mattermost's GitLab SSO client exactly as `shared/contracts/chat-servers.md` §1 and §8 describe
/// it (read from Mattermost's source). Mattermost itself cannot run on this machine; this test is the
/// contract stand-in: authorize URL built by string concatenation with Go's QueryEscape and an
/// unescaped client id, a standard-base64 `state` with `+ / =`, client_secret_post only, strict Go-typed
/// decoding of the token response, the odd Content-Type on the user call, integer ids, CleanUsername.
@Suite struct MattermostContractTests {
    static let clientID = "mattermost-gitlab"

    /// Mattermost's state: base64.StdEncoding of a JSON map. Picked so it contains `+`, `/` and `=` (§8.4).
    static let state: String = {
        for token in 0..<100_000 {
            let json = #"{"action":"login","isMobile":"false","token":"t\#(token)??>~"}"#
            let encoded = Data(json.utf8).base64EncodedString()
            if encoded.contains("+"), encoded.contains("/"), encoded.hasSuffix("=") { return encoded }
        }
        return "unreachable"
    }()

    /// §1.3: `AuthEndpoint + "?response_type=code&client_id=" + Id + "&redirect_uri=" + QueryEscape(...) + "&state=" + QueryEscape(state)`.
    static func authorizePath(state: String = state, scope: String? = nil, clientID: String = clientID, redirect: String = OAuthTestSupport.chatRedirect) -> String {
        var path = "/oauth/authorize?response_type=code&client_id=" + clientID + "&redirect_uri=" + OAuthTestSupport.goQueryEscape(redirect)
            + "&state=" + OAuthTestSupport.goQueryEscape(state)
        if let scope { path += "&scope=" + OAuthTestSupport.goQueryEscape(scope) }
        return path
    }

    /// §1.6 `model.AccessResponse`, decoded strictly: a string `expires_in` or an array `scope` fails here as in Go.
    struct AccessResponse: Decodable {
        var accessToken: String
        var tokenType: String
        var expiresIn: Int32?
        var scope: String?
        var refreshToken: String?
        var idToken: String?

        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token", tokenType = "token_type", expiresIn = "expires_in", scope
            case refreshToken = "refresh_token", idToken = "id_token"
        }
    }

    /// §1.8 `GitLabUser`.
    struct GitLabUser: Decodable {
        var id: Int64
        var username: String
        var login: String
        var email: String
        var name: String
    }

    /// §1.9 `model.CleanUsername`, ported.
    static func cleanUsername(_ input: String) -> String {
        var name = input.replacingOccurrences(of: " ", with: "-").lowercased()
        if ChatUsername.reserved.contains(name) { name = "" }
        name = name.trimmingCharacters(in: .whitespaces)
        name = String(name.unicodeScalars.map { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "." || $0 == "-" || $0 == "_" ? Character($0) : "-" })
        name = name.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        let valid = (1...64).contains(name.count) && !["all", "channel", "matterbot", "system"].contains(name)
        return valid ? name : "a" + String(repeating: "x", count: 26)
    }

    /// §1.5 + §8.8: the code exchange exactly as Mattermost sends it (no Authorization header, no PKCE).
    static func exchange(_ browser: Browser, code: String, secret: String, redirect: String = OAuthTestSupport.chatRedirect) async throws -> WebResponse {
        try await OAuthTestSupport.tokenRequest(browser, [
            "client_id": clientID, "client_secret": secret, "code": code, "grant_type": "authorization_code", "redirect_uri": redirect,
        ])
    }

    /// §1.7: Bearer token, `Accept: application/json` and `Content-Type: application/x-www-form-urlencoded` on an empty GET.
    static func userCall(_ browser: Browser, token: String) async throws -> WebResponse {
        try await browser.send(.GET, "/api/v4/user", body: nil, headers: [
            ("Authorization", "Bearer \(token)"), ("Accept", "application/json"), ("Content-Type", "application/x-www-form-urlencoded"),
        ])
    }

    /// Signs in through the authorize URL and returns the code Mattermost's callback would receive.
    static func code(_ browser: Browser, state: String = state, username: String = "alice", scope: String? = nil) async throws -> String {
        let path = authorizePath(state: state, scope: scope)
        let answer = browser.sessionToken == nil
            ? try await OAuthTestSupport.signInAndAuthorize(browser, path: path, username: username, password: PlatformFixture.password)
            : try await browser.get(path)
        #expect(answer.status == 302 || answer.status == 303)
        let location = try #require(answer.location)
        #expect(location.hasPrefix(OAuthTestSupport.chatRedirect + "?"))
        #expect(OAuthTestSupport.goQueryGet(location, "state") == state, "§8.4: state comes back byte-exact through Go's query parsing")
        return try #require(OAuthTestSupport.goQueryGet(location, "code"))
    }

    @Test func fullLoginAsMattermostDoesIt() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, _ in
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: Self.clientID))
            #expect(Self.state.contains("+") && Self.state.contains("/") && Self.state.contains("="))

            // §8.7: without a session, the form is at the authorize URL itself (a path the desktop app allows).
            let form = try await browser.get(Self.authorizePath())
            #expect(form.status == 200)
            #expect(form.body.contains(#"action="/oauth/authorize""#))
            let code = try await Self.code(browser)

            // §8.8/§8.9: token exchange and strict decoding.
            let token = try await Self.exchange(browser, code: code, secret: secret)
            #expect(token.status == 200, "exactly 200: \(token.body)")
            #expect(token.header("Content-Type")?.hasPrefix("application/json") == true)
            #expect(token.header("Cache-Control") == "no-store")
            let access = try JSONDecoder().decode(AccessResponse.self, from: Data(token.body.utf8))
            #expect(access.tokenType.lowercased() == "bearer")
            #expect(!access.accessToken.isEmpty)
            #expect((access.expiresIn ?? 0) > 0)
            #expect(access.scope == "read_user")
            #expect(access.idToken == nil, "no openid scope, no id_token")
            let raw = OAuthTestSupport.json(token)
            #expect(raw["expires_in"] is NSNumber && !(raw["expires_in"] is String))
            #expect(raw["created_at"] is NSNumber, "GitLab's created_at")

            // §8.11/§8.12: the user call with Mattermost's odd Content-Type.
            let userResponse = try await Self.userCall(browser, token: access.accessToken)
            #expect(userResponse.status == 200)
            let user = try JSONDecoder().decode(GitLabUser.self, from: Data(userResponse.body.utf8))
            #expect(user.id != 0)
            #expect(!user.email.isEmpty)
            #expect(user.email == "alice@example.com", "§8.13: lowercased")
            #expect(user.email.count <= 128 && user.email.filter { $0 == "@" }.count == 1)
            #expect(user.username == "alice" && user.login == user.username)
            #expect(Self.cleanUsername(user.username) == user.username, "§8.14: survives CleanUsername")
            // §8.15: name splits on spaces, each part ≤ 64 runes.
            let parts = user.name.split(separator: " ", maxSplits: 1)
            #expect(parts.count == 2 && parts.allSatisfy { $0.count <= 64 })
            let rawUser = OAuthTestSupport.json(userResponse)
            #expect(rawUser["id"] is NSNumber, "§8.12: id is a JSON number")
            #expect(rawUser["state"] as? String == "active")

            // §8.7: silent SSO afterwards: the redirect comes at once, no page; the id is stable.
            let again = try await browser.get(Self.authorizePath(state: Self.state + "x"))
            #expect(again.status == 302)
            let secondCode = try #require(again.location.flatMap { OAuthTestSupport.goQueryGet($0, "code") })
            let second = try JSONDecoder().decode(AccessResponse.self, from: Data(try await Self.exchange(browser, code: secondCode, secret: secret).body.utf8))
            let sameUser = try JSONDecoder().decode(GitLabUser.self, from: Data(try await Self.userCall(browser, token: second.accessToken).body.utf8))
            #expect(sameUser.id == user.id, "§8.12: stable id")
        }
    }

    @Test func scopeAbsentOrNonOpenIDIsAccepted() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, _ in
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: Self.clientID))
            let code = try await Self.code(browser, scope: "read_user")
            let access = try JSONDecoder().decode(AccessResponse.self, from: Data(try await Self.exchange(browser, code: code, secret: secret).body.utf8))
            #expect(access.scope == "read_user")
        }
    }

    @Test func codeRulesSingleUseBoundToRedirectURI() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, _ in
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: Self.clientID))
            // §8.10: redirect_uri mismatch → 400 invalid_grant.
            let mismatched = try await Self.exchange(browser, code: try await Self.code(browser), secret: secret, redirect: "https://chat.example.com/other")
            #expect(mismatched.status == 400)
            #expect(OAuthTestSupport.json(mismatched)["error"] as? String == "invalid_grant")
            // Second use → 400 invalid_grant, and the tokens of the first use stop working.
            let code = try await Self.code(browser)
            let first = try JSONDecoder().decode(AccessResponse.self, from: Data(try await Self.exchange(browser, code: code, secret: secret).body.utf8))
            #expect(try await Self.userCall(browser, token: first.accessToken).status == 200)
            let replay = try await Self.exchange(browser, code: code, secret: secret)
            #expect(replay.status == 400)
            #expect(OAuthTestSupport.json(replay)["error"] as? String == "invalid_grant")
            let afterReplay = try await Self.userCall(browser, token: first.accessToken)
            #expect(afterReplay.status == 401)
            #expect(afterReplay.header("WWW-Authenticate")?.contains(#"error="invalid_token""#) == true)
            #expect(!afterReplay.body.contains("Terms of Service"))
            // A wrong secret, sent the Mattermost way: 401 invalid_client.
            let wrongSecret = try await Self.exchange(browser, code: try await Self.code(browser), secret: "dbs_wrong")
            #expect(wrongSecret.status == 401)
            #expect(OAuthTestSupport.json(wrongSecret)["error"] as? String == "invalid_client")
            #expect(wrongSecret.header("WWW-Authenticate") != nil)
        }
    }

    @Test func unknownClientAndUnregisteredRedirectNeverRedirect() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, _ in
            try await OAuthTestSupport.register(dependencies, id: Self.clientID)
            let unknown = try await browser.get(Self.authorizePath(clientID: "not-registered-1"))
            #expect(unknown.status == 400)
            #expect(unknown.location == nil)
            #expect(unknown.header("Content-Type")?.hasPrefix("text/html") == true)
            let foreign = try await browser.get(Self.authorizePath(redirect: "https://chat.example.com.evil.test/signup/gitlab/complete"))
            #expect(foreign.status == 400)
            #expect(foreign.location == nil)
        }
    }

    @Test func deactivatedPlatformUserGetsNoCodeAndLosesTokens() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, databases in
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: Self.clientID))
            // §8.18: an inactive user signing in gets the form back, never a code.
            let frank = try await OAuthTestSupport.signInAndAuthorize(browser, path: Self.authorizePath(), username: "frank", password: PlatformFixture.password)
            #expect(frank.status == 401)
            #expect(frank.location == nil)
            // An active user with tokens is deactivated on the platform: tokens stop working, no new code.
            let access = try JSONDecoder().decode(AccessResponse.self, from: Data(try await Self.exchange(browser, code: try await Self.code(browser), secret: secret).body.utf8))
            #expect(try await Self.userCall(browser, token: access.accessToken).status == 200)
            try await TestDatabases.execute("UPDATE public.accounts SET is_active = false WHERE login = 'alice'", on: databases.platformURL)
            // Replicas cache token checks for at most a second (oauth.cacheLifetime): the deactivation lands within it.
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await Self.userCall(browser, token: access.accessToken).status == 401)
            let refreshed = try await OAuthTestSupport.tokenRequest(browser, [
                "client_id": Self.clientID, "client_secret": secret, "grant_type": "refresh_token", "refresh_token": access.refreshToken ?? "",
            ])
            #expect(refreshed.status == 400)
            let authorize = try await browser.get(Self.authorizePath())
            #expect(authorize.status == 302)
            #expect(authorize.location.flatMap { OAuthTestSupport.goQueryGet($0, "code") } == nil)
            #expect(authorize.location.flatMap { OAuthTestSupport.goQueryGet($0, "error") } == "access_denied")
        }
    }

    @Test func usernamesSurviveCleanUsername() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, databases in
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: Self.clientID))
            try await TestDatabases.execute("""
                INSERT INTO public.accounts (login, email, full_name, password_hash) VALUES
                ('Bob Smith@Example', 'BOB@EXAMPLE.COM', 'Bob  Smith van der Berg', '\(PlatformFixture.bcryptHash)'),
                ('admin', 'root@example.com', 'Root', '\(PlatformFixture.bcryptHash)')
                """, on: databases.platformURL)
            for login in ["Bob Smith@Example", "admin"] {
                let fresh = Browser(port: browser.port, publicURL: browser.publicURL)
                let code = try await Self.code(fresh, username: login)
                let access = try JSONDecoder().decode(AccessResponse.self, from: Data(try await Self.exchange(fresh, code: code, secret: secret).body.utf8))
                let user = try JSONDecoder().decode(GitLabUser.self, from: Data(try await Self.userCall(fresh, token: access.accessToken).body.utf8))
                #expect(Self.cleanUsername(user.username) == user.username, "\(login) → \(user.username)")
                #expect(user.username == (login == "admin" ? "user-\(user.id)" : "bob-smith-example"))
            }
        }
    }
}
