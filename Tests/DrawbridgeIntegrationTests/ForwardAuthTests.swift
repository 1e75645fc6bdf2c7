import DrawbridgeCore
import Foundation
import Testing

/// `GET /auth/verify` as nginx `auth_request` (401 style) and Traefik/Caddy (redirect style) use it.
@Suite struct ForwardAuthTests {
    @Test func identityHeadersForASessionAnd401OrRedirectWithout() async throws {
        try await OAuthTestSupport.withGateway { browser, _, _ in
            let anonymous = try await browser.get("/auth/verify")
            #expect(anonymous.status == 401)
            // Traefik/Caddy style: back to the sign-in page with the original URL (from the trusted proxy's headers).
            let redirect = try await browser.get("/auth/verify?mode=redirect", headers: [
                ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "wiki.example.com"), ("X-Forwarded-Uri", "/page?x=1"), ("X-Forwarded-Method", "GET"),
            ])
            #expect(redirect.status == 302)
            #expect(redirect.location == "https://sso.example.com/login?rd=https%3A%2F%2Fwiki.example.com%2Fpage%3Fx%3D1")
            // An original URL outside the cookie domain is not carried along.
            let foreign = try await browser.get("/auth/verify?mode=redirect", headers: [("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "evil.test")])
            #expect(foreign.location == "https://sso.example.com/login")

            _ = try await browser.signIn(username: "alice", password: PlatformFixture.password)
            let verified = try await browser.get("/auth/verify")
            #expect(verified.status == 200)
            #expect(verified.header("Remote-User") == "alice")
            #expect(verified.header("Remote-Email") == "alice@example.com")
            #expect(verified.header("Remote-Name") == "Alice Liddell")
            #expect(verified.header("Cache-Control") == "no-store")
        }
    }

    @Test func burstsDoNotWriteAndSignOutIsHonoured() async throws {
        try await OAuthTestSupport.withGateway { browser, _, databases in
            _ = try await browser.signIn(username: "erin", password: PlatformFixture.password)
            let before = try await TestDatabases.strings("SELECT last_seen_at::text FROM drawbridge.sessions", on: databases.drawbridgeURL)
            for _ in 0..<50 { #expect(try await browser.get("/auth/verify").status == 200) }
            #expect(try await TestDatabases.strings("SELECT last_seen_at::text FROM drawbridge.sessions", on: databases.drawbridgeURL) == before, "no write per request")
            let home = try await browser.get("/")
            let csrf = try #require(home.hiddenField("csrf"))
            let token = try #require(browser.sessionToken)
            _ = try await browser.post("/logout", form: ["csrf": csrf])
            browser.setCookie("drawbridge_session", token)
            // Signed out on this replica: refused at once, even replaying the old cookie.
            #expect(try await browser.get("/auth/verify").status == 401)
        }
    }
}
