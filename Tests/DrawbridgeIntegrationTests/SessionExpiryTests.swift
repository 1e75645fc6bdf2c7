import DrawbridgeCore
import Foundation
import Testing

/// Sessions end by themselves: after `idle_timeout` without a request, and `absolute_timeout` after sign-in
/// however busy the browser was. Time passes by ageing the session row in Drawbridge's schema, not by waiting.
@Suite struct SessionExpiryTests {
    /// The test gateway's limits (`DrawbridgeConfiguration.test`).
    static let idleSeconds = 3600
    static let absoluteSeconds = 86400

    /// A gateway with Alice signed in on `browser` and her home page answering.
    func withSignedInBrowser(_ body: @Sendable (Browser, TestDatabases) async throws -> Void) async throws {
        try await TestDatabases.withPlatform { databases in
            let configuration = try DrawbridgeConfiguration.test(databases)
            #expect(configuration.session.idleTimeout == .seconds(Self.idleSeconds))
            #expect(configuration.session.absoluteTimeout == .seconds(Self.absoluteSeconds))
            try await LiveGateway.run(configuration) { browser in
                #expect(try await browser.signIn(username: "alice", password: PlatformFixture.password).status == 303)
                #expect(try await browser.get("/").status == 200)
                try await body(browser, databases)
            }
        }
    }

    /// Moves the browser's session row: `seen` seconds since its last request, `created` since sign-in, its
    /// absolute end `expiresIn` seconds from now (negative: past).
    static func age(_ databases: TestDatabases, seen: Int, created: Int, expiresIn: Int) async throws {
        try await TestDatabases.execute(
            """
            UPDATE drawbridge.sessions SET last_seen_at = now() - interval '\(seen) seconds',
                created_at = now() - interval '\(created) seconds', expires_at = now() + interval '\(expiresIn) seconds'
            """,
            on: databases.drawbridgeURL
        )
    }

    /// What a browser whose session has ended sees: sent to sign in, and then shown the form.
    static func expectSignedOut(_ browser: Browser, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let home = try await browser.get("/")
        #expect(home.status == 303, sourceLocation: sourceLocation)
        #expect(home.location == "https://sso.example.com/login", sourceLocation: sourceLocation)
        let form = try await browser.get("/login")
        #expect(form.status == 200, "a signed-in browser would be sent straight on", sourceLocation: sourceLocation)
        #expect(form.hiddenField("csrf") != nil, sourceLocation: sourceLocation)
        #expect(try await browser.get("/auth/verify").status == 401, "a proxy must not let it through either", sourceLocation: sourceLocation)
    }

    @Test func aSessionIdlePastTheIdleTimeoutMustSignInAgain() async throws {
        try await withSignedInBrowser { browser, databases in
            // Just inside the limit: still signed in, and the request counts as activity.
            try await Self.age(databases, seen: Self.idleSeconds - 60, created: Self.idleSeconds, expiresIn: Self.absoluteSeconds - Self.idleSeconds)
            #expect(try await browser.get("/").status == 200)
            let seen = try await TestDatabases.strings(
                "SELECT (last_seen_at > now() - interval '60 seconds')::text FROM drawbridge.sessions", on: databases.drawbridgeURL
            )
            #expect(seen == ["true"], "a request moves the idle deadline on")

            try await Self.age(databases, seen: Self.idleSeconds + 1, created: Self.idleSeconds + 1, expiresIn: Self.absoluteSeconds - Self.idleSeconds - 1)
            try await Self.expectSignedOut(browser)
            #expect(try await browser.signIn(username: "alice", password: PlatformFixture.password).status == 303)
            #expect(try await browser.get("/").status == 200)
        }
    }

    @Test func aSessionPastTheAbsoluteTimeoutEndsEvenIfUsedRecently() async throws {
        try await withSignedInBrowser { browser, databases in
            // Busy all along, a minute before the absolute end: still signed in.
            try await Self.age(databases, seen: 0, created: Self.absoluteSeconds - 60, expiresIn: 60)
            #expect(try await browser.get("/").status == 200)

            try await Self.age(databases, seen: 0, created: Self.absoluteSeconds + 1, expiresIn: -1)
            try await Self.expectSignedOut(browser)
        }
    }
}
