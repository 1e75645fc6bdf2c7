import DrawbridgeCore
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing

/// Nothing in the outbox is lost when PostgreSQL restarts under a running `drawbridge serve`: each test starts
/// its own PostgreSQL cluster (scripts/test-postgres.sh), so it can stop and start it without touching the
/// cluster the other suites share, and a real serve process against the Mattermost contract server
/// (Tests/contract-servers/mattermost_contract_server.py, a stand-in written from contracts/chat-servers.md §3
/// because Mattermost cannot run here). Heavy (a cluster and a serve per test): scripts/test.sh runs it alone.
@Suite(.serialized) struct OutboxPostgresRestartTests {
    /// A PostgreSQL cluster of this test's own, in a fresh directory; stopped and removed by `remove()`.
    struct Cluster {
        let directory: String
        let url: PostgresURL

        static func start() throws -> Cluster {
            // As root the cluster runs as 'postgres', which must reach the directory: /tmp, short (socket path).
            let directory = "/tmp/db-pgrestart-" + UUID().uuidString.prefix(8).lowercased()
            let started = try runDaemonStarter("bash \"$0\" start \"$1\"", [CommandRunner.repositoryRoot + "/scripts/test-postgres.sh", directory])
            guard started.status == 0, let line = started.stdout.split(separator: "\n").last else {
                throw TestSetupError("test-postgres.sh start failed: \(started.stderr)")
            }
            return Cluster(directory: directory, url: try PostgresURL(parsing: String(line)))
        }

        /// pg_ctl, run as the cluster's owner, from the binaries this cluster runs (postmaster.opts names them).
        func pgctl(_ arguments: String) throws -> CommandRunner.Result {
            let script = """
                set -eu
                DIR=\(directory)
                bindir="$(dirname "$(head -n 1 "$DIR/data/postmaster.opts" | cut -d' ' -f1)")"
                if [ "$(id -u)" = 0 ]; then cd "$DIR" && runuser -u postgres -- "$bindir/pg_ctl" -D "$DIR/data" \(arguments)
                else cd "$DIR" && "$bindir/pg_ctl" -D "$DIR/data" \(arguments); fi
                """
            return try Cluster.runDaemonStarter(script, [])
        }

        /// Runs a bash script that leaves a daemon (postgres) behind. Foundation's Process notices its child's end
        /// through a descriptor the child inherits; a daemon keeping that open would make runTool wait for
        /// the daemon, so the script closes every descriptor above stderr first.
        static func runDaemonStarter(_ script: String, _ arguments: [String]) throws -> CommandRunner.Result {
            let closing = #"for fd in /proc/self/fd/*; do n=${fd##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-" 2>/dev/null; fi; done; "#
            return try CommandRunner.runTool("bash", ["-c", closing + script] + arguments)
        }

        /// A fast shutdown: every client connection is closed by the server, as in a real restart.
        func stop() throws {
            let result = try pgctl("-m fast -w -t 60 stop")
            guard result.status == 0 else { throw TestSetupError("pg_ctl stop: \(result.stderr)") }
        }

        /// Starts it again on the same port.
        func start() throws {
            let result = try pgctl("-l \(directory)/postgres.log -o '-p \(url.port)' -w -t 60 start")
            guard result.status == 0 else { throw TestSetupError("pg_ctl start: \(result.stderr)") }
        }

        func remove() {
            _ = try? CommandRunner.runTool("bash", [CommandRunner.repositoryRoot + "/scripts/test-postgres.sh", "stop", directory])
        }

        /// A platform and a Drawbridge database on this cluster (TestDatabases.create uses the shared one).
        func databases() async throws -> TestDatabases {
            let suffix = UUID().uuidString.prefix(8).lowercased()
            let databases = TestDatabases(admin: url, platformName: "platform_\(suffix)", drawbridgeName: "drawbridge_\(suffix)")
            let logger = Logger(label: "test")
            let connection = try await PostgresConnection.connect(configuration: url.connectionConfiguration(), id: 1, logger: logger)
            defer { Task { try? await connection.close() } }
            for name in [databases.platformName, databases.drawbridgeName] {
                try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
            }
            return databases
        }
    }

