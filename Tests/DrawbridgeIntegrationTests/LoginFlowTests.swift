import DrawbridgeCore
import Foundation
import Testing

/// Sign-in, sessions and sign-out over a live socket, against real PostgreSQL databases.
@Suite struct LoginFlowTests {
    /// A gateway over a fresh platform (`platform`: its tables and users) whose database `body` must leave
    /// exactly as it found it.
    func withGateway(
        platform: String = PlatformFixture.accountsTable,
        hashing: HashingSettings = HashingSettings(threads: 2, queueLimit: 16),
        configure: (inout DrawbridgeConfiguration) -> Void = { _ in },
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: @Sendable (Browser, TestDatabases) async throws -> Void
    ) async throws {
        try await TestDatabases.withPlatform(platform, sourceLocation: sourceLocation) { databases in
            var configuration = try DrawbridgeConfiguration.test(databases, hashing: hashing)
            configure(&configuration)
            try await LiveGateway.run(configuration) { browser in
                try await body(browser, databases)
            }
        }
    }

    static func sessionRows(_ databases: TestDatabases) async throws -> [String] {
        try await TestDatabases.strings("SELECT encode(id_hash, 'hex') FROM drawbridge.sessions ORDER BY created_at", on: databases.drawbridgeURL)
    }

    static func sha256Hex(_ token: String) -> String {
        SecretToken(presented: token)!.digest.map { String(format: "%02x", $0) }.joined()
    }

    @Test func loginPageIsAnAccessibleFormWithCSRFAndSecurityHeaders() async throws {
        try await withGateway { browser, _ in
            let page = try await browser.get("/login?rd=https%3A%2F%2Fchat.example.com%2F")
            #expect(page.status == 200)
            #expect(page.header("Content-Type") == "text/html; charset=utf-8")
            #expect(page.header("Cache-Control") == "no-store")
            #expect(page.header("X-Frame-Options") == "DENY")
            #expect(page.header("Referrer-Policy") == "no-referrer")
            let csp = page.header("Content-Security-Policy") ?? ""
            #expect(csp.contains("frame-ancestors 'none'"))
            #expect(csp.contains("default-src 'none'"))
            #expect(!csp.contains("unsafe-inline"))
            #expect(!page.body.contains("<script"))
            #expect(page.body.contains(#"<label for="username">"#))
            #expect(page.body.contains(#"<label for="password">"#))
            #expect(page.body.contains(#"autocomplete="current-password""#))
            #expect(page.hiddenField("rd") == "https://chat.example.com/")
            let csrf = try #require(page.hiddenField("csrf"))
            let cookie = try #require(page.setCookie(named: "__Host-drawbridge_csrf"))
            #expect(cookie.value != csrf, "the page carries a MAC of the cookie, not the cookie")
            #expect(cookie.attributes["domain"] == nil)
            #expect(cookie.attributes.keys.contains("httponly"))
            #expect(cookie.attributes.keys.contains("secure"))
            #expect(cookie.attributes["path"] == "/")
        }
    }

    @Test func signInByLoginOrEmailInAnyCaseSetsTheSharedDomainCookie() async throws {
        try await withGateway { browser, databases in
            let response = try await browser.signIn(username: "ALICE@example.COM", password: PlatformFixture.password, rd: "https://chat.example.com/oauth/gitlab/login")
            #expect(response.status == 303)
            #expect(response.location == "https://chat.example.com/oauth/gitlab/login")
            let cookie = try #require(response.setCookie(named: "drawbridge_session"))
            #expect(cookie.attributes["domain"] == "example.com")
            #expect(cookie.attributes["path"] == "/")
            #expect(cookie.attributes["samesite"] == "Lax")
            #expect(cookie.attributes.keys.contains("httponly"))
            #expect(cookie.attributes.keys.contains("secure"))
            // Only the SHA-256 of the id is stored.
            #expect(try await Self.sessionRows(databases) == [Self.sha256Hex(cookie.value)])
            let home = try await browser.get("/")
            #expect(home.status == 200)
            #expect(home.body.contains("Alice Liddell"))
            // A signed-in browser asking for the form goes straight on.
            let again = try await browser.get("/login?rd=https%3A%2F%2Fchat.example.com%2F")
            #expect(again.status == 303)
            #expect(again.location == "https://chat.example.com/")
        }
        try await withGateway { browser, _ in
            let byLogin = try await browser.signIn(username: "erin", password: PlatformFixture.password)
            #expect(byLogin.status == 303)
            #expect(byLogin.location == "https://sso.example.com/")
        }
    }

