import DrawbridgeCore
import DrawbridgeServer
import Foundation
import NIOHTTP1
import Testing

/// The admin's provisioning commands (`provision user`, `deprovision`, `provision sync`, `status`, `retry`) as
/// an admin meets them: a wrong token, a chat server that is down or goes down, a deprovisioned user who signs
/// in again. The chat server is the Mattermost contract server (Tests/contract-servers/, written from
/// contracts/chat-servers.md — a stand-in, because Mattermost cannot run here).
@Suite struct ProvisioningCommandTests {
    /// A gateway in this process (for sign-ins) and a config file for the CLI, both on the same databases and chat.
    func withMattermost(
        token: String? = nil, chatURL: String? = nil,
        _ body: @Sendable (_ config: String, Browser, AppDependencies, TestDatabases, ContractServer) async throws -> Void
    ) async throws {
        let chat = try ContractServer(script: "mattermost_contract_server.py", arguments: ["--team", "town"])
        defer { chat.stop() }
        let (url, adminToken) = (chatURL ?? chat.url, token ?? chat.adminToken)
        try await OAuthTestSupport.withGateway(configure: { configuration in
            var settings = MattermostConnector.Settings(url: chat.url, token: chat.adminToken, teams: ["town"], timeout: .seconds(3))
            settings.oauthClientID = "mattermost-sso"
            configuration.provisioning = ProvisioningConfiguration(
                connectors: [.mattermost(name: "mattermost", settings)],
                settings: ProvisioningSettings(waitBudget: .seconds(8), maxAttempts: 5, concurrency: 4, pollInterval: .milliseconds(200))
            )
        }) { browser, dependencies, databases in
            let config = try CommandRunner.writeConfig(databases) {
                $0 + "\nconnectors:\n  mattermost: { url: \"\(url)\", token: \"\(adminToken)\", teams: [town], timeout: 3s, oauth_client: mattermost-sso }\n"
            }
            try await body(config, browser, dependencies, databases, chat)
        }
    }

    static func jobs(_ databases: TestDatabases) async throws -> [String] {
        try await TestDatabases.strings("SELECT action || ':' || state FROM drawbridge.provisioning_jobs ORDER BY id", on: databases.drawbridgeURL)
    }

    static func lines(_ text: String) -> [Substring] { text.split(separator: "\n") }

    @Test func aWrongTokenIsOneLineAndQueuesNothing() async throws {
        try await withMattermost(token: "not-the-admin-token") { config, _, _, databases, chat in
            let one = try CommandRunner.run(["provision", "user", "alice", "--config", config])
            #expect(one.status == 1)
            #expect(Self.lines(one.stderr).count == 1, "one line: \(one.stderr)")
            #expect(one.stderr.contains("admin token is missing, wrong or lacks permission") && one.stderr.contains("nothing was queued"), "\(one.stderr)")

            let sync = try CommandRunner.run(["provision", "sync", "--config", config])
            #expect(sync.status == 2, "\(sync.stdout)")
            #expect(Self.lines(sync.stderr).count == 1, "one line, not a failure per user: \(sync.stderr)")
            #expect(sync.stderr.contains("mattermost:") && sync.stderr.contains("nothing was synced"), "\(sync.stderr)")

            // `drawbridge check` finds it before any of that: a refused token is a problem.
            let check = try CommandRunner.run(["check", "--config", config])
            #expect(check.status == 1)
            #expect(check.stdout.contains("problem    ✗    connector mattermost: GET /users/me answered 401"), "\(check.stdout)")

            #expect(try await Self.jobs(databases).isEmpty)
            #expect(try await chat.users().isEmpty)
        }
    }

