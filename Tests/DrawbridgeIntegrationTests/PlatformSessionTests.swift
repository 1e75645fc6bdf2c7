import DrawbridgeCore
import DrawbridgeServer
import Foundation
import Testing

/// Platform-first sign-in: the platform's own session cookie and sessions table (here a `web_sessions`
/// table beside the fixture's accounts, keyed by the SHA-256 of the cookie as many frameworks store it)
/// open a Drawbridge session with no form, and a platform sign-out ends it.
@Suite struct PlatformSessionTests {
    static let redirect = "https://chat.example.com/signup/gitlab/complete"
    static let webSessions = """
        CREATE TABLE public.web_sessions (session_key text PRIMARY KEY, account_id bigint NOT NULL, expires_at timestamptz NOT NULL);
        INSERT INTO public.web_sessions
        SELECT encode(sha256(convert_to(k, 'UTF8')), 'hex'), a.id, now() + interval '1 hour'
        FROM (VALUES ('alice-cookie', 'alice'), ('erin-cookie', 'erin'), ('frank-cookie', 'frank')) AS s(k, login)
        JOIN public.accounts a ON a.login = s.login;
        INSERT INTO public.web_sessions
        SELECT encode(sha256(convert_to('stale-cookie', 'UTF8')), 'hex'), id, now() - interval '1 minute' FROM public.accounts WHERE login = 'alice';
        """

    func withBridge(_ body: @Sendable (Browser, AppDependencies, TestDatabases) async throws -> Void) async throws {
        try await OAuthTestSupport.withGateway(configure: { configuration in
            configuration.platformSession = PlatformSessionSettings(
                cookieName: "app_session", query: "SELECT account_id FROM public.web_sessions WHERE session_key = $1 AND expires_at > now()",
                hash: .sha256, recheckInterval: .seconds(1)
            )
        }) { browser, dependencies, databases in
            try await TestDatabases.execute(Self.webSessions, on: databases.platformURL)
            try await OAuthTestSupport.register(dependencies, id: "mattermost-sso", redirectURIs: [Self.redirect])
            try await body(browser, dependencies, databases)
        }
    }

    static let authorizePath = "/oauth/authorize?response_type=code&client_id=mattermost-sso&redirect_uri=\(RedirectURIBuilder.percentEncode(redirect))&state=s1"

    @Test func thePlatformsCookieSignsInWithNoFormAndItsSignOutEndsTheSession() async throws {
        try await withBridge { browser, _, databases in
            browser.setCookie("app_session", "alice-cookie")
            // Chat's SSO start lands straight back at chat with a code: no form.
            let authorize = try await browser.get(Self.authorizePath)
            #expect(authorize.status == 302, "\(authorize.status) \(authorize.body.prefix(200))")
            #expect(authorize.location?.hasPrefix(Self.redirect + "?code=") == true, "\(authorize.location ?? "-")")
            let cookie = try #require(authorize.setCookie(named: "drawbridge_session"), "a Drawbridge session of its own")
            #expect(cookie.attributes["domain"] == "example.com" && cookie.attributes["httponly"] != nil)
            #expect(try await browser.get("/").body.contains("alice"))
            let verify = try await browser.get("/auth/verify")
            #expect(verify.status == 200 && verify.header("Remote-User") == "alice")

            // The platform signs alice out: within recheck_interval, Drawbridge's session ends too.
            try await TestDatabases.execute("DELETE FROM public.web_sessions WHERE account_id = (SELECT id FROM public.accounts WHERE login = 'alice')", on: databases.platformURL)
            try await Task.sleep(for: .milliseconds(2100))  // recheck_interval 1 s, plus forward auth's one-second cache
            #expect(try await browser.get("/auth/verify").status == 401)
            #expect(try await browser.get("/").status == 303)
            #expect(try await browser.get(Self.authorizePath).status == 200, "chat's next sign-in shows the form")
        }
    }

    @Test func forwardAuthOpensTheSessionAndHandsTheCookieOn() async throws {
        try await withBridge { browser, _, _ in
            browser.setCookie("app_session", "erin-cookie")
            let verify = try await browser.get("/auth/verify")
            #expect(verify.status == 200)
            #expect(verify.header("Remote-User") == "erin")
            #expect(verify.setCookie(named: "drawbridge_session") != nil, "for proxies that pass Set-Cookie on")
            // The next request uses the session it opened: no second one.
            let again = try await browser.get("/auth/verify")
            #expect(again.status == 200 && again.setCookie(named: "drawbridge_session") == nil)
        }
    }

    /// Caddy's forward_auth and Traefik before 3.1 do not pass the check's Set-Cookie to the browser, so the
    /// browser keeps coming with only the platform's cookie: one Drawbridge session serves all those requests.
    @Test func aProxyThatDropsTheCookieStillCostsOneSession() async throws {
        try await withBridge { browser, _, databases in
            for _ in 0..<6 {
                browser.setCookie("drawbridge_session", nil)
                browser.setCookie("app_session", "erin-cookie")
                let verify = try await browser.get("/auth/verify")
                #expect(verify.status == 200 && verify.header("Remote-User") == "erin")
                try await Task.sleep(for: .milliseconds(300))
            }
            let count = "SELECT count(*)::text FROM drawbridge.sessions WHERE login = 'erin'"
            #expect(try await TestDatabases.strings(count, on: databases.drawbridgeURL) == ["1"])
            // The platform signs erin out: after the re-check interval (1 s) that one session ends too.
            try await TestDatabases.execute("DELETE FROM public.web_sessions WHERE account_id = 2", on: databases.platformURL)
            try await Task.sleep(for: .milliseconds(1200))
            browser.setCookie("drawbridge_session", nil)
            #expect(try await browser.get("/auth/verify").status == 401)
            #expect(try await TestDatabases.strings(count, on: databases.drawbridgeURL) == ["0"])
        }
    }

    @Test func unknownExpiredAndInactiveSessionsOpenNothing() async throws {
        try await withBridge { browser, _, _ in
            for value in ["no-such-cookie", "stale-cookie", "frank-cookie", String(repeating: "x", count: 5000)] {
                browser.setCookie("app_session", value)
                let label = String(value.prefix(20))
                let verify = try await browser.get("/auth/verify")
                #expect(verify.status == 401, "\(label)")
                let authorize = try await browser.get(Self.authorizePath)
                #expect(authorize.status == 200, "the form, for \(label)")
                #expect(browser.sessionToken == nil)
            }
        }
    }

    @Test func signingInToThePlatformAsSomeoneElseReplacesTheSession() async throws {
        try await withBridge { browser, _, _ in
            browser.setCookie("app_session", "alice-cookie")
            #expect(try await browser.get("/auth/verify").header("Remote-User") == "alice")
            // At once, not after recheck_interval: the browser no longer holds the cookie alice's session came from.
            browser.setCookie("app_session", "erin-cookie")
            let verify = try await browser.get("/auth/verify")
            #expect(verify.status == 200 && verify.header("Remote-User") == "erin", "\(verify.status) \(verify.header("Remote-User") ?? "-")")
        }
    }
}
