import AsyncHTTPClient
import DrawbridgeCore
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// A real Matrix Synapse (PyPI matrix-synapse, SQLite, on loopback; installed and started by
/// scripts/synapse.sh) whose `oidc_providers` entry points at the real `drawbridge serve`. Drawbridge's
/// synapse connector provisions the account through Synapse's admin API; Synapse's own OIDC login
/// (driven by Tests/e2e/synapse_sso_login.py, as a browser would) must land on that same account.
@Suite(.serialized) struct SynapseTests {
    static let serverName = "drawbridge.test"

    @Test func provisionedAccountIsTheOneSynapsesOIDCLoginLandsOn() async throws {
        let databases = try await TestDatabases.create()
        defer { Task { await databases.drop() } }
        try await TestDatabases.execute(PlatformFixture.accountsTable, on: databases.platformURL)
        let port = try CommandRunner.freePort(), synapsePort = try CommandRunner.freePort()
        let synapseDir = FileManager.default.temporaryDirectory.appendingPathComponent("synapse-\(UUID().uuidString)").path
        let synapseURL = "http://127.0.0.1:\(synapsePort)"
        let config = try CommandRunner.writeConfig(databases) {
            $0.replacingOccurrences(of: "port: 0", with: "port: \(port)")
                .replacingOccurrences(of: "public_url: https://sso.example.com", with: "public_url: http://127.0.0.1:\(port)")
                .replacingOccurrences(of: "cookie_domain: example.com, ", with: "")
                + "\nconnectors:\n  synapse: { url: \"\(synapseURL)\", server_name: \(Self.serverName), idp_id: drawbridge }\n"
        }
        // The config needs the admin token to load; Synapse makes it only once it runs (after the client exists).
        let tokenPath = FileManager.default.temporaryDirectory.appendingPathComponent("synapse-token-\(UUID().uuidString)").path
        try "not-yet".write(toFile: tokenPath, atomically: true, encoding: .utf8)
        let tokenFile = ["DRAWBRIDGE_CONNECTORS_SYNAPSE_TOKEN_FILE": tokenPath]
        #expect(try CommandRunner.run(["migrate", "--config", config], environment: tokenFile).status == 0)
        let added = try CommandRunner.run(["clients", "add", "--config", config, "--name", "synapse", "--trusted", "--json",
                                           "--redirect-uri", "\(synapseURL)/_synapse/client/oidc/callback",
                                           "--backchannel-logout-uri", "\(synapseURL)/_synapse/client/oidc/backchannel_logout"], environment: tokenFile)
        let client = try #require(try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: String], "\(added.stderr)")

        let script = CommandRunner.repositoryRoot + "/scripts/synapse.sh"
        let started = try CommandRunner.runTool("bash", [script, "start", synapseDir, "--port", "\(synapsePort)", "--server-name", Self.serverName,
                                                        "--oidc-issuer", "http://127.0.0.1:\(port)", "--oidc-client-id", client["client_id"] ?? "",
                                                        "--oidc-client-secret", client["client_secret"] ?? "", "--backchannel-logout"])
        defer { _ = try? CommandRunner.runTool("bash", [script, "stop", synapseDir]) }
        try #require(started.status == 0, "synapse did not start:\n\(started.stdout)\n\(started.stderr)" as Comment)
        let adminToken = try String(contentsOfFile: synapseDir + "/admin_token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try adminToken.write(toFile: tokenPath, atomically: true, encoding: .utf8)

        let log = Pipe()
        let server = try await CommandRunner.startServe(config: config, port: port, log: log, environment: tokenFile)
        defer { server.terminate() }

        // Provisioned ahead of time, by the admin command.
        let provisioned = try CommandRunner.run(["provision", "user", "alice", "--config", config], environment: tokenFile)
        #expect(provisioned.status == 0, "\(provisioned.stdout)\(provisioned.stderr)")
        #expect(provisioned.stdout.contains("created synapse account alice (@alice:\(Self.serverName))"), "\(provisioned.stdout)")
        let alice = try await Self.admin(synapseURL, adminToken, "/_synapse/admin/v2/users/@alice:\(Self.serverName)")
        #expect(alice["displayname"] as? String == "Alice Liddell")
        let externalIDs = alice["external_ids"] as? [[String: Any]] ?? []
        #expect(externalIDs.contains { $0["auth_provider"] as? String == "oidc-drawbridge" && $0["external_id"] as? String == "1" }, "\(externalIDs)")
        // Running it again changes nothing and creates nothing.
        let again = try CommandRunner.run(["provision", "user", "alice", "--config", config], environment: tokenFile)
        #expect(again.stdout.contains("synapse account alice is up to date"), "\(again.stdout)\(again.stderr)")

        // Drift, through Synapse's real user list: alice matches; the four other active users have no account yet;
        // the admin account Synapse was set up with is one no platform user accounts for.
        let drift = try CommandRunner.run(["provision", "drift", "--json", "--config", config], environment: tokenFile)
        #expect(drift.status == 1, "\(drift.stderr)")
        let driftReport = try #require(try JSONSerialization.jsonObject(with: Data(drift.stdout.utf8)) as? [String: Any], "\(drift.stdout)\(drift.stderr)")
        let findings = ((driftReport["connectors"] as? [[String: Any]])?.first?["findings"] as? [[String: Any]]) ?? []
        #expect(!findings.contains { $0["login"] as? String == "alice" || $0["chat_username"] as? String == "alice" }, "\(findings)")
        #expect(Set(findings.filter { $0["kind"] as? String == "missing" }.compactMap { $0["login"] as? String }) == ["erin", "carol", "nohash", "legacy"])
        #expect(findings.filter { $0["kind"] as? String == "extra" }.count == 1, "the admin: \(findings)")
        try await TestDatabases.execute("UPDATE public.accounts SET full_name = 'Alice Renamed' WHERE login = 'alice'", on: databases.platformURL)
        let renamed = try CommandRunner.run(["provision", "drift", "--json", "--config", config], environment: tokenFile)
        #expect(renamed.stdout.contains("'Alice Liddell' in chat, 'Alice Renamed' on the platform"), "\(renamed.stdout)")
        try await TestDatabases.execute("UPDATE public.accounts SET full_name = 'Alice Liddell' WHERE login = 'alice'", on: databases.platformURL)

        // Synapse's own OIDC login, through Drawbridge's sign-in form, lands on that same account.
        let login = try Self.ssoLogin(synapseURL, username: "alice")
        #expect(login.status == 0, "SSO login failed:\n\(login.stdout)\n\(login.stderr)")
        let lastLine = String(login.stdout.split(separator: "\n").last ?? "")
        let session = try #require(try JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any], "\(login.stdout)")
        #expect(session["user_id"] as? String == "@alice:\(Self.serverName)")
        #expect(session["displayname"] as? String == "Alice Liddell")
        let users = try await Self.admin(synapseURL, adminToken, "/_synapse/admin/v2/users?guests=false")
        let ids = (users["users"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(ids.filter { $0.hasPrefix("@alice") } == ["@alice:\(Self.serverName)"], "no second account: \(ids)")

        // An admin ends alice's Drawbridge session: Synapse gets a back-channel logout token for the session
        // its OIDC login came from (same sid) and drops that device, so the Matrix access token stops working.
        let accessToken = try #require(session["access_token"] as? String)
        #expect(try await Self.whoami(synapseURL, accessToken) == 200)
        let revoked = try CommandRunner.run(["sessions", "revoke", "--user", "alice", "--config", config], environment: tokenFile)
        #expect(revoked.stdout.contains("back-channel logout sent to \(client["client_id"] ?? "")"), "\(revoked.stdout)\(revoked.stderr)")
        var status = 0
        for _ in 0..<50 {
            status = try await Self.whoami(synapseURL, accessToken)
            if status == 401 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(status == 401, "Synapse ended the SSO session")

        // Deprovisioning deactivates the Matrix account; Synapse then refuses the SSO login.
        let deprovisioned = try CommandRunner.run(["deprovision", "alice", "--config", config], environment: tokenFile)
        #expect(deprovisioned.status == 0, "\(deprovisioned.stdout)\(deprovisioned.stderr)")
        let after = try await Self.admin(synapseURL, adminToken, "/_synapse/admin/v2/users/@alice:\(Self.serverName)")
        #expect(after["deactivated"] as? Bool == true || after["deactivated"] as? Int == 1, "\(after)")
        let refused = try Self.ssoLogin(synapseURL, username: "alice")
        #expect(refused.status != 0)
        #expect((refused.stdout + refused.stderr).contains("deactivated"), "\(refused.stdout)\(refused.stderr)")
    }

    static func ssoLogin(_ synapseURL: String, username: String) throws -> CommandRunner.Result {
        try CommandRunner.runTool(OIDCClientLibraryTests.python, [
            CommandRunner.repositoryRoot + "/Tests/e2e/synapse_sso_login.py", "--synapse", synapseURL, "--idp-id", "drawbridge",
            "--username", username, "--password", PlatformFixture.password,
        ])
    }

    static func whoami(_ synapseURL: String, _ token: String) async throws -> Int {
        var request = HTTPClientRequest(url: synapseURL + "/_matrix/client/v3/account/whoami")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await Browser.http.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }

    static func admin(_ synapseURL: String, _ token: String, _ path: String) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: synapseURL + path)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await Browser.http.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (try JSONSerialization.jsonObject(with: Data(String(buffer: body).utf8)) as? [String: Any]) ?? [:]
    }
}
