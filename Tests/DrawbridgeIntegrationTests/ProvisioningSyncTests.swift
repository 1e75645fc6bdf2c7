import DrawbridgeCore
import Foundation
import Testing

/// `drawbridge provision sync` as an admin runs it, against the Mattermost contract server
/// (Tests/contract-servers/mattermost_contract_server.py, from contracts/chat-servers.md §3 — a stand-in,
/// because Mattermost cannot run here), over 10,000 platform users.
@Suite(.serialized) struct ProvisioningSyncTests {
    static let users = 10_000

    /// 10,000 users after the fixture's six; every 500th inactive; user 4242's email is owned in chat by a
    /// password account (a clash the sync must report, not resolve).
    static let manyUsers = """
        INSERT INTO public.accounts (login, email, full_name, password_hash, is_active)
        SELECT 'user' || n, 'user' || n || '@example.com', 'User Number' || n, NULL, n % 500 <> 0
        FROM generate_series(1, \(users)) AS n;
        """

    /// The fixture's users plus `users` (SQL), a Mattermost stand-in, and a config for the CLI; `clash` seeds the
    /// password account that owns user4242's email.
    func withSyncSetup(users: String = Self.manyUsers, clash: Bool = true, _ body: (String, ContractServer, TestDatabases) async throws -> Void) async throws {
        let databases = try await TestDatabases.create()
        defer { Task { await databases.drop() } }
        try await TestDatabases.execute(PlatformFixture.accountsTable, on: databases.platformURL)
        try await TestDatabases.execute(users, on: databases.platformURL)
        let chat = try ContractServer(script: "mattermost_contract_server.py", arguments: ["--team", "town:off-topic"])
        defer { chat.stop() }
        if clash {
            try await chat.control("users", ["username": "user4242.old", "email": "user4242@example.com", "password": "Secret-123"])
        }
        let config = try CommandRunner.writeConfig(databases) {
            $0 + "\nconnectors:\n  mattermost: { url: \"\(chat.url)\", token: \"\(chat.adminToken)\", teams: [town] }\n"
        }
        #expect(try CommandRunner.run(["migrate", "--config", config]).status == 0)
        try await body(config, chat, databases)
    }

