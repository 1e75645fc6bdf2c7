import AsyncHTTPClient
import DrawbridgeCore
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// `drawbridge provision drift` as an admin runs it, against the Mattermost and Rocket.Chat contract servers
/// (Tests/contract-servers/, written from contracts/chat-servers.md — stand-ins, because neither product can
/// run here). Synapse's listing is checked against the real Synapse in `SynapseTests`.
@Suite struct ProvisioningDriftTests {
    @Test func mattermostDriftReportsEachKindAndChangesNothing() async throws {
        let databases = try await TestDatabases.create()
        defer { Task { await databases.drop() } }
        try await TestDatabases.execute(PlatformFixture.accountsTable, on: databases.platformURL)
        let chat = try ContractServer(script: "mattermost_contract_server.py", arguments: ["--team", "town"])
        defer { chat.stop() }
        let config = try CommandRunner.writeConfig(databases) {
            $0 + "\nconnectors:\n  mattermost: { url: \"\(chat.url)\", token: \"\(chat.adminToken)\", teams: [town] }\n  events: { type: webhook, url: \"http://127.0.0.1:9/\", secret: s3cret-s3cret-s3cret }\n"
        }
        #expect(try CommandRunner.run(["migrate", "--config", config]).status == 0)
        let synced = try CommandRunner.run(["provision", "sync", "--connector", "mattermost", "--config", config])
        #expect(synced.status == 0, "\(synced.stdout)\(synced.stderr)")

        let clean = try CommandRunner.run(["provision", "drift", "--config", config])
        #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")
        #expect(clean.stdout.contains("no drift: every chat account matches the platform"), "\(clean.stdout)")
        #expect(clean.stdout.contains("events: not compared"), "the webhook cannot list accounts, and says so: \(clean.stdout)")

        // Drift on both sides, one of each kind.
        try await TestDatabases.execute("""
            UPDATE public.accounts SET email = 'erin.new@example.com' WHERE login = 'erin';
            UPDATE public.accounts SET full_name = 'Carol Changed' WHERE login = 'carol';
            UPDATE public.accounts SET is_active = false WHERE login = 'nohash';
            DELETE FROM public.accounts WHERE login = 'alice';
            INSERT INTO public.accounts (login, email, full_name, is_active) VALUES
                ('gina', 'gina@example.com', 'Gina New', true), ('hank', 'hank@example.com', 'Hank Handmade', true);
            """, on: databases.platformURL)
        let legacy = try #require(try await chat.user(named: "legacy")?["id"] as? String)
        #expect(try await Self.mattermost(chat, .DELETE, "/api/v4/users/\(legacy)") == 200)
        try await chat.control("users", ["username": "stray", "email": "stray@elsewhere.example", "password": "Secret-123"])
        try await chat.control("users", ["username": "hank", "email": "hank@example.com", "password": "Secret-123"])
        let before = try await chat.users()

        let drift = try CommandRunner.run(["provision", "drift", "--json", "--config", config])
        #expect(drift.status == 1, "drift found means exit 1, as diff does: \(drift.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(drift.stdout.utf8)) as? [String: Any], "\(drift.stdout)\(drift.stderr)")
        #expect(report["platform_users"] as? Int == 7)
        let mattermost = try #require((report["connectors"] as? [[String: Any]])?.first { $0["connector"] as? String == "mattermost" })
        #expect(mattermost["chat_accounts"] as? Int == 7, "five synced, stray and hank")
        let findings = mattermost["findings"] as? [[String: Any]] ?? []
        func kinds(_ name: String) -> [String] {
            findings.filter { $0["login"] as? String == name || ($0["login"] == nil && $0["chat_username"] as? String == name) }.compactMap { $0["kind"] as? String }.sorted()
        }
        #expect(kinds("erin") == ["profile_mismatch"])
        #expect(kinds("carol") == ["profile_mismatch"])
        #expect(kinds("nohash") == ["active_in_chat"])
        #expect(kinds("legacy") == ["deactivated_in_chat"])
        #expect(kinds("gina") == ["missing"])
        #expect(kinds("hank") == ["unlinked"])
        #expect(kinds("stray") == ["extra"])
        #expect(kinds("alice") == ["extra"], "alice left the platform; her chat account did not")
        #expect(findings.count == 8, "nothing else differs: \(findings)")
        let erin = findings.first { $0["login"] as? String == "erin" }?["differences"] as? [[String: Any]]
        #expect(erin?.first?["field"] as? String == "email" && erin?.first?["chat"] as? String == "erin@example.com"
                && erin?.first?["platform"] as? String == "erin.new@example.com" && erin?.first?["applied_at_sign_in"] as? Bool == false)
        let carol = findings.first { $0["login"] as? String == "carol" }?["differences"] as? [[String: Any]]
        #expect(carol?.first?["field"] as? String == "name" && carol?.first?["applied_at_sign_in"] as? Bool == true,
                "Mattermost takes names from the next SSO login: \(carol ?? [])")
        let alice = findings.first { $0["chat_username"] as? String == "alice" }
        #expect((alice?["detail"] as? String)?.contains("no longer in the platform's table; the chat account is still active") == true)

        // The table says the same for a person, and the report changed nothing anywhere.
        let table = try CommandRunner.run(["provision", "drift", "--config", config])
        #expect(table.status == 1)
        #expect(table.stdout.contains("mattermost, missing (1):\n  gina (id "), "\(table.stdout)")
        #expect(table.stdout.contains("email 'erin@example.com' in chat, 'erin.new@example.com' on the platform; `provision sync` updates it"), "\(table.stdout)")
        #expect(table.stdout.contains("(reaches chat at the user's next sign-in)"), "\(table.stdout)")
        #expect(table.stdout.contains("each finding says what repairs it"), "\(table.stdout)")
        #expect(table.stdout.contains("active on the platform, deactivated in chat; `provision user legacy` or `provision sync --recheck` reactivates it"), "\(table.stdout)")
        let after = try await chat.users()
        #expect(after.count == before.count)
        #expect(Set(after.map { "\($0["username"] ?? "")/\($0["email"] ?? "")/\($0["delete_at"] ?? "")" })
                == Set(before.map { "\($0["username"] ?? "")/\($0["email"] ?? "")/\($0["delete_at"] ?? "")" }))

        // Bad input: an unknown connector is named, with the configured ones, exit 2.
        let unknown = try CommandRunner.run(["provision", "drift", "--connector", "slack", "--config", config])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no connector named 'slack' (configured: events, mattermost)"), "\(unknown.stderr)")
        // Chat down: a one-line error, exit 2, not a half report.
        try await chat.control("down", ["down": true])
        let down = try CommandRunner.run(["provision", "drift", "--config", config])
        #expect(down.status == 2, "\(down.stdout)\(down.stderr)")
        #expect(down.stderr.contains("chat server unavailable"), "\(down.stderr)")

        // What the finding says repairs it does: the account deleted in chat is active again.
        try await chat.control("up")
        let repaired = try CommandRunner.run(["provision", "user", "legacy", "--connector", "mattermost", "--config", config])
        #expect(repaired.status == 0, "\(repaired.stderr)")
        #expect(try await chat.user(named: "legacy")?["delete_at"] as? Int == 0)
    }

    @Test func rocketChatDriftListsEveryPage() async throws {
        let databases = try await TestDatabases.create()
        defer { Task { await databases.drop() } }
        try await TestDatabases.execute(PlatformFixture.accountsTable, on: databases.platformURL)
        // More users than one users.list page (100) holds, so paging is exercised.
        try await TestDatabases.execute("""
            INSERT INTO public.accounts (login, email, full_name, is_active)
            SELECT 'member' || n, 'member' || n || '@example.com', 'Member ' || n, true FROM generate_series(1, 150) AS n;
            """, on: databases.platformURL)
        let chat = try ContractServer(script: "rocketchat_contract_server.py", arguments: ["--admin-user-id", "adminUserId000001"])
        defer { chat.stop() }
        let config = try CommandRunner.writeConfig(databases) {
            $0 + "\nconnectors:\n  rocketchat: { url: \"\(chat.url)\", token: \"\(chat.adminToken)\", user_id: adminUserId000001 }\n"
        }
        #expect(try CommandRunner.run(["migrate", "--config", config]).status == 0)
        let synced = try CommandRunner.run(["provision", "sync", "--config", config])
        #expect(synced.status == 0, "\(synced.stdout)\(synced.stderr)")
        try await TestDatabases.execute("UPDATE public.accounts SET full_name = 'Member Renamed' WHERE login = 'member120'", on: databases.platformURL)

        let drift = try CommandRunner.run(["provision", "drift", "--json", "--config", config])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(drift.stdout.utf8)) as? [String: Any], "\(drift.stdout)\(drift.stderr)")
        let rocketchat = try #require((report["connectors"] as? [[String: Any]])?.first)
        let findings = rocketchat["findings"] as? [[String: Any]] ?? []
        let unexpected = findings.filter { !($0["login"] as? String == "member120" && $0["kind"] as? String == "profile_mismatch") && $0["kind"] as? String != "extra" }
        #expect(unexpected.isEmpty, "all 155 synced accounts were found across the pages: \(unexpected.prefix(3))")
        #expect(findings.contains { $0["login"] as? String == "member120" && ($0["detail"] as? String)?.contains("'Member Renamed' on the platform") == true })
        #expect(drift.status == 1)

        // Rocket.Chat takes names through the API: sync repairs it, and drift then sees no profile difference.
        #expect(try CommandRunner.run(["provision", "sync", "--config", config]).status == 0)
        let again = try CommandRunner.run(["provision", "drift", "--json", "--config", config])
        let againFindings = (((try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])?["connectors"] as? [[String: Any]])?.first?["findings"] as? [[String: Any]]) ?? []
        #expect(againFindings.allSatisfy { $0["kind"] as? String == "extra" }, "\(againFindings)")
    }

    static func mattermost(_ chat: ContractServer, _ method: HTTPMethod, _ path: String) async throws -> Int {
        var request = HTTPClientRequest(url: chat.url + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(chat.adminToken)")
        let response = try await Browser.http.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }
}