    @Test func badInputIsNamedWithANonZeroExit() async throws {
        try await withMattermost { config, _, _, _, _ in
            let check = try CommandRunner.run(["check", "--config", config])
            #expect(check.status == 0, "\(check.stdout)")
            #expect(check.stdout.contains("connector  ok   mattermost: Mattermost at http://127.0.0.1:"), "\(check.stdout)")
            let unknownUser = try CommandRunner.run(["provision", "user", "nobody-here", "--config", config])
            #expect(unknownUser.status == 1)
            #expect(unknownUser.stderr.contains("nobody-here"), "\(unknownUser.stderr)")
            let unknownConnector = try CommandRunner.run(["provision", "user", "alice", "--connector", "slack", "--config", config])
            #expect(unknownConnector.status == 2)
            #expect(unknownConnector.stderr.contains("no connector named 'slack' (configured: mattermost)"), "\(unknownConnector.stderr)")
            let retry = try CommandRunner.run(["provision", "retry", "--connector", "slack", "--config", config])
            #expect(retry.status == 2, "\(retry.stdout)")
            #expect(retry.stderr.contains("no connector named 'slack'"), "\(retry.stderr)")
        }
    }

    @Test func anUnreachableChatServerKeepsTheJobQueuedForLater() async throws {
        let closed = "http://127.0.0.1:\(try CommandRunner.freePort())"
        try await withMattermost(chatURL: closed) { config, _, _, databases, _ in
            let provisioned = try CommandRunner.run(["provision", "user", "carol", "--config", config])
            #expect(provisioned.status == 1)
            #expect(Self.lines(provisioned.stderr).count == 1, "\(provisioned.stderr)")
            #expect(provisioned.stderr.contains("chat server unavailable") && provisioned.stderr.contains("`drawbridge serve` does it once the server answers"), "\(provisioned.stderr)")
            // Not dropped: queued, and the serve in this test (which reaches the chat server) lands it.
            var jobs: [String] = []
            for _ in 0..<100 where jobs != ["provision:done"] {
                try await Task.sleep(for: .milliseconds(100))
                jobs = try await Self.jobs(databases)
            }
            #expect(jobs == ["provision:done"])
            // `drawbridge check` warns, and passes: serve runs, and provisioning waits for chat.
            let check = try CommandRunner.run(["check", "--config", config])
            #expect(check.status == 0, "\(check.stdout)")
            #expect(check.stdout.contains("warning    !    connector mattermost: chat server unavailable"), "\(check.stdout)")
            let skipped = try CommandRunner.run(["check", "--skip-connectors", "--config", config])
            #expect(skipped.status == 0 && !skipped.stdout.contains("connector"), "\(skipped.stdout)")
        }
    }

    @Test func deprovisionHoldsUntilProvisionUserLiftsIt() async throws {
        try await withMattermost { config, browser, dependencies, databases, chat in
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: "mattermost-sso", redirectURIs: [chat.url + "/signup/gitlab/complete"]))
            try await chat.enableGitLabSSO(gateway: "http://127.0.0.1:\(browser.port)", clientID: "mattermost-sso", secret: secret)
            _ = try await browser.signIn(username: "alice", password: PlatformFixture.password)
            let id = try #require(try await chat.user(named: "alice")?["id"] as? String)
            func deactivated() async throws -> Bool { (try await chat.user(named: "alice")?["delete_at"] as? Int ?? 0) > 0 }

            let deprovisioned = try CommandRunner.run(["deprovision", "alice", "--config", config])
            #expect(deprovisioned.status == 0, "\(deprovisioned.stderr)")
            #expect(deprovisioned.stdout.contains("held deactivated until `drawbridge provision user alice`"), "\(deprovisioned.stdout)")
            #expect(try await deactivated())

