import DrawbridgeCore
import DrawbridgeServer
import Foundation
import Testing

/// The whole cookie-SSO loop in a real browser: Debian's chromium, driven by Tests/e2e/browser/sso_browser_flow.py,
/// through a real nginx running the production site file deploy/nginx/drawbridge.conf, against a live gateway.
/// The driver's README (Tests/e2e/browser/README.md) lists every check; it needs chromium, chromium-driver,
/// python3-selenium, nginx-light and openssl (scripts/install-deps.sh --tests). Four flows: Drawbridge's own form,
/// platform-first sign-in, the platform backend's hand-off into the Mattermost launch link, and platform to
/// Mattermost and back through a platform sign-out. Serialized: two
/// browsers at once on two cores make page loads slow enough to miss the sign-out timing the platform-first flow checks.
@Suite(.serialized) struct BrowserSSOTests {
    static let driver = CommandRunner.repositoryRoot + "/Tests/e2e/browser/sso_browser_flow.py"

    /// Sign in on Drawbridge's form at app.example.test, the shared cookie opens chat.example.test too, sign-out
    /// closes both, and no `rd` leads off the cookie domain.
    @Test func signingInOnceOpensEveryAppBehindNginx() async throws {
        try await Self.runDriver(platformFirst: false)
    }

    /// app.example.test is the platform with its own sign-in and `web_sessions` table: signed in there, chat opens
    /// with no form through `platform_session`, nginx hands the browser Drawbridge's cookie from the auth_request
    /// answer, and the platform's sign-out (or its deleting the row) sends chat back to the form within seconds.
    @Test func signingInOnThePlatformOpensChatWithNoFormAndItsSignOutClosesIt() async throws {
        try await Self.runDriver(platformFirst: true)
    }

    /// The platform's backend hands alice over (`POST /api/v1/handoff` with a service token, through nginx) with
    /// the Mattermost launch link as the redirect; the browser opens the one-time URL and must end in chat, signed
    /// in, without ever seeing Drawbridge's form: hand-off → `/launch/mattermost` → Mattermost's
    /// `/oauth/gitlab/login?id=<invite id>` → Drawbridge's `/oauth/authorize` (no page) → Mattermost's callback.
    /// A second browser gets the "expired" page and no cookie. Mattermost is the contract server
    /// (Tests/contract-servers/mattermost_contract_server.py, written from contracts/chat-servers.md §1 — a
    /// stand-in, because Mattermost cannot run here), behind the production file's own chat server block (no
    /// auth_request: Mattermost signs in through Drawbridge's OAuth itself).
    @Test func aHandoffToTheMattermostLaunchLinkOpensChatSignedInWithNoForm() async throws {
        try await Self.withMattermostBehindNginx(platformSession: false) { setup in
            let token = try await setup.dependencies.serviceTokens.add(name: "platform")
            _ = try await Self.drive(setup.driverArguments + [
                "--handoff-launch", "--service-token", token.value, "--launch-team", "town", "--oauth-client-id", "mattermost-sso",
            ], label: "hand-off launch", lastCheck: "ok: H6. and sets no cookie")
            // Independently of the driver: one Mattermost account for alice, linked to her platform id.
            let accounts = try await setup.chat.users().filter { $0["email"] as? String == "alice@example.com" }
            #expect(accounts.count == 1, "\(accounts)")
            #expect(accounts.first?["auth_service"] as? String == "gitlab" && accounts.first?["auth_data"] as? String == "1")
        }
    }

    /// Signed in on the platform only, the user opens chat from the platform (`/launch/mattermost`) and is in
    /// Mattermost with no form: Drawbridge's `platform_session` bridge signs them in at `/oauth/authorize`.
    /// They sign out of the platform and stay in chat: with no request from the browser to Drawbridge, chat's
    /// session is revoked within seconds (the watcher, single logout, the outbox), and chat's next sign-in asks
    /// for credentials on Drawbridge's own form, which leads back into chat. Mattermost is the contract server
    /// (Tests/contract-servers/mattermost_contract_server.py, written from contracts/chat-servers.md §1 — a
    /// stand-in, because Mattermost cannot run here) behind the production file's chat server block.
    @Test func signingOutOfThePlatformRevokesChatAndChatAsksForCredentials() async throws {
        try await Self.withMattermostBehindNginx(platformSession: true) { setup in
            _ = try await Self.drive(setup.driverArguments + [
                "--password", PlatformFixture.password, "--platform-chat", "--platform-database-url", Self.psqlURL(setup.databases.platformURL),
                "--platform-signout-within", "5",
            ], label: "platform to chat", lastCheck: "ok: C6. Mattermost has exactly one account")
            // Independently of the driver: the platform sign-out went through the outbox as a chat-session revocation.
            let jobs = try await ProvisioningTests.jobs(setup.databases)
            #expect(jobs.contains("revoke_sessions:done:"), "\(jobs)")
        }
    }