    /// The second platform shape: UUID ids in another schema, users found by the operator's own lookup query
    /// (`directory.lookup_query`) rather than a table and column mapping.
    @Test func signInThroughALookupQueryWithUUIDIds() async throws {
        try await withGateway(platform: PlatformFixture.uuidTable, configure: {
            $0.directory.source = .lookupQuery(PlatformFixture.uuidLookupQuery)
        }) { browser, databases in
            for typed in ["zed", "ZED@example.NET"] {
                let fresh = Browser(port: browser.port, publicURL: browser.publicURL)
                let response = try await fresh.signIn(username: typed, password: PlatformFixture.password)
                #expect(response.status == 303, "\(typed)")
                #expect(response.location == "https://sso.example.com/")
                #expect(response.setCookie(named: "drawbridge_session") != nil)
                #expect(try await fresh.get("/").body.contains("Zed Zulu"))
            }
            let zed = "6f1c1c3e-0d9b-4f7e-9a43-2a8b5f0c7d11"
            #expect(try await TestDatabases.strings("SELECT user_id FROM drawbridge.sessions", on: databases.drawbridgeURL) == [zed, zed])

            // Yan is inactive (status 0): the right password gets exactly what a wrong one gets.
            let wrong = try await browser.signIn(username: "zed", password: "wrong")
            let inactive = try await browser.signIn(username: "yan", password: PlatformFixture.password)
            for response in [wrong, inactive] {
                #expect(response.status == 401)
                #expect(response.setCookie(named: "drawbridge_session") == nil)
                #expect(response.body.contains("Incorrect user name or password."))
            }
            #expect(wrong.body.replacingOccurrences(of: #"value="zed""#, with: "USER") == inactive.body.replacingOccurrences(of: #"value="yan""#, with: "USER"))
            #expect(try await TestDatabases.strings("SELECT count(*)::text FROM drawbridge.sessions", on: databases.drawbridgeURL) == ["2"])
        }
    }

    @Test func wrongPasswordUnknownUserAndInactiveUserLookTheSame() async throws {
        try await withGateway { browser, databases in
            var bodies: [String] = []
            for (user, password) in [("alice", "wrong"), ("nobody-here", "wrong"), ("frank", PlatformFixture.password), ("nohash", "x"), ("legacy", "hunter2")] {
                let response = try await browser.signIn(username: user, password: password)
                #expect(response.status == 401, "\(user)")
                #expect(response.setCookie(named: "drawbridge_session") == nil)
                #expect(response.body.contains("Incorrect user name or password."))
                bodies.append(response.body.replacingOccurrences(of: "value=\"\(user)\"", with: "value=\"USER\""))
            }
            #expect(Set(bodies).count == 1, "every failure renders the same page")
            #expect(try await Self.sessionRows(databases).isEmpty)
        }
    }

