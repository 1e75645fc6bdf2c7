import DrawbridgeCore
import DrawbridgeServer
import Foundation
import Testing

/// Password guessing is slowed at the sign-in form and the password grant: after too many failures per
/// user name or per real client address (behind a trusted proxy, the X-Forwarded-For one), attempts are
/// refused with 429 and Retry-After before any hash is computed, for known and unknown names alike.
@Suite struct SignInThrottleFlowTests {
    func withThrottle(_ body: @Sendable (Browser, AppDependencies) async throws -> Void) async throws {
        try await OAuthTestSupport.withGateway(configure: { configuration in
            configuration.loginThrottle = SignInThrottle.Settings(userFailures: 3, addressFailures: 6, window: .seconds(60))
        }) { browser, dependencies, _ in try await body(browser, dependencies) }
    }

    func attempt(_ browser: Browser, _ username: String, _ password: String, from address: String) async throws -> WebResponse {
        let form = try await browser.get("/login", headers: [("X-Forwarded-For", address)])
        let csrf = try #require(form.hiddenField("csrf"))
        return try await browser.post("/login", form: ["username": username, "password": password, "csrf": csrf], headers: [("X-Forwarded-For", address)])
    }

    @Test func aGuessedNameIsThrottledKnownOrNotAndTheRightPasswordWaitsToo() async throws {
        try await withThrottle { browser, _ in
            for name in ["alice", "nobody"] {
                for _ in 0..<3 {
                    let failed = try await attempt(browser, name, "wrong", from: "203.0.113.\(name.count)")
                    #expect(failed.status == 401)
                }
                let throttled = try await attempt(browser, name, PlatformFixture.password, from: "203.0.113.99")
                #expect(throttled.status == 429, "\(name)")
                #expect(throttled.header("Retry-After").flatMap(Int.init).map { (1...60).contains($0) } == true, "\(throttled.header("Retry-After") ?? "none")")
                #expect(throttled.body.contains("Too many failed sign-ins") && throttled.body.contains("role=\"alert\""))
                #expect(throttled.setCookie(named: "drawbridge_session") == nil)
            }
            // Someone else signs in from the same place.
            #expect(try await attempt(browser, "erin", PlatformFixture.password, from: "203.0.113.5").status == 303)
        }
    }

    @Test func anAddressIsThrottledByTheRealClientAddress() async throws {
        try await withThrottle { browser, _ in
            for index in 0..<6 {
                let failed = try await attempt(browser, "user\(index)", "wrong", from: "198.51.100.7")
                #expect(failed.status == 401)
            }
            #expect(try await attempt(browser, "erin", PlatformFixture.password, from: "198.51.100.7").status == 429)
            #expect(try await attempt(browser, "erin", PlatformFixture.password, from: "198.51.100.8").status == 303, "another client behind the same proxy is not affected")
        }
    }

    @Test func thePasswordGrantIsThrottledTheSameWay() async throws {
        try await withThrottle { browser, dependencies in
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: "legacy-app", grants: [.password]))
            func grant(_ password: String) async throws -> WebResponse {
                try await OAuthTestSupport.tokenRequest(browser, [
                    "grant_type": "password", "username": "carol", "password": password, "client_id": "legacy-app", "client_secret": secret,
                ])
            }
            for _ in 0..<3 {
                let wrong = try await grant("wrong")
                #expect(wrong.status == 400)
            }
            let refused = try await grant(PlatformFixture.password)
            #expect(refused.status == 429)
            #expect(refused.header("Retry-After") != nil)
            #expect(OAuthTestSupport.json(refused)["access_token"] == nil)
        }
    }
}
