import AsyncHTTPClient
import DrawbridgeCore
import DrawbridgeServer
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// What happens to a chat account after it was made: the platform user's email, name and login change,
/// the user is deactivated and comes back, and Mattermost's own GitLab login meets a password account that
/// Drawbridge was told not to link. Against the Mattermost contract server
/// (Tests/contract-servers/mattermost_contract_server.py), a stand-in written from contracts/chat-servers.md
/// §1.10–1.12 and §3 because Mattermost cannot run here.
@Suite struct ProvisioningUpdateTests {
    /// Polls `condition` every 200 ms for up to `seconds` (generous: CI machines are loaded).
    static func eventually(seconds: Int = 30, _ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<(seconds * 5) {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return try await condition()
    }

    /// The link Drawbridge keeps for platform user `id`: chat_user_id|username|email|name|active.
    static func link(_ databases: TestDatabases, platformUserID: String) async throws -> [String] {
        try await TestDatabases.strings("""
            SELECT chat_user_id || '|' || username || '|' || coalesce(email, '') || '|' || coalesce(name, '') || '|' || active::text
            FROM drawbridge.chat_accounts WHERE connector = 'mattermost' AND platform_user_id = '\(platformUserID)'
            """, on: databases.drawbridgeURL)
    }

    /// The contract server's call log (method, path, status) for paths starting with `prefix`.
    static func calls(_ chat: ContractServer, prefix: String) async throws -> [[String: Any]] {
        let response = try await Browser.http.execute(HTTPClientRequest(url: chat.url + "/__contract__/calls?path_prefix=" + prefix), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 16 << 20)
        return (try JSONSerialization.jsonObject(with: Data(String(buffer: body).utf8)) as? [[String: Any]]) ?? []
    }

    static func clearCalls(_ chat: ContractServer) async throws {
        var request = HTTPClientRequest(url: chat.url + "/__contract__/calls")
        request.method = .DELETE
        _ = try await Browser.http.execute(request, timeout: .seconds(10)).body.collect(upTo: 1 << 20)
    }

    /// Points the contract server's GitLab SSO at the gateway, with a registered client.
    static func connectSSO(_ chat: ContractServer, _ dependencies: AppDependencies, gatewayPort: Int) async throws {
        let secret = try #require(try await OAuthTestSupport.register(dependencies, id: "mattermost-sso", redirectURIs: [chat.url + "/signup/gitlab/complete"]))
        let gateway = "http://127.0.0.1:\(gatewayPort)"
        try await chat.control("config", [
            "gitlab_enable": true, "gitlab_id": "mattermost-sso", "gitlab_secret": secret, "gitlab_auth_endpoint": gateway + "/oauth/authorize",
            "gitlab_token_endpoint": gateway + "/oauth/token", "gitlab_user_api_endpoint": gateway + "/api/v4/user",
        ])
    }

    /// The user clicks "GitLab" on Mattermost's login page while signed in to Drawbridge in `browser`:
    /// Mattermost → Drawbridge (no page for a trusted client) → Mattermost's callback. Returns the callback's answer.
    static func mattermostGitLabLogin(_ chatBrowser: Browser, via browser: Browser, chat: ContractServer) async throws -> WebResponse {
        let start = try await chatBrowser.get("/oauth/gitlab/login")
        #expect(start.locationPort == browser.port, "to Drawbridge: \(start.status) \(start.location ?? "")")
        let authorized = try await browser.get(try #require(start.locationPath))
        #expect(authorized.locationPort == chat.port, "back to Mattermost with a code: \(authorized.status) \(authorized.location ?? "")")
        return try await chatBrowser.get(try #require(authorized.locationPath))
    }

    @Test func aChangedEmailReachesMattermostAndTheLockedNameWaitsForTheNextSSOLogin() async throws {
        try await ProvisioningTests().withMattermost { browser, dependencies, databases, chat in
            #expect(try await browser.signIn(username: "alice", password: PlatformFixture.password).status == 303)
            let created = try #require(try await chat.user(named: "alice"), "account created during the first sign-in")
            let chatID = try #require(created["id"] as? String)
            #expect(try await Self.link(databases, platformUserID: "1") == ["\(chatID)|alice|alice@example.com|Alice Liddell|true"])

            // The platform renames alice (login, name) and gives her a new address.
            try await TestDatabases.execute("""
                UPDATE public.accounts SET login = 'alice.p', email = 'Alice.Pleasance@Example.org', full_name = 'Alice Pleasance' WHERE id = 1
                """, on: databases.platformURL)
            try await Self.clearCalls(chat)
            let again = Browser(port: browser.port, publicURL: browser.publicURL)
            #expect(try await again.signIn(username: "alice.p", password: PlatformFixture.password).status == 303)

            let settled = try await Self.eventually { try await ProvisioningTests.jobs(databases) == ["provision:done:", "update:done:"] }
            let jobs = try await ProvisioningTests.jobs(databases)
            #expect(settled, "the update job ran and did not fail over the locked fields: \(jobs)")
            let updated = try #require(try await chat.users().first { $0["id"] as? String == chatID })
            #expect(updated["email"] as? String == "alice.pleasance@example.org", "the email went through the API (an admin may patch it, §1.11)")
            // §1.11: username and names of an SSO user cannot be changed through the API; Drawbridge does not try.
            #expect(updated["username"] as? String == "alice")
            #expect(updated["first_name"] as? String == "Alice")
            #expect(updated["last_name"] as? String == "Liddell")
            let patches = try await Self.calls(chat, prefix: "/api/v4/users/\(chatID)/patch")
            #expect(patches.map { $0["status"] as? Int } == [200], "one patch, accepted: a name or username in it would have been a 409 (\(patches))")
            #expect(try await Self.calls(chat, prefix: "/api/v4/users").allSatisfy { $0["status"] as? Int != 409 })
            #expect(try await chat.users().count == 1, "no second account")

            // The link: the email as chat now holds it; username and name as chat will take them at the next
            // GitLab login (MattermostConnector.update records them so, or every sign-in would queue an update again).
            #expect(try await Self.link(databases, platformUserID: "1") == ["\(chatID)|alice.p|alice.pleasance@example.org|Alice Pleasance|true"])

            // Mattermost's own GitLab login (UpdateOAuthUserAttrs, §1.11) brings username and names in step with the link.
            try await Self.connectSSO(chat, dependencies, gatewayPort: browser.port)
            let chatBrowser = try chat.browser()
            let completed = try await Self.mattermostGitLabLogin(chatBrowser, via: again, chat: chat)
            #expect(completed.status == 307, "\(completed.status) \(completed.header("X-Contract-Error-Id") ?? "") \(completed.body.prefix(300))")
            #expect(chatBrowser.cookies["MMUSERID"] == chatID, "signed in to the same account")
            let synced = try #require(try await chat.users().first { $0["id"] as? String == chatID })
            #expect(synced["username"] as? String == "alice.p")
            #expect(synced["first_name"] as? String == "Alice")
            #expect(synced["last_name"] as? String == "Pleasance")
            #expect(synced["email"] as? String == "alice.pleasance@example.org")
            #expect(try await chat.users().count == 1, "no second account")

            // Link and platform agree now: signing in again queues nothing.
            _ = try await Browser(port: browser.port, publicURL: browser.publicURL).signIn(username: "alice.p", password: PlatformFixture.password)
            #expect(try await ProvisioningTests.jobs(databases) == ["provision:done:", "update:done:"])
        }
    }

    @Test func aReactivatedPlatformUserGetsTheSameChatAccountBack() async throws {
        try await ProvisioningTests().withMattermost { browser, dependencies, databases, chat in
            _ = try await browser.signIn(username: "alice", password: PlatformFixture.password)
            let chatID = try #require(try await chat.user(named: "alice")?["id"] as? String)
            try await OAuthTestSupport.register(dependencies, id: "mm-client", redirectURIs: [OAuthTestSupport.chatRedirect])

            // Deactivated on the platform: chat's next authorize attempt is refused, and chat follows.
            try await TestDatabases.execute("UPDATE public.accounts SET is_active = false WHERE login = 'alice'", on: databases.platformURL)
            let refused = try await browser.get("/oauth/authorize?response_type=code&client_id=mm-client&state=s")
            #expect(refused.location.flatMap { OAuthTestSupport.goQueryGet($0, "error") } == "access_denied")
            let deactivated = try await Self.eventually { (try await chat.user(named: "alice")?["delete_at"] as? Int ?? 0) != 0 }
            #expect(deactivated, "Mattermost shows the account deactivated")
            #expect(try await Self.eventually { try await Self.link(databases, platformUserID: "1").first?.hasSuffix("|false") == true })
            // Signing in is refused while inactive (as a wrong password is), and nothing reactivates chat.
            let whileInactive = try await Browser(port: browser.port, publicURL: browser.publicURL).signIn(username: "alice", password: PlatformFixture.password)
            #expect(whileInactive.status == 401)
            #expect((try await chat.user(named: "alice")?["delete_at"] as? Int ?? 0) != 0)

            // Active again on the platform, alice signs in: the same chat account comes back.
            try await TestDatabases.execute("UPDATE public.accounts SET is_active = true WHERE login = 'alice'", on: databases.platformURL)
            #expect(try await Browser(port: browser.port, publicURL: browser.publicURL).signIn(username: "alice", password: PlatformFixture.password).status == 303)
            let reactivated = try await Self.eventually { try await chat.user(named: "alice")?["delete_at"] as? Int == 0 }
            #expect(reactivated, "delete_at back to 0")
            let users = try await chat.users()
            #expect(users.count == 1, "no second account: \(users.map { $0["username"] as? String ?? "?" })")
            #expect(users.first?["id"] as? String == chatID, "the same Mattermost user")
            // The refused authorize also ended alice's session everywhere (single logout: revoke_sessions), then deactivated.
            let settled = try await Self.eventually {
                try await ProvisioningTests.jobs(databases) == ["provision:done:", "revoke_sessions:done:", "deactivate:done:", "update:done:"]
            }
            let jobs = try await ProvisioningTests.jobs(databases)
            #expect(settled, "\(jobs)")
            #expect(try await Self.link(databases, platformUserID: "1") == ["\(chatID)|alice|alice@example.com|Alice Liddell|true"])
        }
    }

    /// Drawbridge was not told to link password accounts (no `link_existing`), so it reports the clash; when
    /// the user then clicks "GitLab" in Mattermost anyway, Mattermost's own CreateOAuthUser refuses with
    /// `already_attached` (§1.10 step 4): the password account is neither taken over nor duplicated.
    @Test func mattermostsOwnGitLabLoginOnAnUnlinkedPasswordAccountIsAlreadyAttached() async throws {
        try await ProvisioningTests().withMattermost { browser, dependencies, databases, chat in
            try await chat.control("users", ["username": "carol.old", "email": "carol@example.com", "password": "Secret-123"])
            try await Self.connectSSO(chat, dependencies, gatewayPort: browser.port)
            #expect(try await browser.signIn(username: "carol", password: PlatformFixture.password).status == 303, "the clash never blocks the sign-in")
            let jobs = try await ProvisioningTests.jobs(databases)
            #expect(jobs.first?.hasPrefix("provision:failed:the email carol@example.com belongs to an existing mattermost password account (carol.old)") == true, "\(jobs)")

            let chatBrowser = try chat.browser()
            let completed = try await Self.mattermostGitLabLogin(chatBrowser, via: browser, chat: chat)
            #expect(completed.status == 400, "\(completed.status) \(completed.body.prefix(300))")
            #expect(completed.header("X-Contract-Error-Id") == "api.user.create_oauth_user.already_attached.app_error")
            #expect(chatBrowser.cookies["MMAUTHTOKEN"] == nil, "not signed in to anything")
            let users = try await chat.users()
            #expect(users.count == 1, "no second account: \(users.map { $0["username"] as? String ?? "?" })")
            #expect(users.first?["username"] as? String == "carol.old")
            #expect(users.first?["auth_service"] as? String == "", "still a password account, not taken over")
            #expect(try await Self.link(databases, platformUserID: "3") == [], "Drawbridge links nothing")
        }
    }
}
