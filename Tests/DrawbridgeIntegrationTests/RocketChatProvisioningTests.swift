import DrawbridgeCore
import DrawbridgeServer
import Foundation
import Testing

/// Chat account provisioning for Rocket.Chat, against the Rocket.Chat contract server
/// (Tests/contract-servers/rocketchat_contract_server.py, written from contracts/chat-servers.md §4 — a
/// stand-in, because Rocket.Chat cannot run here). Its Custom OAuth login runs against the live gateway.
@Suite struct RocketChatProvisioningTests {
    static let oauthName = "drawbridge"

    func withRocketChat(
        _ body: @Sendable (Browser, AppDependencies, TestDatabases, ContractServer) async throws -> Void
    ) async throws {
        let chat = try ContractServer(script: "rocketchat_contract_server.py", arguments: [
            "--admin-user-id", "adminUserId000001", "--oauth-name", Self.oauthName, "--identity-path", "/oauth/userinfo",
            "--identity-token-sent-via", "header", "--scope", "openid profile email", "--username-field", "preferred_username",
            "--email-field", "email", "--name-field", "name", "--merge-users", "true", "--login-style", "redirect",
        ])
        defer { chat.stop() }
        try await OAuthTestSupport.withGateway(configure: { configuration in
            configuration.provisioning = ProvisioningConfiguration(
                connectors: [.rocketchat(name: "rocketchat", RocketChatConnector.Settings(
                    url: chat.url, token: chat.adminToken, userID: "adminUserId000001", timeout: .seconds(3)
                ))],
                settings: ProvisioningSettings(waitBudget: .seconds(8), maxAttempts: 5, concurrency: 4, pollInterval: .milliseconds(200))
            )
        }) { browser, dependencies, databases in
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: "rocketchat-sso", redirectURIs: [chat.url + "/_oauth/\(Self.oauthName)"]))
            try await chat.control("config", ["url": "http://127.0.0.1:\(browser.port)", "id": "rocketchat-sso", "secret": secret])
            try await body(browser, dependencies, databases, chat)
        }
    }

    @Test func firstSignInCreatesTheAccountAndRocketChatsOAuthLoginMergesIntoIt() async throws {
        try await withRocketChat { browser, _, databases, chat in
            #expect(try await browser.signIn(username: "alice", password: PlatformFixture.password).status == 303)
            let created = try #require(try await chat.user(named: "alice"), "account created during sign-in")
            #expect(created["name"] as? String == "Alice Liddell")
            #expect((created["emails"] as? [[String: Any]])?.first?["address"] as? String == "alice@example.com")
            #expect(created["active"] as? Bool == true)
            #expect(try await ProvisioningTests.jobs(databases) == ["provision:done:"])

            // Rocket.Chat's Custom OAuth login, through Drawbridge (already signed in: no form), lands on that account.
            let chatBrowser = try chat.browser()
            let start = try await chatBrowser.get("/_contract_oauth_start/\(Self.oauthName)?redirectUrl=%2Fhome")
            #expect(start.locationPort == browser.port, "to Drawbridge's authorize endpoint: \(start.location ?? "")")
            let authorized = try await browser.get(try #require(start.locationPath))
            #expect(authorized.locationPort == chat.port, "straight back to Rocket.Chat, no page: \(authorized.status) \(authorized.location ?? "")")
            let callback = try await chatBrowser.get(try #require(authorized.locationPath))
            #expect(callback.status == 302, "\(callback.status) \(callback.body.prefix(300))")
            #expect(chatBrowser.cookies["rc_uid"] == created["_id"] as? String, "signed in as the provisioned account")
            let state = try await chat.users().filter { ($0["emails"] as? [[String: Any]])?.first?["address"] as? String == "alice@example.com" }
            #expect(state.count == 1, "no second account")
            let services = state.first?["services"] as? [String: Any]
            #expect((services?[Self.oauthName] as? [String: Any])?["id"] as? String == "1", "linked to the OIDC sub")
        }
    }

    @Test func anAccountOwnedBySomeoneElseIsReportedNotTakenOver() async throws {
        try await withRocketChat { browser, _, databases, chat in
            try await chat.control("users", ["username": "erin", "email": "someone.else@example.com", "name": "Another Erin"])
            _ = try await browser.signIn(username: "erin", password: PlatformFixture.password)
            let jobs = try await ProvisioningTests.jobs(databases)
            #expect(jobs.first?.hasPrefix("provision:failed:the rocketchat username erin belongs to another account (someone.else@example.com)") == true, "\(jobs)")
            #expect(try await chat.user(named: "erin")?["name"] as? String == "Another Erin", "untouched")
        }
    }

    @Test func deactivationReachesRocketChatAndEndsItsSessions() async throws {
        try await withRocketChat { browser, dependencies, _, chat in
            _ = try await browser.signIn(username: "alice", password: PlatformFixture.password)
            let id = try #require(try await chat.user(named: "alice")?["_id"] as? String)
            try await chat.control("sessions", ["user_id": id])
            await dependencies.provisioning?.deactivate(userID: "1", login: "alice")
            var deactivated = false
            for _ in 0..<50 where !deactivated {
                try await Task.sleep(for: .milliseconds(100))
                deactivated = try await chat.user(named: "alice")?["active"] as? Bool == false
            }
            #expect(deactivated)
            let services = try await chat.user(named: "alice")?["services"] as? [String: Any]
            let tokens = ((services?["resume"] as? [String: Any])?["loginTokens"] as? [Any]) ?? []
            #expect(tokens.isEmpty, "login tokens removed")
        }
    }
}