    @Test func missingOrWrongCSRFIsRefusedWithoutASession() async throws {
        try await withGateway { browser, databases in
            _ = try await browser.get("/login")
            let missing = try await browser.post("/login", form: ["username": "alice", "password": PlatformFixture.password])
            #expect(missing.status == 403)
            #expect(missing.setCookie(named: "drawbridge_session") == nil)
            let wrong = try await browser.post("/login", form: ["username": "alice", "password": PlatformFixture.password, "csrf": "forged"])
            #expect(wrong.status == 403)
            // A token from another browser (another CSRF cookie) is no good either.
            let other = Browser(port: browser.port, publicURL: browser.publicURL)
            let otherToken = try #require(try await other.get("/login").hiddenField("csrf"))
            let crossed = try await browser.post("/login", form: ["username": "alice", "password": PlatformFixture.password, "csrf": otherToken])
            #expect(crossed.status == 403)
            #expect(try await Self.sessionRows(databases).isEmpty)
        }
    }

    @Test(arguments: [
        "https://evil.test/",
        "https://example.com.evil.test/",
        "//evil.test/",
        "http://chat.example.com/",
        "https://chat.example.com@evil.test/",
    ])
    func unsafeRedirectTargetsFallBackToTheDefaultPage(_ rd: String) async throws {
        try await withGateway { browser, _ in
            let response = try await browser.signIn(username: "alice", password: PlatformFixture.password, rd: rd)
            #expect(response.status == 303)
            #expect(response.location == "https://sso.example.com/")
        }
    }

    @Test func logoutEndsTheSessionAndClearsTheCookie() async throws {
        try await withGateway { browser, databases in
            let first = try await browser.signIn(username: "alice", password: PlatformFixture.password)
            let firstToken = try #require(first.setCookie(named: "drawbridge_session")?.value)
            // Logout needs the CSRF token from a page of this session.
            let refused = try await browser.post("/logout", form: ["csrf": "nope"])
            #expect(refused.status == 403)
            #expect(try await Self.sessionRows(databases).count == 1)
            let home = try await browser.get("/")
            let csrf = try #require(home.hiddenField("csrf"))
            let out = try await browser.post("/logout", form: ["csrf": csrf])
            #expect(out.status == 303)
            let cleared = try #require(out.setCookie(named: "drawbridge_session"))
            #expect(cleared.value.isEmpty)
            #expect(cleared.attributes["max-age"] == "0")
            #expect(cleared.attributes["domain"] == "example.com")
            #expect(try await Self.sessionRows(databases).isEmpty)
            // The old id is dead even if replayed.
            browser.setCookie("drawbridge_session", firstToken)
            #expect(try await browser.get("/").status == 303)
            // Signing in again gives a new id.
            let second = try await browser.signIn(username: "alice", password: PlatformFixture.password)
            let secondToken = try #require(second.setCookie(named: "drawbridge_session")?.value)
            #expect(secondToken != firstToken)
        }
    }

    @Test func aNewSignInReplacesTheBrowsersPreviousSession() async throws {
        try await withGateway { browser, databases in
            // Two sign-ins from forms loaded before either (an old tab): the second replaces the first.
            let csrf = try #require(try await browser.get("/login").hiddenField("csrf"))
            let first = try await browser.post("/login", form: ["username": "alice", "password": PlatformFixture.password, "csrf": csrf])
            let second = try await browser.post("/login", form: ["username": "erin", "password": PlatformFixture.password, "csrf": csrf])
            let firstToken = try #require(first.setCookie(named: "drawbridge_session")?.value)
            let secondToken = try #require(second.setCookie(named: "drawbridge_session")?.value)
            #expect(firstToken != secondToken)
            #expect(try await Self.sessionRows(databases) == [Self.sha256Hex(secondToken)])
        }
    }

    @Test func operationsEndpoints() async throws {
        try await withGateway { browser, _ in
            let health = try await browser.get("/healthz")
            #expect(health.status == 200)
            let ready = try await browser.get("/readyz")
            #expect(ready.status == 200)
            _ = try await browser.signIn(username: "alice", password: "wrong")
            let metrics = try await browser.get("/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.body.contains(#"drawbridge_logins_total{result="wrong_password"}"#))
            #expect(metrics.body.contains("drawbridge_http_requests_total"))
            #expect(metrics.body.contains("drawbridge_hash_pool_wait_seconds"))
        }
    }
}
