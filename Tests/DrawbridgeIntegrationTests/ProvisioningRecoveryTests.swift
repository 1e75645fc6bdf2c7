import DrawbridgeCore
import Foundation
import Testing

/// The outbox across process deaths and replicas, with real `drawbridge serve` processes over one
/// PostgreSQL, against the Mattermost contract server (Tests/contract-servers/mattermost_contract_server.py,
/// from contracts/chat-servers.md §3 — a stand-in, because Mattermost cannot run here).
@Suite(.serialized) struct ProvisioningRecoveryTests {
    static func config(_ databases: TestDatabases, chat: ContractServer, port: Int) throws -> String {
        try CommandRunner.writeConfig(databases) {
            $0.replacingOccurrences(of: "port: 0", with: "port: \(port)")
                .replacingOccurrences(of: "public_url: https://sso.example.com", with: "public_url: http://127.0.0.1:\(port)")
                .replacingOccurrences(of: "cookie_domain: example.com, ", with: "")
                + """

                connectors:
                  mattermost: { url: "\(chat.url)", token: "\(chat.adminToken)", teams: [town], timeout: 30s }
                provisioning: { wait_budget: 0s, poll_interval: 200ms, lease: 2s, concurrency: 4 }

                """
        }
    }

    static func jobStates(_ databases: TestDatabases) async throws -> [String] {
        try await TestDatabases.strings("SELECT state || ':' || attempts FROM drawbridge.provisioning_jobs ORDER BY id", on: databases.drawbridgeURL)
    }

    @Test func aJobInFlightWhenDrawbridgeIsKilledCompletesAfterRestart() async throws {
        let databases = try await TestDatabases.create()
        defer { Task { await databases.drop() } }
        try await TestDatabases.execute(PlatformFixture.accountsTable, on: databases.platformURL)
        let chat = try ContractServer(script: "mattermost_contract_server.py", arguments: ["--team", "town:off-topic", "--latency-ms", "3000"])
        defer { chat.stop() }
        let port = try CommandRunner.freePort()
        let config = try Self.config(databases, chat: chat, port: port)
        let migrated = try CommandRunner.run(["migrate", "--config", config])
        try #require(migrated.status == 0, "\(migrated.stderr)")
        let first = try await CommandRunner.startServe(config: config, port: port, log: Pipe())
        defer { if first.isRunning { first.terminate() } }
        let browser = Browser(port: port, publicURL: try PublicURL(parsing: "http://127.0.0.1:\(port)"))
        #expect(try await browser.signIn(username: "alice", password: PlatformFixture.password).status == 303)
        // The worker has claimed the job and is waiting on the slow chat server: kill it there, without mercy.
        var claimed = false
        for _ in 0..<50 where !claimed {
            try await Task.sleep(for: .milliseconds(100))
            claimed = try await Self.jobStates(databases) == ["pending:1"]
        }
        let statesAtKill = try await Self.jobStates(databases)
        #expect(claimed, "\(statesAtKill)")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(try await chat.user(named: "alice") == nil, "killed before the account was made")

        try await chat.control("config", ["latency_ms": 0])
        let second = try await CommandRunner.startServe(config: config, port: port, log: Pipe())
        defer { second.terminate() }
        var states: [String] = []
        for _ in 0..<100 where states.first?.hasPrefix("done") != true {
            try await Task.sleep(for: .milliseconds(100))
            states = try await Self.jobStates(databases)
        }
        #expect(states == ["done:2"], "taken up again once the dead worker's lease ran out")
        #expect(try await chat.users().filter { $0["username"] as? String == "alice" }.count == 1)
    }

    @Test func twoReplicasDoEachJobExactlyOnce() async throws {
        let databases = try await TestDatabases.create()
        defer { Task { await databases.drop() } }
        try await TestDatabases.execute(PlatformFixture.accountsTable, on: databases.platformURL)
        try await TestDatabases.execute("""
            INSERT INTO public.accounts (login, email, full_name) SELECT 'member' || n, 'member' || n || '@example.com', 'Member ' || n
            FROM generate_series(1, 300) AS n
            """, on: databases.platformURL)
        let chat = try ContractServer(script: "mattermost_contract_server.py", arguments: ["--team", "town:off-topic", "--latency-ms", "2"])
        defer { chat.stop() }
        let ports = [try CommandRunner.freePort(), try CommandRunner.freePort()]
        let configs = try ports.map { try Self.config(databases, chat: chat, port: $0) }
        let migrated = try CommandRunner.run(["migrate", "--config", configs[0]])
        try #require(migrated.status == 0, "\(migrated.stderr)")
        let replicas = try await [CommandRunner.startServe(config: configs[0], port: ports[0], log: Pipe()),
                                  CommandRunner.startServe(config: configs[1], port: ports[1], log: Pipe())]
        defer { for replica in replicas { replica.terminate() } }
        // 300 provisioning jobs land in the shared outbox at once; both replicas' workers poll it.
        try await TestDatabases.execute("""
            INSERT INTO drawbridge.provisioning_jobs (connector, action, platform_user_id, user_login)
            SELECT 'mattermost', 'provision', id::text, login FROM dblink_placeholder
            """.replacingOccurrences(of: "FROM dblink_placeholder", with: "FROM (VALUES \((7...306).map { "(\($0), 'member\($0 - 6)')" }.joined(separator: ","))) AS u(id, login)"),
            on: databases.drawbridgeURL)
        var done = 0
        for _ in 0..<300 where done < 300 {
            try await Task.sleep(for: .milliseconds(200))
            done = Int(try await TestDatabases.strings("SELECT count(*)::text FROM drawbridge.provisioning_jobs WHERE state = 'done'", on: databases.drawbridgeURL).first ?? "0") ?? 0
        }
        #expect(done == 300)
        #expect(try await TestDatabases.strings("SELECT count(*)::text FROM drawbridge.provisioning_jobs WHERE attempts <> 1", on: databases.drawbridgeURL) == ["0"],
                "no job was taken by both replicas")
        let members = try await chat.users().compactMap { $0["username"] as? String }.filter { $0.hasPrefix("member") }
        #expect(members.count == 300)
        #expect(Set(members).count == 300, "no account twice")
    }
}