    /// A gateway behind nginx on sso.example.test:PORT with a `mattermost` connector, the Mattermost contract
    /// server (Tests/contract-servers/mattermost_contract_server.py) behind nginx's chat server block, its
    /// GitLab SSO pointing at the gateway, and the driver arguments they imply. With `platformSession`, the
    /// platform's `web_sessions` table and `platform_session` (sha256, recheck 1 s) too.
    static func withMattermostBehindNginx(platformSession: Bool, _ body: @Sendable (MattermostSetup) async throws -> Void) async throws {
        let nginxPort = try Self.nginxPort()
        let chatURL = "https://chat.example.test:\(nginxPort)"
        let ssoURL = "https://sso.example.test:\(nginxPort)"
        let publicURL = try PublicURL(parsing: ssoURL)
        let nginx = try IPNetwork(parsing: "127.0.0.1/32")
        // The browser reaches chat through nginx; its SiteURL (and so the redirect_uri it sends) says so.
        let chat = try ContractServer(script: "mattermost_contract_server.py", arguments: ["--team", "town:off-topic", "--site-url", chatURL])
        defer { chat.stop() }
        try await OAuthTestSupport.withGateway(configure: { configuration in
            configuration.publicURL = publicURL
            configuration.session.cookieDomain = "example.test"
            configuration.trustedProxies = [nginx]
            if platformSession {
                configuration.platformSession = PlatformSessionSettings(
                    cookieName: "app_session", query: "SELECT account_id FROM public.web_sessions WHERE session_key = $1 AND expires_at > now()",
                    hash: .sha256, recheckInterval: .seconds(1)
                )
            }
            // Drawbridge provisions over loopback (url); the launch link is where browsers reach chat (public_url).
            var settings = MattermostConnector.Settings(url: chat.url, token: chat.adminToken, teams: ["town"], timeout: .seconds(3))
            settings.publicURL = chatURL
            configuration.provisioning = ProvisioningConfiguration(
                connectors: [.mattermost(name: "mattermost", settings)],
                settings: ProvisioningSettings(waitBudget: .seconds(8), maxAttempts: 5, concurrency: 2, pollInterval: .milliseconds(200))
            )
        }) { api, dependencies, databases in
            if platformSession { try await TestDatabases.execute(Self.webSessions, on: databases.platformURL) }
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: "mattermost-sso", redirectURIs: [chatURL + "/signup/gitlab/complete"]))
            // The browser is sent to the authorize endpoint through nginx; Mattermost calls the token and user
            // endpoints itself, server to server, on Drawbridge's loopback address.
            try await chat.enableGitLabSSO(gateway: "http://127.0.0.1:\(api.port)", clientID: "mattermost-sso", secret: secret, authorizeBase: ssoURL)
            let arguments = ["--drawbridge-port", "\(api.port)", "--nginx-port", "\(nginxPort)", "--username", "alice",
                             "--expect-email", "alice@example.com", "--mattermost-port", "\(chat.port)"]
            try await body(MattermostSetup(dependencies: dependencies, databases: databases, chat: chat, driverArguments: arguments))
        }
    }

    struct MattermostSetup: Sendable {
        var dependencies: AppDependencies
        var databases: TestDatabases
        var chat: ContractServer
        var driverArguments: [String]
    }

    /// Runs sso_browser_flow.py in a work directory of its own and expects it to pass and reach `lastCheck`;
    /// prints its timings, and keeps the work directory (screenshot, page, logs) only when it failed.
    @discardableResult
    static func drive(_ arguments: [String], label: String, lastCheck: String) async throws -> CommandRunner.Result {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("browser-e2e-\(UUID().uuidString)").path
        let result = try await Self.run(arguments + ["--work-dir", work], logDirectory: work)
        let output = "driver exit status \(result.status); work directory \(work)\n\(result.stdout)\n\(result.stderr)"
        #expect(result.status == 0 && result.stdout.contains("\npassed: "), Comment(rawValue: output))
        if result.status == 0 {
            #expect(result.stdout.contains(lastCheck), "the \(label) flow ran to its end")
        }
        // The run time, and for the platform flows how long sign-outs took to reach chat.
        for line in result.stdout.split(separator: "\n") where line.hasPrefix("passed: ") || line.contains(" within ") {
            print("BrowserSSOTests (\(label)): \(line)")
        }
        if result.status == 0 { try? FileManager.default.removeItem(atPath: work) }
        return result
    }

    static let webSessions = """
        CREATE TABLE public.web_sessions (
            session_key text PRIMARY KEY,
            account_id bigint NOT NULL REFERENCES public.accounts (id) ON DELETE CASCADE,
            expires_at timestamptz NOT NULL
        );
        """

    static func runDriver(platformFirst: Bool) async throws {
        let nginxPort = try Self.nginxPort()
        let publicURL = try PublicURL(parsing: "https://sso.example.test:\(nginxPort)")
        let nginx = try IPNetwork(parsing: "127.0.0.1/32")
        try await OAuthTestSupport.withGateway(configure: { configuration in
            configuration.publicURL = publicURL
            configuration.session.cookieDomain = "example.test"
            configuration.trustedProxies = [nginx]
            if platformFirst {
                configuration.platformSession = PlatformSessionSettings(
                    cookieName: "app_session", query: "SELECT account_id FROM public.web_sessions WHERE session_key = $1 AND expires_at > now()",
                    hash: .sha256, recheckInterval: .seconds(1)
                )
            }
        }) { browser, _, databases in
            var arguments = ["--drawbridge-port", "\(browser.port)", "--nginx-port", "\(nginxPort)",
                             "--username", "alice", "--password", PlatformFixture.password, "--expect-email", "alice@example.com"]
            if platformFirst {
                try await TestDatabases.execute(Self.webSessions, on: databases.platformURL)
                arguments += ["--platform-first", "--platform-database-url", Self.psqlURL(databases.platformURL)]
            }
            try await Self.drive(arguments, label: platformFirst ? "platform-first" : "cookie SSO",
                                 lastCheck: platformFirst ? "ok: P6. even so," : "ok: 7. while rd=")
        }
    }

    /// `postgres://user[:password]@host:port/database` (or `…@/database?host=<socket directory>`), as psql takes it.
    static func psqlURL(_ url: PostgresURL) -> String {
        func encoded(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text }
        let credentials = encoded(url.username) + (url.password.map { ":" + encoded($0) } ?? "")
        let database = encoded(url.database ?? "postgres")
        if let socket = url.unixSocketPath {
            return "postgres://\(credentials)@/\(database)?host=\(encoded((socket as NSString).deletingLastPathComponent))&port=\(url.port)"
        }
        return "postgres://\(credentials)@\(url.host):\(url.port)/\(database)"
    }

    /// A free port for nginx, which must be known before the gateway starts (it is in `public_url`). Taken below the
    /// kernel's ephemeral range, so no port-0 bind or outgoing connection (the gateway's, Postgres's) can take it
    /// in the seconds before nginx binds it; the driver checks again and says so if it is taken after all.
    static func nginxPort() throws -> Int {
        let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
            .split(whereSeparator: \.isWhitespace).compactMap { Int($0) } ?? []
        let ephemeralStart = range.first ?? 32768
        if ephemeralStart > 12000 {
            for _ in 0..<100 {
                let port = Int.random(in: 10000..<ephemeralStart)
                if Self.canBind(port) { return port }
            }
        }
        return try CommandRunner.freePort()
    }

    static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// Runs the driver with Debian's interpreter (the one with python3-selenium) without blocking a thread of the
    /// cooperative pool the gateway answers on. Output goes through files in the work directory. After
    /// `timeout`, SIGTERM: the driver stops nginx, chromium and its helpers on it.
    static func run(_ arguments: [String], logDirectory: String, timeout: Duration = .seconds(300), driver: String = Self.driver) async throws -> CommandRunner.Result {
        try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
        let outPath = logDirectory + "/driver.stdout", errPath = logDirectory + "/driver.stderr"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [driver] + arguments
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardInput = FileHandle.nullDevice
        let (exits, exited) = AsyncStream.makeStream(of: Int32.self)
        process.terminationHandler = { finished in
            exited.yield(finished.terminationStatus)
            exited.finish()
        }
        try process.run()
        let pid = process.processIdentifier
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            kill(pid, SIGTERM)
        }
        var status: Int32 = -1
        for await code in exits { status = code }
        watchdog.cancel()
        return CommandRunner.Result(status: status, stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                                    stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }
}
