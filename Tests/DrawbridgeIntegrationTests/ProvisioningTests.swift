import DrawbridgeCore
import DrawbridgeServer
import Foundation
import Testing

/// Chat account provisioning through the outbox, against the Mattermost contract server
/// (Tests/contract-servers/mattermost_contract_server.py, written from contracts/chat-servers.md §1.10–1.12
/// and §3 — a stand-in, because Mattermost cannot run here).
@Suite struct ProvisioningTests {
    func withMattermost(
        configure: (inout DrawbridgeConfiguration) -> Void = { _ in },
        _ body: @Sendable (Browser, AppDependencies, TestDatabases, ContractServer) async throws -> Void
    ) async throws {
        let chat = try ContractServer(script: "mattermost_contract_server.py", arguments: ["--team", "town:off-topic"])
        defer { chat.stop() }
        try await OAuthTestSupport.withGateway(configure: { configuration in
            configuration.provisioning = ProvisioningConfiguration(
                connectors: [.mattermost(name: "mattermost", MattermostConnector.Settings(
                    url: chat.url, token: chat.adminToken, teams: ["town"], channels: ["town:off-topic"], timeout: .seconds(3)
                ))],
                settings: ProvisioningSettings(waitBudget: .seconds(8), maxAttempts: 5, concurrency: 4, pollInterval: .milliseconds(200))
            )
            configure(&configuration)
        }) { browser, dependencies, databases in
            try await body(browser, dependencies, databases, chat)
        }
    }

    static func jobs(_ databases: TestDatabases) async throws -> [String] {
        try await TestDatabases.strings("SELECT action || ':' || state || ':' || coalesce(last_error, '') FROM drawbridge.provisioning_jobs ORDER BY id", on: databases.drawbridgeURL)
    }

    @Test func firstSignInCreatesTheSSOAccountInTheRightTeam() async throws {
        try await withMattermost { browser, dependencies, databases, chat in
            let response = try await browser.signIn(username: "alice", password: PlatformFixture.password)
            #expect(response.status == 303)
            // The sign-in waited for the account (budget 8 s here, generous for a loaded CI machine): it is there now.
            let user = try #require(try await chat.user(named: "alice"), "account created during sign-in")
            #expect(user["auth_service"] as? String == "gitlab")
            #expect(user["auth_data"] as? String == "1", "auth_data is the integer id /api/v4/user returns")
            #expect(user["email"] as? String == "alice@example.com")
            #expect(user["first_name"] as? String == "Alice")
            #expect(user["last_name"] as? String == "Liddell")
            let state = try await chat.state()
            let members = state["team_members"] as? [[String: Any]] ?? []
            #expect(members.contains { $0["user_id"] as? String == user["id"] as? String }, "joined the default team")
            #expect(try await Self.jobs(databases) == ["provision:done:"])
            let mapping = try await TestDatabases.strings("SELECT chat_user_id FROM drawbridge.chat_accounts WHERE platform_user_id = '1'", on: databases.drawbridgeURL)
            #expect(mapping == [user["id"] as? String ?? "?"])
            // A second sign-in does not create anything again.
            _ = try await Browser(port: browser.port, publicURL: browser.publicURL).signIn(username: "alice", password: PlatformFixture.password)
            #expect(try await chat.users().filter { $0["username"] as? String == "alice" }.count == 1)
        }
    }

    @Test func mattermostsOwnGitLabLoginFindsTheProvisionedAccount() async throws {
        try await withMattermost { browser, dependencies, _, chat in
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: "mattermost-sso", redirectURIs: [chat.url + "/signup/gitlab/complete"]))
            try await chat.enableGitLabSSO(gateway: "http://127.0.0.1:\(browser.port)", clientID: "mattermost-sso", secret: secret)
            _ = try await browser.signIn(username: "alice", password: PlatformFixture.password)
            let provisioned = try #require(try await chat.user(named: "alice"))

            // The user clicks "GitLab" in Mattermost: to Drawbridge (signed in, trusted client: no page), back with a code.
            let chatBrowser = try chat.browser()
            let start = try await chatBrowser.get("/oauth/gitlab/login")
            #expect(start.locationPort == browser.port, "\(start.status) \(start.location ?? "")")
            let authorized = try await browser.get(try #require(start.locationPath))
            #expect(authorized.locationPort == chat.port, "\(authorized.status) \(authorized.location ?? "")")
            let completed = try await chatBrowser.get(try #require(authorized.locationPath))
            #expect(completed.status == 307, "Mattermost's redirect after a login: \(completed.status) \(completed.header("X-Contract-Error-Id") ?? "") \(completed.body.prefix(300))")
            #expect(chatBrowser.cookies["MMUSERID"] == provisioned["id"] as? String, "signed in as the provisioned account")
            #expect(chatBrowser.cookies["MMAUTHTOKEN"] != nil)
            #expect(try await chat.users().filter { $0["email"] as? String == "alice@example.com" }.count == 1, "no second account")
        }
    }

