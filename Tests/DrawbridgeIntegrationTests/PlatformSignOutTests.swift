import DrawbridgeCore
import DrawbridgeServer
import Foundation
import Testing

/// A platform sign-out reaches chat with no browser coming back to Drawbridge: the user signed in on the
/// platform, went to chat (Mattermost's own session now), then signed out of the platform. Drawbridge's
/// watcher finds the platform session gone, ends its session and revokes the chat sessions through the
/// outbox. Chat is the Mattermost contract server (Tests/contract-servers/mattermost_contract_server.py,
/// written from contracts/chat-servers.md §1 and §3 — a stand-in, because Mattermost cannot run here).
@Suite struct PlatformSignOutTests {
    static let webSessions = """
        CREATE TABLE public.web_sessions (session_key text PRIMARY KEY, account_id bigint NOT NULL, expires_at timestamptz NOT NULL);
        INSERT INTO public.web_sessions
        SELECT encode(sha256(convert_to('alice-cookie', 'UTF8')), 'hex'), id, now() + interval '1 hour' FROM public.accounts WHERE login = 'alice';
        """

    func withPlatformAndChat(_ body: @Sendable (Browser, Browser, TestDatabases, ContractServer) async throws -> Void) async throws {
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
            let gateway = "http://127.0.0.1:\(browser.port)"
            try await chat.control("config", [
                "gitlab_enable": true, "gitlab_id": "mattermost-sso", "gitlab_secret": secret, "gitlab_auth_endpoint": gateway + "/oauth/authorize",
                "gitlab_token_endpoint": gateway + "/oauth/token", "gitlab_user_api_endpoint": gateway + "/api/v4/user",
            ])
            try await body(browser, try chat.browser(), databases, chat)
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
            // recheck_interval 1 s, the watcher's pause 0.5 s, the outbox's poll 0.2 s, and a loaded machine.
            #expect(elapsed < .seconds(5), "the platform sign-out reached chat after \(elapsed)")
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
}