            // Still active on the platform, alice signs in again: no update job reactivates her chat account…
            let again = try Browser(port: browser.port, publicURL: browser.publicURL)
            #expect(try await again.signIn(username: "alice", password: PlatformFixture.password).status == 303)
            let jobsAfterSignIn = try await Self.jobs(databases)
            #expect(!jobsAfterSignIn.contains { $0.hasPrefix("update") }, "\(jobsAfterSignIn)")
            // …and Mattermost's own GitLab login, which would reactivate her (contracts §1.11), gets no code.
            let chatBrowser = try chat.browser()
            let start = try await chatBrowser.get("/oauth/gitlab/login")
            let refused = try await again.get(try #require(start.locationPath))
            #expect(refused.locationPort == chat.port)
            #expect(refused.location.flatMap { OAuthTestSupport.goQueryGet($0, "error") } == "access_denied", "\(refused.location ?? "")")
            #expect(try await deactivated(), "still deactivated in chat")
            // A sync leaves the hold alone too.
            let sync = try CommandRunner.run(["provision", "sync", "--config", config])
            #expect(sync.status == 0, "\(sync.stderr)")
            #expect(try await deactivated())

            // The admin lifts it: the same account is active again, and Mattermost's SSO login works.
            let provisioned = try CommandRunner.run(["provision", "user", "alice", "--config", config])
            #expect(provisioned.status == 0, "\(provisioned.stderr)")
            #expect(!(try await deactivated()))
            #expect(try await chat.user(named: "alice")?["id"] as? String == id)
            let retried = try chat.browser()
            let authorized = try await again.get(try #require(try await retried.get("/oauth/gitlab/login").locationPath))
            let completed = try await retried.get(try #require(authorized.locationPath))
            #expect(completed.status == 307, "\(completed.status) \(completed.header("X-Contract-Error-Id") ?? "")")
            #expect(retried.cookies["MMUSERID"] == id)
        }
    }

    @Test func statusShowsWhatIsRetryingAndRetryRunsItNow() async throws {
        try await withMattermost { config, browser, _, databases, chat in
            try await chat.control("down", ["seconds": 600])
            #expect(try await browser.signIn(username: "erin", password: PlatformFixture.password).status == 303)
            var failedOnce = false
            for _ in 0..<100 where !failedOnce {
                try await Task.sleep(for: .milliseconds(100))
                failedOnce = try await TestDatabases.strings("SELECT count(*)::text FROM drawbridge.provisioning_jobs WHERE last_error IS NOT NULL", on: databases.drawbridgeURL) == ["1"]
            }
            #expect(failedOnce)
            // A long back-off, as after hours of outage; set while no worker holds the job (a running attempt would
            // write its own next time over this one).
            var postponed = false
            for _ in 0..<100 where !postponed {
                postponed = try await TestDatabases.strings("""
                    UPDATE drawbridge.provisioning_jobs SET next_attempt_at = now() + interval '1 hour'
                    WHERE locked_until IS NULL OR locked_until < now() RETURNING 'x'
                    """, on: databases.drawbridgeURL) == ["x"]
                if !postponed { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(postponed)
            let status = try CommandRunner.run(["provision", "status", "--config", config])
            #expect(status.status == 0, "\(status.stderr)")
            #expect(status.stdout.contains("retrying after an error"), "\(status.stdout)")
            #expect(status.stdout.contains("mattermost provision erin after ") && status.stdout.contains("attempt(s), next try in 3"), "\(status.stdout)")
            #expect(status.stdout.contains("chat server unavailable"), "\(status.stdout)")
            // What an alert would watch: retries counted, the queue and its oldest pending job on /metrics.
            let metrics = try await browser.get("/metrics").body
            #expect(metrics.contains("drawbridge_provisioning_job_runs_total{") && metrics.contains(#"result="retry""#), "\(metrics.prefix(2000))")
            #expect(metrics.contains("drawbridge_provisioning_jobs{") && metrics.contains("drawbridge_provisioning_oldest_pending_seconds{"))

            try await chat.control("up")
            let retry = try CommandRunner.run(["provision", "retry", "--waiting", "--config", config])
            #expect(retry.status == 0, "\(retry.stderr)")
            #expect(retry.stdout.contains("1 waiting job(s) due now"), "\(retry.stdout)")
            var jobs: [String] = []
            for _ in 0..<100 where jobs != ["provision:done"] {
                try await Task.sleep(for: .milliseconds(100))
                jobs = try await Self.jobs(databases)
            }
            #expect(jobs == ["provision:done"], "landed without waiting out the hour")
        }
    }

    @Test func recheckRepairsWhatWasChangedInChat() async throws {
        try await withMattermost { config, _, _, _, chat in
            #expect(try CommandRunner.run(["provision", "sync", "--config", config]).status == 0)
            let carol = try #require(try await chat.user(named: "carol")?["id"] as? String)
            // An admin deactivates carol in Mattermost itself; Drawbridge's records still say active.
            #expect(try await ProvisioningDriftTests.mattermost(chat, .DELETE, "/api/v4/users/\(carol)") == 200)
            func deactivated() async throws -> Bool { (try await chat.user(named: "carol")?["delete_at"] as? Int ?? 0) > 0 }

            let plain = try CommandRunner.run(["provision", "sync", "--config", config])
            #expect(plain.status == 0, "\(plain.stderr)")
            #expect(try await deactivated(), "a plain sync goes by Drawbridge's records and calls chat for nobody")
            let rechecked = try CommandRunner.run(["provision", "sync", "--recheck", "--config", config])
            #expect(rechecked.status == 0, "\(rechecked.stderr)")
            #expect(!(try await deactivated()), "--recheck asked chat and reactivated carol")
            #expect(try await chat.user(named: "carol")?["id"] as? String == carol, "the same account")
        }
    }

    @Test func oldDoneJobsArePurgedAndFailedOnesKept() async throws {
        try await withMattermost { _, _, dependencies, databases, _ in
            try await TestDatabases.execute("""
                INSERT INTO drawbridge.provisioning_jobs (connector, action, platform_user_id, user_login, state, done_at, created_at) VALUES
                    ('mattermost', 'provision', '1', 'alice', 'done', now() - interval '40 days', now() - interval '40 days'),
                    ('mattermost', 'update', '1', 'alice', 'done', now() - interval '2 days', now() - interval '2 days'),
                    ('mattermost', 'provision', '2', 'erin', 'failed', NULL, now() - interval '40 days');
                INSERT INTO drawbridge.provisioning_sync_runs (scope, started_at, finished_at) VALUES
                    ('old', now() - interval '40 days', now() - interval '40 days'), ('recent', now(), now()), ('open', now() - interval '40 days', NULL);
                """, on: databases.drawbridgeURL)
            let store = try #require(dependencies.provisioning?.store)
            #expect(try await store.purge(olderThan: .seconds(30 * 86_400)) == 1)
            #expect(try await Self.jobs(databases) == ["update:done", "provision:failed"], "the recent done job and the failed one stay")
            let runs = try await TestDatabases.strings("SELECT scope FROM drawbridge.provisioning_sync_runs ORDER BY id", on: databases.drawbridgeURL)
            #expect(runs == ["recent", "open"], "an interrupted run is kept for its resume")
        }
    }

    @Test func anSSOAccountFromAnEarlierProviderIsAdoptedWithDrawbridgesID() async throws {
        try await withMattermost { config, browser, dependencies, _, chat in
            // alice already has a GitLab-SSO account in Mattermost, from the GitLab the company used before (auth_data 9001).
            try await chat.control("users", ["username": "alice", "email": "alice@example.com", "auth_service": "gitlab", "auth_data": "9001"])
            let before = try #require(try await chat.user(named: "alice")?["id"] as? String)
            let provisioned = try CommandRunner.run(["provision", "user", "alice", "--config", config])
            #expect(provisioned.status == 0, "\(provisioned.stderr)")
            #expect(try await chat.user(named: "alice")?["auth_data"] as? String == "1", "auth_data set to the id /api/v4/user returns")

            // So Mattermost's own GitLab login through Drawbridge finds that account, not a clash.
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: "mattermost-sso", redirectURIs: [chat.url + "/signup/gitlab/complete"]))
            try await chat.enableGitLabSSO(gateway: "http://127.0.0.1:\(browser.port)", clientID: "mattermost-sso", secret: secret)
            _ = try await browser.signIn(username: "alice", password: PlatformFixture.password)
            let chatBrowser = try chat.browser()
            let authorized = try await browser.get(try #require(try await chatBrowser.get("/oauth/gitlab/login").locationPath))
            let completed = try await chatBrowser.get(try #require(authorized.locationPath))
            #expect(completed.status == 307, "\(completed.status) \(completed.header("X-Contract-Error-Id") ?? "")")
            #expect(chatBrowser.cookies["MMUSERID"] == before)
            #expect(try await chat.users().filter { $0["email"] as? String == "alice@example.com" }.count == 1)
        }
    }

    static func syncJSON(_ config: String, _ extra: [String] = []) throws -> (status: Int32, report: [String: Any]) {
        let result = try CommandRunner.run(["provision", "sync", "--json", "--config", config] + extra)
        return (result.status, (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? ["stderr": result.stderr])
    }

    static func deactivated(_ report: [String: Any]) -> Int? {
        ((report["connectors"] as? [String: Any])?["mattermost"] as? [String: Any])?["deactivated"] as? Int
    }

    @Test func accountsOfUsersGoneFromThePlatformAreDeactivatedButAMassDepartureOnlyReported() async throws {
        try await withMattermost { config, _, _, databases, chat in
            try await TestDatabases.execute("""
                INSERT INTO public.accounts (login, email, full_name, is_active)
                SELECT 'member' || n, 'member' || n || '@example.com', 'Member ' || n, true FROM generate_series(1, 30) AS n;
                """, on: databases.platformURL)
            #expect(try Self.syncJSON(config).status == 0)
            func active(_ username: String) async throws -> Bool { (try await chat.user(named: username)?["delete_at"] as? Int ?? -1) == 0 }

            // alice's row is deleted on the platform (not deactivated): the next sync deactivates her chat account.
            try await TestDatabases.execute("DELETE FROM public.accounts WHERE login = 'alice'", on: databases.platformURL)
            let dry = try Self.syncJSON(config, ["--dry-run"])
            #expect(dry.status == 0 && Self.deactivated(dry.report) == 1, "\(dry.report)")
            #expect(try await active("alice"), "a dry run changes nothing")
            let departed = try Self.syncJSON(config)
            #expect(departed.status == 0 && Self.deactivated(departed.report) == 1, "\(departed.report)")
            #expect(!(try await active("alice")))
            #expect(try await active("erin"))

            // All 30 members vanish at once, as a wrong table or list_query would make it look: reported, not acted on.
            try await TestDatabases.execute("DELETE FROM public.accounts WHERE login LIKE 'member%'", on: databases.platformURL)
            let mass = try CommandRunner.run(["provision", "sync", "--config", config])
            #expect(mass.status == 1)
            #expect(mass.stdout.contains("mattermost: 30 active accounts belong to users no longer in the platform's table and were left active"), "\(mass.stdout)")
            #expect(try await active("member7"))
            let confirmed = try Self.syncJSON(config, ["--allow-mass-deactivation"])
            #expect(confirmed.status == 0 && Self.deactivated(confirmed.report) == 30, "\(confirmed.report)")
            #expect(!(try await active("member7")))
        }
    }

    @Test func onATerminalSyncDrawsABarWithRateAndETA() async throws {
        try await withMattermost { config, _, _, _, _ in
            // script(1) gives the command a pseudo-terminal, as an admin's shell would; stdin is /dev/null and
            // script's own stdout is a file, so `-e` returns the command's status.
            let command = "\(try CommandRunner.binary.path) provision sync --config \(config)"
            let onTerminal = try CommandRunner.runTool("script", ["-qec", command, "/dev/null"])
            #expect(onTerminal.status == 0, "\(onTerminal.stdout)")
            #expect(onTerminal.stdout.contains("\r\u{1B}[K["), "redrawn in place: \(onTerminal.stdout.debugDescription)")
            #expect(onTerminal.stdout.contains("] 6/6 users (100%), ") && onTerminal.stdout.contains(" users/s, ETA "), "\(onTerminal.stdout.debugDescription)")
            // Without a terminal: plain lines, no escape codes, for logs and CronJobs.
            let plain = try CommandRunner.run(["provision", "sync", "--config", config])
            #expect(plain.stderr.contains("sync: 6/6 users (100%)"), "\(plain.stderr)")
            #expect(!plain.stderr.contains("\u{1B}"))
        }
    }
}