    /// serve's stderr (JSON log lines), kept for conditions and for failure messages.
    final class ServeLog: Sendable {
        let pipe = Pipe()
        private let text = Mutex("")

        init() {
            pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
                let chunk = handle.availableData
                if !chunk.isEmpty { self?.text.withLock { $0 += String(decoding: chunk, as: UTF8.self) } }
            }
        }

        var contents: String { text.withLock { $0 } }
        var tail: String { String(contents.suffix(3000)) }

        func close() { pipe.fileHandleForReading.readabilityHandler = nil }
    }

    static func jobStates(_ databases: TestDatabases) async throws -> [String] {
        try await TestDatabases.strings("SELECT state || ':' || attempts || ':' || coalesce(last_error, '') FROM drawbridge.provisioning_jobs ORDER BY id", on: databases.drawbridgeURL)
    }

    static func readyz(_ port: Int) async -> Int? {
        let probe = Browser(port: port, publicURL: try! PublicURL(parsing: "http://127.0.0.1"))
        return try? await probe.get("/readyz").status
    }

    /// A cluster, its databases, the Mattermost contract server and a migrated serve on a free port, for `body`.
    func withServe(
        chatArguments: [String] = [],
        _ body: @Sendable (Cluster, TestDatabases, ContractServer, Process, Browser, ServeLog) async throws -> Void
    ) async throws {
        let cluster = try Cluster.start()
        defer { cluster.remove() }
        let databases = try await cluster.databases()
        try await TestDatabases.execute(PlatformFixture.accountsTable, on: databases.platformURL)
        let chat = try ContractServer(script: "mattermost_contract_server.py", arguments: ["--team", "town:off-topic"] + chatArguments)
        defer { chat.stop() }
        let port = try CommandRunner.freePort()
        let config = try ProvisioningRecoveryTests.config(databases, chat: chat, port: port)
        defer { try? FileManager.default.removeItem(atPath: config) }
        let migrated = try CommandRunner.run(["migrate", "--config", config])
        try #require(migrated.status == 0, "\(migrated.stderr)")
        let log = ServeLog()
        defer { log.close() }
        let serve = try await CommandRunner.startServe(config: config, port: port, log: log.pipe)
        defer { if serve.isRunning { serve.terminate(); serve.waitUntilExit() } }
        let browser = Browser(port: port, publicURL: try PublicURL(parsing: "http://127.0.0.1:\(port)"))
        try await body(cluster, databases, chat, serve, browser, log)
    }

    /// Takes PostgreSQL away until serve's /readyz says so, then brings it back until serve is ready again.
    static func restart(_ cluster: Cluster, serve: Process, port: Int, log: ServeLog) async throws {
        try cluster.stop()
        let noticed = try await ProvisioningUpdateTests.eventually(seconds: 60) { await readyz(port) == 503 }
        let whileDown = await readyz(port)
        #expect(noticed, "serve's /readyz reports the database gone: \(whileDown.map(String.init) ?? "no answer") \(log.tail)")
        try cluster.start()
        let recovered = try await ProvisioningUpdateTests.eventually(seconds: 60) { await readyz(port) == 200 }
        let afterwards = await readyz(port)
        #expect(recovered, "serve is ready again after PostgreSQL came back: \(afterwards.map(String.init) ?? "no answer") \(log.tail)")
        #expect(serve.isRunning, "serve survived the restart: \(log.tail)")
    }

    @Test func aJobPendingWhileChatIsDownIsDoneAfterAPostgresRestart() async throws {
        try await withServe { cluster, databases, chat, serve, browser, log in
            try await chat.control("down", ["seconds": 600])
            #expect(try await browser.signIn(username: "alice", password: PlatformFixture.password).status == 303)
            let pending = try await ProvisioningUpdateTests.eventually { try await Self.jobStates(databases).first?.hasPrefix("pending:1:chat server unavailable") == true }
            let before = try await Self.jobStates(databases)
            #expect(pending, "\(before) \(log.tail)")

            try await Self.restart(cluster, serve: serve, port: browser.port, log: log)
            #expect(try await Self.jobStates(databases).first?.hasPrefix("pending:") == true, "the job is still there, still pending")

            try await chat.control("up")
            let done = try await ProvisioningUpdateTests.eventually(seconds: 90) { try await Self.jobStates(databases).first?.hasPrefix("done:") == true }
            let states = try await Self.jobStates(databases)
            #expect(done, "\(states) \(log.tail)")
            #expect(states.count == 1, "\(states)")
            let accounts = try await chat.users().filter { $0["email"] as? String == "alice@example.com" }
            #expect(accounts.count == 1, "the account exists exactly once")
            #expect(accounts.first?["auth_data"] as? String == "1")
            #expect(try await TestDatabases.strings("SELECT chat_user_id FROM drawbridge.chat_accounts", on: databases.drawbridgeURL) == [accounts.first?["id"] as? String ?? "?"])

            // The pools serve sign-ins again, and their provisioning too.
            #expect(await Self.readyz(browser.port) == 200)
            #expect(try await Browser(port: browser.port, publicURL: browser.publicURL).signIn(username: "erin", password: PlatformFixture.password).status == 303)
            let erin = try await ProvisioningUpdateTests.eventually { try await chat.user(named: "erin") != nil }
            let after = try await Self.jobStates(databases)
            #expect(erin, "\(after) \(log.tail)")
            #expect(serve.isRunning)
        }
    }

    /// The worst moment: chat has made the account, and PostgreSQL is gone before the outbox could record it.
    /// After the restart the job is recorded done (its write waited for the pool, or the job ran again once its
    /// lease ran out and adopted the account it had made) and the account exists once.
    @Test func aJobWhoseResultCouldNotBeRecordedIsDoneOnceAfterAPostgresRestart() async throws {
        try await withServe(chatArguments: ["--latency-ms", "1500"]) { cluster, databases, chat, serve, browser, log in
            #expect(try await browser.signIn(username: "alice", password: PlatformFixture.password).status == 303)
            // Claimed (attempt 1), its reads done, and now talking to the slow chat server (its first answer came
            // back: four calls of 1.5 s each make an account): PostgreSQL goes away under it.
            let talking = try await ProvisioningUpdateTests.eventually { try await !ProvisioningUpdateTests.calls(chat, prefix: "/api/v4/users/email/").isEmpty }
            #expect(talking)
            #expect(try await Self.jobStates(databases) == ["pending:1:"])
            try cluster.stop()
            // Chat finishes the account, down to the team membership, its last call before the job records
            // its result: that write now has no PostgreSQL to go to.
            let made = try await ProvisioningUpdateTests.eventually(seconds: 60) {
                try await ProvisioningUpdateTests.calls(chat, prefix: "/api/v4/teams/").contains { $0["method"] as? String == "POST" && $0["status"] as? Int == 201 }
            }
            #expect(made, "the account was made while PostgreSQL was down")
            #expect(try await chat.user(named: "alice") != nil)
            try cluster.start()
            try await chat.control("config", ["latency_ms": 0])
            let recovered = try await ProvisioningUpdateTests.eventually(seconds: 60) { await Self.readyz(browser.port) == 200 }
            #expect(recovered, "\(log.tail)")

            let done = try await ProvisioningUpdateTests.eventually(seconds: 90) { try await Self.jobStates(databases).first?.hasPrefix("done:") == true }
            let states = try await Self.jobStates(databases)
            #expect(done, "\(states) \(log.tail)")
            #expect(states.first?.hasPrefix("done:1:") == true || states.first?.hasPrefix("done:2:") == true, "\(states)")
            let accounts = try await chat.users().filter { $0["email"] as? String == "alice@example.com" }
            #expect(accounts.count == 1, "adopted, not made twice")
            #expect(try await TestDatabases.strings("SELECT chat_user_id FROM drawbridge.chat_accounts", on: databases.drawbridgeURL) == [accounts.first?["id"] as? String ?? "?"])
            #expect(serve.isRunning, "\(log.tail)")
        }
    }
}
