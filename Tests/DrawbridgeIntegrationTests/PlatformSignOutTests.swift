import DrawbridgeCore
import DrawbridgeServer
import Foundation
import NIOHTTP1
import Testing

/// A platform sign-out reaches chat with no browser coming back to Drawbridge: the user signed in on the
/// platform, went to chat (Mattermost's own session now), then signed out of the platform. Drawbridge's
/// watcher finds the platform session gone, ends its session and revokes the chat sessions through the
/// outbox. A platform that shares no session table (it hands users over) says so itself: `POST /api/v1/logout`.
/// Chat is the Mattermost contract server (Tests/contract-servers/mattermost_contract_server.py,
/// written from contracts/chat-servers.md §1 and §3 — a stand-in, because Mattermost cannot run here).
@Suite struct PlatformSignOutTests {
    static let webSessions = """
        CREATE TABLE public.web_sessions (session_key text PRIMARY KEY, account_id bigint NOT NULL, expires_at timestamptz NOT NULL);
        INSERT INTO public.web_sessions
        SELECT encode(sha256(convert_to('alice-cookie', 'UTF8')), 'hex'), id, now() + interval '1 hour' FROM public.accounts WHERE login = 'alice';
        """

    func withPlatformAndChat(_ body: @Sendable (Browser, Browser, TestDatabases, ContractServer) async throws -> Void) async throws {
        try await withPlatformAndChat { browser, chatBrowser, databases, chat, _ in try await body(browser, chatBrowser, databases, chat) }
    }