    @Test func syncsTenThousandUsersReportsTheClashAndResumesAfterAnInterruption() async throws {
        try await withSyncSetup { config, chat, databases in
            // A dry run changes nothing and says what would happen.
            let dry = try CommandRunner.run(["provision", "sync", "--dry-run", "--config", config])
            #expect(dry.status == 0, "\(dry.stderr)")
            #expect(dry.stdout.contains("dry run: nothing was changed"))
            #expect(dry.stdout.contains("would be created"))
            #expect(try await chat.users().count == 1, "only the seeded account")

            // Interrupted once a few pages are saved (Ctrl-C), then run again: it resumes there.
            let first = try CommandRunner.startTool(["provision", "sync", "--config", config])
            var checkpointed = 0
            for _ in 0..<600 where checkpointed < 1500 {
                try await Task.sleep(for: .milliseconds(100))
                checkpointed = Int(try await TestDatabases.strings("SELECT coalesce(max(seen), 0)::text FROM drawbridge.provisioning_sync_runs", on: databases.drawbridgeURL).first ?? "0") ?? 0
            }
            kill(first.process.processIdentifier, SIGINT)
            let interrupted = first.finish()
            #expect(interrupted.status == 130, "\(interrupted.stderr)")
            #expect(interrupted.stderr.contains("Run the same `drawbridge provision sync` again to resume"))
            let createdBefore = try await chat.users().count
            #expect(createdBefore >= 1400 && createdBefore < Self.users, "interrupted part-way (inactive users get no account): \(createdBefore)")

            let second = try CommandRunner.run(["provision", "sync", "--config", config])
            #expect(second.status == 1, "one clash means a non-zero exit: \(second.stderr.suffix(500))")
            #expect(second.stderr.contains("resumed at"), "\(second.stderr.suffix(500))")
            // 10,006 users: the clash fails, 20 + frank are inactive with no account, the rest exist now.
            let inactive = Self.users / 500 + 1
            let table = second.stdout
            #expect(table.contains("\(Self.users + 6) platform users"), "\(table)")
            #expect(table.contains("user4242 (id "), "\(table)")
            #expect(table.contains("the email user4242@example.com belongs to an existing mattermost password account (user4242.old)"), "\(table)")
            let accounts = try await chat.users()
            #expect(accounts.count == 1 + Self.users + 6 - inactive - 1, "every active user but the clash, once")
            #expect(Set(accounts.compactMap { $0["username"] as? String }).count == accounts.count, "no duplicates")
            let json = try CommandRunner.run(["provision", "sync", "--json", "--config", config])
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stdout)")
            let counts = (summary["connectors"] as? [String: Any])?["mattermost"] as? [String: Int]
            #expect(counts?["created"] == 0 && counts?["failed"] == 1, "a new run over a synced platform creates nothing: \(counts ?? [:])")
            #expect(counts?["unchanged"] == Self.users + 6 - 1)

            // A user turned inactive on the platform is deactivated by the next sync.
            try await TestDatabases.execute("UPDATE public.accounts SET is_active = false WHERE login = 'user7'", on: databases.platformURL)
            let third = try CommandRunner.run(["provision", "sync", "--json", "--config", config])
            let thirdCounts = ((try JSONSerialization.jsonObject(with: Data(third.stdout.utf8)) as? [String: Any])?["connectors"] as? [String: Any])?["mattermost"] as? [String: Int]
            #expect(thirdCounts?["deactivated"] == 1, "\(third.stdout.prefix(400))")
            #expect((try await chat.user(named: "user7")?["delete_at"] as? Int ?? 0) > 0)
        }
    }

    /// A chat outage in the middle of a sync stops it (after 64 users in a row, each retried) and the next run
    /// resumes; here rather than with the other command tests because 1,200 users load the machine.
    @Test func aSyncStopsWhenChatGoesDownAndResumesOnceItIsBack() async throws {
        let memberRows = """
            INSERT INTO public.accounts (login, email, full_name, is_active)
            SELECT 'member' || n, 'member' || n || '@example.com', 'Member ' || n, true FROM generate_series(1, 1200) AS n;
            """
        try await withSyncSetup(users: memberRows, clash: false) { config, chat, databases in
            try await chat.control("config", ["latency_ms": 15])
            let running = try CommandRunner.startTool(["provision", "sync", "--concurrency", "16", "--config", config])
            // Down once the first page of 500 is saved, so there is something to resume from.
            var saved = 0
            for _ in 0..<600 where saved == 0 {
                try await Task.sleep(for: .milliseconds(50))
                saved = Int(try await TestDatabases.strings("SELECT coalesce(max(seen), 0)::text FROM drawbridge.provisioning_sync_runs", on: databases.drawbridgeURL).first ?? "0") ?? 0
            }
            try await chat.control("down", ["seconds": 600])
            let stopped = running.finish()
            #expect(stopped.status == 2, "\(stopped.stdout)")
            let stderr = stopped.stderr.split(separator: "\n").filter { !$0.isEmpty }
            #expect(stderr.last?.contains("mattermost did not answer for 64 users in a row") == true, "\(stopped.stderr.suffix(600))")
            #expect(stderr.last?.contains("it resumes where it stopped") == true)

            try await chat.control("up")
            let resumed = try CommandRunner.run(["provision", "sync", "--config", config])
            #expect(resumed.status == 0, "\(resumed.stderr.suffix(600))")
            #expect(resumed.stderr.contains("resumed at"), "\(resumed.stderr.suffix(600))")
            let users = try await chat.users()
            let members = users.compactMap { $0["username"] as? String }.filter { $0.hasPrefix("member") }
            #expect(members.count == 1200 && Set(members).count == 1200, "every member exactly once: \(members.count)")
        }
    }
}
