import DrawbridgeCore
import Foundation
import Testing

/// Matrix opened through Drawbridge's launch link in a real browser: Debian's chromium, driven by
/// Tests/e2e/browser/synapse_browser_flow.py (sso_browser_flow.py's harness: nginx with the production site file,
/// the platform stand-in), against a real Synapse (PyPI matrix-synapse, scripts/synapse.sh) behind that nginx as
/// matrix.example.test, and a real `drawbridge serve` whose synapse connector provisions the account. Two flows:
/// signed in on the platform, `/launch/synapse` reaches Matrix with no Drawbridge form (`platform_session`); a fresh
/// browser gets Drawbridge's form at `/oauth/authorize` and then reaches Matrix the same way. Each ends on the
/// connector's `client_url` with a loginToken that Synapse exchanges for the provisioned account.
@Suite(.serialized) struct BrowserSynapseTests {
    static let driver = CommandRunner.repositoryRoot + "/Tests/e2e/browser/synapse_browser_flow.py"
    static let serverName = "drawbridge.test"

    /// alice signs in on the platform and opens Matrix; erin, in another browser, signs in on Drawbridge's form. Both
    /// land on the Matrix client as `@<login>:drawbridge.test`, the one account Drawbridge provisioned for them
    /// (external id `oidc-drawbridge` = their platform id), after clicking through Synapse's "Continue to your account".
    @Test func theMatrixLaunchLinkSignsInFromThePlatformAndThroughDrawbridgesForm() async throws {
        let databases = try await TestDatabases.create()
        defer { Task { await databases.drop() } }
        try await TestDatabases.execute(PlatformFixture.accountsTable, on: databases.platformURL)
        try await TestDatabases.execute(BrowserSSOTests.webSessions, on: databases.platformURL)
        let nginxPort = try BrowserSSOTests.nginxPort()
        let port = try CommandRunner.freePort(), synapsePort = try CommandRunner.freePort()
        // What the browser reaches, all through nginx on nginxPort; Drawbridge and Synapse themselves are on loopback.
        let ssoURL = "https://sso.example.test:\(nginxPort)", matrixURL = "https://matrix.example.test:\(nginxPort)"
        let clientURL = "https://element.example.test:\(nginxPort)/"
        let config = try CommandRunner.writeConfig(databases) {
            $0.replacingOccurrences(of: "port: 0", with: "port: \(port)")
                .replacingOccurrences(of: "public_url: https://sso.example.com", with: "public_url: \(ssoURL)")
                .replacingOccurrences(of: "cookie_domain: example.com", with: "cookie_domain: example.test")
                + """

                platform_session:
                  cookie_name: app_session
                  query: "SELECT account_id FROM public.web_sessions WHERE session_key = $1 AND expires_at > now()"
                  hash: sha256
                  recheck_interval: 1s
                provisioning: { wait_budget: 8s, poll_interval: 200ms }
                connectors:
                  synapse: { url: "http://127.0.0.1:\(synapsePort)", server_name: \(Self.serverName), idp_id: drawbridge, public_url: "\(matrixURL)", client_url: "\(clientURL)" }

                """
        }
        defer { try? FileManager.default.removeItem(atPath: config) }
        // The config needs the admin token to load; Synapse makes it only once it runs (after the client exists).
        let tokenPath = FileManager.default.temporaryDirectory.appendingPathComponent("synapse-token-\(UUID().uuidString)").path
        try "not-yet".write(toFile: tokenPath, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tokenPath) }
        let tokenFile = ["DRAWBRIDGE_CONNECTORS_SYNAPSE_TOKEN_FILE": tokenPath]
        let migrated = try CommandRunner.run(["migrate", "--config", config], environment: tokenFile)
        try #require(migrated.status == 0, "\(migrated.stdout)\(migrated.stderr)")
        let added = try CommandRunner.run(["clients", "add", "--config", config, "--name", "synapse", "--trusted", "--json",
                                           "--redirect-uri", "\(matrixURL)/_synapse/client/oidc/callback"], environment: tokenFile)
        let client = try #require(try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: String], "\(added.stderr)")