    @Test func chatDownDelaysProvisioningButNeverTheSignIn() async throws {
        try await withMattermost { browser, _, databases, chat in
            // Chat stays down until the test says otherwise, so a sign-in that waited for
            // chat could never come back: its answer proves the wait budget bounds it.
            try await chat.control("down", ["seconds": 600])
            let response = try await browser.signIn(username: "erin", password: PlatformFixture.password)
            #expect(response.status == 303, "the sign-in succeeds while chat is down")
            #expect(try await chat.state()["down"] as? Bool == true, "chat was still down when the sign-in answered")
            let queued = try await Self.jobs(databases)
            #expect(queued.first?.hasPrefix("provision:pending:chat server unavailable") == true, "\(queued)")
            // Once chat is back, the retry lands.
            try await chat.control("up")
            var done = false
            for _ in 0..<100 where !done {
                try await Task.sleep(for: .milliseconds(200))
                done = try await Self.jobs(databases) == ["provision:done:"]
            }
            let final = try await Self.jobs(databases)
            #expect(done, "\(final)")
            #expect(try await chat.user(named: "erin")?["auth_data"] as? String == "2")
        }
    }

    @Test func aPasswordAccountOwningTheEmailIsAReportedClashNotATakeover() async throws {
        try await withMattermost { browser, _, databases, chat in
            try await chat.control("users", ["username": "carol.old", "email": "carol@example.com", "password": "Secret-123"])
            _ = try await browser.signIn(username: "carol", password: PlatformFixture.password)
            let jobs = try await Self.jobs(databases)
            #expect(jobs.count == 1)
            #expect(jobs.first?.hasPrefix("provision:failed:the email carol@example.com belongs to an existing mattermost password account (carol.old); set link_existing: email") == true, "\(jobs)")
            #expect(try await chat.user(named: "carol.old")?["auth_service"] as? String == "", "untouched")
        }
    }

    @Test func aForeignAccountWithTheUsernameIsAReportedClash() async throws {
        try await withMattermost { browser, _, databases, chat in
            try await chat.control("users", ["username": "erin", "email": "other.erin@example.org", "password": "Secret-123"])
            _ = try await browser.signIn(username: "erin", password: PlatformFixture.password)
            let jobs = try await Self.jobs(databases)
            #expect(jobs.first?.hasPrefix("provision:failed:the mattermost username erin belongs to another account (other.erin@example.org); not taken over") == true, "\(jobs)")
            #expect(try await chat.users().filter { $0["username"] as? String == "erin" }.count == 1)
        }
    }

    @Test func linkExistingByEmailLinksThePasswordAccount() async throws {
        try await withMattermost(configure: { configuration in
            if case .mattermost(let name, var settings) = configuration.provisioning.connectors[0] {
                settings.linkExistingByEmail = true
                configuration.provisioning.connectors[0] = .mattermost(name: name, settings)
            }
        }) { browser, _, databases, chat in
            try await chat.control("users", ["username": "carol", "email": "carol@example.com", "password": "Secret-123"])
            _ = try await browser.signIn(username: "carol", password: PlatformFixture.password)
            #expect(try await Self.jobs(databases) == ["provision:done:"])
            let carol = try #require(try await chat.user(named: "carol"))
            #expect(carol["auth_service"] as? String == "gitlab")
            #expect(carol["auth_data"] as? String == "3")
        }
    }

    @Test func aDeactivatedPlatformUserIsDeactivatedInChat() async throws {
        try await withMattermost { browser, dependencies, databases, chat in
            _ = try await browser.signIn(username: "alice", password: PlatformFixture.password)
            try await OAuthTestSupport.register(dependencies, id: "mm-client", redirectURIs: [OAuthTestSupport.chatRedirect])
            try await TestDatabases.execute("UPDATE public.accounts SET is_active = false WHERE login = 'alice'", on: databases.platformURL)
            // Chat's next sign-in attempt finds the session's user inactive: no code, and chat follows.
            let authorize = try await browser.get("/oauth/authorize?response_type=code&client_id=mm-client&state=s")
            #expect(authorize.location.flatMap { OAuthTestSupport.goQueryGet($0, "error") } == "access_denied")
            var deactivated = false
            for _ in 0..<50 where !deactivated {
                try await Task.sleep(for: .milliseconds(100))
                deactivated = (try await chat.user(named: "alice")?["delete_at"] as? Int ?? 0) > 0
            }
            #expect(deactivated)
        }
    }
}