    func withPlatformAndChat(_ body: @Sendable (Browser, Browser, TestDatabases, ContractServer, AppDependencies) async throws -> Void) async throws {
        let chat = try ContractServer(script: "mattermost_contract_server.py", arguments: ["--team", "town:off-topic"])
        defer { chat.stop() }
        try await OAuthTestSupport.withGateway(configure: { configuration in
            configuration.platformSession = PlatformSessionSettings(
                cookieName: "app_session", query: "SELECT account_id FROM public.web_sessions WHERE session_key = $1 AND expires_at > now()",
                hash: .sha256, recheckInterval: .seconds(1)
            )
            configuration.provisioning = ProvisioningConfiguration(
                connectors: [.mattermost(name: "mattermost", MattermostConnector.Settings(url: chat.url, token: chat.adminToken, teams: ["town"], timeout: .seconds(3)))],
                settings: ProvisioningSettings(waitBudget: .seconds(8), maxAttempts: 5, concurrency: 2, pollInterval: .milliseconds(200))
            )
        }) { browser, dependencies, databases in
            try await TestDatabases.execute(Self.webSessions, on: databases.platformURL)
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: "mattermost-sso", redirectURIs: [chat.url + "/signup/gitlab/complete"]))
            try await chat.enableGitLabSSO(gateway: "http://127.0.0.1:\(browser.port)", clientID: "mattermost-sso", secret: secret)
            try await body(browser, try chat.browser(), databases, chat, dependencies)
        }
    }

    /// Chat's "GitLab" button, followed through Drawbridge: the authorize response (a form, or straight back
    /// with a code), and when it came back, chat's answer to the code.
    static func chatSignIn(_ browser: Browser, _ chatBrowser: Browser) async throws -> (authorize: WebResponse, completed: WebResponse?) {
        let start = try await chatBrowser.get("/oauth/gitlab/login")
        let authorize = try await browser.get(try #require(start.locationPath, "\(start.status)"))
        guard authorize.status == 302, let back = authorize.locationPath else { return (authorize, nil) }
        return (authorize, try await chatBrowser.get(back))
    }

    static func drawbridgeSessions(_ databases: TestDatabases) async throws -> [String] {
        try await TestDatabases.strings("SELECT login FROM drawbridge.sessions", on: databases.drawbridgeURL)
    }

    @Test func signingOutOfThePlatformEndsChatsSessionWithoutTheBrowserComingBack() async throws {
        try await withPlatformAndChat { browser, chatBrowser, databases, chat in
            browser.setCookie("app_session", "alice-cookie")
            let (authorize, completed) = try await Self.chatSignIn(browser, chatBrowser)
            #expect(authorize.status == 302, "no form: the platform's cookie is the sign-in")
            #expect(completed?.status == 307, "chat signed alice in")
            #expect(try await chatBrowser.get("/api/v4/users/me").status == 200, "chat's own session works")
            #expect(try await Self.drawbridgeSessions(databases) == ["alice"])

            // alice signs out of the platform and stays in chat: neither browser talks to Drawbridge again.
            try await TestDatabases.execute("DELETE FROM public.web_sessions", on: databases.platformURL)
            let signedOut = ContinuousClock.now
            var chatStatus = 200
            while chatStatus != 401, ContinuousClock.now - signedOut < .seconds(10) {
                try await Task.sleep(for: .milliseconds(100))
                chatStatus = try await chatBrowser.get("/api/v4/users/me").status
            }
            let elapsed = ContinuousClock.now - signedOut
            #expect(chatStatus == 401, "chat's session was revoked")
            // recheck_interval 1 s, the watcher's pause 0.5 s, the outbox's poll 0.2 s: about 1 to 2 s, but the whole suite shares the machine.
            #expect(elapsed < .seconds(10), "the platform sign-out reached chat after \(elapsed)")
            #expect(try await Self.drawbridgeSessions(databases).isEmpty, "Drawbridge's session ended too")
            let jobs = try await ProvisioningTests.jobs(databases)
            #expect(jobs.contains("revoke_sessions:done:"), "\(jobs)")

            // Chat's next sign-in asks for credentials: the platform cookie the browser still holds is dead.
            let again = try await Self.chatSignIn(browser, chatBrowser)
            #expect(again.authorize.status == 200 && again.authorize.body.contains("name=\"password\""), "the sign-in form")
        }
    }

    @Test func aPlatformThatCannotBeAskedRefusesButSignsNobodyOut() async throws {
        try await withPlatformAndChat { browser, _, databases, _ in
            browser.setCookie("app_session", "alice-cookie")
            #expect(try await browser.get("/auth/verify").status == 200)
            let session = try #require(browser.sessionToken)

            // The platform's sessions table is unreachable (renamed away): its query fails, which is no answer.
            try await TestDatabases.execute("ALTER TABLE public.web_sessions RENAME TO web_sessions_away", on: databases.platformURL)
            try await Task.sleep(for: .milliseconds(2500))  // past recheck_interval and the watcher's pause, twice over
            #expect(try await Self.drawbridgeSessions(databases) == ["alice"], "the watcher ended nothing")
            #expect(try await browser.get("/auth/verify").status == 401, "unconfirmed, so refused for now")
            #expect(try await Self.drawbridgeSessions(databases) == ["alice"], "the request path ended nothing either")

            // Back: the same session serves again, no new one.
            try await TestDatabases.execute("ALTER TABLE public.web_sessions_away RENAME TO web_sessions", on: databases.platformURL)
            let verify = try await browser.get("/auth/verify")
            #expect(verify.status == 200 && verify.header("Remote-User") == "alice")
            #expect(verify.setCookie(named: "drawbridge_session") == nil && browser.sessionToken == session)
        }
    }

    static func signOut(_ api: Browser, token: String?, json: String, contentType: String = "application/json") async throws -> WebResponse {
        var headers = [("Content-Type", contentType)]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        return try await api.send(.POST, "/api/v1/logout", body: json, headers: headers)
    }

    @Test func thePlatformBackendSignsAUserOutOfDrawbridgeAndChat() async throws {
        try await withPlatformAndChat { browser, chatBrowser, databases, _, dependencies in
            let token = try await dependencies.serviceTokens.add(name: "platform").value
            // alice: in chat, and signed in to Drawbridge in a second browser too.
            browser.setCookie("app_session", "alice-cookie")
            #expect(try await Self.chatSignIn(browser, chatBrowser).completed?.status == 307)
            let second = Browser(port: browser.port, publicURL: browser.publicURL)
            #expect(try await second.signIn(username: "alice", password: PlatformFixture.password).status == 303)
            #expect(try await second.get("/auth/verify").status == 200)

            let response = try await Self.signOut(browser, token: token, json: #"{"user": "alice"}"#)
            #expect(response.status == 200, "\(response.body)")
            #expect(response.header("Cache-Control") == "no-store")
            let body = OAuthTestSupport.json(response)
            #expect(body["user_id"] as? String == "1")
            #expect(body["sessions_ended"] as? Int == 2)
            #expect(body["chat_sign_outs"] as? Int == 2, "one revocation per ended session and chat server")
            #expect(try await Self.drawbridgeSessions(databases).isEmpty)
            #expect(try await second.get("/auth/verify").status == 401)
            var chatStatus = 200
            for _ in 0..<50 where chatStatus != 401 {
                try await Task.sleep(for: .milliseconds(100))
                chatStatus = try await chatBrowser.get("/api/v4/users/me").status
            }
            #expect(chatStatus == 401, "chat's session was revoked")

            // Signed in to chat again, but Drawbridge's session is gone (it expired, say): chat is still signed out.
            #expect(try await Self.chatSignIn(browser, chatBrowser).completed?.status == 307)
            try await TestDatabases.execute("DELETE FROM drawbridge.sessions", on: databases.drawbridgeURL)
            let again = try await Self.signOut(browser, token: token, json: #"{"user": "1", "match": "id"}"#)
            #expect(again.status == 200, "\(again.body)")
            #expect(OAuthTestSupport.json(again)["sessions_ended"] as? Int == 0)
            #expect(OAuthTestSupport.json(again)["chat_sign_outs"] as? Int == 1)
            chatStatus = 200
            for _ in 0..<50 where chatStatus != 401 {
                try await Task.sleep(for: .milliseconds(100))
                chatStatus = try await chatBrowser.get("/api/v4/users/me").status
            }
            #expect(chatStatus == 401, "chat's session was revoked with no Drawbridge session to end")
        }
    }

    @Test func badSignOutCallsGetClearErrorsAndSignNobodyOut() async throws {
        try await withPlatformAndChat { browser, _, databases, _, dependencies in
            let token = try await dependencies.serviceTokens.add(name: "platform").value
            #expect(try await browser.signIn(username: "alice", password: PlatformFixture.password).status == 303)

            let bare = try await Self.signOut(browser, token: nil, json: #"{"user": "alice"}"#)
            #expect(bare.status == 401 && bare.header("WWW-Authenticate") == #"Bearer realm="drawbridge""#)
            let forged = try await Self.signOut(browser, token: "dbt_" + String(repeating: "A", count: 43), json: #"{"user": "alice"}"#)
            #expect(forged.status == 401 && forged.header("WWW-Authenticate")?.contains(#"error="invalid_token""#) == true)
            let unknown = try await Self.signOut(browser, token: token, json: #"{"user": "nobody"}"#)
            #expect(unknown.status == 404 && OAuthTestSupport.json(unknown)["error"] as? String == "unknown_user")
            let form = try await Self.signOut(browser, token: token, json: "user=alice", contentType: "application/x-www-form-urlencoded")
            #expect(form.status == 415)
            let shapeless = try await Self.signOut(browser, token: token, json: #"{"login": "alice"}"#)
            #expect(shapeless.status == 400 && OAuthTestSupport.json(shapeless)["error"] as? String == "invalid_request")
            let nul = try await Self.signOut(browser, token: token, json: #"{"user": "ali\u0000ce"}"#)
            #expect(nul.status == 400, "\(nul.body)")
            let get = try await browser.get("/api/v1/logout", headers: [("Authorization", "Bearer \(token)")])
            #expect(get.status == 405 && get.header("Allow") == "POST")

            #expect(try await Self.drawbridgeSessions(databases) == ["alice"], "none of that signed anyone out")
            #expect(try await browser.get("/auth/verify").status == 200)
        }
    }
}