        // Synapse as browsers reach it behind nginx (https, so its Secure oidc_session cookies are kept); it calls
        // Drawbridge's token, userinfo and JWKS endpoints on loopback, since only the browser resolves sso.example.test.
        // It registers nobody itself (--no-oidc-registration): an SSO login can only land on an account Drawbridge made.
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("browser-synapse-\(UUID().uuidString)").path
        let synapseDir = FileManager.default.temporaryDirectory.appendingPathComponent("synapse-\(UUID().uuidString)").path
        let script = CommandRunner.repositoryRoot + "/scripts/synapse.sh"
        var passed = false
        let started = try await CommandRunner.runToolInBackground("bash", [
            script, "start", synapseDir, "--port", "\(synapsePort)", "--server-name", Self.serverName, "--idp-id", "drawbridge",
            "--oidc-issuer", ssoURL, "--oidc-server-url", "http://127.0.0.1:\(port)", "--public-baseurl", matrixURL + "/",
            "--oidc-client-id", client["client_id"] ?? "", "--oidc-client-secret", client["client_secret"] ?? "", "--no-oidc-registration",
        ])
        defer {
            _ = try? CommandRunner.runTool("bash", [script, "stop", synapseDir])
            if passed { try? FileManager.default.removeItem(atPath: synapseDir) }
        }
        try #require(started.status == 0, "synapse did not start:\n\(started.stdout)\n\(started.stderr)" as Comment)
        let adminToken = try String(contentsOfFile: synapseDir + "/admin_token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try adminToken.write(toFile: tokenPath, atomically: true, encoding: .utf8)

        let log = ServeLog()
        let server = try await CommandRunner.startServe(config: config, port: port, log: log.pipe, environment: tokenFile)
        defer { server.terminate() }

        let arguments = ["--drawbridge-port", "\(port)", "--nginx-port", "\(nginxPort)", "--work-dir", work,
                         "--username", "alice", "--password", PlatformFixture.password,
                         "--form-username", "erin", "--form-password", PlatformFixture.password,
                         "--platform-database-url", BrowserSSOTests.psqlURL(databases.platformURL),
                         "--synapse-port", "\(synapsePort)", "--synapse-server-name", Self.serverName,
                         "--synapse-admin-token-file", synapseDir + "/admin_token", "--idp-id", "drawbridge"]
        let result = try await BrowserSSOTests.run(arguments, logDirectory: work, driver: Self.driver)
        let output = """
            driver exit status \(result.status); work directory \(work) and Synapse's \(synapseDir) (homeserver.log) are kept
            \(result.stdout)
            \(result.stderr)
            drawbridge serve's log (last lines):
            \(log.text.split(separator: "\n").suffix(40).joined(separator: "\n"))
            """
        #expect(result.status == 0 && result.stdout.contains("\npassed: "), Comment(rawValue: output))
        if result.status == 0 {
            #expect(result.stdout.contains("ok: F4. and alice still has exactly one account"), "both flows ran to their end")
        }

        // Independently of the driver: one Matrix account each, linked to the platform id (alice 1, erin 2).
        let synapseURL = "http://127.0.0.1:\(synapsePort)"
        let users = try await SynapseTests.admin(synapseURL, adminToken, "/_synapse/admin/v2/users?guests=false&deactivated=true")
        let ids = (users["users"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(ids.filter { !$0.hasPrefix("@synapse-admin:") }.sorted() == ["@alice:\(Self.serverName)", "@erin:\(Self.serverName)"], "\(ids)")
        for (login, platformID) in [("alice", "1"), ("erin", "2")] {
            let account = try await SynapseTests.admin(synapseURL, adminToken, "/_synapse/admin/v2/users/@\(login):\(Self.serverName)")
            let external = (account["external_ids"] as? [[String: Any]] ?? []).map { "\($0["auth_provider"] ?? "")=\($0["external_id"] ?? "")" }
            #expect(external == ["oidc-drawbridge=\(platformID)"], "\(login): \(account)")
        }
        // And Drawbridge's own record links them to those accounts: drift finds nothing for either.
        let drift = try CommandRunner.run(["provision", "drift", "--json", "--config", config], environment: tokenFile)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(drift.stdout.utf8)) as? [String: Any], "\(drift.stdout)\(drift.stderr)")
        let findings = ((report["connectors"] as? [[String: Any]])?.first?["findings"] as? [[String: Any]]) ?? []
        #expect(!findings.contains { ["alice", "erin"].contains($0["login"] as? String ?? $0["chat_username"] as? String ?? "") }, "\(findings)")
        #expect(Set(findings.filter { $0["kind"] as? String == "missing" }.compactMap { $0["login"] as? String }) == ["carol", "nohash", "legacy"], "\(findings)")
        for line in result.stdout.split(separator: "\n") where line.hasPrefix("passed: ") {
            print("BrowserSynapseTests: \(line)")
        }
        passed = result.status == 0
        if passed { try? FileManager.default.removeItem(atPath: work) }
    }
}

/// `drawbridge serve`'s stderr, read as it comes (a pipe nobody reads would stall the server once full).
final class ServeLog: @unchecked Sendable {
    let pipe = Pipe()
    private let lock = NSLock()
    private var data = Data()

    init() {
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            guard let self, !chunk.isEmpty else {
                handle.readabilityHandler = nil  // end of file: the server exited
                return
            }
            self.lock.withLock { self.data.append(chunk) }
        }
    }

    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
